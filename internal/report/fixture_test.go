package report

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// fixedNow is the report clock in tests (golden files).
var fixedNow = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// openStore opens a fresh SQLite store in a temporary directory; tests
// that must hold on PostgreSQL too use backends.Stores.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "iotwatch.db")
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ip(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 20, 0, byte(i)}) }

// device describes one fixture device.
type device struct {
	n          int
	vendor     string
	product    string
	deviceType string
	protos     []string
}

// sharedHostKey is the SSH host key the fixture's DVRs share.
const sharedHostKey = "SHA256:Zm9yIHRoZSB0ZXN0cyBvbmx5OiBhIHNoYXJlZCBob3N0IGtleQ"

// versionOf is the firmware version the demo run saw per product.
var versionOf = map[string]string{"DS-2CD2032": "5.4.0"}

var portOf = map[string]uint16{model.ProtoHTTP: 80, model.ProtoTelnet: 23, model.ProtoSSH: 22, model.ProtoMQTT: 1883}

// fixtureDevices: 10 devices with open services; 127.20.0.11 only refused.
var fixtureDevices = []device{
	{1, "Hikvision", "DS-2CD2032", "ip-camera", []string{"http", "telnet"}},
	{2, "Hikvision", "DS-2CD2032", "ip-camera", []string{"http", "telnet"}},
	{3, "Hikvision", "DS-2CD2142", "ip-camera", []string{"http", "telnet"}},
	{4, "Hikvision", "DS-2CD2142", "ip-camera", []string{"http"}},
	{5, "Dahua", "DH-XVR5108", "dvr", []string{"http", "ssh"}},
	{6, "Dahua", "DH-XVR5108", "dvr", []string{"http", "ssh"}},
	{7, "Dahua", "DH-XVR5108", "dvr", []string{"http"}},
	{8, "TP-Link", "Archer C7", "router", []string{"http", "mqtt"}},
	{9, "TP-Link", "Archer C7", "router", []string{"http"}},
	{10, "Evil<script>alert(1)</script>", "Cam|era", "ip-camera", []string{"http"}},
}

func at(min int) time.Time { return time.Date(2026, 11, 24, 12, min, 0, 0, time.UTC) }

// fillStore writes two runs: an older scan (run 1) with 4 devices, one weak,
// and the demo run (run 2) with the fixture fleet. It returns run 2's id.
func fillStore(t testing.TB, st *store.Store) int64 {
	t.Helper()
	ctx := context.Background()
	old := &model.Run{Kind: "scan", Targets: []string{"127.20.0.0/24"}, StartedAt: at(0)}
	must(t, st.StartRun(ctx, old))
	var svcs []model.Service
	for i := 1; i <= 4; i++ {
		svcs = append(svcs, model.Service{IP: ip(i), Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP,
			Status: model.StatusSuccess, Time: at(1)})
	}
	// The two DS-2CD2032 cameras ran 5.3.0 then; 5.4.0 in the demo run.
	for i := 1; i <= 2; i++ {
		svcs[i-1].Fingerprint = &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2032", Version: "5.3.0", DeviceType: "ip-camera", Confidence: 0.9}
	}
	must(t, st.SaveServices(ctx, old.ID, svcs))
	must(t, st.SaveCredentials(ctx, old.ID, []model.CredentialResult{{IP: ip(1), Port: 80, Protocol: model.ProtoHTTP,
		Username: "admin", Password: "12345", Kind: model.KindDefaultCredential, Time: at(2)}}))
	old.Status, old.EndedAt = model.RunComplete, at(3)
	must(t, st.FinishRun(ctx, old))

	run := &model.Run{Kind: "demo", Targets: []string{"127.20.0.0/24"}, Stages: []string{"scan", "audit", "vuln"}, StartedAt: at(10)}
	must(t, st.StartRun(ctx, run))
	svcs = nil
	for _, d := range fixtureDevices {
		for _, p := range d.protos {
			svcs = append(svcs, model.Service{IP: ip(d.n), Port: portOf[p], Transport: model.TCP, Protocol: p,
				Status: model.StatusSuccess, Banner: d.vendor + " " + d.product, Time: at(11),
				Fingerprint: &model.Fingerprint{Vendor: d.vendor, Product: d.product, Version: versionOf[d.product], DeviceType: d.deviceType, Confidence: 0.9}})
		}
	}
	// The two XVR5108 DVRs with SSH (5 and 6) serve one host key, whose
	// private half is in fw/archer.bin.
	for i := range svcs {
		if svcs[i].Protocol == model.ProtoSSH {
			svcs[i].Data = map[string]string{"host_key_type": "ssh-rsa", "host_key_sha256": sharedHostKey}
		}
	}
	// Closed ports do not make a device.
	svcs = append(svcs,
		model.Service{IP: ip(11), Port: 23, Transport: model.TCP, Protocol: model.ProtoTelnet, Status: model.StatusRefused, Time: at(11)},
		model.Service{IP: ip(1), Port: 21, Transport: model.TCP, Protocol: model.ProtoFTP, Status: model.StatusTimeout, Time: at(11)})
	must(t, st.SaveServices(ctx, run.ID, svcs))
	cred := func(n int, proto, user, pass, kind string) model.CredentialResult {
		return model.CredentialResult{IP: ip(n), Port: portOf[proto], Protocol: proto, Username: user, Password: pass,
			Kind: kind, Source: "mirai", Attempts: 3, Time: at(12)}
	}
	must(t, st.SaveCredentials(ctx, run.ID, []model.CredentialResult{
		cred(1, "telnet", "admin", "12345", model.KindDefaultCredential),
		cred(1, "http", "admin", "12345", model.KindDefaultCredential), // same device twice
		cred(2, "telnet", "admin", "12345", model.KindDefaultCredential),
		cred(3, "telnet", "root", "xc3511", model.KindDefaultCredential),
		cred(5, "ssh", "root", "", model.KindEmptyPassword),
		cred(8, "mqtt", "", "", model.KindAnonymousAccess),
		// The audit backed off here: not a weak credential.
		cred(6, "ssh", "", "", "lockout-suspected"),
		// The web server accepted a wrong control password too: unknown,
		// never weak.
		cred(4, "http", "admin", "admin", model.KindUnknownVerdict),
		// An address the scan did not store: counted in the sample.
		cred(12, "telnet", "root", "vizxv", model.KindDefaultCredential),
	}))
	must(t, st.SaveVulnMatches(ctx, run.ID, []model.VulnMatch{
		{IP: ip(1), Port: 80, CPE: "cpe:2.3:o:hikvision:ds-2cd2032_firmware:5.4.0:*:*:*:*:*:*:*", Product: "DS-2CD2032", Version: "5.4.0",
			CVE: "CVE-2021-36260", CVSS: 9.8, Severity: model.SeverityCritical, KEV: true, Summary: "command injection in the web server"},
		{IP: ip(2), Port: 80, CPE: "cpe:2.3:o:hikvision:ds-2cd2032_firmware:5.4.0:*:*:*:*:*:*:*", Product: "DS-2CD2032", Version: "5.4.0",
			CVE: "CVE-2021-36260", CVSS: 9.8, Severity: model.SeverityCritical, KEV: true},
		{IP: ip(5), Port: 22, CPE: "cpe:2.3:a:openbsd:openssh:9.3:*:*:*:*:*:*:*", Product: "openssh", Version: "9.3",
			CVE: "CVE-2023-38408", CVSS: 9.8, Severity: model.SeverityCritical},
		{IP: ip(5), Port: 80, CPE: "cpe:2.3:a:dahua:web:1:*:*:*:*:*:*:*", Product: "web", Version: "1",
			CVE: "CVE-2022-30525", CVSS: 7.5, Severity: model.SeverityHigh},
		{Subject: "fw/archer.bin:busybox", CPE: "cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*", Product: "busybox", Version: "1.35.0",
			CVE: "CVE-2022-48174", CVSS: 9.8, Severity: model.SeverityCritical},
	}))
	must(t, st.SaveFindings(ctx, run.ID, []model.Finding{
		{Kind: "firmware-private-key", Subject: "fw/archer.bin", Severity: model.SeverityHigh, Title: "private SSH host key in /etc/dropbear",
			Evidence: []model.Evidence{{Source: "firmware", Detail: "/etc/dropbear/dropbear_rsa_host_key",
				Data: map[string]any{"path": "/etc/dropbear/dropbear_rsa_host_key", "ssh_fingerprint": sharedHostKey}}}, Time: at(13)},
		{Kind: "weak-credential", Subject: ip(1).String(), Severity: model.SeverityCritical, Title: "telnet accepts admin/12***",
			Evidence: []model.Evidence{{Source: "audit", Detail: "login succeeded"}}, Time: at(13)},
	}))
	run.Status, run.EndedAt = model.RunComplete, at(20)
	must(t, st.FinishRun(ctx, run))
	return run.ID
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixtureInputs wires fake providers with fixed data.
func fixtureInputs(runID int64) Inputs {
	return Inputs{
		RunIDs: []int64{runID},
		Title:  "IoT threat assessment — test",
		Now:    func() time.Time { return fixedNow },
		VulnStats: func(context.Context) (VulnStats, error) {
			return VulnStats{Source: "test archive", ByYear: []YearStats{
				{Year: 2024, Total: 40000, IoT: 2000, KEV: 180},
				{Year: 2022, Total: 25000, IoT: 1000, KEV: 90},
				{Year: 2023, Total: 29000, IoT: 1500, KEV: 120},
				{Year: 2025, Total: 48000, IoT: 3000, KEV: 200},
				{Year: 2026, Total: 45000, IoT: 3100, KEV: 150},
			}}, nil
		},
		DailyCompromised: func(context.Context) ([]DayCount, error) {
			return []DayCount{{"2026-11-22", 4}, {"2026-11-21", 2}, {"2026-11-23", 6}}, nil
		},
		// Devices 1, 3 and 7 of the sample and 127.20.0.40 outside it were
		// under unauthorized control; an outside actor attacked device 2's
		// web server.
		Alerts: func(context.Context) ([]AlertRow, error) {
			return []AlertRow{
				{Device: ip(1), Day: "2026-11-21", Detector: "scanning", Port: 23},
				{Device: ip(1), Day: "2026-11-22", Detector: "c2-beaconing", Port: 6667},
				{Device: ip(3), Day: "2026-11-22", Detector: "scanning", Port: 23},
				{Device: ip(7), Day: "2026-11-23", Detector: "ddos"},
				{Device: ip(40), Day: "2026-11-23", Detector: "scanning", Port: 23},
				{Device: ip(2), Day: "2026-11-23", Detector: "brute-force", Port: 80, Inbound: true},
			}, nil
		},
		Destinations: func(context.Context) ([]DestinationRow, error) {
			cam, plug := netip.MustParseAddr("127.20.0.10"), netip.MustParseAddr("127.20.0.11")
			return []DestinationRow{
				{Device: cam, Country: "US", ASN: 16509, Owner: "AMAZON-02", Bytes: 600000, CountryDB: "phuslu/iploc v1", OwnerDB: "asn.mmdb 2026-11"},
				{Device: cam, Country: "CN", ASN: 4134, Owner: "Chinanet <script>", Bytes: 300000, CountryDB: "phuslu/iploc v1", OwnerDB: "asn.mmdb 2026-11"},
				{Device: plug, Country: "US", ASN: 16509, Owner: "AMAZON-02", Bytes: 90000, CountryDB: "phuslu/iploc v1", OwnerDB: "asn.mmdb 2026-11"},
				{Device: plug, Country: "", Bytes: 6000, CountryDB: "phuslu/iploc v1"},
				{Device: plug, Country: "ZZ", Bytes: 4000, CountryDB: "phuslu/iploc v1"},
			}, nil
		},
		Assessment: func(context.Context) (AssessmentSummary, error) {
			return AssessmentSummary{Devices: 10, Provisions: []ProvisionOutcomes{
				{Baseline: "etsi-en-303-645", ID: "5.3-2", Title: "secure update mechanism", Mandatory: true, Pass: 2, Fail: 6, Unknown: 2},
				{Baseline: "etsi-en-303-645", ID: "5.1-1", Title: "no universal default passwords", Mandatory: true, Pass: 5, Fail: 5},
				{Baseline: "etsi-en-303-645", ID: "5.10-1", Title: "examine telemetry", NotApplicable: 10},
				{Baseline: "psti", ID: "1", Title: "passwords", Pass: 5, Fail: 5},
			}, Labels: []Count{{Key: "default password: found", Devices: 5}, {Key: "default password: none found", Devices: 5}},
				Contradictions: []Contradiction{{Subject: "IPC-2000", Declaration: "ipc2000.yaml", Claim: "no default passwords",
					Field: "/credentials/scheme", Declared: "unique-per-device", Source: "audit", Observed: "2 weak or default credentials accepted (127.20.0.1:23/telnet)",
					Evidence: []string{"127.20.0.1:23/telnet user \"admin\" password 12***", "127.20.0.2:23/telnet user \"admin\" password 12***"}, Tier: "E"}}}, nil
		},
	}
}

var errBoom = errors.New("boom")

func ipKey(n int) string { return fmt.Sprintf("127.20.0.%d", n) }
