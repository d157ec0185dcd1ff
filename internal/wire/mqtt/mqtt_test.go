package mqtt

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"iotwatch/internal/netx"
)

func TestConnect(t *testing.T) {
	tests := []struct {
		name       string
		level      byte
		user, pass string
		creds      bool
		want       []byte
	}{
		{"3.1.1 with credentials", Level311, "u", "p", true,
			[]byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 30, 0, 1, 'c', 0, 1, 'u', 0, 1, 'p'}},
		{"empty password sent as none", Level311, "u", "", true,
			[]byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 30, 0, 1, 'c', 0, 1, 'u'}},
		{"anonymous", Level311, "", "", false,
			[]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30, 0, 1, 'c'}},
		{"3.1", Level31, "u", "p", true,
			[]byte{0x10, 21, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0xc2, 0, 30, 0, 1, 'c', 0, 1, 'u', 0, 1, 'p'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Connect(tt.level, "c", tt.user, tt.pass, tt.creds)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Connect = % x\nwant      % x", got, tt.want)
			}
			pk, err := ReadPacket(bytes.NewReader(got), 1024)
			cp, ok := pk.(*packets.ConnectPacket)
			if err != nil || !ok || cp.Username != tt.user || string(cp.Password) != tt.pass || cp.ProtocolVersion != tt.level {
				t.Errorf("decoded %+v, %v", pk, err)
			}
		})
	}
}

func TestReadPacketBounds(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		ok       bool
		protocol bool
	}{
		{"connack", []byte{0x20, 2, 0, 0}, true, false},
		{"huge", []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, false, true},
		{"bad varint", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, false, true},
		{"truncated", []byte{0x20, 2, 0}, false, false},
		{"garbage type", []byte{0x00, 0}, false, true},
	}
	for _, tt := range tests {
		_, err := ReadPacket(bytes.NewReader(tt.in), 1024)
		if (err == nil) != tt.ok || errors.Is(err, netx.ErrProtocol) != tt.protocol {
			t.Errorf("%s: err = %v, want ok %v (protocol error %v)", tt.name, err, tt.ok, tt.protocol)
		}
	}
}

func TestReadConnack(t *testing.T) {
	tests := []struct {
		in   []byte
		code byte
		err  func(error) bool
	}{
		{[]byte{0x20, 2, 0, 0}, 0, func(err error) bool { return err == nil }},
		{[]byte{0x20, 2, 0, 5}, 5, func(err error) bool { return err == nil }},
		{[]byte{0x30, 2, 0, 0}, 0, func(err error) bool { return errors.Is(err, netx.ErrProtocol) }},
		{[]byte{0x20}, 0, func(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }},
		{[]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), 0, func(err error) bool { return errors.Is(err, netx.ErrProtocol) }},
	}
	for _, tt := range tests {
		code, err := ReadConnack(bytes.NewReader(tt.in))
		if code != tt.code || !tt.err(err) {
			t.Errorf("ReadConnack(% x) = %d, %v", tt.in, code, err)
		}
	}
	if ConnackText(5) == "" || ConnackText(200) != "return code 200" {
		t.Errorf("ConnackText(5) = %q, ConnackText(200) = %q", ConnackText(5), ConnackText(200))
	}
}

// FuzzReadPacket: no panic, no allocation over the limit, and a CONNACK read
// without error has a code.
func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})
	f.Add([]byte{0x30, 0x1a, 0, 0x13, '$', 'S', 'Y', 'S', '/', 'b', 'r', 'o', 'k', 'e', 'r', '/', 'v', 'e', 'r', 's', 'i', 'o', 'n', 'x', 'y', 'z', 'w', 'v'})
	f.Add([]byte{0x90, 3, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadPacket(bytes.NewReader(b), 4096)
		_, _ = ReadConnack(bytes.NewReader(b))
	})
}
