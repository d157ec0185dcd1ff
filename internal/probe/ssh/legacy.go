package ssh

import "strings"

// Flag is one algorithm of the server's KEXINIT below current practice,
// judged as ssh-audit judges it: Level "fail" for broken algorithms (SHA-1
// key exchange, 1024-bit groups, DSA, RC4, DES and 3DES, CBC modes, MD5,
// none), "warn" for weak but not yet broken ones (SHA-1 and 64-bit-tag MACs,
// ssh-rsa's SHA-1 signatures).
type Flag struct {
	// List is kex, host_key, cipher, mac or compression.
	List  string `json:"list"`
	Name  string `json:"name"`
	Level string `json:"level"`
	Why   string `json:"why"`
}

// Levels of a Flag.
const (
	LevelFail = "fail"
	LevelWarn = "warn"
)

type judgement struct{ level, why string }

// legacyExact names algorithms by their exact name, per KEXINIT list.
var legacyExact = map[string]map[string]judgement{
	"kex": {
		"diffie-hellman-group1-sha1":               {LevelFail, "1024-bit group, SHA-1"},
		"diffie-hellman-group14-sha1":              {LevelFail, "SHA-1"},
		"diffie-hellman-group-exchange-sha1":       {LevelFail, "SHA-1"},
		"rsa1024-sha1":                             {LevelFail, "1024-bit RSA, SHA-1"},
		"gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==": {LevelFail, "1024-bit group, SHA-1"},
	},
	"host_key": {
		"ssh-dss":                      {LevelFail, "DSA (1024-bit, removed from OpenSSH)"},
		"ssh-dss-cert-v01@openssh.com": {LevelFail, "DSA (1024-bit, removed from OpenSSH)"},
		"ssh-rsa":                      {LevelWarn, "RSA signatures with SHA-1"},
		"ssh-rsa-cert-v01@openssh.com": {LevelWarn, "RSA signatures with SHA-1"},
	},
	"cipher": {
		"none":             {LevelFail, "no encryption"},
		"des-cbc":          {LevelFail, "56-bit DES"},
		"3des-cbc":         {LevelFail, "3DES, 64-bit block (Sweet32)"},
		"blowfish-cbc":     {LevelFail, "64-bit block"},
		"cast128-cbc":      {LevelFail, "64-bit block"},
		"arcfour":          {LevelFail, "RC4"},
		"arcfour128":       {LevelFail, "RC4"},
		"arcfour256":       {LevelFail, "RC4"},
		"idea-cbc":         {LevelFail, "64-bit block"},
		"seed-cbc@ssh.com": {LevelFail, "CBC mode"},
	},
	"mac": {
		"none":                         {LevelFail, "no integrity"},
		"hmac-md5":                     {LevelFail, "MD5"},
		"hmac-md5-96":                  {LevelFail, "MD5, 96-bit tag"},
		"hmac-md5-etm@openssh.com":     {LevelFail, "MD5"},
		"hmac-md5-96-etm@openssh.com":  {LevelFail, "MD5, 96-bit tag"},
		"hmac-ripemd160":               {LevelFail, "RIPEMD-160, encrypt-and-MAC"},
		"hmac-ripemd160@openssh.com":   {LevelFail, "RIPEMD-160, encrypt-and-MAC"},
		"hmac-sha1-96":                 {LevelFail, "SHA-1, 96-bit tag"},
		"hmac-sha1-96-etm@openssh.com": {LevelFail, "SHA-1, 96-bit tag"},
		"hmac-sha1":                    {LevelWarn, "SHA-1"},
		"hmac-sha1-etm@openssh.com":    {LevelWarn, "SHA-1"},
		"umac-64@openssh.com":          {LevelWarn, "64-bit tag"},
		"umac-64-etm@openssh.com":      {LevelWarn, "64-bit tag"},
	},
}

// judge returns the judgement on one algorithm of a list.
func judge(list, name string) (judgement, bool) {
	if j, ok := legacyExact[list][name]; ok {
		return j, true
	}
	if list == "cipher" && (strings.HasSuffix(name, "-cbc") || strings.HasSuffix(name, "-cbc@lysator.liu.se") || strings.Contains(name, "-cbc@")) {
		return judgement{LevelFail, "CBC mode"}, true
	}
	if list == "kex" && strings.HasPrefix(name, "gss-") && strings.Contains(name, "sha1") {
		return judgement{LevelFail, "SHA-1"}, true
	}
	return judgement{}, false
}

// Flags lists the algorithms of rec's KEXINIT below current practice, in
// KEXINIT order.
func Flags(rec *Record) []Flag {
	var out []Flag
	for _, l := range []struct {
		name string
		algs []string
	}{{"kex", rec.KexAlgorithms}, {"host_key", rec.HostKeyAlgs}, {"cipher", rec.Ciphers}, {"mac", rec.MACs}} {
		for _, a := range l.algs {
			if j, ok := judge(l.name, a); ok {
				out = append(out, Flag{List: l.name, Name: a, Level: j.level, Why: j.why})
			}
		}
	}
	return out
}

// Broken returns the names of the fail-level flags.
func Broken(flags []Flag) []string {
	var out []string
	for _, f := range flags {
		if f.Level == LevelFail {
			out = append(out, f.Name)
		}
	}
	return out
}
