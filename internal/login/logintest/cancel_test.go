package logintest_test

import (
	"bufio"
	"net"
	"net/textproto"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/login/ftp"
	"iotwatch/internal/login/logintest"
	"iotwatch/internal/login/mqtt"
	"iotwatch/internal/login/rtsp"
	"iotwatch/internal/login/ssh"
	"iotwatch/internal/login/telnet"
)

// TestCancelDuringRead is issue 14's Ctrl-C crash (7 of 8 interrupted audits
// panicked): in every connection-oriented login module, the cancellation
// callback of a read must not touch a connection that Close already dropped,
// and a cancelled attempt must end at once. Run it under -race.
func TestCancelDuringRead(t *testing.T) {
	jitter := logintest.Jitter
	tests := []struct {
		name   string
		mod    login.Module
		rounds int
		serve  func(c net.Conn)
	}{
		{"telnet", telnet.Module{}, 300, func(c net.Conn) {
			r := bufio.NewReader(c)
			c.Write([]byte{255, 251, 1}) // IAC WILL ECHO
			jitter(2 * time.Millisecond)
			c.Write([]byte("(none) login: "))
			r.ReadString('\n')
			jitter(2 * time.Millisecond)
			c.Write([]byte("not a prompt\r\n")) // then hang up: a protocol error closes the session
		}},
		{"ftp", ftp.Module{}, 300, func(c net.Conn) {
			r := bufio.NewReader(c)
			jitter(time.Millisecond)
			c.Write([]byte("220 ready\r\n"))
			r.ReadString('\n') // USER
			c.Write([]byte("331 password please\r\n"))
			r.ReadString('\n') // PASS
			jitter(2 * time.Millisecond)
			c.Write([]byte("500 what\r\n")) // a protocol error closes the session
		}},
		{"mqtt", mqtt.Module{}, 200, func(c net.Conn) {
			_, _ = c.Read(make([]byte, 512)) // CONNECT
			jitter(3 * time.Millisecond)
			c.Write([]byte{0x20, 0x02, 0x00, 0x05}) // CONNACK 5, not authorised
		}},
		{"rtsp", rtsp.Module{}, 200, func(c net.Conn) {
			if _, err := textproto.NewReader(bufio.NewReader(c)).ReadMIMEHeader(); err != nil {
				return
			}
			jitter(2 * time.Millisecond)
			c.Write([]byte("RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n"))
		}},
		{"ssh", ssh.Module{}, 200, func(c net.Conn) {
			jitter(2 * time.Millisecond)
			c.Write([]byte("SSH-2.0-dropbear_2019.78\r\n"))
			_, _ = c.Read(make([]byte, 4096))
			jitter(2 * time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := logintest.Serve(t, tt.serve)
			logintest.CancelDuringRead(t, tt.mod, tg, login.Credential{Username: "root", Password: "x"}, tt.rounds)
		})
	}
}
