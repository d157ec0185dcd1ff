package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"iotwatch/internal/auth"
)

// fakeIssuer is an OpenID Connect issuer on loopback: go-oidc's test server
// for discovery and keys, plus an authorization endpoint that approves at
// once and a token endpoint that checks the PKCE verifier.
type fakeIssuer struct {
	*httptest.Server
	priv    *rsa.PrivateKey
	subject string
	mu      sync.Mutex
	codes   map[string][2]string // code: nonce, challenge
}

func newFakeIssuer(t *testing.T, clientID string) *fakeIssuer {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	f := &fakeIssuer{priv: priv, subject: "sso-subject-1", codes: map[string][2]string{}}
	disc := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: priv.Public(), KeyID: "k1", Algorithm: "RS256"}}}
	mux := http.NewServeMux()
	mux.Handle("/", disc)
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomToken()
		f.mu.Lock()
		f.codes[code] = [2]string{q.Get("nonce"), q.Get("code_challenge")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		c, ok := f.codes[r.PostFormValue("code")]
		delete(f.codes, r.PostFormValue("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != c[1] {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		now := time.Now()
		claims := fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":%q,"iat":%d,"exp":%d,"nonce":%q}`, f.URL, f.subject, clientID, now.Unix(), now.Add(time.Hour).Unix(), c[0])
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600,
			"id_token": oidctest.SignIDToken(f.priv, "k1", "RS256", claims)})
	})
	f.Server = httptest.NewServer(mux)
	disc.SetIssuer(f.URL)
	t.Cleanup(f.Close)
	return f
}

// TestOIDC logs in through a fake issuer on loopback: refused until an
// admin links the subject to a user, then a session with that user's role.
func TestOIDC(t *testing.T) {
	issuer := newFakeIssuer(t, "iotwatch-console")
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	o, err := NewOIDC(context.Background(), issuer.URL, "iotwatch-console", "secret", ts.URL+"/login/oidc/callback")
	must(t, err)
	c := newConsole(t, Options{OIDC: o})
	ts.Config.Handler = c.srv
	jar, err := cookiejar.New(nil)
	must(t, err)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(ts.URL + path)
		must(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	if _, body := get("/login"); !strings.Contains(body, `href="/login/oidc"`) {
		t.Error("the log-in page offers no single sign-on")
	}
	if res, body := get("/login/oidc"); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "iotwatch users link NAME sso-subject-1") {
		t.Errorf("unlinked subject: %d\n%.300s", res.StatusCode, body)
	}
	must(t, c.a.LinkSubject(context.Background(), "analyst", "sso-subject-1", cliActor))
	if res, body := get("/login/oidc"); res.StatusCode != 200 || !strings.Contains(body, "Logged in") {
		t.Fatalf("linked subject: %d\n%.300s", res.StatusCode, body)
	}
	if res, _ := get("/api/runs"); res.StatusCode != 200 {
		t.Errorf("API with the single sign-on session: %d", res.StatusCode)
	}
	if res, _ := get("/admin/audit"); res.StatusCode != http.StatusForbidden {
		t.Errorf("an analyst's session reached the audit log: %d", res.StatusCode)
	}
	// A callback whose state is not this browser's is refused.
	if res, _ := get("/login/oidc/callback?state=forged&code=x"); res.StatusCode != http.StatusForbidden {
		t.Errorf("forged state: %d", res.StatusCode)
	}
	var got []string
	must(t, c.a.Audit(context.Background(), auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Action == "login" {
			got = append(got, e.Actor+" "+e.Outcome+" "+e.Detail)
		}
		return nil
	}))
	want := "oidc:sso-subject-1 failed no user linked to this subject|analyst ok oidc|oidc failed state missing or wrong"
	if strings.Join(got, "|") != want {
		t.Errorf("audit log of log-ins:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}
