package report

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/cryptopan"
	"iotwatch/internal/stats"
)

func testAnonymizer(t testing.TB) *cryptopan.Anonymizer {
	t.Helper()
	a, err := cryptopan.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// publishFixture is a report over devices in three /24s: 12 in 10.1.1.0/24,
// 11 in 10.1.2.0/24, 3 in 10.9.9.0/24, with addresses quoted in free text too.
func publishFixture() (*Report, []netip.Addr) {
	r := &Report{Title: "t", Runs: []RunRef{{ID: 1, Kind: "audit", Targets: []string{"10.1.1.0/24", "10.1.2.1-11", "10.9.9.7"}}},
		Method: map[string]string{}, Absent: map[string]string{}}
	var addrs []netip.Addr
	add := func(prefix string, n int) {
		p := netip.MustParsePrefix(prefix)
		a := p.Addr()
		shares := 0
		for range n {
			a = a.Next()
			addrs = append(addrs, a)
			r.Devices = append(r.Devices, DeviceRow{IP: a.String(), Vendor: "Hikvision", Services: []string{"telnet/23"},
				Weak: []string{"telnet/23:default-credential"}, CVEs: []string{"CVE-2017-7921"}, KEV: true, Region: "NL", Scanned: true})
			shares++
		}
		r.WeakCredentials.BySubnet = append(r.WeakCredentials.BySubnet, stats.NewShare(prefix, n/2, n))
		r.Inventory.BySubnet = append(r.Inventory.BySubnet, Count{Key: prefix, Devices: n, Services: 2 * n})
	}
	add("10.1.1.0/24", 12)
	add("10.1.2.0/24", 11)
	add("10.9.9.0/24", 3)
	r.WeakCredentials.ByRegion = []GroupShare{stats.NewShare("NL", 13, 26)}
	r.Fall = &Fall{Devices: []FallDevice{{Device: addrs[0], Days: []string{"2026-11-24"}, Detectors: []string{"c2-beaconing"},
		Evidence: []string{"default-credential " + addrs[0].String() + ":23/telnet user \"root\" password \"xc***\""}}}}
	r.Findings.Top = []FindingGroup{{Title: "weak login on " + addrs[14].String() + ":23 and 10.9.9.0/24", Subjects: 1}}
	r.Absent["note"] = "device " + addrs[25].String() + " answered nothing"
	return r, addrs
}

func render(t *testing.T, r *Report) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range Formats {
		var b bytes.Buffer
		if err := r.Write(&b, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = b.Bytes()
	}
	return out
}

func TestPublishHidesAddresses(t *testing.T) {
	r, addrs := publishFixture()
	an := testAnonymizer(t)
	for _, devices := range []bool{false, true} {
		pub, err := Publish(r, PublishOptions{MinCell: 10, Devices: devices, Pseudonym: an.Addr, PseudoPrefix: an.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		for f, b := range render(t, pub) {
			for _, a := range addrs {
				if bytes.Contains(b, []byte(a.String())) {
					t.Errorf("devices=%v %s names %s", devices, f, a)
				}
			}
			for _, n := range []string{"10.1.1.", "10.1.2.", "10.9.9."} {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("devices=%v %s names the network %s", devices, f, n)
				}
			}
			if err := CheckPublished(b, addrs); err != nil {
				t.Errorf("devices=%v %s: %v", devices, f, err)
			}
		}
		if len(pub.Runs[0].Targets) != 0 {
			t.Errorf("targets published: %v", pub.Runs[0].Targets)
		}
		if !devices && (len(pub.Devices) != 0 || len(pub.Fall.Devices) != 0) {
			t.Errorf("per-device rows without --publish-devices: %d, %d", len(pub.Devices), len(pub.Fall.Devices))
		}
		if devices {
			if len(pub.Devices) != len(addrs) {
				t.Fatalf("%d device rows, want %d", len(pub.Devices), len(addrs))
			}
			if got, want := pub.Devices[0].IP, an.Addr(addrs[0]).String(); got != want && !slices.ContainsFunc(pub.Devices, func(d DeviceRow) bool { return d.IP == want }) {
				t.Errorf("device rows do not hold the pseudonym %s", want)
			}
			if pub.Fall.Devices[0].Device != an.Addr(addrs[0]) || !strings.Contains(pub.Fall.Devices[0].Evidence[0], an.Addr(addrs[0]).String()+":23") {
				t.Errorf("fall device %+v: want the pseudonym, also inside its evidence", pub.Fall.Devices[0])
			}
		}
	}
	// The original is untouched.
	if r.Devices[0].IP != addrs[0].String() || len(r.Runs[0].Targets) != 3 {
		t.Error("Publish changed its input")
	}
}

// TestPublishPrefixes: pseudonyms of two addresses in one /24 share the
// pseudonymous /24; addresses of different /24s do not; the network rows
// carry the pseudonymous networks.
func TestPublishPrefixes(t *testing.T) {
	r, addrs := publishFixture()
	an := testAnonymizer(t)
	pub, err := Publish(r, PublishOptions{MinCell: 10, Devices: true, Pseudonym: an.Addr, PseudoPrefix: an.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	net24 := func(s string) netip.Prefix {
		return netip.PrefixFrom(netip.MustParseAddr(s), 24).Masked()
	}
	byOrig := map[string]string{}
	for i, a := range addrs {
		byOrig[a.String()] = an.Addr(addrs[i]).String()
	}
	same := [][2]netip.Addr{{addrs[0], addrs[11]}, {addrs[12], addrs[22]}}
	diff := [][2]netip.Addr{{addrs[0], addrs[12]}, {addrs[11], addrs[23]}, {addrs[22], addrs[25]}}
	for _, p := range same {
		if x, y := net24(byOrig[p[0].String()]), net24(byOrig[p[1].String()]); x != y {
			t.Errorf("%s and %s share a /24; pseudonyms in %s and %s", p[0], p[1], x, y)
		}
	}
	for _, p := range diff {
		if x, y := net24(byOrig[p[0].String()]), net24(byOrig[p[1].String()]); x == y {
			t.Errorf("%s and %s are in different /24s; pseudonyms share %s", p[0], p[1], x)
		}
	}
	var published []string
	for _, d := range pub.Devices {
		published = append(published, d.IP)
	}
	for _, want := range byOrig {
		if !slices.Contains(published, want) {
			t.Errorf("pseudonym %s missing from the device rows", want)
		}
	}
	keys := map[string]bool{}
	for _, s := range pub.WeakCredentials.BySubnet {
		keys[s.Key] = true
	}
	if want := an.Prefix(netip.MustParsePrefix("10.1.1.0/24")).String(); !keys[want] {
		t.Errorf("subnet rows %v lack the pseudonymous network %s", keys, want)
	}
	if !net24(byOrig[addrs[0].String()]).Contains(netip.MustParseAddr(byOrig[addrs[0].String()])) ||
		net24(byOrig[addrs[0].String()]) != an.Prefix(netip.MustParsePrefix("10.1.1.0/24")) {
		t.Error("a device's pseudonym lies outside its network's pseudonym")
	}
}

// TestPublishSmallCells: networks under the minimum are suppressed, and
// another with them when their total would be recoverable.
func TestPublishSmallCells(t *testing.T) {
	r, _ := publishFixture()
	an := testAnonymizer(t)
	for _, tc := range []struct {
		min        int
		kept, supp int // published network rows, suppressed networks
		sum        bool
	}{
		{min: 3, kept: 3, supp: 0},
		{min: 10, kept: 1, supp: 2, sum: true},   // 10.9.9 (3) < 10 → also 10.1.2 (11): 14 ≥ 10
		{min: 12, kept: 1, supp: 2, sum: true},   // 11 and 3 < 12: 14 ≥ 12
		{min: 13, kept: 0, supp: 3, sum: true},   // every network under 13: 26 summed
		{min: 100, kept: 0, supp: 3, sum: false}, // nothing reaches 100, not even the sum
	} {
		pub, err := Publish(r, PublishOptions{MinCell: tc.min, Pseudonym: an.Addr, PseudoPrefix: an.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		for name, rows := range map[string][]int{"weak": devicesOfShares(pub.WeakCredentials.BySubnet), "inventory": devicesOfCounts(pub.Inventory.BySubnet)} {
			n := len(rows)
			if tc.sum {
				n--
			}
			if n != tc.kept {
				t.Errorf("min %d %s: %d network rows %v, want %d", tc.min, name, n, rows, tc.kept)
			}
			for _, d := range rows {
				if d < tc.min {
					t.Errorf("min %d %s: a row of %d devices published", tc.min, name, d)
				}
			}
		}
		if tc.supp > 0 && !strings.Contains(pub.Method["publication"], "suppressed") {
			t.Errorf("min %d: the method does not say what was suppressed: %s", tc.min, pub.Method["publication"])
		}
		if tc.sum && !strings.HasPrefix(pub.WeakCredentials.BySubnet[len(pub.WeakCredentials.BySubnet)-1].Key, "suppressed: ") {
			t.Errorf("min %d: no summed row of the suppressed networks", tc.min)
		}
	}
	// The region row (26 devices) stays at 10, goes at 30.
	pub, _ := Publish(r, PublishOptions{MinCell: 30, Pseudonym: an.Addr, PseudoPrefix: an.Prefix})
	if len(pub.WeakCredentials.ByRegion) != 0 {
		t.Errorf("a region of 26 devices published at min-cell 30: %v", pub.WeakCredentials.ByRegion)
	}
}

func devicesOfShares(rows []GroupShare) []int {
	var out []int
	for _, r := range rows {
		out = append(out, r.Devices)
	}
	return out
}

func devicesOfCounts(rows []Count) []int {
	var out []int
	for _, r := range rows {
		out = append(out, r.Devices)
	}
	return out
}

func TestCheckPublished(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("10.1.1.5"), netip.MustParseAddr("2001:db8::7")}
	for in, leak := range map[string]bool{
		"ok 10.1.1.50 is another host":   false,
		"version 1.10.1.5 of a firmware": false,
		"device 10.1.1.5:23":             true,
		"network 10.1.1.0/24":            true,
		"<td>2001:db8::7</td>":           true,
		"2001:db8::70":                   false,
	} {
		if err := CheckPublished([]byte(in), addrs); (err != nil) != leak {
			t.Errorf("CheckPublished(%q) = %v, want leak %v", in, err, leak)
		}
	}
}

func TestNotifications(t *testing.T) {
	r, addrs := publishFixture()
	nets, err := ParseNetworks(strings.NewReader("network,owner,asn\n# comment\n10.1.1.0/24,Example ISP,AS64500\n10.1.2.0/25,Other/Net,64501\n10.1.2.0/24,Example ISP\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "notify")
	res, err := r.WriteNotifications(dir, nets)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || res.Unassigned != 3 {
		t.Fatalf("files %v, unassigned %d; want 2 owners and the 3 devices of 10.9.9.0/24 unassigned", res.Files, res.Unassigned)
	}
	owners := map[string]netip.Prefix{"Example ISP": netip.MustParsePrefix("10.1.1.0/24"), "Other/Net": netip.MustParsePrefix("10.1.2.0/25")}
	seen := map[netip.Addr]string{}
	for owner, path := range res.Files {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v)", path, fi.Mode().Perm(), err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) < 2 || !slices.Equal(recs[0], NotificationHeader) {
			t.Fatalf("%s: %d records (%v)", path, len(recs), err)
		}
		for _, rec := range recs[1:] {
			a := netip.MustParseAddr(rec[1])
			seen[a] = owner
			// Each file holds only its owner's addresses: Example ISP
			// has 10.1.1.0/24 and the part of 10.1.2.0/24 outside /25.
			in := owners[owner].Contains(a) || owner == "Example ISP" && netip.MustParsePrefix("10.1.2.0/24").Contains(a) && !owners["Other/Net"].Contains(a)
			if !in {
				t.Errorf("%s's file holds %s", owner, a)
			}
			if owner == "Example ISP" && owners["Example ISP"].Contains(a) && rec[6] != "64500" {
				t.Errorf("asn column %q, want 64500", rec[6])
			}
			if strings.Contains(strings.Join(rec, ","), "xc3511") {
				t.Error("a notification holds a secret")
			}
		}
	}
	for _, a := range addrs[:23] {
		if seen[a] == "" {
			t.Errorf("%s is in no notification file", a)
		}
	}
	for _, a := range addrs[23:] {
		if seen[a] != "" {
			t.Errorf("%s of no listed network went to %s", a, seen[a])
		}
	}
	for _, bad := range []string{"10.1.1.0/33,x", "10.1.1.0/24", "10.1.1.0/24,x,ASx"} {
		if _, err := ParseNetworks(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseNetworks(%q) accepted it", bad)
		}
	}
}

// FuzzPseudonymiseText: whatever text a report holds, no hidden address
// survives pseudonymisation, and the networks file parser never panics.
func FuzzPseudonymiseText(f *testing.F) {
	an, err := cryptopan.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("device 10.1.1.5:23 in 10.1.1.0/24", "10.1.1.0/24,ISP,AS1")
	f.Add("[2001:db8::7]:80 2001:db8::/64", "2001:db8::/32,x")
	f.Add("1.2.3.4.5.6 ::ffff:10.1.1.5", "")
	f.Fuzz(func(t *testing.T, text, networks string) {
		_, _ = ParseNetworks(strings.NewReader(networks))
		addrs := []netip.Addr{netip.MustParseAddr("10.1.1.5"), netip.MustParseAddr("2001:db8::7")}
		for _, tok := range addrToken.FindAllString(text, 3) {
			if a, err := netip.ParseAddr(tok); err == nil {
				addrs = append(addrs, a)
			}
		}
		h := hidden{addrs: map[netip.Addr]bool{}, nets: map[netip.Prefix]bool{}}
		for _, a := range addrs {
			h.addrs[stats.DeviceKey(a)] = true
		}
		out := pseudonymiseText(text, h, PublishOptions{Pseudonym: an.Addr, PseudoPrefix: an.Prefix})
		for _, tok := range addrToken.FindAllString(out, -1) {
			if a, err := netip.ParseAddr(tok); err == nil && h.addrs[stats.DeviceKey(a)] && an.Addr(a) != a {
				// A pseudonym may, rarely, equal another hidden address;
				// an original never survives unless it is its own pseudonym.
				if strings.Contains(text, tok) && !slices.ContainsFunc(addrs, func(x netip.Addr) bool { return an.Addr(x) == a }) {
					t.Fatalf("%q kept the hidden address %s: %q", text, a, out)
				}
			}
		}
	})
}

// TestNotificationRows: a vulnerable row's severity and kev column come from
// that CVE (KEV critical, else its CVSS rating), and a weak-credential row
// says its kind in words.
func TestNotificationRows(t *testing.T) {
	r := &Report{Devices: []DeviceRow{{IP: "10.1.1.5", Vendor: "D-Link", DeviceType: "router", Product: "DIR-645",
		Weak: []string{"ftp/21:anonymous-access", "snmp/161:snmp-community", "telnet/23:empty-password", "telnet/2323:default-credential"},
		CVEs: []string{"CVE-2015-2051", "CVE-2019-0001", "CVE-2020-0002", "CVE-2021-0003"}, KEV: true, Scanned: true}},
		Vulnerabilities: []VulnRow{{CVE: "CVE-2015-2051", CVSS: 9.8, KEV: true}, {CVE: "CVE-2019-0001", CVSS: 7.5},
			{CVE: "CVE-2020-0002", CVSS: 5.3}, {CVE: "CVE-2021-0003"}}}
	nets := []Network{{Prefix: netip.MustParsePrefix("10.1.1.0/24"), Owner: "ISP"}}
	res, err := r.WriteNotifications(t.TempDir(), nets)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.Files["ISP"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	got := map[string][]string{} // cve or port → severity, kev, detail
	for _, rec := range recs[1:] {
		key := rec[col["cve"]]
		if key == "" {
			key = rec[col["port"]]
		}
		got[key] = []string{rec[col["severity"]], rec[col["kev"]], rec[col["detail"]]}
	}
	for _, tc := range []struct {
		key, sev, kev, detail string
	}{
		{"CVE-2015-2051", "critical", "true", "CVSS 9.8; known exploited (CISA KEV)"},
		{"CVE-2019-0001", "high", "false", "CVSS 7.5"},
		{"CVE-2020-0002", "medium", "false", "CVSS 5.3"},
		{"CVE-2021-0003", "medium", "false", ""},
		{"21", "high", "", "login open to anyone: anonymous access needs no credential"},
		{"161", "high", "", "SNMP answered to a default community string"},
		{"23", "high", "", "login accepted an empty password"},
		{"2323", "high", "", "login accepted a default credential"},
	} {
		if g := got[tc.key]; !slices.Equal(g, []string{tc.sev, tc.kev, tc.detail}) {
			t.Errorf("%s: severity, kev, detail %q; want %q", tc.key, g, []string{tc.sev, tc.kev, tc.detail})
		}
	}
}

func TestNotificationSeverity(t *testing.T) {
	for _, tc := range []struct {
		cvss float64
		kev  bool
		want string
	}{
		{9.8, true, "critical"}, {5.0, true, "critical"}, {0, true, "critical"},
		{9.0, false, "critical"}, {7.0, false, "high"}, {4.0, false, "medium"}, {3.9, false, "low"}, {0, false, "medium"},
	} {
		if got := NotificationSeverity(tc.cvss, tc.kev).String(); got != tc.want {
			t.Errorf("NotificationSeverity(%v, %v) = %s, want %s", tc.cvss, tc.kev, got, tc.want)
		}
	}
}
