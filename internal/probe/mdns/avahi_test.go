//go:build linux

package mdns

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/testpeer"
)

// TestAvahi probes a real avahi-daemon (Debian's, the responder of most
// Linux-based devices) publishing a printer the way CUPS and printer
// firmware announce one: the probe's unicast queries must be answered by
// the real responder and read into the record.
func TestAvahi(t *testing.T) {
	peer := testpeer.Avahi(t, "iotw-printer",
		testpeer.AvahiService{Name: "HP LaserJet Pro M404dn (iotwatch)", Type: "_ipp._tcp", Port: 631,
			TXT: []string{"txtvers=1", "ty=HP LaserJet Pro M404dn", "usb_MFG=HP", "usb_MDL=LaserJet Pro M404dn", "rp=ipp/print"}},
		testpeer.AvahiService{Name: "HP LaserJet Pro M404dn (iotwatch)", Type: "_http._tcp", Port: 80, TXT: []string{"path=/"}},
	)
	var res probe.Result
	testpeer.InNetns(t, peer.Netns, func() {
		conn, err := net.Dial("udp4", net.JoinHostPort(peer.Addr, "5353"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		res = Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: 5 * time.Second})
	})
	if res.Status != model.StatusSuccess {
		t.Fatalf("probe of avahi-daemon: %+v", res)
	}
	rec := res.Data.(*Record)
	if !slices.Equal(rec.Types, []string{"_http._tcp", "_ipp._tcp"}) {
		t.Errorf("types %v, want _http._tcp and _ipp._tcp", rec.Types)
	}
	if rec.Vendor != "HP" || rec.Model != "LaserJet Pro M404dn" {
		t.Errorf("vendor %q model %q, want HP LaserJet Pro M404dn (from usb_MFG/usb_MDL)", rec.Vendor, rec.Model)
	}
	if rec.Hostname != peer.HostName {
		t.Errorf("hostname %q, want %q", rec.Hostname, peer.HostName)
	}
	if !slices.Contains(rec.Addresses, peer.Addr) {
		t.Errorf("addresses %v, want %s", rec.Addresses, peer.Addr)
	}
	var ipp *Service
	for i, s := range rec.Services {
		if s.Type == "_ipp._tcp" {
			ipp = &rec.Services[i]
		}
	}
	if ipp == nil || ipp.Port != 631 || ipp.Instance != "HP LaserJet Pro M404dn (iotwatch)" || ipp.TXT["rp"] != "ipp/print" {
		t.Errorf("ipp service %+v", ipp)
	}
	t.Logf("avahi-daemon: %s; %+v", res.Banner, rec.Services)
}
