// Package scanbench compares `iotwatch scan` with nmap on the same loopback
// work: real Debian daemons and a simulated IoT fleet. It runs only when
// IOTWATCH_BENCH=1 (bench/scan/scan.sh sets it); figures go to the log.
package scanbench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/fingerprint"
	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/target"
	"iotwatch/internal/testpeer"
)

func need(t *testing.T) {
	if os.Getenv("IOTWATCH_BENCH") != "1" {
		t.Skip("set IOTWATCH_BENCH=1 (bench/scan/scan.sh) to run the comparison")
	}
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Skip("nmap not installed")
	}
}

type ident struct{ product, version, cpe string }

type epKey struct {
	ip   string
	port uint16
	tr   string
}

// runNmap runs nmap -sV and returns identifications by endpoint and the wall time.
func runNmap(t *testing.T, targets []string, tcp, udp []uint16) (map[epKey]ident, time.Duration) {
	x, took, err := nmapSV(t.TempDir()+"/nmap.xml", tcp, udp, nil, targets...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[epKey]ident{}
	for _, h := range x.Hosts {
		for _, p := range h.Ports {
			if p.State.State != "open" {
				continue
			}
			cpe := ""
			if len(p.Service.CPE) > 0 {
				cpe = p.Service.CPE[0]
			}
			got[epKey{h.Address[0].Addr, uint16(p.PortID), p.Protocol}] = ident{p.Service.Product, p.Service.Version, cpe}
		}
	}
	return got, took
}

func runOurs(t *testing.T, cfg scan.Config) (map[epKey]model.Service, time.Duration) {
	eng, err := fingerprint.New(fingerprint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Engine = eng
	var mu sync.Mutex
	got := map[epKey]model.Service{}
	start := time.Now()
	_, err = scan.Run(context.Background(), cfg, func(s model.Service) error {
		mu.Lock()
		got[epKey{s.IP.String(), s.Port, s.Transport}] = s
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, time.Since(start)
}

func ourIdent(s model.Service) ident {
	if s.Fingerprint == nil {
		return ident{}
	}
	return ident{s.Fingerprint.Product, s.Fingerprint.Version, s.Fingerprint.CPE}
}

func norm(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "", "_", "").Replace(s))
}

// same reports whether id names product (loosely) and version (exactly).
func same(id ident, product, version string) bool {
	p, q := norm(id.product), norm(product)
	// nmap appends distribution details ("9.2p1 Debian 2+deb12u10"): the
	// first word is the version.
	v, _, _ := strings.Cut(id.version, " ")
	return v == version && p != "" && (strings.Contains(p, q) || strings.Contains(q, p))
}

// TestCompareRealPeers: nmap -sV versus iotwatch on real Debian daemons.
func TestCompareRealPeers(t *testing.T) {
	need(t)
	type peer struct {
		name, product, pkg string
		port               target.Port
	}
	mk := func(name, product, pkg string, p *testpeer.Peer, tr, proto string) peer {
		return peer{name, product, pkg, target.Port{Number: uint16(p.Port), Transport: tr, Protocol: proto}}
	}
	peers := []peer{
		mk("sshd", "OpenSSH", "openssh-server", testpeer.SSHD(t, testpeer.SSHDOptions{}), "tcp", ""),
		mk("lighttpd", "lighttpd", "lighttpd", testpeer.Lighttpd(t, testpeer.LighttpdOptions{}), "tcp", ""),
		mk("vsftpd", "vsftpd", "vsftpd", testpeer.Vsftpd(t, testpeer.VsftpdOptions{Anonymous: true}), "tcp", ""),
		mk("mosquitto", "Mosquitto", "mosquitto", testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: true}), "tcp", "mqtt"),
		mk("snmpd", "Net-SNMP", "", testpeer.Snmpd(t), "udp", "snmp"),
		mk("telnetd", "telnetd", "", testpeer.Telnetd(t), "tcp", "telnet"),
	}
	var ports []target.Port
	var tcp, udp []uint16
	for _, p := range peers {
		ports = append(ports, p.port)
		if p.port.Transport == "udp" {
			udp = append(udp, p.port.Number)
		} else {
			tcp = append(tcp, p.port.Number)
		}
	}
	ours, oursTook := runOurs(t, scan.Config{Targets: []string{"127.0.0.1"}, Ports: ports, Timeout: 5 * time.Second})
	theirs, nmapTook := runNmap(t, []string{"127.0.0.1"}, tcp, udp)
	oursExact, nmapExact := 0, 0
	t.Logf("%-10s %-40s %-40s", "daemon", "iotwatch", "nmap -sV")
	for _, p := range peers {
		k := epKey{"127.0.0.1", p.port.Number, p.port.Transport}
		o, n := ourIdent(ours[k]), theirs[k]
		want := testpeer.DebVersion(p.pkg)
		if want != "" {
			if same(o, p.product, want) {
				oursExact++
			}
			if same(n, p.product, want) {
				nmapExact++
			}
		}
		t.Logf("%-10s %-40s %-40s", p.name, o.product+" "+o.version, n.product+" "+n.version)
	}
	t.Logf("real daemons: iotwatch %v, nmap -sV %v (%.1fx); exact product+version: iotwatch %d, nmap %d (of 4 versioned)",
		oursTook.Round(time.Millisecond), nmapTook.Round(time.Millisecond), nmapTook.Seconds()/oursTook.Seconds(), oursExact, nmapExact)
	fmt.Printf("RESULT real-daemons iotwatch=%.3fs nmap=%.3fs ratio=%.1f exact_iotwatch=%d exact_nmap=%d\n",
		oursTook.Seconds(), nmapTook.Seconds(), nmapTook.Seconds()/oursTook.Seconds(), oursExact, nmapExact)
}

// TestCompareFleet: nmap -sV versus iotwatch on a simulated fleet
// (IOTWATCH_BENCH_DEVICES devices, default 1000), scored against its truth.
func TestCompareFleet(t *testing.T) {
	need(t)
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("IOTWATCH_BENCH_DEVICES")); err == nil && v > 0 {
		n = v
	}
	fleet := startFleet(t, "127.203.0.0/16", n)
	var targets []string
	for _, a := range fleet.Addrs() {
		targets = append(targets, a.String())
	}
	ours, oursTook := runOurs(t, scan.Config{Targets: targets, TCPPorts: fleet.TCPPorts(), UDPPorts: fleet.UDPPorts(),
		Timeout: 5 * time.Second, Concurrency: 1000})
	theirs, nmapTook := runNmap(t, targets, fleet.TCPPorts(), fleet.UDPPorts())

	visible, oursExact, nmapExact, oursOpen, nmapOpen, services := 0, 0, 0, 0, 0, 0
	for _, d := range fleet.Truth().Devices {
		for _, ts := range d.Services {
			services++
			k := epKey{d.IP, ts.Port, ts.Transport}
			s, ok := ours[k]
			if ok && s.Status == model.StatusSuccess {
				oursOpen++
			}
			if _, ok := theirs[k]; ok {
				nmapOpen++
			}
			if ts.Version == "" || !ok {
				continue
			}
			if raw, _ := json.Marshal(s.Data); !strings.Contains(string(raw), ts.Version) {
				continue // shown only after login: out of reach of both
			}
			visible++
			if same(ourIdent(s), ts.Product, ts.Version) {
				oursExact++
			}
			if same(theirs[k], ts.Product, ts.Version) {
				nmapExact++
			}
		}
	}
	t.Logf("fleet of %d devices, %d services: iotwatch %v (%d open), nmap -sV %v (%d open), %.1fx; exact product+version of %d visible: iotwatch %d, nmap %d",
		n, services, oursTook.Round(time.Millisecond), oursOpen, nmapTook.Round(time.Millisecond), nmapOpen, nmapTook.Seconds()/oursTook.Seconds(), visible, oursExact, nmapExact)
	fmt.Printf("RESULT fleet devices=%d services=%d iotwatch=%.3fs nmap=%.3fs ratio=%.1f open_iotwatch=%d open_nmap=%d visible=%d exact_iotwatch=%d exact_nmap=%d\n",
		n, services, oursTook.Seconds(), nmapTook.Seconds(), nmapTook.Seconds()/oursTook.Seconds(), oursOpen, nmapOpen, visible, oursExact, nmapExact)
}
