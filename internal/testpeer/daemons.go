package testpeer

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// SSHDOptions configures SSHD.
type SSHDOptions struct {
	// Legacy makes sshd offer ONLY the old algorithms embedded devices still
	// use (diffie-hellman-group1/14-sha1, aes128-cbc/3des-cbc, hmac-sha1,
	// ssh-rsa host key), so a client must enable them to log in at all.
	Legacy bool
	// MaxAuthTries per connection (0 = sshd's default, 6).
	MaxAuthTries int
	// PAM authenticates through PAM (UsePAM yes), which also offers
	// keyboard-interactive but adds PAM's ~2 s delay to each failure.
	// With KbdInteractiveOnly, password authentication is off.
	PAM                bool
	KbdInteractiveOnly bool
	// Without it sshd checks /etc/shadow itself and fails fast.
}

// SSHD starts OpenSSH's sshd with password authentication (and, with PAM,
// keyboard-interactive) for the accounts of .ci/peers.sh.
func SSHD(t testing.TB, opts SSHDOptions) *Peer {
	t.Helper()
	bin := needBinary(t, "sshd")
	needRoot(t, "sshd")
	NeedUsers(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		unavailable(t, "sshd privilege separation directory: %v", err)
	}
	dir := t.TempDir()
	port := FreePort(t, "tcp")
	var keys []string
	if opts.Legacy {
		keys = []string{"rsa"}
	} else {
		keys = []string{"ed25519", "rsa"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\nListenAddress 127.0.0.1\nPidFile %s\n", port, filepath.Join(dir, "sshd.pid"))
	for _, k := range keys {
		path := filepath.Join(dir, "ssh_host_"+k+"_key")
		args := []string{"-q", "-N", "", "-t", k, "-f", path}
		if k == "rsa" {
			args = append(args, "-b", "2048")
		}
		run(t, "ssh-keygen", args...)
		fmt.Fprintf(&b, "HostKey %s\n", path)
	}
	if opts.PAM {
		b.WriteString("UsePAM yes\nKbdInteractiveAuthentication yes\n")
	} else {
		b.WriteString("UsePAM no\nKbdInteractiveAuthentication no\n")
	}
	if opts.KbdInteractiveOnly {
		b.WriteString("PasswordAuthentication no\n")
	} else {
		b.WriteString("PasswordAuthentication yes\n")
	}
	b.WriteString(
		"PubkeyAuthentication no\nPermitRootLogin no\nStrictModes no\nUseDNS no\nPrintMotd no\n" +
			"MaxStartups 100:30:200\nLoginGraceTime 30\n" +
			"AllowUsers " + StrongUser + " " + WeakUser + "\n")
	if opts.MaxAuthTries > 0 {
		fmt.Fprintf(&b, "MaxAuthTries %d\n", opts.MaxAuthTries)
	}
	if opts.Legacy {
		b.WriteString("KexAlgorithms diffie-hellman-group1-sha1,diffie-hellman-group14-sha1\n" +
			"Ciphers aes128-cbc,3des-cbc\nMACs hmac-sha1\nHostKeyAlgorithms ssh-rsa\n")
	}
	conf := filepath.Join(dir, "sshd_config")
	writeFile(t, conf, b.String(), 0o600)
	p := start(t, dir, port, nil, bin, "-D", "-e", "-f", conf)
	p.waitTCP(t)
	return p
}

// Telnetd starts inetutils-telnetd under openbsd-inetd with a private
// inetd.conf on a free port. Logins go through /bin/login (PAM), so a failed
// attempt costs the PAM fail delay (about 2-3 s).
func Telnetd(t testing.TB) *Peer {
	t.Helper()
	inetd := needBinary(t, "inetd")
	telnetd := needBinary(t, "telnetd", "in.telnetd")
	needRoot(t, "telnetd")
	NeedUsers(t)
	dir := t.TempDir()
	port := FreePort(t, "tcp")
	conf := filepath.Join(dir, "inetd.conf")
	writeFile(t, conf, fmt.Sprintf("127.0.0.1:%d stream tcp nowait root %s telnetd -h\n", port, telnetd), 0o600)
	// -d: foreground with debug output; -i: do not write a pid file.
	p := start(t, dir, port, nil, inetd, "-d", "-i", "-R", "10000", conf)
	p.waitTCP(t)
	return p
}

// VsftpdOptions configures Vsftpd.
type VsftpdOptions struct {
	Anonymous bool // allow anonymous (and "ftp") logins
	// MaxPerIP limits concurrent connections per client address (0: no
	// limit); vsftpd answers more with "421 There are too many connections".
	MaxPerIP int
}

// Vsftpd starts vsftpd for the system accounts of .ci/peers.sh and, with
// Anonymous, for anonymous logins. vsftpd waits 1 s after each failed login.
func Vsftpd(t testing.TB, opts VsftpdOptions) *Peer {
	t.Helper()
	bin := needBinary(t, "vsftpd")
	needRoot(t, "vsftpd")
	NeedUsers(t)
	dir := t.TempDir()
	port := FreePort(t, "tcp")
	empty := "/var/run/vsftpd/empty"
	if err := os.MkdirAll(empty, 0o755); err != nil {
		unavailable(t, "vsftpd secure_chroot_dir: %v", err)
	}
	anon := "NO"
	if opts.Anonymous {
		anon = "YES"
	}
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=%s
anon_root=%s
no_anon_password=YES
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
secure_chroot_dir=%s
seccomp_sandbox=NO
xferlog_enable=NO
max_clients=0
max_per_ip=%d
connect_from_port_20=NO
vsftpd_log_file=%s
`, port, anon, empty, empty, opts.MaxPerIP, filepath.Join(dir, "vsftpd.log"))
	path := filepath.Join(dir, "vsftpd.conf")
	writeFile(t, path, conf, 0o600)
	p := start(t, dir, port, nil, bin, path)
	p.waitTCP(t)
	return p
}

// LighttpdOptions configures Lighttpd. Keys are user names, values passwords.
type LighttpdOptions struct {
	BasicAuth  map[string]string // users for /basic/ (HTTP Basic)
	DigestAuth map[string]string // users for /digest/ (HTTP Digest, MD5)
	// CertPEM and KeyPEM, when set, make lighttpd serve HTTPS (mod_openssl)
	// with this certificate and private key.
	CertPEM, KeyPEM []byte
}

// Paths served by Lighttpd: "/" is open; the others need the options' users.
const (
	LighttpdBasicPath  = "/basic/"
	LighttpdDigestPath = "/digest/"
	LighttpdRealm      = "iotwatch"
)

// Lighttpd starts lighttpd serving a small site with an open "/" and, when
// configured, "/basic/" behind HTTP Basic and "/digest/" behind HTTP Digest.
func Lighttpd(t testing.TB, opts LighttpdOptions) *Peer {
	t.Helper()
	bin := needBinary(t, "lighttpd")
	dir := t.TempDir()
	port := FreePort(t, "tcp")
	www := filepath.Join(dir, "www")
	for _, d := range []string{www, filepath.Join(www, "basic"), filepath.Join(www, "digest")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, "index.html"), "<html><title>iotwatch test device</title><body>ok</body></html>\n", 0o644)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `server.document-root = %q
server.port = %d
server.bind = "127.0.0.1"
server.errorlog = %q
server.pid-file = %q
server.modules = ( "mod_auth", "mod_authn_file" )
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
`, www, port, filepath.Join(dir, "error.log"), filepath.Join(dir, "lighttpd.pid"))
	section := func(path, method string, users map[string]string) {
		if len(users) == 0 {
			return
		}
		file := filepath.Join(dir, method+".htdigest")
		writeFile(t, file, htdigest(users), 0o644)
		fmt.Fprintf(&b, `$HTTP["url"] =~ "^%s" {
  auth.backend = "htdigest"
  auth.backend.htdigest.userfile = %q
  auth.require = ( "%s" => ( "method" => %q, "realm" => %q, "require" => "valid-user" ) )
}
`, path, file, path, method, LighttpdRealm)
	}
	if opts.CertPEM != nil {
		if _, err := os.Stat(filepath.Join(lighttpdModules, "mod_openssl.so")); err != nil {
			unavailable(t, "lighttpd's mod_openssl is not installed (Debian: lighttpd-mod-openssl)")
		}
		cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		writeFile(t, cert, string(opts.CertPEM), 0o644)
		writeFile(t, key, string(opts.KeyPEM), 0o600)
		fmt.Fprintf(&b, "server.modules += ( \"mod_openssl\" )\nssl.engine = \"enable\"\nssl.pemfile = %q\nssl.privkey = %q\n", cert, key)
	}
	section(LighttpdBasicPath, "basic", opts.BasicAuth)
	section(LighttpdDigestPath, "digest", opts.DigestAuth)
	conf := filepath.Join(dir, "lighttpd.conf")
	writeFile(t, conf, b.String(), 0o600)
	p := start(t, dir, port, nil, bin, "-D", "-f", conf)
	p.waitTCP(t)
	return p
}

// lighttpdModules is where Debian installs lighttpd's modules.
const lighttpdModules = "/usr/lib/lighttpd"

func htdigest(users map[string]string) string {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, u := range names {
		sum := md5.Sum([]byte(u + ":" + LighttpdRealm + ":" + users[u]))
		fmt.Fprintf(&b, "%s:%s:%s\n", u, LighttpdRealm, hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// MosquittoOptions configures Mosquitto.
type MosquittoOptions struct {
	Anonymous bool              // allow_anonymous
	Users     map[string]string // password_file entries
	// CertPEM and KeyPEM, when set, make the listener speak MQTT over TLS
	// with this certificate and private key.
	CertPEM, KeyPEM []byte
}

// Mosquitto starts the mosquitto MQTT broker (MQTT 3.1.1/5) on a TCP listener.
func Mosquitto(t testing.TB, opts MosquittoOptions) *Peer {
	t.Helper()
	bin := needBinary(t, "mosquitto")
	dir := t.TempDir()
	port := FreePort(t, "tcp")
	var b strings.Builder
	fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous %v\npersistence false\nlog_dest stderr\n", port, opts.Anonymous)
	if opts.CertPEM != nil {
		cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		writeFile(t, cert, string(opts.CertPEM), 0o644)
		writeFile(t, key, string(opts.KeyPEM), 0o600)
		fmt.Fprintf(&b, "certfile %s\nkeyfile %s\n", cert, key)
	}
	if os.Geteuid() == 0 {
		// Stay root: the default "mosquitto" user cannot read the test's temp dir.
		b.WriteString("user root\n")
	}
	if len(opts.Users) > 0 {
		pw := filepath.Join(dir, "passwd")
		names := make([]string, 0, len(opts.Users))
		for u := range opts.Users {
			names = append(names, u)
		}
		sort.Strings(names)
		for i, u := range names {
			args := []string{"-b", pw, u, opts.Users[u]}
			if i == 0 {
				args = append([]string{"-c"}, args...)
			}
			run(t, needBinary(t, "mosquitto_passwd"), args...)
		}
		fmt.Fprintf(&b, "password_file %s\n", pw)
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	writeFile(t, conf, b.String(), 0o644)
	p := start(t, dir, port, nil, bin, "-c", conf)
	p.waitTCP(t)
	return p
}

// Snmpd starts net-snmp's snmpd on UDP 127.0.0.1 answering SNMP v1/v2c for
// the given read-only communities (none: "public").
func Snmpd(t testing.TB, communities ...string) *Peer {
	t.Helper()
	bin := needBinary(t, "snmpd")
	if len(communities) == 0 {
		communities = []string{"public"}
	}
	dir := t.TempDir()
	port := FreePort(t, "udp")
	var b strings.Builder
	for _, c := range communities {
		fmt.Fprintf(&b, "rocommunity %s 127.0.0.1\n", c)
	}
	b.WriteString("sysDescr iotwatch test agent\nsysLocation loopback\nsysContact test@example.invalid\n")
	fmt.Fprintf(&b, "[snmp] persistentDir %s\n", dir)
	conf := filepath.Join(dir, "snmpd.conf")
	writeFile(t, conf, b.String(), 0o600)
	p := start(t, dir, port, []string{"SNMP_PERSISTENT_DIR=" + dir, "MIBS="}, bin, "-f", "-Lo", "-C", "-c", conf, "-p", filepath.Join(dir, "snmpd.pid"),
		"-M", "/nonexistent", fmt.Sprintf("udp:127.0.0.1:%d", port))
	// Poll with a real GET until the agent answers.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Community: communities[0],
			Version: gosnmp.Version2c, Timeout: 200 * time.Millisecond, Retries: 0}
		if err := g.Connect(); err == nil {
			_, err = g.Get([]string{".1.3.6.1.2.1.1.1.0"})
			g.Conn.Close()
			if err == nil {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
	t.Fatalf("testpeer: snmpd did not answer on udp %s:\n%s", p.Addr, tail(log, 2000))
	return nil
}

// Dropbear starts the dropbear SSH server (the SSH server of most embedded
// Linux devices) with password authentication for the accounts of
// .ci/peers.sh.
func Dropbear(t testing.TB) *Peer {
	t.Helper()
	bin := needBinary(t, "dropbear")
	keygen := needBinary(t, "dropbearkey")
	needRoot(t, "dropbear")
	NeedUsers(t)
	dir := t.TempDir()
	port := FreePort(t, "tcp")
	// Devices carry an RSA key; dropbear 2022.83 also aborts the session
	// (rsa.c assertion) when a client prefers RSA and it has no RSA key.
	args := []string{"-F", "-E", "-P", filepath.Join(dir, "dropbear.pid"), "-p", fmt.Sprintf("127.0.0.1:%d", port)}
	for _, k := range []string{"rsa", "ed25519"} {
		key := filepath.Join(dir, "dropbear_"+k+"_host_key")
		run(t, keygen, "-t", k, "-f", key)
		args = append(args, "-r", key)
	}
	// -F foreground, -E log to stderr; password logins stay on.
	p := start(t, dir, port, nil, bin, args...)
	p.waitTCP(t)
	return p
}
