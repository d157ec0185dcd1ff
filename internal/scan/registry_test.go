package scan

import (
	"encoding/xml"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
)

// TestProbersCoverTable checks that the prober list and the protocol table
// name the same protocols, and that a TLS row has a TLS prober.
func TestProbersCoverTable(t *testing.T) {
	m := probers(&Config{})
	var got []string
	for name := range m {
		got = append(got, name)
		if !protocol.Known(name) {
			t.Errorf("prober %q has no row in the protocol table", name)
		}
	}
	want := protocol.Names(nil)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("probers %v, table rows %v", got, want)
	}
}

// TestNmapServiceNames checks the service names of -oX output, which come
// from the protocol table's Nmap column.
func TestNmapServiceNames(t *testing.T) {
	tests := []struct{ proto, want string }{
		{model.ProtoSSDP, "upnp"}, {model.ProtoMQTTS, "mqtt"}, {model.ProtoMQTT, "mqtt"},
		{model.ProtoHTTPS, "https"}, {model.ProtoTelnet, "telnet"}, {model.ProtoSNMP, "snmp"},
		{"gopher", "gopher"}, {"", "unknown"},
	}
	for i, tt := range tests {
		svc := model.Service{IP: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), Port: 1000, Transport: model.TCP,
			Protocol: tt.proto, Status: model.StatusSuccess}
		var b strings.Builder
		if err := WriteNmapXML(&b, []model.Service{svc}, "iotwatch scan", time.Unix(0, 0), time.Unix(1, 0)); err != nil {
			t.Fatal(err)
		}
		var run nmapRun
		if err := xml.Unmarshal([]byte(b.String()[strings.Index(b.String(), "<nmaprun"):]), &run); err != nil {
			t.Fatal(err)
		}
		if len(run.Hosts) != 1 || len(run.Hosts[0].Ports) != 1 {
			t.Fatalf("%q: hosts %+v", tt.proto, run.Hosts)
		}
		if got := run.Hosts[0].Ports[0].Service.Name; got != tt.want {
			t.Errorf("nmap service name of %q = %q, want %q", tt.proto, got, tt.want)
		}
	}
}
