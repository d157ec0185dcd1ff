package simulate

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/model"
)

// TestModes runs a TCP banner grab, an SNMP GET and an SSDP search against
// a fleet in each socket mode: sk_lookup steering (when privileged) and one
// socket per device service.
func TestModes(t *testing.T) {
	for _, perDevice := range []bool{false, true} {
		name := "steering"
		if perDevice {
			name = "per-device"
		}
		t.Run(name, func(t *testing.T) {
			f := startFleet(t, Options{Devices: 120, Seed: 11, Weak: 0.5, HighPorts: true, perDevice: perDevice})
			if !perDevice && f.steer == nil {
				t.Skipf("sk_lookup steering not available (euid %d): per-device sockets only", os.Geteuid())
			}
			if !perDevice && f.Sockets() > len(f.TCPPorts())+len(f.UDPPorts()) {
				t.Errorf("steering mode holds %d sockets, want one per port", f.Sockets())
			}
			// Every telnet device answers with the IAC greeting on its own address.
			n := 0
			for _, d := range f.devices {
				for _, s := range d.services {
					if s.sp.Protocol != model.ProtoTelnet || n >= 10 {
						continue
					}
					n++
					c, err := net.DialTimeout("tcp", addrOf(s), 2*time.Second)
					if err != nil {
						t.Fatalf("dial %s: %v", addrOf(s), err)
					}
					c.SetDeadline(time.Now().Add(5 * time.Second))
					buf := make([]byte, 256)
					got := ""
					for !strings.Contains(got, "login: ") {
						k, err := c.Read(buf)
						if err != nil {
							t.Fatalf("%s: %v after %q", addrOf(s), err, got)
						}
						got += string(buf[:k])
					}
					if !strings.Contains(got, s.dev.hostname) {
						t.Errorf("%s: prompt %q lacks hostname %s", addrOf(s), got, s.dev.hostname)
					}
					c.Close()
				}
			}
			// A device without telnet refuses telnet.
			for _, d := range f.devices {
				if d.prof.service(model.ProtoTelnet) == nil {
					c, err := net.DialTimeout("tcp", net.JoinHostPort(d.addr.String(), "2323"), time.Second)
					if err == nil {
						c.Close()
						t.Errorf("%s (%s) accepted telnet", d.addr, d.prof.ID)
					}
					break
				}
			}
			snmp := 0
			for _, d := range f.devices {
				s := findIn(d, model.ProtoSNMP)
				if s == nil || snmp >= 5 {
					continue
				}
				snmp++
				g := &gosnmp.GoSNMP{Target: d.addr.String(), Port: s.port, Community: s.cred.Password, Version: gosnmp.Version2c, Timeout: 2 * time.Second, Retries: 1}
				if err := g.Connect(); err != nil {
					t.Fatal(err)
				}
				r, err := g.Get([]string{".1.3.6.1.2.1.1.5.0"})
				g.Conn.Close()
				if err != nil {
					t.Fatalf("snmp %s: %v", d.addr, err)
				}
				if got := string(r.Variables[0].Value.([]byte)); got != d.hostname {
					t.Errorf("snmp %s: sysName %q, want %q", d.addr, got, d.hostname)
				}
			}
			ssdp := findService(t, f, model.ProtoSSDP, "", nil)
			resp := string(udpExchange(t, addrOf(ssdp), []byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: upnp:rootdevice\r\n\r\n")))
			if !strings.Contains(resp, "uuid:"+ssdp.dev.uuid) {
				t.Errorf("ssdp answer %q", resp)
			}
		})
	}
}

func findIn(d *device, proto string) *deviceService {
	for _, s := range d.services {
		if s.sp.Protocol == proto {
			return s
		}
	}
	return nil
}
