package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Dnsmasq starts dnsmasq (the DNS forwarder of most home routers) answering
// on UDP and TCP 127.0.0.1, with no upstream and no configuration: it still
// answers CHAOS TXT version.bind with "dnsmasq-VERSION".
func Dnsmasq(t testing.TB) *Peer {
	t.Helper()
	bin := needBinary(t, "dnsmasq")
	dir := t.TempDir()
	var port int
	for range 50 { // a port free on both transports
		port = FreePort(t, "udp")
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			break
		}
	}
	p := start(t, dir, port, nil, bin, "--no-daemon", "--port="+strconv.Itoa(port), "--listen-address=127.0.0.1",
		"--bind-interfaces", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file=", "--log-facility=-")
	// Poll with a real query until it answers.
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	q := new(dns.Msg)
	q.Question = []dns.Question{{Name: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r, _, err := c.Exchange(q, p.Addr); err == nil && r.Rcode == dns.RcodeSuccess {
			p.waitTCP(t)
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
	t.Fatalf("testpeer: dnsmasq did not answer on udp %s:\n%s", p.Addr, tail(log, 2000))
	return nil
}

// DnsmasqVersion returns the version of the installed dnsmasq ("2.90").
func DnsmasqVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(needBinary(t, "dnsmasq"), "--version").Output()
	if err != nil {
		t.Fatalf("testpeer: dnsmasq --version: %v", err)
	}
	var v string
	if _, err := fmt.Sscanf(string(out), "Dnsmasq version %s", &v); err != nil {
		t.Fatalf("testpeer: dnsmasq --version said %q", out)
	}
	return v
}
