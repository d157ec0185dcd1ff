package onvif_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/audit"
	"iotwatch/internal/login"
	"iotwatch/internal/login/onvif"
	"iotwatch/internal/model"
	wire "iotwatch/internal/wire/onvif"
	"iotwatch/internal/wire/onvif/onviftest"
)

var info = wire.DeviceInformation{Manufacturer: "Dahua", Model: "IPC-HDW4431C-A", FirmwareVersion: "2.622.0000000.31.R, Build Date 2017-09-01",
	SerialNumber: "4K02A5BPAG00104", HardwareID: "1.00"}

func target(srv *onviftest.Server) login.Target {
	return login.Target{Addr: netip.MustParseAddrPort(srv.UDP.String()), Protocol: model.ProtoONVIF, Timeout: 3 * time.Second}
}

func open(t *testing.T, d *onviftest.Device) (login.Session, *onviftest.Server) {
	t.Helper()
	srv := onviftest.Serve(t, d)
	s, err := onvif.Module{}.Open(context.Background(), target(srv))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

// TestTry covers the outcomes of one attempt against a device whose clock is
// three hours off ours: the token must carry the device's time to pass its
// replay window.
func TestTry(t *testing.T) {
	for _, skew := range []time.Duration{0, -3 * time.Hour, 26 * time.Hour} {
		s, _ := open(t, &onviftest.Device{Info: info, Username: "admin", Password: "admin", Skew: skew})
		r := s.Try(context.Background(), login.Credential{Username: "admin", Password: "admin"})
		if !r.Success() || !strings.Contains(r.Evidence, "Model=IPC-HDW4431C-A") || !strings.Contains(r.Evidence, "SerialNumber=4K02A5BPAG00104") {
			t.Errorf("skew %v: right password: %v %q %v", skew, r.Status, r.Evidence, r.Err)
		}
		for _, c := range []login.Credential{{Username: "admin", Password: "admin1"}, {Username: "root", Password: "admin"}, {}} {
			if r := s.Try(context.Background(), c); r.Status != model.StatusAuthFailed || r.Throttled {
				t.Errorf("skew %v: %+v: %v %q %v", skew, c, r.Status, r.Evidence, r.Err)
			}
		}
	}
}

// TestHTTPDigest: a device set to HTTP Digest only answers tokens with a
// 401 challenge; the module answers it with the same credential.
func TestHTTPDigest(t *testing.T) {
	s, srv := open(t, &onviftest.Device{Info: info, Username: "admin", Password: "admin", HTTPDigest: true})
	r := s.Try(context.Background(), login.Credential{Username: "admin", Password: "admin"})
	if !r.Success() || !strings.Contains(r.Evidence, "HTTP Digest") || !strings.Contains(r.Evidence, "Model=IPC-HDW4431C-A") {
		t.Errorf("right password: %v %q %v", r.Status, r.Evidence, r.Err)
	}
	for _, c := range []login.Credential{{Username: "admin", Password: "wrong"}, {}} {
		if r := s.Try(context.Background(), c); r.Status != model.StatusAuthFailed {
			t.Errorf("%+v: %v %q %v", c, r.Status, r.Evidence, r.Err)
		}
	}
	// Token, digest; token, digest; anonymous.
	if n := srv.Calls("GetDeviceInformation"); n != 5 {
		t.Errorf("%d calls, want 5", n)
	}
}

// TestNoAnswer: a target without WS-Discovery cannot be opened.
func TestNoAnswer(t *testing.T) {
	srv := onviftest.Serve(t, &onviftest.Device{Info: info, XAddr: "http://192.0.2.7/onvif/device_service"})
	if _, err := (onvif.Module{}).Open(context.Background(), target(srv)); err == nil {
		t.Fatal("opened a device service on an address that was not named")
	}
	if n := srv.Calls("GetSystemDateAndTime") + srv.Calls("GetDeviceInformation"); n != 0 {
		t.Errorf("%d device-service calls", n)
	}
}

func run(t *testing.T, d *onviftest.Device, dict *audit.Dictionary) ([]model.CredentialResult, audit.Stats, *onviftest.Server) {
	t.Helper()
	srv := onviftest.Serve(t, d)
	ap := netip.MustParseAddrPort(srv.UDP.String())
	svc := model.Service{IP: ap.Addr(), Port: ap.Port(), Transport: model.UDP, Protocol: model.ProtoONVIF,
		Fingerprint: &model.Fingerprint{Vendor: "Dahua"}}
	var got []model.CredentialResult
	st, err := audit.Run(context.Background(), audit.Config{Modules: []login.Module{onvif.Module{}}, Dict: dict,
		Timeout: 3 * time.Second, Backoff: time.Millisecond, MaxBackoffs: 2}, []model.Service{svc},
		func(r model.CredentialResult) error { got = append(got, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return got, st, srv
}

// TestAudit runs the audit's rules over the module: anonymous first, then
// the wrong-password control, then the dictionary.
func TestAudit(t *testing.T) {
	dict := &audit.Dictionary{Generic: []audit.Entry{{Username: "admin", Password: "12345", Source: "test", Default: true},
		{Username: "admin", Password: "admin", Source: "test", Default: true}, {Username: "admin", Password: "", Source: "test", Default: true}}}
	tests := []struct {
		name  string
		d     *onviftest.Device
		check func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string
	}{
		{"weak", &onviftest.Device{Info: info, Username: "admin", Password: "admin", Skew: time.Hour},
			func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string {
				if len(got) != 1 || got[0].Kind != model.KindDefaultCredential || got[0].Password != "admin" || got[0].Attempts != 3 || st.Attempts != 4 {
					return "want admin:admin default after anonymous, control, admin:12345"
				}
				return ""
			}},
		{"weak, HTTP Digest only", &onviftest.Device{Info: info, Username: "admin", Password: "admin", HTTPDigest: true},
			func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string {
				if len(got) != 1 || got[0].Kind != model.KindDefaultCredential || got[0].Password != "admin" || st.Unknown != 0 {
					return "want admin:admin default through HTTP Digest"
				}
				return ""
			}},
		{"strong", &onviftest.Device{Info: info, Username: "admin", Password: "Xq7-long-unguessable"},
			func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string {
				if len(got) != 0 || st.Attempts != 5 || srv.Calls("GetDeviceInformation") != 5 {
					return "want nothing after 5 attempts (anonymous, control, 3 entries)"
				}
				return ""
			}},
		{"anonymous", &onviftest.Device{Info: info, Anonymous: true},
			func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string {
				if len(got) != 1 || got[0].Kind != model.KindAnonymousAccess || st.Attempts != 1 {
					return "want anonymous access after one attempt"
				}
				return ""
			}},
		{"accepts any token", &onviftest.Device{Info: info, Username: "admin", Password: "admin", AcceptAny: true},
			func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string {
				if len(got) != 1 || got[0].Kind != model.KindUnknownVerdict || got[0].Weak() || st.Unknown != 1 {
					return "want one unknown verdict (the control was accepted), no weak credential"
				}
				return ""
			}},
		{"lockout", &onviftest.Device{Info: info, Username: "admin", Password: "admin", LockAfter: 1},
			func(got []model.CredentialResult, st audit.Stats, srv *onviftest.Server) string {
				// The control is refused and locks the account; every later
				// answer says so, and the audit backs off and gives up.
				if len(got) != 1 || got[0].Kind != model.KindLockoutSuspected || got[0].Weak() || st.Lockouts != 1 {
					return "want one lockout-suspected result"
				}
				if n := srv.Calls("GetDeviceInformation"); n > 5 {
					return "kept trying a locked account"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, srv := run(t, tt.d, dict)
			if msg := tt.check(got, st, srv); msg != "" {
				t.Errorf("%s: results %+v, stats %+v, calls %d", msg, got, st, srv.Calls("GetDeviceInformation"))
			}
		})
	}
}
