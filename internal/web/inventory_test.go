package web

import (
	"context"
	"encoding/json"
	"html"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"iotwatch/internal/report"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/store/storetest"
	"iotwatch/internal/testpeer"
)

// fleets holds one simulated fleet per backend, measured once for every
// test of the package that needs one.
var fleets struct {
	sync.Mutex
	dsn   map[string]string
	fleet map[string]*storetest.Fleet
}

// fleetStore opens the store of a simulated fleet of 60 devices on backend
// "sqlite" or "postgres" (skipped without PostgreSQL), measuring it the
// first time.
func fleetStore(t *testing.T, backend string) (*store.Store, *storetest.Fleet) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	fleets.Lock()
	defer fleets.Unlock()
	if fleets.dsn == nil {
		fleets.dsn, fleets.fleet = map[string]string{}, map[string]*storetest.Fleet{}
	}
	ctx := context.Background()
	if dsn, ok := fleets.dsn[backend]; ok {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, fleets.fleet[backend]
	}
	dsn, prefix := filepath.Join(fleetDir, "fleet.db"), fleetPrefix(backend)+"0.0/16"
	if backend == "postgres" {
		dsn = testpeer.Postgres(t)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := storetest.RunFleet(t, st, prefix, 60)
	if backend != "postgres" { // a PostgreSQL test database ends with its test
		fleets.dsn[backend], fleets.fleet[backend] = dsn, f
	}
	return st, f
}

// fleetPrefix is the start of the fleet's addresses on backend ("127.43.":
// its /16).
func fleetPrefix(backend string) string {
	if backend == "postgres" {
		return "127.44."
	}
	return "127.43."
}

// fleetDir holds the SQLite fleet store for the package's tests.
var fleetDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iotwatch-web-")
	if err != nil {
		panic(err)
	}
	fleetDir = dir
	code := m.Run()
	os.RemoveAll(dir) // best effort: a temporary directory
	os.Exit(code)
}

func TestInventory(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			st, f := fleetStore(t, backend)
			testInventoryRoutes(t, st, f)
		})
	}
}

// apiPages follows the next cursors of /api/devices?query to the end and
// returns every device listed.
func apiPages(t *testing.T, srv *Server, query string) ([]store.Device, int) {
	t.Helper()
	var out []store.Device
	next, total := "", -1
	for i := 0; i < 1000; i++ {
		target := "/api/devices?" + query
		if next != "" {
			target += "&after=" + next
		}
		res, body := get(t, srv, "GET", target)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", target, res.StatusCode, body)
		}
		var p store.DevicePage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		out = append(out, p.Devices...)
		if next == "" {
			total = p.Total
		}
		if next = p.Next; next == "" {
			return out, total
		}
	}
	t.Fatal("pagination does not end")
	return nil, 0
}

func testInventoryRoutes(t *testing.T, st *store.Store, f *storetest.Fleet) {
	srv := New(st, Options{})
	// The API's filters give what the store's give (the store's queries
	// are checked against the fleet's truth in package store), page after
	// page, with no device twice.
	for _, tc := range []struct {
		query  string
		filter store.DeviceFilter
	}{
		{"limit=9", store.DeviceFilter{}},
		{"limit=4&vendor=hikvision&type=ip-camera&weak=true", store.DeviceFilter{Vendor: "hikvision", DeviceType: "ip-camera", Weak: store.Yes}},
		{"limit=5&q=" + url.QueryEscape(f.Truth.Prefix), store.DeviceFilter{Prefix: netip.MustParsePrefix(f.Truth.Prefix)}},
		{"limit=5&kev=1&protocol=telnet", store.DeviceFilter{KEV: store.Yes, Protocol: "telnet"}},
		{"limit=3&compromised=" + f.Telemetry.Day, store.DeviceFilter{CompromisedOn: f.Telemetry.Day}},
		{"limit=6&tier=E&weak=no", store.DeviceFilter{Tier: "E", Weak: store.No}},
	} {
		got, total := apiPages(t, srv, tc.query)
		want, err := st.ListDevices(context.Background(), tc.filter, "", store.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want.Devices, func(a, b store.Device) bool { return a.IP == b.IP }) || total != want.Total {
			t.Errorf("/api/devices?%s: %d devices (total %d), want %d (total %d)", tc.query, len(got), total, len(want.Devices), want.Total)
		}
		if tc.query == "limit=9" && len(got) != len(f.Truth.Devices) {
			t.Errorf("inventory lists %d devices, the fleet has %d", len(got), len(f.Truth.Devices))
		}
	}

	// The HTML inventory: the same devices, linked, with a next page.
	res, body := get(t, srv, "GET", "/devices?weak=true&limit=5")
	if res.StatusCode != 200 {
		t.Fatalf("GET /devices: %d %s", res.StatusCode, body)
	}
	weak, _ := apiPages(t, srv, "weak=true")
	if len(weak) < 6 {
		t.Fatalf("%d weak devices: too few to page", len(weak))
	}
	links := regexp.MustCompile(`href="/devices/([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(links) != 5 || links[0][1] != weak[0].IP.String() {
		t.Errorf("first inventory page links %v, want the first 5 of %d weak devices", links, len(weak))
	}
	if !strings.Contains(body, `id="next" href="/devices?`) || !strings.Contains(body, `<option value="true" selected>`) {
		t.Errorf("inventory page lacks its next link or keeps no filter: %.2000s", body)
	}

	// A weak device's page and JSON: its evidence, the password redacted.
	dev := weak[0].IP.String()
	res, body = get(t, srv, "GET", "/devices/"+dev)
	if res.StatusCode != 200 {
		t.Fatalf("GET /devices/%s: %d %s", dev, res.StatusCode, body)
	}
	for _, w := range []string{`id="services"`, `id="credentials"`, "Passwords are redacted", "***", dev} {
		if !strings.Contains(body, w) {
			t.Errorf("device page lacks %q", w)
		}
	}
	res, body = get(t, srv, "GET", "/api/devices/"+dev)
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/devices/%s: %d %s", dev, res.StatusCode, body)
	}
	var d DeviceDetail
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.IP.String() != dev || !d.Weak || len(d.Services) == 0 || len(d.Credentials) == 0 || d.SecretsRevealed {
		t.Errorf("device %s: %+v", dev, d.Device)
	}
	// No found password appears raw.
	var truthPw []string
	for _, td := range f.Truth.Devices {
		if td.IP == dev {
			for _, c := range td.Credentials {
				if c.Password != "" && len(c.Password) > 3 {
					truthPw = append(truthPw, c.Password)
				}
			}
		}
	}
	for _, c := range d.Credentials {
		if c.Password != "" && !strings.Contains(c.Password, "***") {
			t.Errorf("credential %s/%d: password %q not redacted", c.Protocol, c.Port, c.Password)
		}
	}
	for _, pw := range truthPw {
		if strings.Contains(body, `"`+pw+`"`) {
			t.Errorf("device JSON carries the raw password %q", pw)
		}
	}
	// A device with HTTPS: its page and JSON show the certificate's key,
	// the fingerprint the simulator's truth names.
	var tlsDev, spki string
	for _, td := range f.Truth.Devices {
		for _, s := range td.Services {
			if s.SPKISHA256 != "" && tlsDev == "" {
				tlsDev, spki = td.IP, s.SPKISHA256
			}
		}
	}
	if tlsDev == "" {
		t.Fatal("no device of the fleet serves HTTPS")
	}
	_, body = get(t, srv, "GET", "/api/devices/"+tlsDev)
	var td DeviceDetail
	if err := json.Unmarshal([]byte(body), &td); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range td.Crypto {
		if c.Protocol == "https" {
			found = c.Key.Fingerprint == spki && c.TLS != nil && c.TLS.JA4S != "" && len(c.TLS.Chain) == 1 && c.Key.Kind == "tls-public-key"
		}
	}
	if !found {
		t.Errorf("device %s: crypto %+v, want the HTTPS key %s", tlsDev, td.Crypto, spki)
	}
	_, body = get(t, srv, "GET", "/devices/"+tlsDev)
	if !strings.Contains(body, `id="crypto"`) || !strings.Contains(body, spki) || !strings.Contains(body, "JA4S") {
		t.Errorf("device page of %s lacks its TLS key %s", tlsDev, spki)
	}
	// A compromised device's page shows its alerts.
	for ip := range f.Telemetry.Compromised {
		_, body = get(t, srv, "GET", "/devices/"+ip)
		if !strings.Contains(body, `id="alerts"`) || !strings.Contains(body, "outbound") {
			t.Errorf("page of compromised device %s shows no outbound alert", ip)
		}
		break
	}
	// With secrets shown, the password is there.
	_, body = get(t, New(st, Options{ShowSecrets: true}), "GET", "/api/devices/"+dev)
	if err := json.Unmarshal([]byte(body), &d); err != nil || !d.SecretsRevealed {
		t.Errorf("ShowSecrets: secrets_revealed false (%v)", err)
	}

	for _, tc := range []struct {
		target string
		code   int
	}{
		{"/devices?tier=Z", 400},
		{"/api/devices?compromised=yesterday", 400},
		{"/api/devices?weak=maybe", 400},
		{"/api/devices?after=xyz", 400},
		{"/api/devices?limit=0", 400},
		{"/api/devices?q=10.0.0.0/99", 400},
		{"/api/devices/not-an-address", 400},
		{"/api/devices/192.0.2.7", 404},
		{"/devices/192.0.2.7", 404},
		{"/api/devices?q=192.0.2.0/24", 200},
	} {
		if res, body := get(t, srv, "GET", tc.target); res.StatusCode != tc.code {
			t.Errorf("GET %s: %d, want %d: %.200s", tc.target, res.StatusCode, tc.code, body)
		}
	}
}

// TestHeadlineLinks follows every number of the dashboard that links to the
// inventory and counts the devices behind it: the same number.
func TestHeadlineLinks(t *testing.T) {
	st, _ := fleetStore(t, "sqlite")
	srv := New(st, Options{Wire: func(ctx context.Context, in *report.Inputs) error { return stage.WireReport(ctx, st, in) }})
	res, body := get(t, srv, "GET", "/")
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	links := regexp.MustCompile(`<a class="devices" href="([^"]+)">([^<]+)</a>`).FindAllStringSubmatch(body, -1)
	filters := map[string]bool{}
	for _, l := range links {
		href := html.UnescapeString(l[1])
		u, err := url.Parse(href)
		if err != nil || u.Path != "/devices" {
			t.Errorf("link %q: not an inventory filter", href)
			continue
		}
		for k := range u.Query() {
			filters[k] = true
		}
		n, err := strconv.ParseFloat(l[2], 64)
		if err != nil {
			t.Errorf("link %q: text %q is not a number", href, l[2])
			continue
		}
		_, total := apiPages(t, srv, u.RawQuery+"&limit=500")
		if float64(total) != n && !(u.Query().Get("compromised") == "any" && n != float64(int(n))) {
			t.Errorf("%s: the dashboard says %v, the inventory lists %d", href, n, total)
		}
	}
	for _, k := range []string{"scanned", "weak", "vulnerable", "kev", "compromised", "vendor", "type", "protocol"} {
		if !filters[k] {
			t.Errorf("no number of the dashboard links to the inventory by %s (links: %d)", k, len(links))
		}
	}
}

// TestHeadlineLinksByRole: the dashboard links its numbers to the inventory
// only for a principal who may open it; a viewer sees the numbers alone.
func TestHeadlineLinksByRole(t *testing.T) {
	c := newConsole(t, Options{})
	for _, tc := range []struct {
		role  string
		links bool
	}{{"viewer", false}, {"analyst", true}, {"admin", true}} {
		res, body := c.do(t, "GET", "/", nil, bearer(c.tokens[tc.role]))
		if res.StatusCode != 200 {
			t.Fatalf("%s: GET /: %d", tc.role, res.StatusCode)
		}
		if got := strings.Contains(body, `<a class="devices" href="/devices?`); got != tc.links {
			t.Errorf("%s: dashboard links numbers to the inventory: %v, want %v", tc.role, got, tc.links)
		}
	}
}
