// Package httpauth is the HTTP authentication codec (RFC 7235 challenges
// and credentials, RFC 7616 Digest, RFC 7617 Basic) that HTTP and RTSP share:
// the probes read the scheme and realm a device asks for, the login modules
// answer its challenges, the simulated devices check the answers. One parser
// of auth-params for all of them.
package httpauth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Challenge is one parsed WWW-Authenticate challenge.
type Challenge struct {
	Scheme string            // lower case: "basic", "digest"
	Params map[string]string // lower-case keys
}

// ParseChallenges parses the values of WWW-Authenticate headers (RFC 7235),
// including several challenges in one header value. Malformed input yields
// what could be parsed; it never panics.
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = append(out, parseOne(v)...)
	}
	return out
}

func parseOne(s string) []Challenge {
	var out []Challenge
	var cur *Challenge
	for i := 0; i < len(s); {
		// skip separators
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		// token
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != ',' && s[j] != '=' {
			j++
		}
		tok := s[i:j]
		k := j
		for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		if k < len(s) && s[k] == '=' {
			m := k
			for m < len(s) && s[m] == '=' {
				m++
			}
			if m-k >= 2 || m >= len(s) || s[m] == ',' || cur == nil {
				// token68 ("Negotiate abc==") or garbage without a scheme
				if cur != nil {
					cur.Params["token68"] = tok + s[k:m]
				}
				i = m
				continue
			}
		}
		if k < len(s) && s[k] == '=' {
			// auth-param
			k++
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			var val string
			if k < len(s) && s[k] == '"' {
				var b strings.Builder
				k++
				for k < len(s) && s[k] != '"' {
					if s[k] == '\\' && k+1 < len(s) {
						k++
					}
					b.WriteByte(s[k])
					k++
				}
				if k < len(s) {
					k++ // closing quote
				}
				val = b.String()
			} else {
				m := k
				for m < len(s) && s[m] != ',' && s[m] != ' ' && s[m] != '\t' {
					m++
				}
				val = s[k:m]
				k = m
			}
			cur.Params[strings.ToLower(tok)] = val
			i = k
			continue
		}
		if tok == "" {
			i = j + 1
			continue
		}
		// a new scheme
		out = append(out, Challenge{Scheme: strings.ToLower(tok), Params: map[string]string{}})
		cur = &out[len(out)-1]
		i = j
	}
	return out
}

// SchemeRealm returns the scheme of the first challenge in v as the server
// wrote it and its realm: "Digest", "IP Camera(C6496)".
func SchemeRealm(v string) (scheme, realm string) {
	cs := parseOne(v)
	if len(cs) == 0 {
		return "", ""
	}
	scheme = strings.TrimLeft(v, " \t,")
	if i := strings.IndexAny(scheme, " \t,="); i >= 0 {
		scheme = scheme[:i]
	}
	return scheme, cs[0].Params["realm"]
}

// ParseCredentials parses the auth-params of an Authorization value of
// scheme ("digest": "Digest username=..., response=..."); ok is false for
// another scheme. (Basic credentials are net/http's Request.BasicAuth.)
func ParseCredentials(v, scheme string) (Challenge, bool) {
	cs := parseOne(v)
	if len(cs) == 0 || cs[0].Scheme != scheme {
		return Challenge{}, false
	}
	return cs[0], true
}

// Find returns the first challenge with the scheme.
func Find(cs []Challenge, scheme string) (Challenge, bool) {
	for _, c := range cs {
		if c.Scheme == scheme {
			return c, true
		}
	}
	return Challenge{}, false
}

// DigestAuthorization computes the Authorization header value answering a
// Digest challenge (RFC 7616; MD5, MD5-sess, SHA-256, SHA-256-sess; qop auth
// or none) for method and uri. nc is the nonce count.
func DigestAuthorization(c Challenge, user, pass, method, uri string, nc int) (string, error) {
	realm, nonce := c.Params["realm"], c.Params["nonce"]
	if nonce == "" {
		return "", fmt.Errorf("digest challenge without nonce")
	}
	algo := c.Params["algorithm"]
	var h func() hash.Hash
	switch strings.ToUpper(algo) {
	case "", "MD5", "MD5-SESS":
		h = md5.New
	case "SHA-256", "SHA-256-SESS":
		h = sha256.New
	default:
		return "", fmt.Errorf("digest algorithm %q not supported", algo)
	}
	sum := func(s string) string {
		d := h()
		d.Write([]byte(s))
		return hex.EncodeToString(d.Sum(nil))
	}
	cnonce := randomHexFn(8)
	ha1 := sum(user + ":" + realm + ":" + pass)
	if strings.HasSuffix(strings.ToUpper(algo), "-SESS") {
		ha1 = sum(ha1 + ":" + nonce + ":" + cnonce)
	}
	ha2 := sum(method + ":" + uri)
	qop := ""
	for _, q := range strings.Split(c.Params["qop"], ",") {
		if strings.TrimSpace(q) == "auth" {
			qop = "auth"
		}
	}
	ncs := fmt.Sprintf("%08x", nc)
	var resp string
	if qop != "" {
		resp = sum(ha1 + ":" + nonce + ":" + ncs + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		resp = sum(ha1 + ":" + nonce + ":" + ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
		quote(user), quote(realm), quote(nonce), quote(uri), resp)
	if algo != "" {
		fmt.Fprintf(&b, `, algorithm=%s`, algo)
	}
	if op := c.Params["opaque"]; op != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, quote(op))
	}
	if qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%s, cnonce="%s"`, qop, ncs, cnonce)
	}
	return b.String(), nil
}

func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// randomHexFn makes client nonces; tests replace it.
var randomHexFn = randomHex

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
