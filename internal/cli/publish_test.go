package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/report"
	"iotwatch/internal/secret"
	"iotwatch/internal/simulate"
)

// TestReportPublishFleet audits simulated fleets in two /24s (30 devices in
// 127.88.0.0/24, 8 in 127.88.1.0/24) and checks `report
// --publish`: no address of the fleet in any format, pseudonyms that keep
// /24s, the small network suppressed, a stable key file 0600; and `report
// --notify`: each owner's file holds only its addresses.
func TestReportPublishFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated fleet")
	}
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// Two fleets: 30 devices in one /24, 8 in another.
	var addrs []netip.Addr
	var ports []string
	for _, o := range []simulate.Options{
		{Prefix: netip.MustParsePrefix("127.88.0.0/24"), Devices: 30, Seed: 9, Weak: 0.4, HighPorts: true},
		{Prefix: netip.MustParsePrefix("127.88.1.0/24"), Devices: 8, Seed: 10, Weak: 0.4, HighPorts: true},
	} {
		fleet, err := simulate.Start(ctx, o)
		if err != nil {
			t.Skipf("simulator: %v", err)
		}
		defer fleet.Close()
		addrs = append(addrs, fleet.Addrs()...)
		for _, p := range fleet.TCPPorts() {
			if s := strconv.Itoa(int(p)); !slices.Contains(ports, s) {
				ports = append(ports, s)
			}
		}
	}
	db := filepath.Join(t.TempDir(), "iw.db")
	if _, errOut, err := runAuditCmd(t, db, "127.88.0.1-30", "127.88.1.1-8", "--ports", strings.Join(ports, ",")); err != nil {
		t.Fatalf("audit: %v\n%s", err, errOut)
	}
	// The devices the report counts, per /24.
	var full struct {
		Devices []struct{ IP string } `json:"devices"`
	}
	out, _, err := runReportCmd(t, db, "--format", "json")
	if err != nil || json.Unmarshal([]byte(out), &full) != nil || len(full.Devices) < 30 {
		t.Fatalf("report: %d devices (%v)", len(full.Devices), err)
	}
	perNet := map[netip.Prefix]int{}
	for _, d := range full.Devices {
		p, _ := netip.MustParseAddr(d.IP).Prefix(24)
		perNet[p]++
	}
	wantCounts := slices.Sorted(maps.Values(perNet))

	// Published, with and without per-device rows.
	for _, devices := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "public")
		args := []string{"--publish", "--min-cell", "10", "--output", dir}
		if devices {
			args = append(args, "--publish-devices")
		}
		if _, errOut, err := runReportCmd(t, db, args...); err != nil {
			t.Fatalf("report %v: %v\n%s", args, err, errOut)
		}
		for _, f := range report.Formats {
			b, err := os.ReadFile(filepath.Join(dir, "report."+f))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range addrs {
				if containsAddr(b, a.String()) {
					t.Errorf("devices=%v: report.%s names the fleet address %s", devices, f, a)
				}
			}
			for _, n := range []string{"127.88.0.", "127.88.1."} {
				if bytes.Contains(b, []byte(n)) {
					t.Errorf("devices=%v: report.%s names the network %s", devices, f, n)
				}
			}
		}
		b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
		if !bytes.Contains(b, []byte("minimum cell size")) || !bytes.Contains(b, []byte("suppressed: ")) {
			t.Errorf("devices=%v: the published report does not say that the /24 of 15 devices was suppressed", devices)
		}
		if !devices {
			continue
		}
		// Pseudonyms keep the /24s: 127.88.0.x share one, 127.88.1.x another.
		var pub struct {
			Devices []struct{ IP string } `json:"devices"`
		}
		if err := json.Unmarshal(b, &pub); err != nil || len(pub.Devices) != len(full.Devices) {
			t.Fatalf("%d published device rows (%v), want %d", len(pub.Devices), err, len(full.Devices))
		}
		nets := map[netip.Prefix]int{}
		for _, d := range pub.Devices {
			p, _ := netip.MustParseAddr(d.IP).Prefix(24)
			nets[p]++
		}
		if counts := slices.Sorted(maps.Values(nets)); !slices.Equal(counts, wantCounts) {
			t.Errorf("pseudonymous /24s hold %v devices, want %v (two /24s kept apart, each whole)", counts, wantCounts)
		}
	}
	key := db + ".pseudonym.key"
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pseudonym key %s: %v (%v), want 0600", key, fi.Mode().Perm(), err)
	}
	// The same key next time: the same pseudonyms.
	a1, _, _ := runReportCmd(t, db, "--publish", "--publish-devices", "--format", "csv")
	a2, _, _ := runReportCmd(t, db, "--publish", "--publish-devices", "--format", "csv")
	if a1 == "" || a1 != a2 {
		t.Error("two published reports of the same evidence differ: the pseudonym key is not stable")
	}

	// Notification files.
	nets := filepath.Join(t.TempDir(), "owners.csv")
	if err := os.WriteFile(nets, []byte("network,owner,asn\n127.88.0.0/28,Low Half Ltd,64500\n127.88.0.16/28,High Half Ltd,64501\n127.88.1.0/24,Other Net,64502\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ndir := filepath.Join(t.TempDir(), "notices")
	if _, errOut, err := runReportCmd(t, db, "--notify", ndir, "--networks", nets, "--format", "json"); err != nil {
		t.Fatalf("report --notify: %v\n%s", err, errOut)
	}
	want := map[string]netip.Prefix{"Low_Half_Ltd.csv": netip.MustParsePrefix("127.88.0.0/28"),
		"High_Half_Ltd.csv": netip.MustParsePrefix("127.88.0.16/28"), "Other_Net.csv": netip.MustParsePrefix("127.88.1.0/24")}
	for name, p := range want {
		f, err := os.Open(filepath.Join(ndir, name))
		if err != nil {
			t.Errorf("notification %s: %v", name, err)
			continue
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) < 2 {
			t.Errorf("%s: %d records (%v)", name, len(recs), err)
			continue
		}
		for _, r := range recs[1:] {
			if a := netip.MustParseAddr(r[1]); !p.Contains(a) {
				t.Errorf("%s holds %s, outside its owner's %s", name, a, p)
			}
		}
	}
	// Without --output, --format or --json the notification files are the
	// whole output: nothing on standard output, the files named on standard error.
	nout, nerr, err := runReportCmd(t, db, "--notify", ndir, "--networks", nets)
	if err != nil {
		t.Fatalf("report --notify: %v\n%s", err, nerr)
	}
	if nout != "" {
		t.Errorf("report --notify without --output printed a report on standard output:\n%.200s", nout)
	}
	for name := range want {
		if !strings.Contains(nerr, filepath.Join(ndir, name)) {
			t.Errorf("standard error does not name %s:\n%s", name, nerr)
		}
	}
	if nout, _, _ := runReportCmd(t, db, "--notify", ndir, "--networks", nets, "--format", "md"); !strings.Contains(nout, "#") {
		t.Errorf("report --notify --format md printed no report:\n%.200s", nout)
	}
	if _, _, err := runReportCmd(t, db, "--notify", ndir); err == nil {
		t.Error("--notify without --networks was accepted")
	}
	if _, _, err := runReportCmd(t, db, "--publish", "--show-secrets"); err == nil {
		t.Error("--publish --show-secrets was accepted")
	}
}

// containsAddr reports whether b holds addr as a whole token (127.88.0.1
// is not in 127.88.0.12).
func containsAddr(b []byte, addr string) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(addr))
		if j < 0 {
			return false
		}
		end := i + j + len(addr)
		startOK := i+j == 0 || !isAddrByte(b[i+j-1])
		endOK := end == len(b) || !isAddrByte(b[end]) || b[end] == '.' && (end+1 == len(b) || !isDigit(b[end+1]))
		if startOK && endOK {
			return true
		}
		i = i + j + 1
	}
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isAddrByte(c byte) bool { return isDigit(c) || c == '.' }
