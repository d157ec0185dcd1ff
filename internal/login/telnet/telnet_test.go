package telnet

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/login/logintest"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
	wiretelnet "iotwatch/internal/wire/telnet"
)

func TestTelnetRealPeer(t *testing.T) {
	t.Parallel()
	p := testpeer.Telnetd(t)
	tg := login.Target{Addr: netip.MustParseAddrPort(p.Addr), Protocol: model.ProtoTelnet, Timeout: 15 * time.Second}
	sess, err := Module{}.Open(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	tests := []struct {
		user, pass string
		want       model.Status
	}{
		{testpeer.StrongUser, "admin", model.StatusAuthFailed},
		{testpeer.WeakUser, testpeer.WeakPassword, model.StatusSuccess},
	}
	for _, tt := range tests {
		r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
		if r.Status != tt.want {
			t.Errorf("%s:%s: status %s (%v, %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
		}
		if r.Success() && !strings.Contains(r.Evidence, "command echo") {
			t.Errorf("success evidence %q, want a command echo", r.Evidence)
		}
	}
}

// fakeDevice serves one scripted telnet device per connection.
func fakeDevice(t *testing.T, handle func(c net.Conn, r *bufio.Reader)) login.Target {
	t.Helper()
	return logintest.Serve(t, func(c net.Conn) { handle(c, bufio.NewReader(c)) })
}

func readLine(r *bufio.Reader) string {
	s, _ := r.ReadString('\n')
	return strings.TrimRight(s, "\r\n")
}

func TestTelnetFakes(t *testing.T) {
	t.Parallel()
	busybox := func(pass string, shell bool) func(net.Conn, *bufio.Reader) {
		return func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte{wiretelnet.IAC, wiretelnet.WILL, wiretelnet.OptEcho, wiretelnet.IAC, wiretelnet.DO, 24})
			c.Write([]byte("\r\n(none) login: "))
			for {
				u := readLine(r)
				c.Write([]byte("Password: "))
				p := readLine(r)
				if strings.HasSuffix(u, "root") && p == pass {
					c.Write([]byte("\r\n\r\nBusyBox v1.20.2 built-in shell (ash)\r\n# "))
					cmd := readLine(r)
					if shell && strings.HasPrefix(cmd, "echo IW$((") {
						// evaluate a+b
						expr := strings.TrimSuffix(strings.TrimPrefix(cmd, "echo IW$(("), "))W")
						a, b, _ := strings.Cut(expr, "+")
						c.Write([]byte(cmd + "\r\nIW" + itoa(atoi(a)+atoi(b)) + "W\r\n# "))
					} else {
						c.Write([]byte(cmd + "\r\n-sh: not found\r\n# "))
					}
					return
				}
				if _, err := c.Write([]byte("\r\nLogin incorrect\r\n(none) login: ")); err != nil {
					return // the client is gone
				}
			}
		}
	}
	tests := []struct {
		name   string
		handle func(net.Conn, *bufio.Reader)
		creds  []login.Credential
		want   []model.Status
	}{
		{"busybox weak", busybox("vizxv", true),
			[]login.Credential{{Username: "root", Password: "xc3511"}, {Username: "root", Password: "vizxv"}},
			[]model.Status{model.StatusAuthFailed, model.StatusSuccess}},
		{"prompt but no working shell", busybox("vizxv", false),
			[]login.Credential{{Username: "root", Password: "vizxv"}},
			[]model.Status{model.StatusProtocolError}},
		{"hangs up after password", func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte("login: "))
			readLine(r)
			c.Write([]byte("Password: "))
			readLine(r)
		}, []login.Credential{{Username: "root", Password: "root"}}, []model.Status{model.StatusAuthFailed}},
		{"banned", func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte("Too many failed attempts. Try again later.\r\n"))
		}, []login.Credential{{Username: "root", Password: "root"}}, []model.Status{model.StatusAuthFailed}},
		{"not telnet", func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		}, []login.Credential{{Username: "root", Password: "root"}}, []model.Status{model.StatusProtocolError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := fakeDevice(t, tt.handle)
			sess, _ := Module{}.Open(context.Background(), tg)
			defer sess.Close()
			for i, c := range tt.creds {
				r := sess.Try(context.Background(), c)
				if r.Status != tt.want[i] {
					t.Errorf("try %d %v: status %s (%v, %q), want %s", i, c, r.Status, r.Err, r.Evidence, tt.want[i])
				}
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
