package audit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// TestRunControl: an acceptance counts only when a deliberately wrong
// password is refused; anonymous access is checked before any credential.
func TestRunControl(t *testing.T) {
	tests := []struct {
		name        string
		proto       string
		dev         *fakeDevice
		perHost     int
		wantKind    string // "" when nothing may be reported
		wantUnknown int
	}{
		{"accepts any password: unknown, never weak", model.ProtoTelnet, &fakeDevice{acceptAny: true}, 1, "", 1},
		{"accepts any password, 4 workers", model.ProtoHTTP, &fakeDevice{acceptAny: true, sleep: true}, 4, "", 1},
		{"open broker, 4 workers: anonymous, not a password", model.ProtoMQTT,
			&fakeDevice{acceptAny: true, accept: map[login.Credential]bool{{}: true}, sleep: true}, 4, model.KindAnonymousAccess, 0},
		{"refuses the control, accepts a default", model.ProtoTelnet,
			&fakeDevice{accept: map[login.Credential]bool{cred("root", "vizxv"): true}, sleep: true}, 4, model.KindDefaultCredential, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newFake(tt.proto)
			got, st := collect(t, Config{Modules: []login.Module{m}, PerHost: tt.perHost}, []model.Service{m.add("127.0.0.1:1", tt.dev)})
			if st.Unknown != tt.wantUnknown {
				t.Errorf("unknown %d, want %d", st.Unknown, tt.wantUnknown)
			}
			if tt.wantKind == "" {
				checkUnknown(t, got, tt.wantUnknown)
				anonymous := 0
				for _, e := range Builtin().For(tt.proto, nil) {
					if e.Source == SourceAnonymous {
						anonymous++
					}
				}
				if tt.dev.attempts != anonymous+1 {
					t.Errorf("%d attempts on a service that accepts anything, want only the anonymous checks and the control", tt.dev.attempts)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != tt.wantKind {
				t.Fatalf("reported %+v, want one %s", got, tt.wantKind)
			}
		})
	}
}

// checkUnknown asserts that got holds no weak credential and exactly want
// unknown-verdict records, each with the evidence of why.
func checkUnknown(t *testing.T, got []model.CredentialResult, want int) {
	t.Helper()
	n := 0
	for _, c := range got {
		switch {
		case c.Weak():
			t.Errorf("reported %+v as weak, want no weak credential", c)
		case c.Kind == model.KindUnknownVerdict:
			n++
			if c.Evidence == "" {
				t.Errorf("unknown verdict %+v without evidence", c)
			}
		default:
			t.Errorf("reported %+v, want only unknown verdicts", c)
		}
	}
	if n != want {
		t.Errorf("%d unknown-verdict records, want %d: %+v", n, want, got)
	}
}

// TestRunHTTPForbiddenControl is issue 14's 403 case: a web interface that
// answers 401 without credentials and 403 with the right ones has a weak
// credential — when a wrong password still gets 401 — and the status codes
// are the evidence; one that answers 403 to every Authorization is unknown.
func TestRunHTTPForbiddenControl(t *testing.T) {
	basic := func(right int, wrong int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			switch {
			case !ok:
				w.Header().Set("WWW-Authenticate", `Basic realm="camera"`)
				w.WriteHeader(http.StatusUnauthorized)
			case u == "admin" && p == "admin":
				w.WriteHeader(right)
			default:
				if wrong == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Basic realm="camera"`)
				}
				w.WriteHeader(wrong)
			}
		}
	}
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		wantWeak     bool
		wantUnknown  int
		wantEvidence []string
	}{
		{"403 with the right password, 401 with a wrong one", basic(http.StatusForbidden, http.StatusUnauthorized), true, 0,
			[]string{"HTTP 403 Forbidden", "wrong password got: HTTP 401 Unauthorized"}},
		{"403 to every Authorization", basic(http.StatusForbidden, http.StatusForbidden), false, 1, nil},
		{"200 with the right password, 403 with a wrong one", basic(http.StatusOK, http.StatusForbidden), true, 0,
			[]string{"HTTP 200 OK", "wrong password got only: HTTP 403 Forbidden"}},
		{"401 to everything", basic(http.StatusUnauthorized, http.StatusUnauthorized), false, 0, nil},
	}
	dict := &Dictionary{}
	var err error
	if dict.Generic, err = ParseUserPass(strings.NewReader("root:root\nadmin:1234\nadmin:admin\nadmin:password\n"), "test-list"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
			got, st := collect(t, Config{Dict: dict}, []model.Service{{IP: ap.Addr(), Port: ap.Port(), Protocol: model.ProtoHTTP}})
			if st.Unknown != tt.wantUnknown {
				t.Errorf("unknown %d, want %d", st.Unknown, tt.wantUnknown)
			}
			if !tt.wantWeak {
				checkUnknown(t, got, tt.wantUnknown)
				return
			}
			if len(got) != 1 || !got[0].Weak() || got[0].Username != "admin" || got[0].Password != "admin" {
				t.Fatalf("reported %+v, want admin:admin as weak", got)
			}
			for _, ev := range tt.wantEvidence {
				if !strings.Contains(got[0].Evidence, ev) {
					t.Errorf("evidence %q, want it to contain %q", got[0].Evidence, ev)
				}
			}
		})
	}
}

// TestRunOpenBrokerPerHost is issue 14's open MQTT broker: with four
// workers per host, mosquitto with allow_anonymous true is anonymous access,
// never a weak password.
func TestRunOpenBrokerPerHost(t *testing.T) {
	if testing.Short() {
		t.Skip("real peers")
	}
	t.Parallel()
	p := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: true})
	ap := netip.MustParseAddrPort(p.Addr)
	for range 3 {
		got, st := collect(t, Config{PerHost: 4}, []model.Service{{IP: ap.Addr(), Port: ap.Port(), Protocol: model.ProtoMQTT}})
		if len(got) != 1 || got[0].Kind != model.KindAnonymousAccess || got[0].Username != "" || got[0].Password != "" {
			t.Fatalf("reported %+v, want one anonymous access without user or password", got)
		}
		if st.Attempts != 1 {
			t.Errorf("%d attempts, want only the anonymous check", st.Attempts)
		}
	}
}
