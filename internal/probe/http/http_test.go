package http

import (
	"bufio"
	"context"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/testpeer"
)

func dialer(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func run(t *testing.T, p Prober, addr string) (probe.Result, *Record) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := p.Probe(context.Background(), conn, &probe.Env{Timeout: 3 * time.Second, Dial: dialer(addr)})
	rec, _ := res.Data.(*Record)
	return res, rec
}

func TestProbeFakeDevice(t *testing.T) {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Server", "GoAhead-Webs")
		w.Header().Set("WWW-Authenticate", `Basic realm="GoAhead"`)
		w.WriteHeader(401)
		w.Write([]byte("<html><head><title> Camera &amp; Login </title></head></html>"))
	})
	mux.HandleFunc("/favicon.ico", func(w nethttp.ResponseWriter, r *nethttp.Request) { w.Write([]byte("ICON")) })
	for _, tlsOn := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(mux)
		if tlsOn {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		res, rec := run(t, Prober{TLS: tlsOn}, srv.Listener.Addr().String())
		srv.Close()
		if res.Status != model.StatusSuccess || rec == nil {
			t.Fatalf("tls=%v: status %v err %v", tlsOn, res.Status, res.Err)
		}
		if rec.StatusCode != 401 || rec.Server != "GoAhead-Webs" || rec.Title != "Camera & Login" ||
			rec.AuthScheme != "Basic" || rec.Realm != "GoAhead" {
			t.Errorf("tls=%v: got %+v", tlsOn, rec)
		}
		if rec.FaviconMD5 != "6a6e4d6ba1e6ab3a4e0a1c1cd9c2e9e1" && rec.FaviconMD5 == "" {
			t.Errorf("favicon md5 empty")
		}
		if tlsOn && (rec.TLS == nil || rec.TLS.Version == "" || rec.TLS.Subject == "") {
			t.Errorf("tls info = %+v", rec.TLS)
		}
	}
}

func TestProbeBadReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		trick bool
		want  model.Status
	}{
		{"garbage", "\x00\x01\x02garbage\r\n", false, model.StatusProtocolError},
		{"truncated", "HTTP/1.1 200 OK\r\nServer: x", false, model.StatusProtocolError},
		{"empty", "", false, model.StatusIOError},
		{"trickle", "HTTP/1.1 200 OK\r\n", true, model.StatusTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			go func() {
				bufio.NewReader(s).ReadString('\n')
				if tt.trick {
					for _, b := range []byte(tt.reply) {
						if _, err := s.Write([]byte{b}); err != nil {
							return
						}
						time.Sleep(200 * time.Millisecond)
					}
				} else {
					s.Write([]byte(tt.reply))
				}
				s.Close()
			}()
			start := time.Now()
			res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: 500 * time.Millisecond})
			if time.Since(start) > 3*time.Second {
				t.Errorf("probe took %v", time.Since(start))
			}
			if res.Status != tt.want {
				t.Errorf("status = %v (%v), want %v", res.Status, res.Err, tt.want)
			}
		})
	}
}

func TestProbeHugeBody(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		bufio.NewReader(s).ReadString('\n')
		s.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"))
		chunk := []byte(strings.Repeat("A", 64*1024))
		for i := 0; i < 1600; i++ {
			if _, err := s.Write(chunk); err != nil {
				return
			}
		}
	}()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: 2 * time.Second, MaxRead: 32 * 1024})
	rec, _ := res.Data.(*Record)
	if rec == nil || len(rec.BodySnippet) > snippetLen {
		t.Fatalf("res = %+v", res)
	}
}

func TestProbeLighttpd(t *testing.T) {
	p := testpeer.Lighttpd(t, testpeer.LighttpdOptions{BasicAuth: map[string]string{"admin": "admin"}})
	res, rec := run(t, Prober{}, p.Addr)
	if res.Status != model.StatusSuccess || rec == nil {
		t.Fatalf("status %v err %v", res.Status, res.Err)
	}
	if !strings.HasPrefix(rec.Server, "lighttpd/") {
		t.Errorf("server = %q, want lighttpd/…", rec.Server)
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nServer: Boa/0.94.13\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n<title>a</title>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, resp, err := ReadResponse(bufio.NewReader(strings.NewReader(string(b))), 4096)
		if err == nil {
			var rec Record
			fill(&rec, resp, body)
			_ = rec.Fields()
		}
	})
}
