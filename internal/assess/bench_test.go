package assess

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"iotwatch/internal/model"
)

// population builds evidence for n devices of 10 models: every device has
// telnet and https, every third accepts a default password.
func population(n int) Evidence {
	ev := Evidence{Runs: []model.Run{{ID: 1, Kind: "demo"}}}
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range n {
		a := base
		a[1], a[2], a[3] = byte(i>>16), byte(i>>8), byte(i)
		ip := netip.AddrFrom4(a)
		prod := fmt.Sprintf("M-%d", i%10)
		ev.Assets = append(ev.Assets, model.Asset{IP: ip, Vendor: "V", Product: prod, CPE: "cpe:2.3:h:v:" + prod})
		ev.Services = append(ev.Services,
			model.Service{IP: ip, Port: 23, Transport: "tcp", Protocol: "telnet", Status: model.StatusSuccess},
			model.Service{IP: ip, Port: 443, Transport: "tcp", Protocol: "https", Status: model.StatusSuccess})
		if i%3 == 0 {
			ev.Credentials = append(ev.Credentials, model.CredentialResult{IP: ip, Port: 23, Protocol: "telnet", Username: "admin", Password: "admin", Kind: model.KindDefaultCredential})
		}
		if i%7 == 0 {
			ev.Vulns = append(ev.Vulns, model.VulnMatch{IP: ip, CVE: "CVE-2021-36260", KEV: true, CVSS: 9.8})
		}
	}
	return ev
}

func BenchmarkAssessPopulation(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		ev := population(n)
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Assess(context.Background(), ev, Options{Now: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
