package scan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"iotwatch/internal/fingerprint"
	"iotwatch/internal/hostkey"
	"iotwatch/internal/model"
	"iotwatch/internal/target"
	"iotwatch/internal/testpeer"
)

var (
	engineOnce sync.Once
	engine     *fingerprint.Engine
)

func testEngine(t testing.TB) *fingerprint.Engine {
	engineOnce.Do(func() {
		var err error
		if engine, err = fingerprint.New(fingerprint.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	return engine
}

func collect(t *testing.T, cfg Config) ([]model.Service, Stats) {
	t.Helper()
	var mu sync.Mutex
	var out []model.Service
	st, err := Run(context.Background(), cfg, func(s model.Service) error {
		mu.Lock()
		out = append(out, s)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out, st
}

// TestScanRealPeers scans real Debian daemons and checks the exact product
// and version identified against the installed packages.
func TestScanRealPeers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("iotwatch/internal/testpeer.start.func1"))
	type peer struct {
		port    target.Port
		product string
		version string
		cpe     string
	}
	var peers []peer
	add := func(p *testpeer.Peer, transport, proto, product, pkg string, cpe string) {
		v := ""
		if pkg != "" {
			if v = testpeer.DebVersion(pkg); v == "" {
				t.Skipf("Debian package %s not installed", pkg)
			}
		}
		peers = append(peers, peer{target.Port{Number: uint16(p.Port), Transport: transport, Protocol: proto}, product, v, strings.ReplaceAll(cpe, "{v}", v)})
	}
	add(testpeer.SSHD(t, testpeer.SSHDOptions{}), "tcp", "", "OpenSSH", "openssh-server", "cpe:2.3:a:openbsd:openssh:")
	add(testpeer.Lighttpd(t, testpeer.LighttpdOptions{}), "tcp", "", "lighttpd", "lighttpd", "cpe:2.3:a:lighttpd:lighttpd:{v}:*")
	add(testpeer.Vsftpd(t, testpeer.VsftpdOptions{Anonymous: true}), "tcp", "", "vsftpd", "vsftpd", "cpe:2.3:a:vsftpd_project:vsftpd:{v}:*")
	add(testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: true}), "tcp", "mqtt", "Mosquitto", "mosquitto", "cpe:2.3:a:eclipse:mosquitto:{v}:*")
	add(testpeer.Snmpd(t), "udp", "snmp", "Net-SNMP", "", "cpe:2.3:a:net-snmp:net-snmp:*")
	add(testpeer.Telnetd(t), "tcp", "telnet", "Linux telnetd", "", "")
	add(testpeer.Dnsmasq(t), "udp", "dns", "dnsmasq", "dnsmasq-base", "cpe:2.3:a:thekelleys:dnsmasq:{v}:*")
	// One closed TCP port.
	closed := testpeer.FreePort(t, "tcp")
	var ports []target.Port
	for _, p := range peers {
		ports = append(ports, p.port)
	}
	ports = append(ports, target.Port{Number: uint16(closed), Transport: "tcp"})
	svcs, st := collect(t, Config{Targets: []string{"127.0.0.1"}, Ports: ports, Timeout: 5 * time.Second, Engine: testEngine(t), Concurrency: 8})
	if st.Items != uint64(len(ports)) || st.ByStatus[model.StatusRefused] != 1 {
		t.Errorf("stats = %+v, want %d items, 1 refused", st, len(ports))
	}
	got := map[uint16]model.Service{}
	for _, s := range svcs {
		got[s.Port] = s
	}
	for _, p := range peers {
		s, ok := got[p.port.Number]
		if !ok {
			t.Errorf("%s: not reported", p.port)
			continue
		}
		fp := s.Fingerprint
		if fp == nil {
			t.Errorf("%s (%s, %s): no fingerprint; banner %q", p.port, s.Protocol, s.Status, s.Banner)
			continue
		}
		// OpenSSH reports 9.2p1; the package's upstream version is 9.2p1 as well.
		if fp.Product != p.product || p.version != "" && fp.Version != p.version || !strings.HasPrefix(fp.CPE, p.cpe) {
			t.Errorf("%s: got %q %q %q (rule %s), want %q %q %q…", p.port, fp.Product, fp.Version, fp.CPE, fp.Rule, p.product, p.version, p.cpe)
		}
	}
	if _, ok := got[uint16(closed)]; ok {
		t.Errorf("closed port emitted without EmitClosed")
	}
}

// TestScanDetect finds the protocol of servers on ports with no known protocol.
func TestScanDetect(t *testing.T) {
	ssh := testpeer.SSHD(t, testpeer.SSHDOptions{})
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{})
	// A TLS server on a port of no known protocol: silent, and no HTTP
	// answer to a plain request, it is found by its handshake.
	certPEM, keyPEM := selfSignedPEM(t)
	tlsWeb := testpeer.Lighttpd(t, testpeer.LighttpdOptions{CertPEM: certPEM, KeyPEM: keyPEM})
	svcs, _ := collect(t, Config{Targets: []string{"127.0.0.1"}, TCPPorts: []uint16{uint16(ssh.Port), uint16(web.Port), uint16(tlsWeb.Port)}, Engine: testEngine(t)})
	want := map[uint16]string{uint16(ssh.Port): model.ProtoSSH, uint16(web.Port): model.ProtoHTTP, uint16(tlsWeb.Port): model.ProtoHTTPS}
	for _, s := range svcs {
		if s.Protocol != want[s.Port] {
			t.Errorf("port %d: protocol %q, want %q", s.Port, s.Protocol, want[s.Port])
		}
		if s.Protocol == model.ProtoHTTPS {
			if k, ok := hostkey.Of(s); !ok || k.Kind != hostkey.KindTLS || k.Type != "ecdsa-256" {
				t.Errorf("port %d: key %+v %v, want the certificate's", s.Port, k, ok)
			}
		}
	}
	if len(svcs) != 3 {
		t.Errorf("got %d services, want 3", len(svcs))
	}
}

// selfSignedPEM makes an ECDSA P-256 certificate and key in PEM.
func selfSignedPEM(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "device.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
}

// TestScanShardsAndResume checks that shards split a closed-port discovery
// scan disjointly and that a resumed scan finishes exactly the rest.
func TestScanShardsAndResume(t *testing.T) {
	base := Config{Targets: []string{"127.0.3.0/26"}, TCPPorts: []uint16{1, 2, 3}, DiscoveryOnly: true, EmitClosed: true, Seed: 99, Concurrency: 16}
	seen := map[string]int{}
	for shard := 0; shard < 3; shard++ {
		cfg := base
		cfg.Shard, cfg.Shards = shard, 3
		svcs, _ := collect(t, cfg)
		for _, s := range svcs {
			seen[netip.AddrPortFrom(s.IP, s.Port).String()]++
		}
	}
	if len(seen) != 64*3 {
		t.Errorf("shards covered %d items, want %d", len(seen), 64*3)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s scanned %d times", k, n)
		}
	}

	// Interrupt after 50 items, then resume from the checkpoint.
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	first := map[string]bool{}
	var cp Checkpoint
	cfg := base
	cfg.Concurrency = 1
	cfg.Checkpoint = func(c Checkpoint) { mu.Lock(); cp = c; mu.Unlock() }
	st, err := Run(ctx, cfg, func(s model.Service) error {
		mu.Lock()
		defer mu.Unlock()
		first[netip.AddrPortFrom(s.IP, s.Port).String()] = true
		if len(first) == 50 {
			cancel()
		}
		return nil
	})
	if err == nil {
		t.Fatal("interrupted run returned no error")
	}
	if cp.Position != st.Position || st.Position == 0 {
		t.Fatalf("checkpoint %+v, stats position %d", cp, st.Position)
	}
	cfg.Checkpoint = nil
	cfg.Start, cfg.Pending = cp.Position, cp.Pending
	rest, _ := collect(t, cfg)
	all := map[string]bool{}
	for k := range first {
		all[k] = true
	}
	dups := 0
	for _, s := range rest {
		k := netip.AddrPortFrom(s.IP, s.Port).String()
		if all[k] {
			dups++
		}
		all[k] = true
	}
	if len(all) != 64*3 {
		t.Errorf("first %d + resumed %d covered %d items, want %d", len(first), len(rest), len(all), 64*3)
	}
	if dups > 1 { // at most the item in flight when cancelled
		t.Errorf("%d items scanned twice after resume", dups)
	}
}

func TestScanRate(t *testing.T) {
	start := time.Now()
	_, st := collect(t, Config{Targets: []string{"127.0.4.0/28"}, TCPPorts: []uint16{1, 2}, DiscoveryOnly: true, Rate: 64})
	if st.Items != 32 {
		t.Fatalf("items = %d", st.Items)
	}
	// 32 items at 64/s with a burst of 1 take at least ~0.48 s.
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("32 items at 64/s took %v: rate limit not applied", el)
	}
}

func TestSpaceErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Targets: []string{"224.0.0.1"}},   // blocked by default
		{Targets: []string{"bad target!"}}, // unparsable
		{Targets: []string{"10.0.0.1"}, Blocklist: []string{"/nonexistent"}},
	} {
		if _, err := Space(context.Background(), &cfg); err == nil {
			t.Errorf("Space(%v): want error", cfg.Targets)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SSH-2.0-x\r\n", "ssh"}, {"220 (vsFTPd 3.0.3)\r\n", "ftp"}, {"\xff\xfd\x18", "telnet"}, {"", "http"},
		{"RTSP/1.0 200 OK", "rtsp"}, {"220 mail ESMTP SMTP", "telnet"},
	}
	for _, tt := range tests {
		if got := Classify([]byte(tt.in)); got != tt.want {
			t.Errorf("Classify(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestScanIPv6 connects over ::1 and detects an HTTP server there.
func TestScanIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				c.Read(buf)
				c.Write([]byte("HTTP/1.0 200 OK\r\nServer: Boa/0.94.14rc21\r\n\r\n<title>x</title>"))
			}()
		}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	svcs, _ := collect(t, Config{Targets: []string{"::1"}, TCPPorts: []uint16{port}, Engine: testEngine(t), Timeout: 3 * time.Second})
	if len(svcs) != 1 || svcs[0].Protocol != model.ProtoHTTP || svcs[0].Fingerprint == nil || svcs[0].Fingerprint.Product != "Boa" {
		t.Fatalf("got %+v", svcs)
	}
}
