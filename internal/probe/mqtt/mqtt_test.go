package mqtt

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/testpeer"
)

func TestProbeMosquitto(t *testing.T) {
	for _, anon := range []bool{true, false} {
		p := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: anon, Users: map[string]string{"u": "p"}})
		conn, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		res := Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: 5 * time.Second})
		conn.Close()
		rec, _ := res.Data.(*Record)
		if res.Status != model.StatusSuccess || rec == nil {
			t.Fatalf("status %v err %v", res.Status, res.Err)
		}
		if rec.Anonymous != anon {
			t.Errorf("anonymous = %v, want %v (code %d)", rec.Anonymous, anon, rec.ConnackCode)
		}
		if anon && !strings.HasPrefix(rec.BrokerVersion, "mosquitto version ") {
			t.Errorf("broker version = %q, want mosquitto version …", rec.BrokerVersion)
		}
		if !anon && rec.ConnackCode != 5 {
			t.Errorf("connack = %d, want 5 (not authorised)", rec.ConnackCode)
		}
	}
}

func TestReadPacketBounds(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"connack", []byte{0x20, 2, 0, 0}, true},
		{"huge", []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, false},
		{"bad varint", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, false},
		{"truncated", []byte{0x20, 2, 0}, false},
		{"garbage type", []byte{0x00, 0}, false},
	}
	for _, tt := range tests {
		_, err := ReadPacket(bytes.NewReader(tt.in), 1024)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestProbeNotMQTT(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		buf := make([]byte, 256)
		s.Read(buf)
		s.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		s.Close()
	}()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: time.Second})
	if res.Status == model.StatusSuccess {
		t.Errorf("status = success on an HTTP reply")
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})
	f.Add([]byte{0x30, 0x1a, 0, 0x13, '$', 'S', 'Y', 'S', '/', 'b', 'r', 'o', 'k', 'e', 'r', '/', 'v', 'e', 'r', 's', 'i', 'o', 'n', 'x', 'y', 'z', 'w', 'v'})
	f.Add([]byte{0x90, 3, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadPacket(bytes.NewReader(b), 4096)
	})
}
