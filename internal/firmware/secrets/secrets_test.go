package secrets

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sergeymakinen/go-crypt/bcrypt"
	"github.com/sergeymakinen/go-crypt/des"
	"github.com/sergeymakinen/go-crypt/md5"
	"github.com/sergeymakinen/go-crypt/sha512"
	"golang.org/x/crypto/ssh"
)

// tree writes files below a temp root and returns them as Files.
func tree(t *testing.T, files map[string]string) []File {
	t.Helper()
	root := t.TempDir()
	var out []File
	for p, body := range files {
		host := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(host), 0o755)
		if err := os.WriteFile(host, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, File{Path: p, Host: host, Size: int64(len(body))})
	}
	return out
}

// sha512Hash makes a sha512crypt hash, with openssl(1) when present (a real
// tool's output) and go-crypt otherwise.
func sha512Hash(t *testing.T, pw string) string {
	if out, err := exec.Command("openssl", "passwd", "-6", "-salt", "Qx9fR2mK", pw).Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	h, err := sha512.NewHash(pw, 5000)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAccountsAndCracking(t *testing.T) {
	bc, _ := bcrypt.NewHash("password", 4)
	strong := sha512Hash(t, "k2J#9vQ!mW7zLp0x&Rt4")
	files := tree(t, map[string]string{
		"/etc/passwd": strings.Join([]string{
			"root:x:0:0:root:/root:/bin/sh",
			"admin:x:1000:1000::/home/admin:/bin/sh",
			"oper:x:1001:1001::/:/bin/sh",
			"web:x:1002:1002::/:/bin/sh",
			"guest:x:1003:1003::/:/bin/sh",
			"daemon:x:1:1::/:/usr/sbin/nologin",
			"strong:x:1004:1004::/:/bin/sh",
			"modern:x:1005:1005::/:/bin/sh",
			"scrypt7:x:1006:1006::/:/bin/sh",
			"legacy:" + md5.NewHash("1234") + ":0:0::/:/bin/sh",
		}, "\n") + "\n",
		"/etc/shadow": strings.Join([]string{
			"root:" + sha512Hash(t, "admin") + ":19000:0:99999:7:::",
			"admin:" + md5.NewHash("admin") + ":19000::::::",
			"oper:" + des.NewHash("xc3511") + ":19000::::::",
			"web:" + bc + ":19000::::::",
			"guest::19000::::::",
			"daemon:*:19000::::::",
			"strong:" + strong + ":19000::::::",
			// yescrypt (Debian 11+ default parameters) of "admin", made by
			// Openwall's yescrypt-go from the setting $y$j9T$AAt9R641xPvCI9nXw1HHW/.
			"modern:$y$j9T$AAt9R641xPvCI9nXw1HHW/$eeKL7KcHv.KUeKtlIHvbXtSDnRNvx7nO32Sfv43JXw/:19000::::::",
			"scrypt7:$7$CU..../....abcdefgh$0123456789012345678901234567890123456789012:19000::::::",
		}, "\n") + "\n",
	})
	res, err := Scan(context.Background(), files, Options{CrackBudget: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		cracked, empty, locked bool
		password, typ          string
	}{
		"root":    {cracked: true, password: "admin", typ: "sha512crypt"},
		"admin":   {cracked: true, password: "admin", typ: "md5crypt"},
		"oper":    {cracked: true, password: "xc3511", typ: "des"},
		"web":     {cracked: true, password: "password", typ: "bcrypt"},
		"guest":   {empty: true},
		"daemon":  {locked: true},
		"strong":  {typ: "sha512crypt"},
		"modern":  {cracked: true, password: "admin", typ: "yescrypt"},
		"scrypt7": {typ: "unknown"},
		"legacy":  {cracked: true, password: "1234", typ: "md5crypt"},
	}
	if len(res.Accounts) != len(want) {
		t.Errorf("got %d accounts, want %d: %+v", len(res.Accounts), len(want), res.Accounts)
	}
	for _, a := range res.Accounts {
		w, ok := want[a.User]
		if !ok {
			t.Errorf("unexpected account %q", a.User)
			continue
		}
		if a.Cracked != w.cracked || a.Password != w.password || a.Empty != w.empty || a.Locked != w.locked || a.HashType != w.typ {
			t.Errorf("%s: got cracked=%v pw=%q empty=%v locked=%v type=%q, want %+v", a.User, a.Cracked, a.Password, a.Empty, a.Locked, a.HashType, w)
		}
	}
	if res.Cracking.Cracked != 6 || len(res.Cracking.Skipped) != 1 || res.Cracking.Skipped[0] != "unknown" {
		t.Errorf("cracking stats %+v", res.Cracking)
	}
}

func TestKeysAndCerts(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})
	ecDER, _ := x509.MarshalECPrivateKey(ek)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	edBlk, _ := ssh.MarshalPrivateKey(edk, "")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "device.local"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ek.PublicKey, ek)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	files := tree(t, map[string]string{
		"/etc/ssl/private/server.key":         string(rsaPEM),
		"/etc/lighttpd/server.pem":            string(ecPEM) + string(certPEM),
		"/etc/ssh/ssh_host_ed25519_key":       string(pem.EncodeToMemory(edBlk)),
		"/etc/dropbear/dropbear_rsa_host_key": "\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x00\x81\x00abcdef",
		"/usr/share/doc/readme.txt":           "-----BEGIN PRIVATE KEY----- is how keys start\n",
	})
	res, err := Scan(context.Background(), files, Options{CrackBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Key{}
	for _, k := range res.Keys {
		got[k.Path] = k
	}
	checks := []struct {
		path, typ string
		bits      int
		host      bool
	}{
		{"/etc/ssl/private/server.key", "rsa", 2048, false},
		{"/etc/lighttpd/server.pem", "ecdsa", 256, false},
		{"/etc/ssh/ssh_host_ed25519_key", "ed25519", 256, true},
		{"/etc/dropbear/dropbear_rsa_host_key", "dropbear-ssh-rsa", 0, true},
	}
	for _, c := range checks {
		k, ok := got[c.path]
		if !ok {
			t.Errorf("no key found in %s", c.path)
			continue
		}
		if k.Type != c.typ || k.Bits != c.bits || k.HostKey != c.host || len(k.Fingerprint) != 64 {
			t.Errorf("%s: got %+v, want type %s bits %d host %v", c.path, k, c.typ, c.bits, c.host)
		}
	}
	if len(res.Keys) != len(checks) {
		t.Errorf("got %d keys, want %d (no key from the readme)", len(res.Keys), len(checks))
	}
	// The SSH fingerprint is the one a scan of a device serving the key sees.
	edPub, _ := ssh.NewPublicKey(edk.Public())
	rsaPub, _ := ssh.NewPublicKey(&rk.PublicKey)
	for path, want := range map[string]string{"/etc/ssh/ssh_host_ed25519_key": ssh.FingerprintSHA256(edPub),
		"/etc/ssl/private/server.key": ssh.FingerprintSHA256(rsaPub), "/etc/dropbear/dropbear_rsa_host_key": ""} {
		if got := got[path].SSHFingerprint; got != want {
			t.Errorf("%s: ssh fingerprint %q, want %q", path, got, want)
		}
	}
	if len(res.Certs) != 1 || !res.Certs[0].SelfSigned || res.Certs[0].KeyType != "ecdsa" || res.Certs[0].Subject != "CN=device.local" {
		t.Errorf("certs = %+v, want one self-signed ecdsa CN=device.local", res.Certs)
	}
}

func TestTokensAndConfigPasswords(t *testing.T) {
	files := tree(t, map[string]string{
		"/etc/cloud.conf":      "region=eu-west-1\naws_access_key_id = AKIAZ7Q3MXR4TBN2LW5P\naws_secret_access_key = 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\n",
		"/usr/bin/push.sh":     "#!/bin/sh\nTOKEN=ghp_4Fq9XzL2mR7tB1nW8vK3pJ6hC0yD5sE2gA7u\napi_key=\"Zq8Lm3Xr7Tb2Nw9Vk4Pj6Hc1Yd5Se0Ga\"\n",
		"/etc/config/wireless": "config wifi-iface\n\toption ssid 'Home'\n\toption key 'SuperSecret1'\n\toption encryption 'psk2'\n",
		"/etc/hostapd.conf":    "interface=wlan0\nwpa_passphrase=letmein123\n",
		"/etc/app.conf":        "api_key=EXAMPLEKEYEXAMPLEKEY\nsecret_key=aaaaaaaaaaaaaaaaaaaa\npassword=$ADMIN_PASSWORD\n",
		"/usr/share/doc/x.txt": "option key 'NotConfig1'\n",
	})
	res, err := Scan(context.Background(), files, Options{CrackBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	type kv struct{ kind, value string }
	got := map[kv]bool{}
	for _, s := range res.Secrets {
		got[kv{s.Kind, s.Value}] = true
	}
	want := []kv{
		{"aws-access-key", "AKIAZ7Q3MXR4TBN2LW5P"},
		{"aws-secret-key", "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"},
		{"github-token", "ghp_4Fq9XzL2mR7tB1nW8vK3pJ6hC0yD5sE2gA7u"},
		{"generic-api-key", "Zq8Lm3Xr7Tb2Nw9Vk4Pj6Hc1Yd5Se0Ga"},
		{"config-password", "SuperSecret1"},
		{"config-password", "letmein123"},
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %s %q", w.kind, w.value)
		}
	}
	for _, neg := range []string{"EXAMPLEKEYEXAMPLEKEY", "aaaaaaaaaaaaaaaaaaaa", "$ADMIN_PASSWORD", "NotConfig1", "Home"} {
		for k := range got {
			// A hard-coded all-"a" secret_key is a (weak) configured secret, not an API token.
			if k.value == neg && (k.kind != "config-password" || neg != "aaaaaaaaaaaaaaaaaaaa") {
				t.Errorf("false positive %s %q", k.kind, k.value)
			}
		}
	}
}

func TestEntropy(t *testing.T) {
	for s, want := range map[string]float64{"": 0, "aaaa": 0, "abab": 1, "abcd": 2} {
		if got := Entropy(s); got != want {
			t.Errorf("Entropy(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzScanText(f *testing.F) {
	f.Add([]byte("api_key = \"Zq8Lm3Xr7Tb2Nw9Vk4Pj6Hc1Yd5Se0Ga\"\noption key 'x'\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pemObjects("/etc/x", data)
		tokens("/etc/x", data)
		configPasswords("/etc/x", data)
		dropbearKey("/etc/dropbear/dropbear_rsa_host_key", data)
		pppSecrets("/etc/ppp/chap-secrets", data)
		smbAccounts(File{Path: "/etc/samba/smbpasswd"}, strings.Split(string(data), "\n"))
	})
}

func TestVendorCredentials(t *testing.T) {
	files := tree(t, map[string]string{
		"/etc/ppp/chap-secrets": "# client server secret IP\n\"isp-user\" * \"dsl2016\" *\n",
		"/etc/samba/smbpasswd": "admin:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:" + ntHash("admin") + ":[U          ]:LCT-5F000000:\n" +
			"guest:1001:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:[NU         ]:LCT-5F000000:\n" +
			"svc:1002:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:" + ntHash("k2J#9vQ!mW7zLp0x") + ":[U          ]:LCT-5F000000:\n",
	})
	res, err := Scan(context.Background(), files, Options{CrackBudget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Secrets) != 1 || res.Secrets[0].Kind != "ppp-secret" || res.Secrets[0].Value != "dsl2016" || res.Secrets[0].Name != "isp-user" {
		t.Errorf("ppp secrets = %+v", res.Secrets)
	}
	got := map[string]Account{}
	for _, a := range res.Accounts {
		got[a.User] = a
	}
	if a := got["admin"]; !a.Cracked || a.Password != "admin" || a.HashType != "nthash" {
		t.Errorf("smb admin = %+v", a)
	}
	if a := got["guest"]; !a.Empty {
		t.Errorf("smb guest = %+v, want no password required", a)
	}
	if a := got["svc"]; a.Cracked {
		t.Errorf("smb svc cracked: %+v", a)
	}
	// Known vector: NT hash of "password".
	if h := ntHash("password"); h != "8846F7EAEE8FB117AD06BDD830B7586C" {
		t.Errorf("ntHash(password) = %s", h)
	}
}

// TestDropbearPublic: the SSH fingerprint of a host key in Dropbear's own
// format equals that of the key a device serving it presents.
func TestDropbearPublic(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	rsaBlob := ssh.Marshal(struct {
		Name       string
		E, N, D, P *big.Int
		Q          *big.Int
	}{ssh.KeyAlgoRSA, big.NewInt(int64(rk.E)), rk.N, rk.D, rk.Primes[0], rk.Primes[1]})
	edBlob := ssh.Marshal(struct {
		Name string
		Key  []byte
	}{ssh.KeyAlgoED25519, edk})
	rsaPub, _ := ssh.NewPublicKey(&rk.PublicKey)
	edPub, _ := ssh.NewPublicKey(edk.Public())
	for name, c := range map[string]struct {
		blob []byte
		want ssh.PublicKey
	}{"rsa": {rsaBlob, rsaPub}, "ed25519": {edBlob, edPub}} {
		k, ok := dropbearKey("/etc/dropbear/dropbear_"+name+"_host_key", c.blob)
		if !ok || k.SSHFingerprint != ssh.FingerprintSHA256(c.want) {
			t.Errorf("%s: %+v, want ssh fingerprint %s", name, k, ssh.FingerprintSHA256(c.want))
		}
		if _, err := dropbearPublic(c.blob[:len(c.blob)/3]); err == nil {
			t.Errorf("%s: truncated key parsed", name)
		}
	}
}

func FuzzDropbearPublic(f *testing.F) {
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(ssh.Marshal(struct {
		Name string
		Key  []byte
	}{ssh.KeyAlgoED25519, edk}))
	f.Add([]byte("\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x00\x81\x00abcdef"))
	f.Add([]byte("\x00\x00\x00\x13ecdsa-sha2-nistp256\x00\x00\x00\x08nistp256\x00\x00\x00\x41\x04"))
	f.Add([]byte("\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := dropbearPublic(data)
		if err == nil && pub == nil {
			t.Fatal("no key and no error")
		}
	})
}
