package mqtt

import (
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
