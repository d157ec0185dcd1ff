// Package storetest fills evidence stores for the tests and benchmarks of
// the device inventory: a simulated fleet run through the demo's whole
// pipeline (with its ground truth), and a fast generator that writes many
// synthetic devices straight into a store.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"iotwatch/internal/demo"
	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
	"iotwatch/internal/store"
)

// Fleet is a simulated fleet measured into a store, with its ground truth.
type Fleet struct {
	Summary   *demo.Summary
	Truth     simulate.Truth
	Telemetry demo.TelemetryTruth
}

// RunFleet starts a simulated fleet of n devices in prefix, runs the demo's
// pipeline (scan, audit, vulnerabilities, telemetry with a share of
// compromised devices, assessment) into st and returns the ground truth.
func RunFleet(t testing.TB, st *store.Store, prefix string, n int) *Fleet {
	t.Helper()
	dir := t.TempDir()
	sum, err := demo.Run(context.Background(), st, demo.Options{
		Devices: n, Seed: 7, Prefix: netip.MustParsePrefix(prefix),
		Weak: 0.4, Empty: 0.05, Anonymous: 0.05, Compromised: 0.15, OutDir: dir, HighPorts: os.Geteuid() != 0,
	})
	if err != nil {
		t.Fatalf("demo pipeline: %v", err)
	}
	f := &Fleet{Summary: sum}
	readJSON(t, filepath.Join(dir, "truth.json"), &f.Truth)
	readJSON(t, filepath.Join(dir, "telemetry.json"), &f.Telemetry)
	return f
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// profile is one kind of generated device.
type profile struct {
	vendor, product, dtype string
	protos                 []string
	ports                  []uint16
	cve                    string
	kev                    bool
}

var profiles = []profile{
	{"Hikvision", "DS-2CD2042WD", "ip-camera", []string{model.ProtoHTTP, model.ProtoRTSP, model.ProtoTelnet}, []uint16{80, 554, 23}, "CVE-2017-7921", true},
	{"Dahua", "IPC-HDW1230S", "ip-camera", []string{model.ProtoHTTP, model.ProtoRTSP}, []uint16{80, 554}, "CVE-2021-33044", true},
	{"MikroTik", "RouterOS", "router", []string{model.ProtoSSH, model.ProtoHTTP, model.ProtoFTP}, []uint16{22, 80, 21}, "CVE-2018-14847", true},
	{"TP-Link", "Archer C7", "router", []string{model.ProtoHTTP, model.ProtoTelnet}, []uint16{80, 23}, "CVE-2020-10882", false},
	{"Schneider Electric", "Modicon M221", "plc", []string{model.ProtoModbus}, []uint16{502}, "", false},
	{"Philips", "Hue Bridge", "smart-home-hub", []string{model.ProtoHTTP, model.ProtoMQTT}, []uint16{80, 1883}, "", false},
	{"Synology", "DS218", "nas", []string{model.ProtoHTTP, model.ProtoSSH, model.ProtoFTP}, []uint16{5000, 22, 21}, "CVE-2021-29088", false},
	{"Axis", "M3045-V", "ip-camera", []string{model.ProtoHTTP, model.ProtoRTSP}, []uint16{80, 554}, "", false},
}

// Generate writes n synthetic devices into st as one run, fast (batches of
// a thousand in one transaction each): 10.0.0.0 onwards, one of eight
// product profiles each, about 30% with a default credential, a matched
// vulnerability on the profiles that have one, an assessment tier, and for
// about 1% an outbound flow alert on 2026-11-20. The run's end indexes the
// devices (store.FinishRun).
func Generate(ctx context.Context, st *store.Store, n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	run := &model.Run{Kind: "demo", Targets: []string{"10.0.0.0/8"}, Stages: []string{"scan", "audit", "vulns", "assess"}}
	if err := st.StartRun(ctx, run); err != nil {
		return err
	}
	base := netip.MustParseAddr("10.0.0.0").As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tiers := []string{"A", "B", "C", "D", "E"}
	var alerts [][]any
	for lo := 0; lo < n; lo += 1000 {
		hi := min(n, lo+1000)
		var svcs []model.Service
		var creds []model.CredentialResult
		var vulns []model.VulnMatch
		var finds []model.Finding
		for i := lo; i < hi; i++ {
			v := start + uint32(i) + 1
			ip := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			p := profiles[rng.IntN(len(profiles))]
			for j, proto := range p.protos {
				svcs = append(svcs, model.Service{IP: ip, Port: p.ports[j], Transport: model.TCP, Protocol: proto,
					Status: model.StatusSuccess, Time: now,
					Fingerprint: &model.Fingerprint{Vendor: p.vendor, Product: p.product, DeviceType: p.dtype, Confidence: 0.9}})
			}
			weak := rng.Float64() < 0.3
			if weak {
				creds = append(creds, model.CredentialResult{IP: ip, Port: p.ports[0], Protocol: p.protos[0],
					Username: "admin", Password: "admin", Kind: model.KindDefaultCredential, Time: now})
			}
			if p.cve != "" {
				vulns = append(vulns, model.VulnMatch{IP: ip, Port: p.ports[0], CVE: p.cve, CPE: "cpe:2.3:o:" + p.vendor,
					KEV: p.kev, EPSS: rng.Float64(), Severity: model.SeverityHigh})
			}
			tier := tiers[rng.IntN(len(tiers))]
			if weak {
				tier = "E"
			}
			finds = append(finds, model.Finding{Kind: "assessment", Subject: ip.String(), Severity: model.SeverityInfo,
				Title: "etsi-en-303-645 assessment: tier " + tier, Time: now,
				Evidence: []model.Evidence{{Source: "assess", Data: map[string]any{"baseline": "etsi-en-303-645", "tier": tier}}}})
			if weak && rng.Float64() < 0.03 {
				alerts = append(alerts, []any{run.ID, "2026-11-20", ip.String(), "mirai-scan", store.Time(now), "generated"})
			}
		}
		if err := st.SaveServices(ctx, run.ID, svcs); err != nil {
			return err
		}
		if err := st.SaveCredentials(ctx, run.ID, creds); err != nil {
			return err
		}
		if err := st.SaveVulnMatches(ctx, run.ID, vulns); err != nil {
			return err
		}
		if err := st.SaveFindings(ctx, run.ID, finds); err != nil {
			return err
		}
	}
	for _, a := range alerts {
		if _, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO flow_alerts (run_id, day, device, detector, seen_at, reason)
			VALUES (?, ?, ?, ?, ?, ?)`), a...); err != nil {
			return fmt.Errorf("generate flow alert: %w", err)
		}
	}
	return st.EndRun(ctx, run, nil)
}
