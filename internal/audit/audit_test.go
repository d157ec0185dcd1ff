package audit

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
)

// fakeDevice is one login surface of the fake module.
type fakeDevice struct {
	accept        map[login.Credential]bool
	acceptAny     bool // accept every credential but the anonymous one
	throttleAfter int  // attempts after which every reply is throttled (0: never)
	open          bool
	sleep         bool // pause 1 ms per attempt so that workers overlap
	slowAfter     int  // attempts after which every refusal takes 200 ms (0: never)

	mu       sync.Mutex
	attempts int
}

// fakeModule serves fake devices keyed by address.
type fakeModule struct {
	proto   string
	devices map[netip.AddrPort]*fakeDevice
	hostMu  sync.Mutex
	perHost map[netip.Addr]int // current attempts per host
	maxHost map[netip.Addr]int
}

func (m *fakeModule) Protocols() []string { return []string{m.proto} }

func (m *fakeModule) Open(_ context.Context, t login.Target) (login.Session, error) {
	d := m.devices[t.Addr]
	if d == nil {
		return nil, errors.New("connection refused")
	}
	if d.open {
		return nil, login.ErrNoAuth
	}
	return login.Func(func(ctx context.Context, c login.Credential) login.Result {
		m.hostMu.Lock()
		m.perHost[t.Addr.Addr()]++
		m.maxHost[t.Addr.Addr()] = max(m.maxHost[t.Addr.Addr()], m.perHost[t.Addr.Addr()])
		m.hostMu.Unlock()
		defer func() { m.hostMu.Lock(); m.perHost[t.Addr.Addr()]--; m.hostMu.Unlock() }()
		d.mu.Lock()
		d.attempts++
		n := d.attempts
		d.mu.Unlock()
		if d.sleep {
			time.Sleep(time.Millisecond) // let concurrent workers overlap
		}
		if d.slowAfter > 0 && n > d.slowAfter {
			time.Sleep(200 * time.Millisecond)
		}
		if d.throttleAfter > 0 && n > d.throttleAfter {
			return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: "429"}
		}
		if d.accept[c] || d.acceptAny && c != (login.Credential{}) {
			return login.Accepted("ok")
		}
		return login.Denied("no")
	}), nil
}

func newFake(proto string) *fakeModule {
	return &fakeModule{proto: proto, devices: map[netip.AddrPort]*fakeDevice{}, perHost: map[netip.Addr]int{}, maxHost: map[netip.Addr]int{}}
}

func (m *fakeModule) add(addr string, d *fakeDevice) model.Service {
	ap := netip.MustParseAddrPort(addr)
	m.devices[ap] = d
	return model.Service{IP: ap.Addr(), Port: ap.Port(), Protocol: m.proto}
}

func cred(u, p string) login.Credential { return login.Credential{Username: u, Password: p} }

func collect(t *testing.T, cfg Config, svcs []model.Service) ([]model.CredentialResult, Stats) {
	t.Helper()
	var got []model.CredentialResult
	st, err := Run(context.Background(), cfg, svcs, func(r model.CredentialResult) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, st
}

func TestRunStopsAtFirstSuccess(t *testing.T) {
	m := newFake(model.ProtoTelnet)
	d := &fakeDevice{accept: map[login.Credential]bool{cred("root", "vizxv"): true, cred("admin", "admin"): true}}
	svc := m.add("127.0.0.1:23", d)
	got, st := collect(t, Config{Modules: []login.Module{m}}, []model.Service{svc})
	if len(got) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(got), got)
	}
	r := got[0]
	if r.Username != "root" || r.Password != "vizxv" || r.Kind != model.KindDefaultCredential || r.Source != SourceMirai || r.Attempts != 2 {
		t.Errorf("result %+v, want root:vizxv default-credential from mirai after 2 attempts", r)
	}
	if d.attempts != 3 || st.Attempts != 3 {
		t.Errorf("attempts device=%d stats=%d, want 3 (the wrong-password control, then 2 credentials)", d.attempts, st.Attempts)
	}
}

func TestRunAll(t *testing.T) {
	m := newFake(model.ProtoTelnet)
	d := &fakeDevice{accept: map[login.Credential]bool{cred("root", "vizxv"): true, cred("admin", "admin"): true, cred("root", ""): true}}
	got, _ := collect(t, Config{Modules: []login.Module{m}, All: true}, []model.Service{m.add("127.0.0.1:23", d)})
	kinds := map[string]string{}
	for _, r := range got {
		kinds[r.Username+":"+r.Password] = r.Kind
	}
	want := map[string]string{"root:vizxv": model.KindDefaultCredential, "admin:admin": model.KindDefaultCredential, "root:": model.KindEmptyPassword}
	if len(kinds) != len(want) {
		t.Fatalf("found %v, want %v", kinds, want)
	}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("%s: kind %q, want %q", k, kinds[k], v)
		}
	}
	if d.attempts != 1+61 {
		t.Errorf("attempts %d, want the control and the 61 distinct Mirai pairs", d.attempts)
	}
}

func TestRunAttemptCap(t *testing.T) {
	for _, perHost := range []int{1, 4} {
		m := newFake(model.ProtoSSH)
		d := &fakeDevice{}
		_, st := collect(t, Config{Modules: []login.Module{m}, MaxAttempts: 7, PerHost: perHost}, []model.Service{m.add("127.0.0.1:22", d)})
		if d.attempts != 7 || st.Attempts != 7 {
			t.Errorf("per-host %d: attempts device=%d stats=%d, want 7", perHost, d.attempts, st.Attempts)
		}
	}
}

func TestRunPerHostConcurrency(t *testing.T) {
	for _, perHost := range []int{1, 3} {
		m := newFake(model.ProtoSSH)
		var svcs []model.Service
		for _, a := range []string{"127.0.0.1:22", "127.0.0.1:2222", "127.0.0.2:22"} {
			svcs = append(svcs, m.add(a, &fakeDevice{sleep: true}))
		}
		collect(t, Config{Modules: []login.Module{m}, MaxAttempts: 20, PerHost: perHost}, svcs)
		for h, n := range m.maxHost {
			if n > perHost {
				t.Errorf("per-host %d: %s saw %d concurrent attempts", perHost, h, n)
			}
		}
	}
}

func TestRunLockoutBackoff(t *testing.T) {
	m := newFake(model.ProtoHTTP)
	d := &fakeDevice{throttleAfter: 3, accept: map[login.Credential]bool{cred("admin", "meinsm"): true}}
	got, st := collect(t, Config{Modules: []login.Module{m}, Backoff: 5 * time.Millisecond, MaxBackoffs: 2},
		[]model.Service{m.add("127.0.0.1:80", d)})
	if len(got) != 1 || got[0].Kind != KindLockoutSuspected || !got[0].LockoutSuspected || got[0].Password != "" {
		t.Fatalf("results %+v, want one lockout-suspected record", got)
	}
	if st.Lockouts != 1 || st.Abandoned != 1 {
		t.Errorf("stats %+v, want 1 lockout, 1 abandoned", st)
	}
	if d.attempts != 3+3 {
		t.Errorf("attempts %d, want 3 clean + 3 throttled (MaxBackoffs 2, then give up)", d.attempts)
	}
}

func TestRunGrowingDelays(t *testing.T) {
	m := newFake(model.ProtoTelnet)
	d := &fakeDevice{sleep: true, slowAfter: 6}
	got, st := collect(t, Config{Modules: []login.Module{m}, Backoff: time.Millisecond, MaxBackoffs: 2, SlowRefusal: 100 * time.Millisecond},
		[]model.Service{m.add("127.0.0.1:23", d)})
	if st.Lockouts != 1 || st.Abandoned != 1 || len(got) != 1 || got[0].Kind != KindLockoutSuspected {
		t.Errorf("stats %+v results %+v, want the tarpit detected and the service abandoned", st, got)
	}
	// 6 quick refusals, then pairs of slow ones: three signals end it.
	if d.attempts != 6+2*3 {
		t.Errorf("attempts %d, want 12", d.attempts)
	}
}

func TestRunAllowed(t *testing.T) {
	m := newFake(model.ProtoTelnet)
	named := &fakeDevice{}
	other := &fakeDevice{accept: map[login.Credential]bool{cred("root", "xc3511"): true}}
	svcs := []model.Service{m.add("127.0.0.1:23", named), m.add("127.0.0.9:23", other)}
	allowed := func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }
	got, st := collect(t, Config{Modules: []login.Module{m}, MaxAttempts: 3, Allowed: allowed}, svcs)
	if other.attempts != 0 || len(got) != 0 || st.NotAllowed != 1 {
		t.Errorf("unnamed target touched: attempts=%d results=%v stats=%+v", other.attempts, got, st)
	}
}

func TestRunVendorDefaultsFirst(t *testing.T) {
	m := newFake(model.ProtoHTTP)
	d := &fakeDevice{accept: map[login.Credential]bool{cred("admin", "12345"): true}}
	svc := m.add("127.0.0.1:80", d)
	svc.Fingerprint = &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2046G2"}
	got, _ := collect(t, Config{Modules: []login.Module{m}}, []model.Service{svc})
	if len(got) != 1 || !strings.HasPrefix(got[0].Source, SourceDefaultCreds+":") || got[0].Attempts > 5 {
		t.Errorf("results %+v, want Hikvision's default from DefaultCreds within a few attempts", got)
	}
}

func TestRunOpenRTSPAndNoModule(t *testing.T) {
	m := newFake(model.ProtoRTSP)
	svcs := []model.Service{m.add("127.0.0.1:554", &fakeDevice{open: true}), {IP: netip.MustParseAddr("127.0.0.1"), Port: 502, Protocol: model.ProtoModbus}}
	got, st := collect(t, Config{Modules: []login.Module{m}}, svcs)
	if len(got) != 1 || got[0].Kind != model.KindAnonymousAccess || st.NoModule != 1 || st.NoAuth != 1 {
		t.Errorf("results %+v stats %+v, want one anonymous RTSP stream and one unauditable service", got, st)
	}
}

func TestRunEmitError(t *testing.T) {
	m := newFake(model.ProtoTelnet)
	var svcs []model.Service
	for _, a := range []string{"127.0.0.1:23", "127.0.0.2:23", "127.0.0.3:23"} {
		svcs = append(svcs, m.add(a, &fakeDevice{accept: map[login.Credential]bool{cred("root", "xc3511"): true}}))
	}
	boom := errors.New("disk full")
	_, err := Run(context.Background(), Config{Modules: []login.Module{m}, Concurrency: 1}, svcs, func(model.CredentialResult) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Run error %v, want %v", err, boom)
	}
}

func TestRunCancelled(t *testing.T) {
	m := newFake(model.ProtoTelnet)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Config{Modules: []login.Module{m}}, []model.Service{m.add("127.0.0.1:23", &fakeDevice{})}, func(model.CredentialResult) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error %v, want context.Canceled", err)
	}
}
