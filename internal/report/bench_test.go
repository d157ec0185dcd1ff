package report

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// benchStore stores one run with n devices, three services each, weak
// credentials on every third device and a vulnerability on every fifth.
func benchStore(b *testing.B, n int) (*store.Store, int64) {
	st := openStore(b)
	ctx := context.Background()
	run := &model.Run{Kind: "bench"}
	must(b, st.StartRun(ctx, run))
	vendors := []string{"Hikvision", "Dahua", "TP-Link", "Netgear", "Axis", "Ubiquiti", "MikroTik", "Zyxel"}
	types := []string{"ip-camera", "dvr", "router", "nas", "printer"}
	var svcs []model.Service
	var creds []model.CredentialResult
	var vulns []model.VulnMatch
	for i := range n {
		a := netip.AddrFrom4([4]byte{127, 20, byte(i >> 8), byte(i)})
		fp := &model.Fingerprint{Vendor: vendors[i%len(vendors)], Product: fmt.Sprintf("model-%d", i%37), DeviceType: types[i%len(types)], Confidence: 0.9}
		for _, p := range []struct {
			port  uint16
			proto string
		}{{23, model.ProtoTelnet}, {80, model.ProtoHTTP}, {22, model.ProtoSSH}} {
			svcs = append(svcs, model.Service{IP: a, Port: p.port, Transport: model.TCP, Protocol: p.proto, Status: model.StatusSuccess, Fingerprint: fp})
		}
		if i%3 == 0 {
			creds = append(creds, model.CredentialResult{IP: a, Port: 23, Protocol: model.ProtoTelnet, Username: "root", Password: "xc3511", Kind: model.KindDefaultCredential})
		}
		if i%5 == 0 {
			vulns = append(vulns, model.VulnMatch{IP: a, Port: 80, CPE: "cpe:2.3:o:x:y:1:*:*:*:*:*:*:*", CVE: fmt.Sprintf("CVE-2024-%04d", i%50), CVSS: 7.5, KEV: i%10 == 0})
		}
	}
	must(b, st.SaveServices(ctx, run.ID, svcs))
	must(b, st.SaveCredentials(ctx, run.ID, creds))
	must(b, st.SaveVulnMatches(ctx, run.ID, vulns))
	return st, run.ID
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			st, id := benchStore(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r, err := Build(ctx, st, Inputs{RunIDs: []int64{id}})
				if err != nil {
					b.Fatal(err)
				}
				if r.Summary.Devices != n {
					b.Fatalf("devices = %d, want %d", r.Summary.Devices, n)
				}
			}
		})
	}
}

func BenchmarkWrite(b *testing.B) {
	st, id := benchStore(b, 10000)
	r, err := Build(context.Background(), st, Inputs{RunIDs: []int64{id}})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range Formats {
		b.Run("format="+f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Write(io.Discard, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
