package store_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/assess"
	"iotwatch/internal/flow"
	"iotwatch/internal/model"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
	"iotwatch/internal/store/storetest"
	"iotwatch/internal/testpeer"
)

// expected is a device as computed independently of the inventory's SQL:
// through the evidence loader, stats.Population, the assessment's records
// and the flow package's alerts.
type expected struct {
	addr             netip.Addr
	id               stats.Identity
	protocols        map[string]bool
	scanned, weak    bool
	vulns            bool
	kev              bool
	tier             string
	compromisedDays  map[string]bool
	truthVendor      string
	truthWeak        bool
	truthCompromised bool
}

func expectedDevices(t *testing.T, st *store.Store, fleet *storetest.Fleet) []*expected {
	t.Helper()
	ctx := context.Background()
	runs, err := st.Runs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	ev, err := st.LoadEvidence(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[netip.Addr]*expected{}
	get := func(a netip.Addr) *expected {
		e := byAddr[a]
		if e == nil {
			e = &expected{addr: a, protocols: map[string]bool{}, compromisedDays: map[string]bool{}}
			byAddr[a] = e
		}
		return e
	}
	for _, d := range stats.Population(ev.Services, ev.Credentials) {
		e := get(d.Addr)
		e.id, e.protocols, e.scanned, e.weak = d.Identity, d.Protocols, d.Scanned, d.Weak()
	}
	alerts, err := flow.Alerts(ctx, st, time3339zero)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !a.Inbound {
			get(a.Device.Unmap()).compromisedDays[a.Day] = true
		}
	}
	for _, v := range ev.Vulns {
		if e := byAddr[v.IP]; e != nil {
			e.vulns = true
			e.kev = e.kev || v.KEV
		}
	}
	for _, f := range ev.Findings {
		a, err := netip.ParseAddr(f.Subject)
		if rec, ok := assess.ParseRecord(f); ok && err == nil && byAddr[a] != nil {
			byAddr[a].tier = rec.Tier
		}
	}
	for _, d := range fleet.Truth.Devices {
		if e := byAddr[netip.MustParseAddr(d.IP)]; e != nil {
			e.truthVendor, e.truthWeak = d.Vendor, d.Weak
		}
	}
	for ip := range fleet.Telemetry.Compromised {
		if e := byAddr[netip.MustParseAddr(ip)]; e != nil {
			e.truthCompromised = true
		}
	}
	out := make([]*expected, 0, len(byAddr))
	for _, e := range byAddr {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *expected) int { return a.addr.Compare(b.addr) })
	return out
}

var time3339zero = model.Run{}.StartedAt

// allPages lists every page of f, failing on a duplicate or a page out of
// address order.
func allPages(t *testing.T, st *store.Store, f store.DeviceFilter, limit int) ([]store.Device, int) {
	t.Helper()
	var out []store.Device
	cursor, total := "", -1
	for pages := 0; ; pages++ {
		p, err := st.ListDevices(context.Background(), f, cursor, limit)
		if err != nil {
			t.Fatalf("ListDevices(%+v, %q): %v", f, cursor, err)
		}
		if cursor == "" {
			total = p.Total
		} else if p.Total != -1 {
			t.Errorf("page after %s counts %d devices: only the first page counts", cursor, p.Total)
		}
		if len(p.Devices) > limit {
			t.Fatalf("page of %d devices, limit %d", len(p.Devices), limit)
		}
		out = append(out, p.Devices...)
		if p.Next == "" {
			break
		}
		if len(p.Devices) != limit {
			t.Fatalf("short page (%d of %d) with a next cursor", len(p.Devices), limit)
		}
		cursor = p.Next
		if pages > 10000 {
			t.Fatal("pagination does not end")
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i-1].IP.Compare(out[i].IP) >= 0 {
			t.Fatalf("devices out of order or duplicated: %s then %s", out[i-1].IP, out[i].IP)
		}
	}
	return out, total
}

func TestDeviceInventorySQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iotwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testInventory(t, st, "127.41.0.0/16")
}

func TestDeviceInventoryPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	st, err := store.Open(context.Background(), testpeer.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testInventory(t, st, "127.42.0.0/16")
}

func testInventory(t *testing.T, st *store.Store, prefix string) {
	fleet := storetest.RunFleet(t, st, prefix, 60)
	want := expectedDevices(t, st, fleet)
	day := fleet.Telemetry.Day
	// The fleet must exercise every filter: weak, KEV and compromised
	// devices, and a vendor with more than one device.
	var hik, weakHikCams, kevs, comp int
	for _, e := range want {
		if strings.EqualFold(e.id.Vendor, "hikvision") {
			hik++
			if e.weak && e.id.DeviceType == "ip-camera" {
				weakHikCams++
			}
		}
		if e.kev {
			kevs++
		}
		if e.compromisedDays[day] {
			comp++
		}
	}
	if hik < 2 || weakHikCams == 0 || kevs == 0 || comp == 0 {
		t.Fatalf("fleet does not exercise the filters: %d Hikvision, %d weak Hikvision cameras, %d KEV, %d compromised", hik, weakHikCams, kevs, comp)
	}
	sub := netip.MustParsePrefix(prefix).Addr().As4()
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{sub[0], sub[1], 0, 16}), 28)
	one := want[len(want)/2].addr
	tests := []struct {
		name   string
		filter store.DeviceFilter
		match  func(*expected) bool
	}{
		{"all", store.DeviceFilter{}, func(*expected) bool { return true }},
		{"address", store.DeviceFilter{Prefix: netip.PrefixFrom(one, 32)}, func(e *expected) bool { return e.addr == one }},
		{"subnet", store.DeviceFilter{Prefix: subnet}, func(e *expected) bool { return subnet.Contains(e.addr) }},
		{"vendor", store.DeviceFilter{Vendor: "HIKVISION"}, func(e *expected) bool { return strings.EqualFold(e.id.Vendor, "hikvision") }},
		{"text", store.DeviceFilter{Text: "ikvis"}, func(e *expected) bool {
			return strings.Contains(strings.ToLower(e.id.Vendor+"\x00"+e.id.Product), "ikvis")
		}},
		{"type", store.DeviceFilter{DeviceType: "ip-camera"}, func(e *expected) bool { return e.id.DeviceType == "ip-camera" }},
		{"protocol", store.DeviceFilter{Protocol: "telnet"}, func(e *expected) bool { return e.protocols["telnet"] }},
		{"weak", store.DeviceFilter{Weak: store.Yes}, func(e *expected) bool { return e.weak }},
		{"not weak", store.DeviceFilter{Weak: store.No}, func(e *expected) bool { return !e.weak }},
		{"kev", store.DeviceFilter{KEV: store.Yes}, func(e *expected) bool { return e.kev }},
		{"vulnerable", store.DeviceFilter{Vulnerable: store.Yes}, func(e *expected) bool { return e.vulns }},
		{"scanned", store.DeviceFilter{Scanned: store.Yes}, func(e *expected) bool { return e.scanned }},
		{"compromised on the day", store.DeviceFilter{CompromisedOn: day}, func(e *expected) bool { return e.compromisedDays[day] }},
		{"compromised on the day, weak, telnet", store.DeviceFilter{CompromisedOn: day, Protocol: "telnet", Weak: store.Yes},
			func(e *expected) bool { return e.compromisedDays[day] && e.weak && e.protocols["telnet"] }},
		{"compromised any day", store.DeviceFilter{CompromisedOn: "any"}, func(e *expected) bool { return len(e.compromisedDays) > 0 }},
		{"compromised another day", store.DeviceFilter{CompromisedOn: "2001-01-01"}, func(e *expected) bool { return false }},
		{"tier E", store.DeviceFilter{Tier: "e"}, func(e *expected) bool { return e.tier == "E" }},
		{"not assessed", store.DeviceFilter{Tier: "none"}, func(e *expected) bool { return e.tier == "" }},
		{"weak Hikvision cameras", store.DeviceFilter{Vendor: "hikvision", DeviceType: "ip-camera", Weak: store.Yes},
			func(e *expected) bool {
				return e.weak && strings.EqualFold(e.id.Vendor, "hikvision") && e.id.DeviceType == "ip-camera"
			}},
		{"weak telnet in subnet", store.DeviceFilter{Prefix: netip.MustParsePrefix(prefix), Protocol: "telnet", Weak: store.Yes},
			func(e *expected) bool { return e.weak && e.protocols["telnet"] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wantIPs []netip.Addr
			for _, e := range want {
				if tt.match(e) {
					wantIPs = append(wantIPs, e.addr)
				}
			}
			for _, limit := range []int{7, 500} {
				got, total := allPages(t, st, tt.filter, limit)
				var gotIPs []netip.Addr
				for _, d := range got {
					gotIPs = append(gotIPs, d.IP)
				}
				if !slices.Equal(gotIPs, wantIPs) {
					t.Errorf("limit %d: got %d devices %v, want %d %v", limit, len(gotIPs), gotIPs, len(wantIPs), wantIPs)
				}
				if total != len(wantIPs) {
					t.Errorf("limit %d: total %d, want %d", limit, total, len(wantIPs))
				}
			}
		})
	}
	// The rows carry what the evidence says, and the truth agrees where the
	// pipeline measures it exactly: weak credentials and compromised devices.
	all, _ := allPages(t, st, store.DeviceFilter{}, store.MaxPageSize)
	for i, d := range all {
		e := want[i]
		if d.Vendor != e.id.Vendor || d.Product != e.id.Product || d.DeviceType != e.id.DeviceType || d.Weak != e.weak ||
			d.KEV != e.kev || d.Tier != e.tier || d.Scanned != e.scanned || d.AlertDays != len(e.compromisedDays) {
			t.Errorf("device %s = %+v, want %+v", d.IP, d, *e)
		}
		if d.Scanned && (d.Weak != e.truthWeak || (d.AlertDays > 0) != e.truthCompromised) {
			t.Errorf("device %s: weak %v, compromised days %d; truth weak %v, compromised %v", d.IP, d.Weak, d.AlertDays, e.truthWeak, e.truthCompromised)
		}
		if d.Vendor != "" && e.truthVendor != "" && !strings.EqualFold(d.Vendor, e.truthVendor) {
			t.Logf("device %s: identified as %s, truth %s", d.IP, d.Vendor, e.truthVendor)
		}
	}
	if len(all) != len(fleet.Truth.Devices) {
		t.Errorf("inventory has %d devices, the fleet %d", len(all), len(fleet.Truth.Devices))
	}

	// The device record: the evidence of one weak device.
	ctx := context.Background()
	var weakOne netip.Addr
	for _, e := range want {
		if e.weak && e.kev {
			weakOne = e.addr
			break
		}
	}
	if !weakOne.IsValid() {
		t.Fatal("no weak device with a KEV match in the fleet")
	}
	rec, err := st.DeviceRecord(ctx, weakOne)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Services) == 0 || len(rec.Credentials) == 0 || len(rec.Vulns) == 0 || len(rec.Findings) == 0 {
		t.Errorf("record of %s: %d services, %d credentials, %d vulnerabilities, %d findings; want some of each",
			weakOne, len(rec.Services), len(rec.Credentials), len(rec.Vulns), len(rec.Findings))
	}
	if len(rec.Vulns) > 0 && !rec.Vulns[0].KEV {
		t.Errorf("record of %s: first vulnerability %s is not KEV: not ranked KEV first", weakOne, rec.Vulns[0].CVE)
	}
	for _, s := range rec.Services {
		if s.IP != weakOne {
			t.Errorf("record of %s holds a service of %s", weakOne, s.IP)
		}
	}
	if _, err := st.DeviceRecord(ctx, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("record of an unknown device: no error")
	}

	// Bad input is refused.
	for _, f := range []store.DeviceFilter{{Tier: "F"}, {CompromisedOn: "yesterday"}} {
		if _, err := st.ListDevices(ctx, f, "", 10); err == nil {
			t.Errorf("ListDevices(%+v): no error", f)
		}
	}
	if _, err := st.ListDevices(ctx, store.DeviceFilter{}, "zz", 10); err == nil {
		t.Error("ListDevices with a bad cursor: no error")
	}

	// Re-indexing is idempotent: a rebuild gives the same rows.
	if _, err := st.DB().ExecContext(ctx, `DELETE FROM device_index_runs`); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexDevices(ctx); err != nil {
		t.Fatal(err)
	}
	again, _ := allPages(t, st, store.DeviceFilter{}, store.MaxPageSize)
	if len(again) != len(all) {
		t.Errorf("after re-indexing: %d devices, before %d", len(again), len(all))
	}
}
