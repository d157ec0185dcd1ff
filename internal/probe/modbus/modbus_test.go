package modbus

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		vendor  string
		exc     byte
		wantErr bool
	}{
		{"ok", Response(1, 0xff, "Schneider Electric", "BMX P34 2020", "v2.7"), "Schneider Electric", 0, false},
		{"exception", []byte{0, 1, 0, 0, 0, 3, 0xff, 0xab, 0x01}, "", 1, false},
		{"truncated objects", Response(1, 1, "abc")[:14], "", 0, true},
		{"bad protocol", []byte{0, 1, 0, 9, 0, 3, 0xff, 0xab, 0x01}, "", 0, true},
		{"short", []byte{0, 1}, "", 0, true},
	}
	for _, tt := range tests {
		rec, err := Parse(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if err == nil && (rec.VendorName != tt.vendor || rec.Exception != tt.exc) {
			t.Errorf("%s: got %+v", tt.name, rec)
		}
	}
}

func TestProbe(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		req := make([]byte, 11)
		if _, err := io.ReadFull(s, req); err != nil {
			return
		}
		s.Write(Response(uint16(req[0])<<8|uint16(req[1]), req[6], "Acme PLC", "X-100", "1.2"))
	}()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: time.Second})
	rec, _ := res.Data.(*Record)
	if res.Status != model.StatusSuccess || rec == nil || rec.ProductCode != "X-100" || rec.Revision != "1.2" {
		t.Fatalf("res = %+v rec = %+v", res, rec)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Response(1, 0xff, "Schneider Electric", "BMX", "v2"))
	f.Add([]byte{0, 1, 0, 0, 0, 3, 0xff, 0xab, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) { Parse(b) })
}
