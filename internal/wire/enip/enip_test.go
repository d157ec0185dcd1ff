package enip

import (
	"bytes"
	"errors"
	"testing"
)

func TestListIdentity(t *testing.T) {
	q := ListIdentity(7)
	if len(q) != HeaderLen || Command(q) != CmdListIdentity || q[2] != 0 || q[3] != 0 {
		t.Fatalf("request % x", q)
	}
	want := Identity{ProtocolVersion: 1, VendorID: 1, DeviceType: 0x0c, ProductCode: 166, RevisionMajor: 11, RevisionMinor: 2,
		Status: 0x0030, Serial: 0x00c0ffee, ProductName: "1756-EN2T/D", State: 3}
	b, err := Read(bytes.NewReader(Reply(7, want, [4]byte{10, 0, 0, 5})))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseListIdentity(b)
	if err != nil {
		t.Fatal(err)
	}
	want.Address = "10.0.0.5:44818"
	if *got != want {
		t.Errorf("got %+v\nwant %+v", *got, want)
	}
	for name, b := range map[string][]byte{
		"request":   q,
		"truncated": Reply(7, want, [4]byte{})[:40],
		"http":      []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
	} {
		if _, err := ParseListIdentity(b); !errors.Is(err, ErrNotENIP) {
			t.Errorf("%s: %v, want ErrNotENIP", name, err)
		}
	}
}

func FuzzParseListIdentity(f *testing.F) {
	f.Add(Reply(1, Identity{VendorID: 1, ProductName: "1769-L33ER/A LOGIX5333ER"}, [4]byte{192, 168, 1, 10}))
	f.Add(ListIdentity(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseListIdentity(b)
		if err != nil {
			if !errors.Is(err, ErrNotENIP) {
				t.Fatalf("error %v does not wrap ErrNotENIP", err)
			}
			return
		}
		if len(id.ProductName) > 255 {
			t.Fatalf("name of %d bytes", len(id.ProductName))
		}
	})
}
