package audit

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// TestRunRealPeers audits real Debian daemons on loopback with one list of
// wrong, weak and never-correct credentials: every weak credential must be
// found, no strong account ever reported, and attempts stay within the cap.
func TestRunRealPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("real peers")
	}
	t.Parallel()
	var (
		mu   sync.Mutex
		svcs []model.Service
		want = map[string]string{} // "proto port" → "user:pass" expected
	)
	add := func(proto string, p *testpeer.Peer, weak string) {
		mu.Lock()
		defer mu.Unlock()
		ap := netip.MustParseAddrPort(p.Addr)
		svcs = append(svcs, model.Service{IP: ap.Addr(), Port: ap.Port(), Transport: model.TCP, Protocol: proto})
		want[proto+" "+ap.String()] = weak
	}
	weakSys := testpeer.WeakUser + ":" + testpeer.WeakPassword
	add(model.ProtoSSH, testpeer.SSHD(t, testpeer.SSHDOptions{}), weakSys)
	add(model.ProtoSSH, testpeer.SSHD(t, testpeer.SSHDOptions{Legacy: true}), weakSys)
	add(model.ProtoTelnet, testpeer.Telnetd(t), weakSys)
	add(model.ProtoFTP, testpeer.Vsftpd(t, testpeer.VsftpdOptions{}), weakSys)
	add(model.ProtoFTP, testpeer.Vsftpd(t, testpeer.VsftpdOptions{Anonymous: true}), "anonymous:iotwatch@example.invalid")
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{
		BasicAuth:  map[string]string{"admin": "admin", "operator": "V3ry-Str0ng-0p"},
		DigestAuth: map[string]string{"admin": "12345", "operator": "V3ry-Str0ng-0p"},
	})
	add(model.ProtoMQTT, testpeer.Mosquitto(t, testpeer.MosquittoOptions{Users: map[string]string{"admin": "admin", "sensor": "Str0ng-Sensor-Pass"}}), "admin:admin")
	add(model.ProtoMQTT, testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: true}), ":")
	snmpStrong := testpeer.Snmpd(t, "Str0ng-Community-7781")
	snmpWeak := testpeer.Snmpd(t, "public")
	add(model.ProtoSNMP, snmpWeak, ":public")
	ap := netip.MustParseAddrPort(snmpStrong.Addr)
	svcs = append(svcs, model.Service{IP: ap.Addr(), Port: ap.Port(), Transport: model.UDP, Protocol: model.ProtoSNMP})

	// The web server has two protected paths; each is audited in its own Run
	// below with Config.Paths.
	dict := &Dictionary{}
	list := "root:root\niwtest:admin\nadmin:password\n" + weakSys + "\nadmin:admin\nadmin:12345\nsensor:admin\noperator:operator\n"
	var err error
	if dict.Generic, err = ParseUserPass(strings.NewReader(list), "test-list"); err != nil {
		t.Fatal(err)
	}
	dict.Communities, _ = ParseCommunities(strings.NewReader("private\npublic\nadmin\n"), "test-communities")

	const maxAttempts = 7 // the six credentials each service needs at most, and the wrong-password control
	var got []model.CredentialResult
	// Every daemon listens on 127.0.0.1, which the audit sees as one host.
	cfg := Config{MaxAttempts: maxAttempts, Dict: dict, Timeout: 15 * time.Second, PerHost: 6}
	st, err := Run(context.Background(), cfg, svcs, func(r model.CredentialResult) error { got = append(got, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// Both HTTP schemes, each with its path.
	for _, path := range []string{testpeer.LighttpdBasicPath, testpeer.LighttpdDigestPath} {
		hp := netip.MustParseAddrPort(web.Addr)
		cfg.Paths = map[string]string{model.ProtoHTTP: path}
		_, err := Run(context.Background(), cfg, []model.Service{{IP: hp.Addr(), Port: hp.Port(), Protocol: model.ProtoHTTP}},
			func(r model.CredentialResult) error { got = append(got, r); return nil })
		if err != nil {
			t.Fatal(err)
		}
		want[model.ProtoHTTP+" "+hp.String()+path] = map[string]string{testpeer.LighttpdBasicPath: "admin:admin", testpeer.LighttpdDigestPath: "admin:12345"}[path]
	}

	found := map[string]string{}
	httpSeen := 0
	for _, r := range got {
		if r.Username == testpeer.StrongUser || r.Password == testpeer.StrongPassword || r.Password == "V3ry-Str0ng-0p" ||
			r.Password == "Str0ng-Community-7781" || r.Password == "Str0ng-Sensor-Pass" {
			t.Errorf("strong credential reported: %+v", r)
		}
		if r.Attempts > maxAttempts {
			t.Errorf("%s %d: %d attempts, cap %d", r.Protocol, r.Port, r.Attempts, maxAttempts)
		}
		key := r.Protocol + " " + netip.AddrPortFrom(r.IP, r.Port).String()
		if r.Protocol == model.ProtoHTTP {
			key += []string{testpeer.LighttpdBasicPath, testpeer.LighttpdDigestPath}[httpSeen]
			httpSeen++
		}
		found[key] = r.Username + ":" + r.Password
	}
	for k, w := range want {
		if found[k] != w {
			t.Errorf("%s: found %q, want %q", k, found[k], w)
		}
	}
	if len(found) != len(want) {
		t.Errorf("found %d results %v, want %d", len(found), found, len(want))
	}
	if st.Attempts > int64(maxAttempts*len(svcs)) {
		t.Errorf("total attempts %d over the cap", st.Attempts)
	}
	t.Logf("stats %+v", st)
}

// TestRunRealLockout audits vsftpd limited to one connection per address with
// three parallel workers: the 421 refusals must make the audit back off and
// record lockout_suspected.
func TestRunRealLockout(t *testing.T) {
	if testing.Short() {
		t.Skip("real peers")
	}
	t.Parallel()
	p := testpeer.Vsftpd(t, testpeer.VsftpdOptions{MaxPerIP: 1})
	ap := netip.MustParseAddrPort(p.Addr)
	dict := &Dictionary{}
	dict.Generic, _ = ParseUserPass(strings.NewReader("root:a\nroot:b\nroot:c\nroot:d\nroot:e\nroot:f\n"), "test")
	var got []model.CredentialResult
	st, err := Run(context.Background(), Config{Dict: dict, PerHost: 3, Backoff: 50 * time.Millisecond, MaxBackoffs: 2},
		[]model.Service{{IP: ap.Addr(), Port: ap.Port(), Protocol: model.ProtoFTP}},
		func(r model.CredentialResult) error { got = append(got, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Lockouts != 1 || len(got) != 1 || got[0].Kind != KindLockoutSuspected || !got[0].LockoutSuspected {
		t.Errorf("stats %+v results %+v, want one lockout-suspected record", st, got)
	}
}
