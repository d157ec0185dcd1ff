package dns

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/testpeer"
	dnswire "iotwatch/internal/wire/dns"
)

func probeAddr(t *testing.T, network, addr string) probe.Result {
	t.Helper()
	return probetest.Probe(t, Prober{}, network, addr, &probe.Env{Timeout: 2 * time.Second})
}

// TestProbeDnsmasq asks a real dnsmasq over UDP and over TCP.
func TestProbeDnsmasq(t *testing.T) {
	p := testpeer.Dnsmasq(t)
	want := "dnsmasq-" + testpeer.DnsmasqVersion(t)
	for _, network := range []string{"udp", "tcp"} {
		res := probeAddr(t, network, p.Addr)
		if res.Status != model.StatusSuccess || res.Protocol != model.ProtoDNS {
			t.Fatalf("%s: %s %v (%v)", network, res.Protocol, res.Status, res.Err)
		}
		rec := res.Data.(*Record)
		if rec.Version != want || rec.Query != dnswire.VersionBind || rec.Rcode != "NOERROR" || res.Banner != want {
			t.Errorf("%s: record %+v banner %q, want %s", network, rec, res.Banner, want)
		}
		if f := rec.Fields(); f["dns.version"] != want {
			t.Errorf("%s: fields %v", network, f)
		}
	}
}

func TestProbeFake(t *testing.T) {
	answer := func(texts map[string]string) func([]byte) [][]byte {
		return func(q []byte) [][]byte {
			b, err := dnswire.Answer(q, texts)
			if err != nil {
				return nil
			}
			return [][]byte{b}
		}
	}
	stale, _ := dnswire.Query(1, dnswire.VersionBind)
	staleReply, _ := dnswire.Answer(stale, map[string]string{dnswire.VersionBind: "stale"})
	tests := []struct {
		name    string
		reply   func([]byte) [][]byte
		status  model.Status
		version string
		query   string
		rcode   string
	}{
		{"version.server only (Unbound hiding version.bind)", answer(map[string]string{dnswire.VersionServer: "unbound 1.17.1"}),
			model.StatusSuccess, "unbound 1.17.1", dnswire.VersionServer, "REFUSED"},
		{"nothing said", answer(nil), model.StatusSuccess, "", "", "REFUSED"},
		{"late datagram first", func(q []byte) [][]byte {
			b, _ := dnswire.Answer(q, map[string]string{dnswire.VersionBind: "9.18.24-1-Debian"})
			return [][]byte{staleReply, b}
		}, model.StatusSuccess, "9.18.24-1-Debian", dnswire.VersionBind, "NOERROR"},
		{"not DNS", func([]byte) [][]byte { return [][]byte{[]byte("hello there, this is not DNS")} }, model.StatusProtocolError, "", "", ""},
		{"silent", func([]byte) [][]byte { return nil }, model.StatusTimeout, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := probeAddr(t, "udp", probetest.UDPServer(t, tt.reply))
			if res.Status != tt.status {
				t.Fatalf("status %v (%v), want %v", res.Status, res.Err, tt.status)
			}
			if tt.status != model.StatusSuccess {
				if !errors.Is(res.Err, probe.ErrProtocol) && tt.status == model.StatusProtocolError {
					t.Errorf("error %v is not a protocol error", res.Err)
				}
				return
			}
			rec := res.Data.(*Record)
			if rec.Version != tt.version || rec.Query != tt.query || rec.Rcode != tt.rcode {
				t.Errorf("record %+v, want version %q from %q, rcode %s", rec, tt.version, tt.query, tt.rcode)
			}
		})
	}
}

func TestProbeClosedPort(t *testing.T) {
	port := testpeer.FreePort(t, "udp")
	res := probeAddr(t, "udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if res.Status != model.StatusRefused {
		t.Errorf("status %v (%v), want refused", res.Status, res.Err)
	}
}
