package crashtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow/synth"
	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
)

// fleetPrefix is this package's own loopback range (other packages' tests
// use others), so a fleet here never meets another test's listeners.
var fleetPrefix = netip.MustParsePrefix("127.87.0.0/24")

const fleetPorts = "21,22,23,80,554,1883,2121,2222,2323,5020,8080,8554"

func startFleet(t *testing.T, devices int) *simulate.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := simulate.Start(ctx, simulate.Options{Prefix: fleetPrefix, Devices: devices, Seed: 77, Weak: 0.4, Empty: 0.05, Anonymous: 0.05})
	if err != nil {
		cancel()
		t.Fatalf("simulate: %v", err)
	}
	t.Cleanup(func() { cancel(); f.Close() })
	return f
}

// summary reads the headline numbers of `iotwatch report`.
func summary(t *testing.T, db string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	mustOK(t, db, nil, "report", "--out", dir)
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Summary
}

func headline(t *testing.T, db string, keys ...string) []string {
	s := summary(t, db)
	var out []string
	for _, k := range keys {
		b, _ := json.Marshal(s[k])
		out = append(out, k+"="+string(b))
	}
	return out
}

// TestScanInterrupted kills scans at random moments, resumes them until
// they finish, and compares the services and the report's headline with
// an uninterrupted scan of the same fleet and order.
func TestScanInterrupted(t *testing.T) {
	startFleet(t, 120)
	c := newCampaign(t, 2)
	args := []string{"scan", fleetPrefix.String(), "-p", fleetPorts, "--seed", "7", "--rate", "600", "--timeout", "3s"}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var n counts
			ref := b.dsn(t)
			refRun := mustOK(t, ref, nil, args...)
			servicesQ := "SELECT ip, port, transport, protocol, status FROM services"
			want := query(t, ref, servicesQ)
			wantHead := headline(t, ref, "devices", "services")
			for i := range c.iters {
				db := b.dsn(t)
				sig := c.signal(i)
				r := run(t, db, nil, sig, c.within(refRun.took), args...)
				n.kills++
				// Resume until the scan completes; a second interruption of the
				// resumed run is part of the campaign.
				for try := 0; ; try++ {
					if r.code == 0 {
						break
					}
					// A kill that landed after the scan had recorded its
					// completion (while it closed the store or printed its
					// summary) leaves a complete scan: nothing to resume.
					if last := query(t, db, "SELECT status FROM runs WHERE kind = 'scan' ORDER BY id DESC LIMIT 1"); len(last) == 1 && last[0] == model.RunComplete {
						n.completedBeforeKill++
						break
					}
					if try > 6 {
						t.Fatalf("scan did not complete after %d resumes: %s", try, tail(r.stderr))
					}
					n.resumes++
					if try == 0 && c.rng.IntN(2) == 0 {
						r = run(t, db, nil, c.signal(i+1), c.within(refRun.took/2), "scan", "--resume")
						n.kills++
						continue
					}
					if len(query(t, db, "SELECT run_id FROM scan_checkpoints")) == 0 {
						// Killed before its first checkpoint: nothing was stored to continue.
						r = run(t, db, nil, 0, 0, args...)
						continue
					}
					r = run(t, db, nil, 0, 0, "scan", "--resume")
				}
				n.compare(t, "services", want, query(t, db, servicesQ))
				n.compare(t, "report headline", wantHead, headline(t, db, "devices", "services"))
				n.settled(t, db)
			}
			n.report(t, "scan/"+b.name)
		})
	}
}

// TestAuditInterrupted kills audits and re-runs them: the credentials found
// and the report's weak-password numbers equal an uninterrupted audit's.
func TestAuditInterrupted(t *testing.T) {
	startFleet(t, 60)
	c := newCampaign(t, 2)
	args := []string{"audit", fleetPrefix.String(), "--ports", "21,22,23,80,2121,2222,2323,8080", "--timeout", "5s"}
	credQ := "SELECT DISTINCT ip, port, protocol, username, kind FROM credentials"
	keys := []string{"devices", "devices_with_weak_credentials", "weak_password_share"}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var n counts
			ref := b.dsn(t)
			refRun := mustOK(t, ref, nil, args...)
			want := query(t, ref, credQ)
			wantHead := headline(t, ref, keys...)
			for i := range c.iters {
				db := b.dsn(t)
				n.interruptThenRerun(t, c, i, db, nil, refRun.took, args...)
				n.compare(t, "credentials", want, query(t, db, credQ))
				n.compare(t, "report headline", wantHead, headline(t, db, keys...))
				n.settled(t, db)
			}
			n.report(t, "audit/"+b.name)
		})
	}
}

// capture writes a day of traffic of many devices with a few botnet
// behaviours, large enough that an ingest can be interrupted midway.
func capture(t *testing.T) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	var pkts []synth.Packet
	c2 := synth.Addr("198.51.100.77")
	for i := range 800 {
		dev := netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)})
		pkts = append(pkts, synth.Normal(rng, dev)...)
		switch i % 100 {
		case 7:
			pkts = append(pkts, synth.MiraiScan(rng, dev, 400, 20*time.Minute)...)
		case 9:
			pkts = append(pkts, synth.Beacon(rng, dev, c2, 443, 5*time.Minute, 0.1, 100)...)
		}
	}
	path := filepath.Join(t.TempDir(), "day.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WritePCAP(f, pkts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFlowsInterrupted kills ingests and re-runs them; then ingests the
// same capture once more: per-device totals and alerts equal one
// uninterrupted ingest's (a re-run updates, never duplicates).
func TestFlowsInterrupted(t *testing.T) {
	pcap := capture(t)
	c := newCampaign(t, 2)
	args := []string{"flows", "ingest", "--pcap", pcap}
	devQ := "SELECT device, SUM(flows), SUM(bytes) FROM flow_devices GROUP BY device"
	alertQ := "SELECT DISTINCT day, device, detector, peer FROM flow_alerts"
	alertRows := "SELECT day, device, detector, peer, COUNT(*) FROM flow_alerts GROUP BY day, device, detector, peer"
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var n counts
			ref := b.dsn(t)
			refRun := mustOK(t, ref, nil, args...)
			want, wantAlerts, wantRows := query(t, ref, devQ), query(t, ref, alertQ), query(t, ref, alertRows)
			for i := range c.iters {
				db := b.dsn(t)
				n.interruptThenRerun(t, c, i, db, nil, refRun.took, args...)
				n.resumes++
				mustOK(t, db, nil, args...) // the same capture again
				n.compare(t, "flow totals per device", want, query(t, db, devQ))
				n.compare(t, "alerts", wantAlerts, query(t, db, alertQ))
				n.compare(t, "alert rows", wantRows, query(t, db, alertRows))
				n.settled(t, db)
			}
			n.report(t, "flows/"+b.name)
		})
	}
}

// nvdFile writes an NVD API 2.0 file of n records made from the embedded
// seed's first record with new ids.
func nvdFile(t *testing.T, n int) string {
	t.Helper()
	rec := `{"cve":{"id":"CVE-%d-%d","sourceIdentifier":"cve@mitre.org","published":"%d-03-01T10:00:00.000","lastModified":"2025-01-01T00:00:00.000","vulnStatus":"Analyzed","descriptions":[{"lang":"en","value":"Buffer overflow in the web interface of an IoT camera allows remote attackers to execute code."}],"metrics":{"cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","baseScore":9.8,"baseSeverity":"CRITICAL"}}]},"configurations":[{"nodes":[{"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:o:acme:cam%d_firmware:*:*:*:*:*:*:*:*","versionEndExcluding":"2.%d","matchCriteriaId":"00000000-0000-0000-0000-%012d"}]}]}]}}`
	var sb strings.Builder
	sb.WriteString(`{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0","timestamp":"2026-11-22T00:00:00.000","vulnerabilities":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		y := 2015 + i%10
		sb.WriteString(sprintf(rec, y, 100000+i, y, i%50, i%9, i))
	}
	sb.WriteString("]}")
	path := filepath.Join(t.TempDir(), "nvd.json")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVulndbImportInterrupted kills imports, re-runs them and also runs two
// imports at once: the database holds every record exactly once.
func TestVulndbImportInterrupted(t *testing.T) {
	file := nvdFile(t, 20000)
	c := newCampaign(t, 2)
	cveQ := "SELECT COUNT(*), COUNT(DISTINCT id) FROM vuln_cves"
	cpeQ := "SELECT COUNT(*) FROM vuln_cpes"
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var n counts
			ref := b.dsn(t)
			refRun := mustOK(t, ref, nil, "vulndb", "import", file)
			want := append(query(t, ref, cveQ), query(t, ref, cpeQ)...)
			if want[0] != "20000|20000" {
				t.Fatalf("reference import: %v, want 20000 records", want)
			}
			for i := range c.iters {
				db := b.dsn(t)
				n.interruptThenRerun(t, c, i, db, nil, refRun.took, "vulndb", "import", file)
				n.compare(t, "vulnerability records", want, append(query(t, db, cveQ), query(t, db, cpeQ)...))
				integrity(t, db)
			}
			// Two imports at once on one database: both finish, whole.
			db := b.dsn(t)
			done := make(chan result, 2)
			for range 2 {
				go func() { done <- run(t, db, nil, 0, 0, "vulndb", "import", file) }()
			}
			for range 2 {
				if r := <-done; r.code != 0 {
					n.mismatches++
					t.Errorf("concurrent import: exit %d: %s", r.code, tail(r.stderr))
				}
			}
			n.compare(t, "vulnerability records after two concurrent imports", want, append(query(t, db, cveQ), query(t, db, cpeQ)...))
			n.report(t, "vulndb-import/"+b.name)
		})
	}
}

// TestFirmwareInterrupted kills analyses and re-runs them: the findings
// equal an uninterrupted analysis's and no temporary directory is left.
func TestFirmwareInterrupted(t *testing.T) {
	img := firmwareImage(t)
	c := newCampaign(t, 2)
	findQ := "SELECT DISTINCT f.kind, f.title, f.severity FROM findings f JOIN runs r ON r.id = f.run_id WHERE r.kind = 'firmware' AND r.status = 'complete'"
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var n counts
			tmp := t.TempDir()
			env := []string{"TMPDIR=" + tmp}
			ref := b.dsn(t)
			refRun := mustOK(t, ref, env, "firmware", "analyze", img, "--crack-budget", "3s")
			want := query(t, ref, findQ)
			for i := range c.iters {
				db := b.dsn(t)
				n.interruptThenRerun(t, c, i, db, env, refRun.took, "firmware", "analyze", img, "--crack-budget", "3s")
				n.compare(t, "firmware findings", want, query(t, db, findQ))
				n.settled(t, db)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				n.mismatches++
				var names []string
				for _, e := range left {
					names = append(names, e.Name())
				}
				t.Errorf("temporary files left after the last analysis: %v", names)
			}
			n.report(t, "firmware/"+b.name)
		})
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// firmwareImage packs the firmware package's vulnerable root filesystem
// fixture as a tar.gz image, with a large compressible file so that an
// analysis takes long enough to be interrupted while unpacking.
func firmwareImage(t *testing.T) string {
	t.Helper()
	root := "../firmware/testdata/rootfs-vuln"
	path := filepath.Join(t.TempDir(), "fw.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pad := bytes.Repeat([]byte("iotwatch firmware padding\n"), 4<<20) // 104 MiB
	if err := tw.WriteHeader(&tar.Header{Name: "usr/share/pad.bin", Mode: 0o644, Size: int64(len(pad)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(pad); err != nil {
		t.Fatal(err)
	}
	for _, c := range []io.Closer{tw, zw, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
