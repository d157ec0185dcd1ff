package secrets

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/md4" //nolint:staticcheck // NT hashes are MD4 by definition
)

// pppSecrets reads /etc/ppp/chap-secrets and pap-secrets: cleartext
// "client server secret [addresses]" lines.
func pppSecrets(p string, data []byte) []Secret {
	if !strings.HasPrefix(p, "/etc/ppp/") || (!strings.HasSuffix(p, "chap-secrets") && !strings.HasSuffix(p, "pap-secrets")) {
		return nil
	}
	var out []Secret
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		v := strings.Trim(f[2], `"`)
		if v == "" || v == "*" || placeholder(v) {
			continue
		}
		out = append(out, Secret{Path: p, Line: n, Kind: "ppp-secret", Name: strings.Trim(f[0], `"`), Value: v})
	}
	return out
}

// ntHash is the Windows NT hash: MD4 of the UTF-16LE password.
func ntHash(pw string) string {
	h := md4.New()
	for _, r := range utf16.Encode([]rune(pw)) {
		h.Write([]byte{byte(r), byte(r >> 8)})
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// smbAccounts reads Samba's smbpasswd (user:uid:LM:NT:flags:…); NT hashes are
// cracked with the other hashes.
func smbAccounts(f File, lines []string) []Account {
	var out []Account
	for _, l := range lines {
		p := strings.Split(l, ":")
		if len(p) < 5 || strings.HasPrefix(p[0], "#") {
			continue
		}
		a := Account{User: p[0], Source: f.Path, Shell: "smb"}
		nt := strings.ToUpper(p[3])
		switch {
		case strings.Contains(p[4], "N"): // ACB_PWNOTREQ: no password required
			a.Empty = true
		case strings.Contains(p[4], "D"), strings.HasPrefix(nt, "XXXX"), strings.HasPrefix(nt, "*"):
			a.Locked = true
		case len(nt) == 32:
			a.Hash, a.HashType = nt, "nthash"
		default:
			continue
		}
		out = append(out, a)
	}
	return out
}

func checkNT(hash, pw string) error {
	if ntHash(pw) == strings.ToUpper(hash) {
		return nil
	}
	return errMismatch
}
