package scanbench

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/simulate"
	"iotwatch/internal/target"
)

// families groups the protocols of the simulated fleet for the per-family
// rows of the comparison.
var families = []struct {
	name   string
	protos []string
}{
	{"IoT login surfaces", []string{model.ProtoTelnet, model.ProtoSSH, model.ProtoHTTP, model.ProtoHTTPS, model.ProtoFTP,
		model.ProtoMQTT, model.ProtoMQTTS, model.ProtoSNMP, model.ProtoCWMP}},
	{"cameras and recorders", []string{model.ProtoRTSP, model.ProtoDVRIP, model.ProtoXMeye, model.ProtoHikSDK, model.ProtoONVIF}},
	{"building and industrial", []string{model.ProtoModbus, model.ProtoENIP, model.ProtoBACnet, model.ProtoS7, model.ProtoDNP3, model.ProtoFox}},
	{"discovery", []string{model.ProtoSSDP, model.ProtoMDNS, model.ProtoCoAP, model.ProtoDNS}},
}

// nmapScripts are the identification scripts nmap runs beside -sV (unicast
// ones only: the broadcast-* scripts would send to multicast groups).
const nmapScripts = "dns-service-discovery,bacnet-info,s7-info,enip-info,fox-info,modbus-discover,upnp-info,coap-resources,snmp-sysdescr,http-title,rtsp-methods"

// nmapSeen is what nmap said about one endpoint: -sV's fields and the
// scripts' output.
type nmapSeen struct {
	open              bool
	product, cpe, all string
}

// nmapDevice runs nmap -sV with the identification scripts on one device's
// own ports, its report in dir.
func nmapDevice(dir, ip string, svcs []simulate.TruthService) (map[epKey]nmapSeen, error) {
	var tcp, udp []uint16
	for _, s := range svcs {
		if s.Transport == model.UDP {
			udp = append(udp, s.Port)
		} else {
			tcp = append(tcp, s.Port)
		}
	}
	x, _, err := nmapSV(filepath.Join(dir, ip+".xml"), tcp, udp, []string{"--script", nmapScripts}, ip)
	if err != nil {
		return nil, err
	}
	got := map[epKey]nmapSeen{}
	for _, h := range x.Hosts {
		for _, p := range h.Ports {
			s := nmapSeen{open: p.State.State == "open", product: p.Service.Product}
			if len(p.Service.CPE) > 0 {
				s.cpe = p.Service.CPE[0]
			}
			parts := []string{p.Service.Product, p.Service.Version, p.Service.Extra}
			for _, sc := range p.Scripts {
				parts = append(parts, sc.Output)
			}
			s.all = strings.Join(parts, " ")
			got[epKey{ip, uint16(p.PortID), p.Protocol}] = s
		}
	}
	return got, nil
}

// mentions reports whether text names want (loosely: case, spaces and
// dashes ignored).
func mentions(text, want string) bool { return want != "" && strings.Contains(norm(text), norm(want)) }

// TestCompareFamilies: per protocol family, what iotwatch and nmap -sV
// (with its identification scripts) say about one unit of every simulated
// profile, scored against the fleet's truth: endpoints answered, endpoints
// identified at all, the maker named, the model named, a CPE given.
func TestCompareFamilies(t *testing.T) {
	need(t)
	fleet := startFleet(t, "127.204.0.0/16", 400)
	// One unit per profile.
	var devs []simulate.TruthDevice
	seen := map[string]bool{}
	for _, d := range fleet.Truth().Devices {
		if !seen[d.Profile] {
			seen[d.Profile] = true
			devs = append(devs, d)
		}
	}
	var targets []string
	var ports []target.Port
	for _, d := range devs {
		targets = append(targets, d.IP)
		for _, s := range d.Services {
			p := target.Port{Number: s.Port, Transport: s.Transport}
			if !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	ours, oursTook := runOurs(t, scan.Config{Targets: targets, Ports: ports, Timeout: 5 * time.Second, Concurrency: 256})

	theirs := map[epKey]nmapSeen{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	dir := t.TempDir()
	start := time.Now()
	for _, d := range devs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			got, err := nmapDevice(dir, d.IP, d.Services)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for k, v := range got {
				theirs[k] = v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	nmapTook := time.Since(start)

	type score struct{ services, answered, identified, vendor, model, cpe int }
	t.Logf("%d profiles, one unit each: iotwatch %v, nmap -sV + scripts %v (4 devices at a time, each on its own ports)",
		len(devs), oursTook.Round(time.Millisecond), nmapTook.Round(time.Millisecond))
	t.Logf("%-24s %5s | %-27s | %-27s", "family", "svcs", "iotwatch ans/id/maker/model/cpe", "nmap ans/id/maker/model/cpe")
	for _, fam := range families {
		var o, n score
		var misses []string
		for _, d := range devs {
			for _, ts := range d.Services {
				if !slices.Contains(fam.protos, ts.Protocol) {
					continue
				}
				o.services++
				n.services++
				k := epKey{d.IP, ts.Port, ts.Transport}
				if s, ok := ours[k]; ok && s.Status == model.StatusSuccess {
					o.answered++
					if fp := s.Fingerprint; fp != nil && (fp.Vendor != "" || fp.Product != "") {
						o.identified++
						text := fp.Vendor + " " + fp.Product
						if mentions(text, d.Vendor) {
							o.vendor++
						}
						if mentions(text, d.Model) {
							o.model++
						} else {
							misses = append(misses, fmt.Sprintf("%s %s %s: iotwatch %q", d.Profile, ts.Protocol, d.Model, text))
						}
						if fp.CPE != "" {
							o.cpe++
						}
					}
				}
				if s, ok := theirs[k]; ok && s.open {
					n.answered++
					if strings.TrimSpace(s.all) != "" {
						n.identified++
					}
					if mentions(s.all, d.Vendor) {
						n.vendor++
					}
					if mentions(s.all, d.Model) {
						n.model++
					}
					if s.cpe != "" {
						n.cpe++
					}
				}
			}
		}
		row := func(s score) string {
			return fmt.Sprintf("%3d/%3d/%3d/%3d/%3d", s.answered, s.identified, s.vendor, s.model, s.cpe)
		}
		t.Logf("%-24s %5d | %-27s | %-27s", fam.name, o.services, row(o), row(n))
		fmt.Printf("RESULT family=%q services=%d iotwatch=%s nmap=%s\n", fam.name, o.services, row(o), row(n))
		for _, m := range misses {
			t.Log("  model not named: " + m)
		}
	}
}
