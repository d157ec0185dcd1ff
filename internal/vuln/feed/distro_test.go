package feed

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOSVDistributionRecords(t *testing.T) {
	tests := []struct {
		file       string
		distroOnly bool
		want       []DistroFix
	}{
		{"DSA-5724-1.json", true, []DistroFix{
			{Advisory: "DSA-5724-1", CVEs: []string{"CVE-2024-6387"}, Distro: "debian", Release: "12", Package: "openssh", Fixed: "1:9.2p1-2+deb12u3"},
		}},
		{"UBUNTU-CVE-2024-6387.json", true, []DistroFix{
			{Advisory: "UBUNTU-CVE-2024-6387", CVEs: []string{"CVE-2024-6387"}, Distro: "ubuntu", Release: "22.04", Package: "openssh", Fixed: "1:8.9p1-3ubuntu0.10"},
			{Advisory: "UBUNTU-CVE-2024-6387", CVEs: []string{"CVE-2024-6387"}, Distro: "ubuntu", Release: "24.04", Package: "openssh", Fixed: "1:9.6p1-3ubuntu13.3"},
		}},
		{"ALPINE-CVE-2024-6387.json", true, []DistroFix{
			{Advisory: "CVE-2024-6387", CVEs: []string{"CVE-2024-6387"}, Distro: "alpine", Release: "3.20", Package: "openssh", Fixed: "9.7_p1-r4"},
			{Advisory: "CVE-2024-6387", CVEs: []string{"CVE-2024-6387"}, Distro: "alpine", Release: "3.19", Package: "openssh", Fixed: "9.6_p1-r1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got []*Record
			_, err := ReadFile(context.Background(), filepath.Join("../testdata/distro", tt.file), Handler{Record: func(r *Record) error {
				got = append(got, r)
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d records, want 1", len(got))
			}
			r := got[0]
			if r.DistroOnly != tt.distroOnly || len(r.Configs) != 0 {
				t.Errorf("distro only %v with %d configurations, want %v and none", r.DistroOnly, len(r.Configs), tt.distroOnly)
			}
			if !reflect.DeepEqual(r.Distro, tt.want) {
				t.Errorf("distro ranges\n got %+v\nwant %+v", r.Distro, tt.want)
			}
		})
	}
}

// A record with an upstream ecosystem and a distribution keeps both.
func TestOSVMixedRecord(t *testing.T) {
	const rec = `{"id":"GHSA-x","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2024-1"],"affected":[
		{"package":{"ecosystem":"PyPI","name":"foo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]}]},
		{"package":{"ecosystem":"Debian:12","name":"python-foo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.1-2+deb12u1"}]}]}]}`
	var r *Record
	if _, err := Read(context.Background(), strings.NewReader(rec), Handler{Record: func(x *Record) error { r = x; return nil }}); err != nil {
		t.Fatal(err)
	}
	if r.DistroOnly || len(r.Configs) != 1 || len(r.Distro) != 1 || r.Distro[0].Fixed != "1.1-2+deb12u1" {
		t.Errorf("got distroOnly=%v configs=%d distro=%+v", r.DistroOnly, len(r.Configs), r.Distro)
	}
}

func TestFuzzSeedsPresent(t *testing.T) {
	if _, err := os.Stat("testdata/fuzz/FuzzRead/osv-debian"); err != nil {
		t.Errorf("distribution seed for FuzzRead missing: %v", err)
	}
}
