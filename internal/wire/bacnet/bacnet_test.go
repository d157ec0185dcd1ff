package bacnet

import (
	"errors"
	"testing"
)

func TestReadPropertyRoundTrip(t *testing.T) {
	for _, p := range IdentityProperties {
		q := ReadProperty(9, p)
		r, err := ParseRequest(q)
		if err != nil || r.Invoke != 9 || r.Property != p || r.Instance != 4194303 {
			t.Fatalf("%d: %+v %v", p, r, err)
		}
	}
	long := "a model name longer than two hundred and fifty three bytes " +
		"a model name longer than two hundred and fifty three bytes a model name longer than two hundred and fifty three bytes " +
		"a model name longer than two hundred and fifty three bytes"
	tests := []struct {
		name string
		b    []byte
		want Answer
	}{
		{"short text", ACK(1, 5, PropModelName, "PX", 0, false), Answer{Invoke: 1, Property: PropModelName, Value: "PX"}},
		{"text", ACK(2, 5, PropVendorName, "Tridium", 0, false), Answer{Invoke: 2, Property: PropVendorName, Value: "Tridium"}},
		{"long text", ACK(3, 5, PropDescription, long, 0, false), Answer{Invoke: 3, Property: PropDescription, Value: long}},
		{"unsigned", ACK(4, 5, PropVendorIdentifier, "", 5, true), Answer{Invoke: 4, Property: PropVendorIdentifier, Value: "5"}},
		{"object id", ObjectIDACK(6, 1234), Answer{Invoke: 6, Property: PropObjectIdentifier, Value: "8:1234"}},
		{"error", ErrorPDU(5, 2, 32), Answer{Invoke: 5, Err: "error class 2 code 32"}},
	}
	for _, tt := range tests {
		a, err := ParseAnswer(tt.b)
		if err != nil || *a != tt.want {
			t.Errorf("%s: %+v %v, want %+v", tt.name, a, err, tt.want)
		}
	}
	for name, b := range map[string][]byte{
		"request": ReadProperty(1, PropVendorName),
		"short":   ACK(1, 5, PropVendorName, "Tridium", 0, false)[:12],
		"snmp":    {0x30, 0x26, 0x02, 0x01, 0x01},
	} {
		if _, err := ParseAnswer(b); !errors.Is(err, ErrNotBACnet) {
			t.Errorf("%s: %v, want ErrNotBACnet", name, err)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(ACK(1, 5, PropVendorName, "Tridium", 0, false))
	f.Add(ACK(4, 5, PropVendorIdentifier, "", 5, true))
	f.Add(ErrorPDU(5, 2, 32))
	f.Add([]byte{0x81, 0x0a, 0x00, 0x09, 0x01, 0x00, 0x60, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswer(b)
		if err != nil {
			if !errors.Is(err, ErrNotBACnet) {
				t.Fatalf("error %v does not wrap ErrNotBACnet", err)
			}
			return
		}
		if a.Err == "" && len(a.Value) > 2*len(b)+32 {
			t.Fatalf("value of %d bytes from %d", len(a.Value), len(b))
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add(ReadProperty(1, PropModelName))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseRequest(b); err != nil && !errors.Is(err, ErrNotBACnet) {
			t.Fatalf("error %v does not wrap ErrNotBACnet", err)
		}
	})
}
