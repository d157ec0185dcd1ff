package testpeer

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/miekg/dns"
)

func banner(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		t.Fatalf("read banner from %s: %v", addr, err)
	}
	return line
}

func TestSSHD(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		p := SSHD(t, SSHDOptions{Legacy: legacy})
		if got := banner(t, p.Addr); !strings.HasPrefix(got, "SSH-2.0-OpenSSH") {
			t.Errorf("legacy=%v: banner %q, want SSH-2.0-OpenSSH...", legacy, got)
		}
	}
}

func TestDropbear(t *testing.T) {
	t.Parallel()
	p := Dropbear(t)
	if got := banner(t, p.Addr); !strings.HasPrefix(got, "SSH-2.0-dropbear") {
		t.Errorf("banner %q, want SSH-2.0-dropbear...", got)
	}
}

func TestVsftpd(t *testing.T) {
	t.Parallel()
	p := Vsftpd(t, VsftpdOptions{Anonymous: true})
	if got := banner(t, p.Addr); !strings.HasPrefix(got, "220") {
		t.Errorf("banner %q, want 220 ...", got)
	}
}

func TestTelnetd(t *testing.T) {
	t.Parallel()
	p := Telnetd(t)
	c, err := net.DialTimeout("tcp", p.Addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 3)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	if b[0] != 0xff {
		t.Errorf("first byte %#x, want IAC", b[0])
	}
}

func TestLighttpd(t *testing.T) {
	t.Parallel()
	p := Lighttpd(t, LighttpdOptions{BasicAuth: map[string]string{"admin": "admin"}, DigestAuth: map[string]string{"admin": "1234"}})
	tests := []struct {
		path, user, pass string
		want             int
	}{
		{"/", "", "", 200},
		{LighttpdBasicPath, "", "", 401},
		{LighttpdBasicPath, "admin", "admin", 200},
		{LighttpdBasicPath, "admin", "wrong", 401},
		{LighttpdDigestPath, "", "", 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", "http://"+p.Addr+tt.path, nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s as %q: status %d, want %d", tt.path, tt.user, resp.StatusCode, tt.want)
		}
		if tt.want == 401 && tt.path == LighttpdDigestPath && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Digest") {
			t.Errorf("digest path challenge %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestMosquitto(t *testing.T) {
	t.Parallel()
	p := Mosquitto(t, MosquittoOptions{Users: map[string]string{"admin": "admin"}})
	c, err := net.DialTimeout("tcp", p.Addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestSnmpd(t *testing.T) {
	t.Parallel()
	p := Snmpd(t, "public")
	g := &gosnmp.GoSNMP{Target: p.Host, Port: uint16(p.Port), Community: "public", Version: gosnmp.Version2c, Timeout: time.Second}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	res, err := g.Get([]string{".1.3.6.1.2.1.1.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Variables[0].Value.([]byte)); got != "iotwatch test agent" {
		t.Errorf("sysDescr %q", got)
	}
	g.Community = "wrong-community"
	g.Retries = 0
	g.Timeout = 300 * time.Millisecond
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.1.0"}); err == nil {
		t.Errorf("wrong community answered")
	}
}

func TestDnsmasq(t *testing.T) {
	p := Dnsmasq(t)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.Question = []dns.Question{{Name: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS}}
	r, _, err := c.Exchange(q, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	want := "dnsmasq-" + DnsmasqVersion(t)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != want {
		t.Errorf("version.bind over TCP = %v, want %s", r.Answer, want)
	}
}
