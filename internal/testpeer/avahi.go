//go:build linux

package testpeer

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// AvahiService is one service avahi-daemon publishes from a static
// service file (avahi.service(5)).
type AvahiService struct {
	Name string   // instance name, "HP LaserJet Pro M404dn (iotwatch)"
	Type string   // "_ipp._tcp"
	Port int      // 631
	TXT  []string // "key=value"
}

// AvahiPeer is avahi-daemon, the mDNS/DNS-SD responder of most Linux-based
// devices (printers, NAS, cameras), answering in its own network namespace.
type AvahiPeer struct {
	Netns    string // the namespace; query from inside it (InNetns)
	Addr     string // the responder's address, "10.214.0.1"
	HostName string // published host name, without ".local"
	Dir      string // configuration and log
}

// Avahi starts avahi-daemon publishing services as hostName.local in a
// network namespace created for the test: avahi ignores the loopback
// interface, so the namespace gets a veth pair (a0 with 10.214.0.1/24, b0
// its peer) that only it uses, and nothing leaves it. The daemon runs
// without D-Bus, with its configuration bind-mounted over /etc/avahi and
// a private /run/avahi-daemon in its own mount namespace (ip netns exec
// gives it one). It returns once the daemon answers a unicast DNS-SD
// query. Skips without root, ip(8) or avahi-daemon unless peers are
// required.
func Avahi(t testing.TB, hostName string, services ...AvahiService) *AvahiPeer {
	t.Helper()
	bin := needBinary(t, "avahi-daemon")
	ns, ip := Netns(t, "iotw-av")
	ip("-n", ns, "link", "add", "a0", "type", "veth", "peer", "name", "b0")
	ip("-n", ns, "addr", "add", "10.214.0.1/24", "dev", "a0")
	ip("-n", ns, "link", "set", "a0", "up")
	ip("-n", ns, "link", "set", "b0", "up")
	dir := t.TempDir()
	conf := filepath.Join(dir, "etc")
	if err := os.MkdirAll(filepath.Join(conf, "services"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("avahi-daemon.conf", fmt.Sprintf(`[server]
host-name=%s
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=a0
enable-dbus=no
ratelimit-interval-usec=0
[publish]
publish-workstation=no
publish-hinfo=no
`, hostName))
	for i, s := range services {
		var txt strings.Builder
		for _, kv := range s.TXT {
			fmt.Fprintf(&txt, "    <txt-record>%s</txt-record>\n", xmlEscape(kv))
		}
		write(fmt.Sprintf("services/s%d.service", i), fmt.Sprintf(`<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>%s</name>
  <service>
    <type>%s</type>
    <port>%d</port>
%s  </service>
</service-group>
`, xmlEscape(s.Name), s.Type, s.Port, txt.String()))
	}
	// The mount point of the daemon's private /run/avahi-daemon.
	if err := os.MkdirAll("/run/avahi-daemon", 0o755); err != nil {
		unavailable(t, "avahi-daemon: %v", err)
	}
	script := fmt.Sprintf("mount -t tmpfs none /run/avahi-daemon && mount --bind %s /etc/avahi && exec %s --no-drop-root --no-chroot --no-rlimits --no-proc-title -f /etc/avahi/avahi-daemon.conf", conf, bin)
	start(t, dir, 0, nil, "ip", "netns", "exec", ns, "sh", "-c", script)
	p := &AvahiPeer{Netns: ns, Addr: "10.214.0.1", HostName: hostName, Dir: dir}
	// Poll with the DNS-SD meta-query, sent by unicast from inside.
	q := new(dns.Msg)
	q.SetQuestion("_services._dns-sd._udp.local.", dns.TypePTR)
	q.Question[0].Qclass |= 1 << 15 // unicast response
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var answered bool
		InNetns(t, ns, func() {
			c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
			r, _, err := c.Exchange(q, net.JoinHostPort(p.Addr, "5353"))
			answered = err == nil && len(r.Answer) >= len(services) && len(services) > 0
		})
		if answered {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
	t.Fatalf("testpeer: avahi-daemon did not answer in %s:\n%s", ns, tail(log, 2000))
	return nil
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
