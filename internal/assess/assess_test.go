package assess

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/affiliation"
	"iotwatch/internal/declare"
	"iotwatch/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func fixture(t *testing.T) Evidence {
	t.Helper()
	b, err := os.ReadFile("testdata/evidence.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func decl(t *testing.T) *declare.Declaration {
	t.Helper()
	d, err := declare.Load("testdata/ipc2000.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// outcome finds one provision's result.
func outcome(t *testing.T, sr SubjectResult, baseline, id string) ProvisionResult {
	t.Helper()
	for _, b := range sr.Baselines {
		if b.ID != baseline {
			continue
		}
		for _, p := range b.Provisions {
			if p.ID == id {
				return p
			}
		}
	}
	t.Fatalf("no result for %s %s", baseline, id)
	return ProvisionResult{}
}

func TestCatalogueMatchesETSIList(t *testing.T) {
	f, err := os.Open("../../../shared/data/baselines/etsi-en-303-645-v2.1.1-provisions.csv")
	if err != nil {
		t.Skipf("oracle list not available: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var etsi Baseline
	for _, b := range Catalogue() {
		if b.ID == BaselineETSI {
			etsi = b
		}
	}
	byID := map[string]Provision{}
	base := 0
	for _, p := range etsi.Provisions {
		if p.Edition == "" {
			byID[p.ID] = p
			base++
		}
	}
	if got, want := base, len(rows)-1; got != want || want != 68 {
		t.Errorf("catalogue has %d V2.1.1 provisions, oracle %d (want 68)", got, want)
	}
	for _, r := range rows[1:] {
		p, ok := byID[r[0]]
		if !ok {
			t.Errorf("provision %s missing", r[0])
			continue
		}
		if p.Status != r[1] {
			t.Errorf("%s: status %s, want %s", r[0], p.Status, r[1])
		}
		if p.Tests != r[2] {
			t.Errorf("%s: tests %s, want %s", r[0], p.Tests, r[2])
		}
	}
}

func TestCatalogueBaselines(t *testing.T) {
	want := map[string]int{BaselineETSI: 71, BaselinePSTI: 3, BaselineCRA: 22, BaselineNISTIR: 6, BaselineNorms: 11}
	for _, b := range Catalogue() {
		if got := len(b.Provisions); got != want[b.ID] {
			t.Errorf("%s: %d provisions, want %d", b.ID, got, want[b.ID])
		}
		delete(want, b.ID)
	}
	if len(want) > 0 {
		t.Errorf("missing baselines %v", want)
	}
	if _, err := parseCatalogue([]byte("baselines: [{id: x, provisions: [{id: a, title: t, summary: s, status: mandatory, evidence: [scan], rule: nope}]}]")); err == nil {
		t.Error("catalogue with unknown rule accepted")
	}
}

// Records of the scan's SSH and HTTPS probes for the 5.5-1 cases.
const (
	sshModern = `{"banner":"SSH-2.0-dropbear_2022.83","kex_algorithms":["curve25519-sha256"],"ciphers":["aes128-ctr"],"flagged_algorithms":[{"list":"mac","name":"hmac-sha1","level":"warn","why":"SHA-1"}]}`
	sshLegacy = `{"banner":"SSH-2.0-dropbear_0.46","kex_algorithms":["diffie-hellman-group1-sha1"],"ciphers":["3des-cbc"],"flagged_algorithms":[` +
		`{"list":"kex","name":"diffie-hellman-group1-sha1","level":"fail"},{"list":"cipher","name":"3des-cbc","level":"fail"},{"list":"mac","name":"hmac-sha1","level":"warn"}]}`
	tlsSound = `{"status_code":200,"tls":{"version":"TLS 1.3","cipher":"TLS_AES_128_GCM_SHA256","chain":[` +
		`{"subject":"CN=hub","issuer":"CN=Acme CA","not_before":"2026-01-01T00:00:00Z","not_after":"2028-01-01T00:00:00Z","signature_algorithm":"ECDSA-SHA256","key_type":"ecdsa","key_bits":256,"sha256":"aa","spki_sha256":"bb"}]}}`
	tlsExpiredWeak = `{"status_code":200,"tls":{"version":"TLS 1.0","cipher":"TLS_RSA_WITH_AES_128_CBC_SHA","chain":[` +
		`{"subject":"CN=hub","issuer":"CN=hub","self_signed":true,"not_before":"2015-06-01T00:00:00Z","not_after":"2025-06-01T00:00:00Z","signature_algorithm":"SHA256-RSA","key_type":"rsa","key_bits":1024,"sha256":"cc","spki_sha256":"dd"}]}}`
	tlsSelfSigned = `{"status_code":200,"tls":{"version":"TLS 1.2","cipher":"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256","chain":[` +
		`{"subject":"CN=hub","issuer":"CN=hub","self_signed":true,"not_before":"2022-03-01T00:00:00Z","not_after":"2042-03-01T00:00:00Z","signature_algorithm":"ECDSA-SHA256","key_type":"ecdsa","key_bits":256,"sha256":"ee","spki_sha256":"ff"}]}}`
)

// cryptoData sets the records of 10.0.0.20's SSH and HTTPS services.
func cryptoData(sshRec, httpsRec string) func(*Evidence) {
	return func(ev *Evidence) {
		for i, s := range ev.Services {
			if s.IP.String() != "10.0.0.20" {
				continue
			}
			switch s.Protocol {
			case model.ProtoSSH:
				ev.Services[i].Data = json.RawMessage(sshRec)
			case model.ProtoHTTPS:
				ev.Services[i].Data = json.RawMessage(httpsRec)
			}
		}
	}
}

func TestAssessProvisions(t *testing.T) {
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		name     string
		opts     Options
		decl     bool
		mutate   func(*Evidence)
		baseline string
		id       string
		want     string
		reason   string // substring of the reason
	}{
		{name: "weak credential fails 5.1-1", opts: Options{Device: ip("10.0.0.11")}, baseline: BaselineETSI, id: "5.1-1", want: Fail, reason: "universal default"},
		{name: "weak credential fails psti-1", opts: Options{Device: ip("10.0.0.11")}, baseline: BaselinePSTI, id: "psti-1", want: Fail, reason: "2 units"},
		{name: "one unit only: default but universality unknown", opts: Options{Device: ip("10.0.0.11")}, mutate: func(ev *Evidence) { ev.Credentials = ev.Credentials[:1] }, baseline: BaselineETSI, id: "5.1-2", want: Unknown, reason: "second unit"},
		{name: "one unit only still fails 5.1-1", opts: Options{Device: ip("10.0.0.11")}, mutate: func(ev *Evidence) { ev.Credentials = ev.Credentials[:1] }, baseline: BaselineETSI, id: "5.1-1", want: Fail, reason: "default-credential"},
		{name: "audited, nothing accepted passes 5.1-1", opts: Options{Device: ip("10.0.0.20")}, baseline: BaselineETSI, id: "5.1-1", want: Pass, reason: "accepted no default"},
		{name: "no audit: unknown with reason", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) { ev.Runs = ev.Runs[:1]; ev.Credentials = nil }, baseline: BaselineETSI, id: "5.1-1", want: Unknown, reason: "no credential audit"},
		{name: "no declaration: support period unknown", opts: Options{Device: ip("10.0.0.20")}, baseline: BaselineETSI, id: "5.3-13", want: Unknown, reason: "no maker declaration"},
		{name: "declared support period passes 5.3-13", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "5.3-13", want: Pass, reason: "2030-12-31"},
		{name: "ended support period fails", opts: Options{Product: "IPC-2000", Now: time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)}, decl: true, baseline: BaselinePSTI, id: "psti-3", want: Fail, reason: "ended"},
		{name: "telnet fails 5.5-1", opts: Options{Device: ip("10.0.0.12")}, baseline: BaselineETSI, id: "5.5-1", want: Fail, reason: "telnet/23 on 10.0.0.12"},
		{name: "ssh and https pass 5.5-1", opts: Options{Device: ip("10.0.0.20")}, baseline: BaselineETSI, id: "5.5-1", want: Pass},
		{name: "sound ssh and tls pass 5.5-1 on what was read", opts: Options{Device: ip("10.0.0.20"), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
			mutate: cryptoData(sshModern, tlsSound), baseline: BaselineETSI, id: "5.5-1", want: Pass, reason: "2 TLS/SSH service(s) use current"},
		{name: "legacy ssh algorithms fail 5.5-1", opts: Options{Device: ip("10.0.0.20"), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
			mutate: cryptoData(sshLegacy, tlsSound), baseline: BaselineETSI, id: "5.5-1", want: Fail, reason: "ssh on 10.0.0.20:22 (legacy algorithms offered: diffie-hellman-group1-sha1, 3des-cbc)"},
		{name: "expired weak certificate fails 5.5-1", opts: Options{Device: ip("10.0.0.20"), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
			mutate: cryptoData(sshModern, tlsExpiredWeak), baseline: BaselineETSI, id: "5.5-1", want: Fail, reason: "negotiates TLS 1.0; rsa-1024 certificate key; certificate expired 2025-06-01"},
		{name: "a TLS key another device serves fails 5.4-4", opts: Options{Device: ip("10.0.0.20")},
			mutate: func(ev *Evidence) {
				cryptoData(sshModern, tlsSelfSigned)(ev)
				ev.Services = append(ev.Services, model.Service{IP: ip("10.0.0.11"), Port: 443, Transport: model.TCP, Protocol: model.ProtoHTTPS,
					Status: model.StatusSuccess, Data: json.RawMessage(tlsSelfSigned)})
			}, baseline: BaselineETSI, id: "5.4-4", want: Fail, reason: "serves https TLS public key ff, which 1 other device(s) serve too"},
		{name: "self-signed alone passes 5.5-1", opts: Options{Device: ip("10.0.0.20"), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
			mutate: cryptoData(sshModern, tlsSelfSigned), baseline: BaselineETSI, id: "5.5-1", want: Pass},
		{name: "KEV fails CRA I-2a", opts: Options{Device: ip("10.0.0.11")}, baseline: BaselineCRA, id: "cra-I-2a", want: Fail, reason: "CVE-2021-36260"},
		// No run matched vulnerabilities (the one stored match is another
		// device's): not checked is unknown, never a pass.
		{name: "identified but not matched: CRA I-2a unknown", opts: Options{Device: ip("10.0.0.20")}, baseline: BaselineCRA, id: "cra-I-2a", want: Unknown, reason: "not matched"},
		{name: "identified, matched, none found passes CRA I-2a", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			ev.Runs = append(ev.Runs, model.Run{ID: 9, Kind: "demo"})
		}, baseline: BaselineCRA, id: "cra-I-2a", want: Pass, reason: "cpe:2.3:h:acme"},
		{name: "a firmware run's component matching does not check devices", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			ev.Runs = append(ev.Runs, model.Run{ID: 9, Kind: "firmware", Stages: []string{"unpack", "vulnerabilities"}})
		}, baseline: BaselineCRA, id: "cra-I-2a", want: Unknown},
		{name: "command injection CWE fails 5.13-1", opts: Options{Device: ip("10.0.0.11")}, baseline: BaselineETSI, id: "5.13-1", want: Fail, reason: "CVE-2021-36260"},
		{name: "firmware secret linked by declared image fails 5.4-3", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "5.4-3", want: Fail, reason: "hard-coded"},
		{name: "no firmware: 5.4-3 unknown", opts: Options{Device: ip("10.0.0.20")}, baseline: BaselineETSI, id: "5.4-3", want: Unknown, reason: "no firmware analysis"},
		{name: "undeclared destination fails 6-1", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "6-1", want: Fail, reason: "not declared"},
		{name: "declared data passes 6-1 without contrary flows", opts: Options{Product: "IPC-2000"}, decl: true, mutate: func(ev *Evidence) { ev.Findings = ev.Findings[:2] }, baseline: BaselineETSI, id: "6-1", want: Pass},
		{name: "flows to an undeclared country fail 6-1", opts: Options{Product: "IPC-2000"}, decl: true, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings[:2], model.Finding{Kind: "foreign-destination", Subject: "10.0.0.11", Title: "data sent abroad to US (198.51.100.4)",
				Evidence: []model.Evidence{{Source: "flows", Data: map[string]any{"country": "US", "owner": "Example Cloud"}}}})
		}, baseline: BaselineETSI, id: "6-1", want: Fail, reason: "data going to US"},
		{name: "flows to a declared country pass 6-1", opts: Options{Product: "IPC-2000"}, decl: true, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings[:2], model.Finding{Kind: "foreign-destination", Subject: "10.0.0.11", Title: "data sent abroad to GB",
				Evidence: []model.Evidence{{Source: "flows", Data: map[string]any{"country": "GB"}}}})
		}, baseline: BaselineETSI, id: "6-1", want: Pass},
		{name: "retention stated passes 6-6", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "6-6", want: Pass, reason: "video 30 days"},
		{name: "statement not-applicable", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "5.6-8", want: NotApplicable, reason: "memory protection"},
		{name: "no rule, no statement: unknown", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "5.5-8", want: Unknown, reason: "no automated check"},
		{name: "flows ran, no attack: CRA I-2i passes", opts: Options{Device: ip("10.0.0.20")}, baseline: BaselineCRA, id: "cra-I-2i", want: Pass},
		{name: "device known only from flows", opts: Options{Device: ip("10.0.0.99")}, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings, model.Finding{Kind: "c2-beaconing", Subject: "10.0.0.99", Title: "c2-beaconing by 10.0.0.99", Evidence: []model.Evidence{{Source: "flows"}}})
		}, baseline: BaselineCRA, id: "cra-I-2i", want: Fail, reason: "c2-beaconing by"},
		{name: "beaconing fails CRA I-2i", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings, model.Finding{Kind: "c2-beaconing", Subject: "10.0.0.20", Title: "beacons every 60 s", Evidence: []model.Evidence{{Source: "flows"}}})
		}, baseline: BaselineCRA, id: "cra-I-2i", want: Fail, reason: "beacons"},
		{name: "anonymous mqtt fails 5.5-5", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			ev.Credentials = append(ev.Credentials, model.CredentialResult{IP: ip("10.0.0.20"), Port: 1883, Protocol: "mqtt", Kind: model.KindAnonymousAccess})
		}, baseline: BaselineETSI, id: "5.5-5", want: Fail, reason: "anonymous-access on mqtt/1883"},
		{name: "lockout record passes 5.1-5 and is no shared credential", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			for _, a := range []string{"10.0.0.20", "10.0.0.21"} {
				ev.Credentials = append(ev.Credentials, model.CredentialResult{IP: ip(a), Port: 22, Protocol: "ssh", Kind: model.KindLockoutSuspected})
				ev.Assets = append(ev.Assets, model.Asset{IP: ip(a), Vendor: "Acme", Product: "Hub-9"})
			}
		}, baseline: BaselineETSI, id: "5.1-5", want: Pass, reason: "lockout"},
		{name: "lockout records do not make a universal default", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			for _, a := range []string{"10.0.0.20", "10.0.0.21"} {
				ev.Credentials = append(ev.Credentials, model.CredentialResult{IP: ip(a), Port: 22, Protocol: "ssh", Kind: model.KindLockoutSuspected})
				ev.Assets = append(ev.Assets, model.Asset{IP: ip(a), Vendor: "Acme", Product: "Hub-9"})
			}
		}, baseline: BaselineETSI, id: "5.1-1", want: Pass},
		{name: "firmware default password is a universal default", opts: Options{Product: "IPC-2000"}, decl: true, mutate: func(ev *Evidence) {
			ev.Credentials = nil
			ev.Findings = append(ev.Findings, model.Finding{Kind: "firmware-default-password", Subject: "/x/ipc2000_fw_5.7.3.bin", Title: `account "root" has a default password (md5crypt)`, Evidence: []model.Evidence{{Source: "firmware"}}})
		}, baseline: BaselinePSTI, id: "psti-1", want: Fail, reason: "shared by every unit"},
		{name: "firmware private key fails 5.4-4", opts: Options{Product: "IPC-2000"}, decl: true, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings, model.Finding{Kind: "firmware-private-key", Subject: "/x/ipc2000_fw_5.7.3.bin", Title: "hard-coded SSH host key in the image", Evidence: []model.Evidence{{Source: "firmware"}}})
		}, baseline: BaselineETSI, id: "5.4-4", want: Fail, reason: "SSH host key"},
		{name: "a host key other devices serve fails 5.4-4", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			key := json.RawMessage(`{"host_key_type":"ssh-ed25519","host_key_sha256":"SHA256:c2hhcmVk"}`)
			for i := range ev.Services {
				if ev.Services[i].Protocol == model.ProtoSSH {
					ev.Services[i].Data = key
				}
			}
			ev.Services = append(ev.Services, model.Service{IP: ip("10.0.0.21"), Port: 22, Transport: model.TCP, Protocol: model.ProtoSSH, Status: model.StatusSuccess, Data: key})
		}, baseline: BaselineETSI, id: "5.4-4", want: Fail, reason: "1 other device(s) serve too"},
		{name: "a host key of its own decides nothing on 5.4-4", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			for i := range ev.Services {
				if ev.Services[i].Protocol == model.ProtoSSH {
					ev.Services[i].Data = json.RawMessage(`{"host_key_type":"ssh-ed25519","host_key_sha256":"SHA256:b3du"}`)
				}
			}
			ev.Services = append(ev.Services, model.Service{IP: ip("10.0.0.21"), Port: 22, Transport: model.TCP, Protocol: model.ProtoSSH, Status: model.StatusSuccess,
				Data: json.RawMessage(`{"host_key_type":"ssh-ed25519","host_key_sha256":"SHA256:b3RoZXI"}`)})
		}, baseline: BaselineETSI, id: "5.4-4", want: Unknown, reason: "no firmware analysis"},
		{name: "inbound brute force is not compromise", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings, model.Finding{Kind: "brute-force", Subject: "10.0.0.20", Title: "inbound brute-force from 10.0.0.20", Evidence: []model.Evidence{{Source: "flows", Data: map[string]any{"inbound": true}}}})
		}, baseline: BaselineCRA, id: "cra-I-2i", want: Pass},
		{name: "outbound scanning is compromise", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) {
			ev.Findings = append(ev.Findings, model.Finding{Kind: "scanning", Subject: "10.0.0.20", Title: "scanning by 10.0.0.20", Evidence: []model.Evidence{{Source: "flows"}}})
		}, baseline: BaselineCRA, id: "cra-I-2i", want: Fail, reason: "scanning by"},
		{name: "no vulnerability matching: unknown", opts: Options{Device: ip("10.0.0.20")}, mutate: func(ev *Evidence) { ev.Vulns = nil }, baseline: BaselineNorms, id: "norm:no-known-exploited", want: Unknown, reason: "no vulnerability matching"},
		{name: "declaration says signed updates", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineETSI, id: "5.3-10", want: Pass, reason: "signed"},
		{name: "sbom declared passes norm", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineNorms, id: "norm:sbom", want: Pass},
		{name: "affiliation disclosed, unscreened", opts: Options{Product: "IPC-2000"}, decl: true, baseline: BaselineNorms, id: "norm:foreign-affiliation", want: Pass, reason: "not screened"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := fixture(t)
			if tt.decl {
				ev.Declarations = []*declare.Declaration{decl(t)}
			}
			if tt.mutate != nil {
				tt.mutate(&ev)
			}
			if tt.opts.Now.IsZero() {
				tt.opts.Now = now
			}
			res, err := Assess(context.Background(), ev, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Subjects) != 1 {
				t.Fatalf("got %d subjects, want 1", len(res.Subjects))
			}
			p := outcome(t, res.Subjects[0], tt.baseline, tt.id)
			if p.Outcome != tt.want || !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("%s %s = %s (%q), want %s with %q", tt.baseline, tt.id, p.Outcome, p.Reason, tt.want, tt.reason)
			}
			if p.Reason == "" {
				t.Error("empty reason")
			}
			if (p.Outcome == Pass || p.Outcome == Fail) && p.Basis == "" {
				t.Error("decided without a basis")
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	ev := fixture(t)
	for _, show := range []bool{false, true} {
		res, err := Assess(context.Background(), ev, Options{Device: netip.MustParseAddr("10.0.0.11"), Now: now, ShowSecrets: show})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res)
		if got := bytes.Contains(b, []byte("admin12345")); got != show {
			t.Errorf("ShowSecrets=%v: raw password in output = %v", show, got)
		}
	}
}

func TestTiers(t *testing.T) {
	ev := fixture(t)
	ev.Declarations = []*declare.Declaration{decl(t)}
	res, err := Assess(context.Background(), ev, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range res.Subjects {
		got[s.Subject.ID] = s.Tier
	}
	want := map[string]string{"10.0.0.11": "E", "10.0.0.12": "E", "10.0.0.20": "C"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("tier of %s = %s, want %s", id, got[id], w)
		}
	}
	tests := []struct {
		c        Counts
		critical []string
		want     string
	}{
		{Counts{MandatoryAll: 10, MandatoryPass: 10}, nil, "A"},
		{Counts{MandatoryAll: 10, MandatoryPass: 9, Fail: 1}, nil, "B"},
		{Counts{MandatoryAll: 10, MandatoryPass: 6}, nil, "B"},
		{Counts{MandatoryAll: 10, MandatoryPass: 5}, nil, "C"},
		{Counts{MandatoryAll: 10, MandatoryPass: 9, MandatoryFail: 1, Fail: 1}, nil, "D"},
		{Counts{MandatoryAll: 10, MandatoryFail: 1, Fail: 1}, []string{"psti psti-1"}, "E"},
	}
	for _, tt := range tests {
		if got, _ := tier(tt.c, tt.critical); got != tt.want {
			t.Errorf("tier(%+v, %v) = %s, want %s", tt.c, tt.critical, got, tt.want)
		}
	}
}

func TestEntityScreening(t *testing.T) {
	ev := fixture(t)
	ev.Declarations = []*declare.Declaration{decl(t)}
	l, err := affiliation.Load("testdata/entities.csv")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Assess(context.Background(), ev, Options{Product: "IPC-2000", Now: now, EntityLists: []*affiliation.List{l}})
	if err != nil {
		t.Fatal(err)
	}
	sr := res.Subjects[0]
	p := outcome(t, sr, BaselineNorms, "norm:foreign-affiliation")
	if p.Outcome != Fail || !strings.Contains(p.Reason, "Hangzhou Hikvision") || !strings.Contains(p.Reason, "2022-11-25") {
		t.Errorf("norm:foreign-affiliation = %s %q, want fail naming the firmware supplier and list date", p.Outcome, p.Reason)
	}
	var hits int
	for _, f := range res.Findings() {
		if f.Kind == "entity-list-match" {
			hits++
		}
	}
	if hits != 1 {
		t.Errorf("entity-list-match findings = %d, want 1", hits)
	}
}

func TestAssessErrors(t *testing.T) {
	ev := fixture(t)
	if _, err := Assess(context.Background(), ev, Options{Device: netip.MustParseAddr("10.9.9.9")}); !errors.Is(err, ErrNoSubject) {
		t.Errorf("unknown device: err = %v, want ErrNoSubject", err)
	}
	if _, err := Assess(context.Background(), ev, Options{Product: "nope"}); !errors.Is(err, ErrNoSubject) {
		t.Errorf("unknown product: err = %v, want ErrNoSubject", err)
	}
	if _, err := Assess(context.Background(), ev, Options{Baselines: []string{"iso-27001"}}); err == nil || !strings.Contains(err.Error(), "unknown baseline") {
		t.Errorf("unknown baseline: err = %v", err)
	}
	if _, err := Assess(context.Background(), Evidence{}, Options{}); !errors.Is(err, ErrNoSubject) {
		t.Errorf("empty evidence: err = %v, want ErrNoSubject", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Assess(ctx, ev, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// TestGolden compares whole assessments with golden files (go test -update).
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		decl bool
		opts Options
	}{
		{"all-devices-no-declaration", false, Options{}},
		{"product-ipc2000-declared", true, Options{Product: "IPC-2000"}},
		{"device-hub9-psti-cra", false, Options{Device: netip.MustParseAddr("10.0.0.20"), Baselines: []string{BaselinePSTI, BaselineCRA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := fixture(t)
			if tt.decl {
				ev.Declarations = []*declare.Declaration{decl(t)}
			}
			tt.opts.Now = now
			res, err := Assess(context.Background(), ev, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from golden file; run go test -update and review the diff", path)
			}
		})
	}
}

func BenchmarkAssess(b *testing.B) {
	raw, err := os.ReadFile("testdata/evidence.json")
	if err != nil {
		b.Fatal(err)
	}
	var ev Evidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Assess(context.Background(), ev, Options{Now: now}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSBOMSupplierScreening(t *testing.T) {
	ev := fixture(t)
	ev.Findings = nil
	ev.SBOMs = []SBOMSuppliers{{Subject: "IPC-2000", Suppliers: []affiliation.Subject{
		{Role: affiliation.RoleSupplier, Name: "busybox", Source: "sbom fw.cdx.json"},
		{Role: affiliation.RoleSupplier, Name: "Hikvision", Source: "sbom fw.cdx.json", Detail: "sdk 2.1"},
	}}}
	l, err := affiliation.Load("testdata/entities.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		opts Options
		hits int
	}{
		{Options{Device: netip.MustParseAddr("10.0.0.11")}, 1},
		{Options{Device: netip.MustParseAddr("10.0.0.20")}, 0},
	} {
		tt.opts.Now, tt.opts.EntityLists = now, []*affiliation.List{l}
		res, err := Assess(context.Background(), ev, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Subjects[0].EntityHits); got != tt.hits {
			t.Errorf("%s: %d hits, want %d", tt.opts.Device, got, tt.hits)
		}
	}
}

func TestSoftwareAsset(t *testing.T) {
	tests := []struct {
		a    model.Asset
		want bool
	}{
		{model.Asset{Vendor: "OpenBSD", Product: "OpenSSH", CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"}, true},
		{model.Asset{Vendor: "Eclipse", Product: "Mosquitto", DeviceType: "mqtt-broker", CPE: "cpe:2.3:a:eclipse:mosquitto:2.0.11:*:*:*:*:*:*:*"}, true},
		{model.Asset{Vendor: "Hikvision", Product: "webs", DeviceType: "ip-camera", CPE: "cpe:2.3:a:hikvision:webs:*:*:*:*:*:*:*:*"}, false},
		{model.Asset{Vendor: "Zyxel", Product: "USG FLEX 100W", CPE: "cpe:2.3:o:zyxel:usg_flex_100w_firmware:5.21:*:*:*:*:*:*:*"}, false},
		{model.Asset{Vendor: "Acme", Product: "Cam 1"}, false}, // a device list without CPE
	}
	for _, tc := range tests {
		if got := softwareAsset(tc.a); got != tc.want {
			t.Errorf("softwareAsset(%s %s) = %v, want %v", tc.a.Vendor, tc.a.Product, got, tc.want)
		}
	}
}

// TestDeviceIdentity checks that a device is named as the report and the
// inventory name it (stats.Identify over its services), not by the assets
// row, which keeps the last fingerprint stored: a TP-Link router whose web
// server is RomPager was assessed with no model, a Hikvision camera as
// "Hikvision SDK service".
func TestDeviceIdentity(t *testing.T) {
	router, camera := netip.MustParseAddr("127.20.0.2"), netip.MustParseAddr("127.20.0.11")
	ev := Evidence{
		Assets: []model.Asset{
			{IP: router, Vendor: "Allegro Software", Product: "RomPager", DeviceType: "embedded", CPE: "cpe:2.3:a:allegrosoft:rompager:4.07:*:*:*:*:*:*:*"},
			{IP: camera, Vendor: "Hikvision", Product: "Hikvision SDK service", DeviceType: "ip-camera"},
		},
		Services: []model.Service{
			{IP: router, Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP, Status: model.StatusSuccess,
				Fingerprint: &model.Fingerprint{Vendor: "Allegro Software", Product: "RomPager", Version: "4.07", DeviceType: "embedded",
					CPE: "cpe:2.3:a:allegrosoft:rompager:4.07:*:*:*:*:*:*:*", Confidence: 0.95,
					Device: &model.Fingerprint{Vendor: "TP-Link", Product: "TD-W8901G", DeviceType: "router", Confidence: 0.85}}},
			{IP: camera, Port: 1900, Transport: model.UDP, Protocol: model.ProtoSSDP, Status: model.StatusSuccess,
				Fingerprint: &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2046G2-IU/SL", DeviceType: "ip-camera", Confidence: 0.9}},
			{IP: camera, Port: 8000, Transport: model.TCP, Protocol: "hiksdk", Status: model.StatusSuccess,
				Fingerprint: &model.Fingerprint{Vendor: "Hikvision", Product: "Hikvision SDK service", DeviceType: "ip-camera", Confidence: 0.6}},
		},
	}
	res, err := Assess(context.Background(), ev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{router.String(): "TP-Link TD-W8901G", camera.String(): "Hikvision DS-2CD2046G2-IU/SL"}
	for _, sr := range res.Subjects {
		if got := sr.Subject.Vendor + " " + sr.Subject.Model; got != want[sr.Subject.ID] {
			t.Errorf("%s assessed as %q, want %q", sr.Subject.ID, got, want[sr.Subject.ID])
		}
	}
	if len(res.Subjects) != 2 {
		t.Errorf("%d subjects, want 2", len(res.Subjects))
	}
}
