package store

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// openTest opens a fresh store: SQLite in a temp dir, and additionally a
// PostgreSQL database when IOTWATCH_TEST_PG names one (CI sets it).
func openTests(t *testing.T) map[string]*Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*Store{}
	for name, dsn := range testpeer.Databases(t) {
		s, err := Open(ctx, dsn())
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		out[name] = s
	}
	return out
}

func svc(ip string, port uint16, vendor string) model.Service {
	s := model.Service{IP: netip.MustParseAddr(ip), Port: port, Transport: model.TCP, Protocol: model.ProtoSSH,
		Status: model.StatusSuccess, Banner: "SSH-2.0-dropbear_2019.78", Data: map[string]any{"kex": []string{"curve25519-sha256"}}}
	if vendor != "" {
		s.Fingerprint = &model.Fingerprint{Vendor: vendor, Product: "dropbear_ssh", Version: "2019.78"}
	}
	return s
}

func TestRunsAndEvidence(t *testing.T) {
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			run := &model.Run{Kind: "scan", Targets: []string{"127.20.0.0/24"}, Stages: []string{"discovery"}}
			if err := s.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if run.ID == 0 {
				t.Fatal("StartRun did not set an id")
			}
			batch := []model.Service{svc("127.20.0.1", 22, "matt_johnston"), svc("127.20.0.2", 22, ""), svc("127.20.0.1", 23, "")}
			// Saving twice (a re-run or resumed batch) must not duplicate.
			for range 2 {
				if err := s.SaveServices(ctx, run.ID, batch); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Services(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("got %d services, want 3", len(got))
			}
			if got[0].Fingerprint == nil || got[0].Fingerprint.Version != "2019.78" || !strings.Contains(string(got[0].Data.(json.RawMessage)), "curve25519") {
				t.Errorf("service round trip lost data: %+v", got[0])
			}
			assets, err := s.Assets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(assets) != 2 || assets[0].Vendor != "matt_johnston" {
				t.Errorf("assets = %+v, want 2 with the first fingerprinted", assets)
			}
			creds := []model.CredentialResult{{IP: batch[0].IP, Port: 22, Protocol: "ssh", Username: "root", Password: "xc3511", Kind: model.KindDefaultCredential, Attempts: 3, LockoutSuspected: true,
				Evidence: "shell prompt '# ' after login; wrong password got: Login incorrect"}}
			for range 2 {
				if err := s.SaveCredentials(ctx, run.ID, creds); err != nil {
					t.Fatal(err)
				}
			}
			gc, err := s.Credentials(ctx, run.ID)
			if err != nil || len(gc) != 1 || gc[0].Password != "xc3511" || !gc[0].LockoutSuspected || gc[0].Attempts != 3 || gc[0].Evidence != creds[0].Evidence {
				t.Fatalf("credentials = %+v, %v", gc, err)
			}
			vm := []model.VulnMatch{{IP: batch[0].IP, Port: 22, CVE: "CVE-2024-6387", CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", CVSS: 8.1, Severity: model.SeverityHigh}}
			if err := s.SaveVulnMatches(ctx, run.ID, append(vm, vm...)); err != nil {
				t.Fatal(err)
			}
			gv, err := s.VulnMatches(ctx, run.ID)
			if err != nil || len(gv) != 1 || gv[0].Severity != model.SeverityHigh {
				t.Fatalf("matches = %+v, %v", gv, err)
			}
			f := []model.Finding{{Kind: "weak-credential", Subject: "127.20.0.1", Severity: model.SeverityCritical, Title: "default password",
				Evidence: []model.Evidence{{Source: "audit", Detail: "ssh root"}}}}
			if err := s.SaveFindings(ctx, run.ID, f); err != nil {
				t.Fatal(err)
			}
			gf, err := s.Findings(ctx, run.ID)
			if err != nil || len(gf) != 1 || gf[0].Severity != model.SeverityCritical || len(gf[0].Evidence) != 1 {
				t.Fatalf("findings = %+v, %v", gf, err)
			}
			run.Status, run.Counts = model.RunComplete, map[string]int64{"services": 3}
			if err := s.FinishRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			r, err := s.LatestRun(ctx, "scan", true)
			if err != nil || r.ID != run.ID || r.Counts["services"] != 3 || r.Targets[0] != "127.20.0.0/24" {
				t.Fatalf("latest run = %+v, %v", r, err)
			}
		})
	}
}

// TestInterruptedRun checks that a run cancelled mid-way is still recorded,
// that a failed batch leaves nothing half-written, and that stale runs of a
// killed process are marked interrupted.
func TestInterruptedRun(t *testing.T) {
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			run := &model.Run{Kind: "audit"}
			if err := s.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveServices(ctx, run.ID, []model.Service{svc("127.20.0.9", 22, "")}); err != nil {
				t.Fatal(err)
			}
			// A batch with an unencodable value fails as a whole.
			bad := []model.Service{svc("127.20.0.10", 22, ""), svc("127.20.0.11", 22, "")}
			bad[1].Data = make(chan int)
			if err := s.SaveServices(ctx, run.ID, bad); err == nil {
				t.Fatal("bad batch saved without error")
			}
			cancel()
			if err := s.SaveServices(ctx, run.ID, []model.Service{svc("127.20.0.12", 22, "")}); err == nil {
				t.Fatal("save after cancel succeeded")
			}
			run.Status = model.RunInterrupted
			if err := s.FinishRun(ctx, run); err != nil {
				t.Fatalf("finish after cancel: %v", err)
			}
			bg := context.Background()
			got, _ := s.Services(bg, run.ID)
			if len(got) != 1 {
				t.Fatalf("got %d services after failed batch, want 1", len(got))
			}
			r, _ := s.Run(bg, run.ID)
			if r.Status != model.RunInterrupted {
				t.Errorf("status = %q, want interrupted", r.Status)
			}
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	for i := range 2 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v < 1 {
			t.Fatalf("schema version = %d, %v", v, err)
		}
		s.Close()
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte(strings.Repeat("this is not a database\n", 100)), 0o644)
	for _, p := range []string{filepath.Join(file, "sub", "db"), file} {
		if _, err := Open(context.Background(), p); err == nil {
			t.Errorf("Open(%q) succeeded, want error", p)
		}
	}
}

// TestOpenOtherScheme checks that the URL of another database is refused
// by both opens, creating nothing: `--db mysql://x@y/z` made the
// directories mysql:/x@y and a SQLite database z in them.
func TestOpenOtherScheme(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, dsn := range []string{"mysql://u:secret@db/iotwatch", "sqlite:///tmp/x.db", "mongodb+srv://db/x"} {
		for name, open := range map[string]func(context.Context, string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
			s, err := open(context.Background(), dsn)
			if err == nil {
				s.Close()
				t.Errorf("%s(%q) succeeded, want a refusal", name, dsn)
				continue
			}
			if !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s(%q): %v: want the accepted forms named and no password", name, dsn, err)
			}
		}
	}
	if left, _ := os.ReadDir("."); len(left) > 0 {
		t.Errorf("refused opens left %d entries in the working directory, e.g. %s", len(left), left[0].Name())
	}
	// A path with a colon is still a path.
	s, err := Open(context.Background(), "evidence:2026.db")
	if err != nil {
		t.Fatalf("Open of a file name with a colon: %v", err)
	}
	s.Close()
}

func TestRebind(t *testing.T) {
	s := &Store{dialect: Postgres}
	got := s.Rebind("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?")
	if want := "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2"; got != want {
		t.Errorf("Rebind = %q, want %q", got, want)
	}
	if got := (&Store{dialect: SQLite}).Rebind("?"); got != "?" {
		t.Errorf("sqlite Rebind changed the query: %q", got)
	}
}

// TestAssetIdentityKept: a server-software fingerprint does not replace an
// inventory entry that identifies the device; it fills an empty one, and a
// device-identifying fingerprint replaces a software one.
func TestAssetIdentityKept(t *testing.T) {
	ctx := context.Background()
	cam := &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2042WD", DeviceType: "ip-camera", CPE: "cpe:2.3:h:hikvision:ds-2cd2042wd:-:*:*:*:*:*:*:*"}
	ssh := &model.Fingerprint{Vendor: "OpenBSD", Product: "OpenSSH", Version: "9.2p1", CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"}
	ftp := &model.Fingerprint{Vendor: "vsftpd Project", Product: "vsftpd", Version: "3.0.3", CPE: "cpe:2.3:a:vsftpd_project:vsftpd:3.0.3:*:*:*:*:*:*:*"}
	tests := []struct {
		name   string
		seq    []*model.Fingerprint
		vendor string
	}{
		{"device then software", []*model.Fingerprint{cam, ssh}, "Hikvision"},
		{"software then device", []*model.Fingerprint{ssh, cam}, "Hikvision"},
		{"software only: last wins", []*model.Fingerprint{ssh, ftp}, "vsftpd Project"},
		{"device, software, software", []*model.Fingerprint{cam, ssh, ftp}, "Hikvision"},
	}
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			run := &model.Run{Kind: "scan"}
			if err := s.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			for i, tc := range tests {
				ip := netip.AddrFrom4([4]byte{127, 31, 0, byte(i + 1)})
				for j, fp := range tc.seq {
					sv := model.Service{IP: ip, Port: uint16(20 + j), Transport: model.TCP, Protocol: model.ProtoSSH, Status: model.StatusSuccess, Fingerprint: fp}
					if err := s.SaveServices(ctx, run.ID, []model.Service{sv}); err != nil {
						t.Fatal(err)
					}
				}
				as, err := s.Assets(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var got model.Asset
				for _, a := range as {
					if a.IP == ip {
						got = a
					}
				}
				if got.Vendor != tc.vendor {
					t.Errorf("%s: asset vendor %q (%+v), want %q", tc.name, got.Vendor, got, tc.vendor)
				}
			}
		})
	}
}
