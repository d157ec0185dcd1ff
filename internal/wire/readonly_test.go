package wire_test

import (
	"encoding/binary"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/probe/modbus"
	"iotwatch/internal/wire/bacnet"
	"iotwatch/internal/wire/dnp3"
	"iotwatch/internal/wire/enip"
	"iotwatch/internal/wire/s7"
)

// encoders lists, for each industrial codec, every exported function that
// builds bytes. Requests are what a probe sends; the rest are answers the
// simulator sends. A new function fails TestIndustrialEncodersAreReadOnly
// until it is listed here, i.e. until someone has checked that it cannot
// write or control a device.
// Readers return bytes they read from a peer.
var encoders = map[string]struct{ requests, answers, readers []string }{
	"wire/enip":    {[]string{"ListIdentity"}, []string{"Reply"}, []string{"Read"}},
	"wire/bacnet":  {[]string{"ReadProperty"}, []string{"ACK", "ErrorPDU", "ObjectIDACK"}, nil},
	"wire/s7":      {[]string{"ConnectRequest", "ReadSZL", "SetupCommunication"}, []string{"ComponentRecord", "ConnectConfirm", "ModuleRecord", "SZLAnswer", "SetupAck"}, []string{"ReadFrame"}},
	"wire/dnp3":    {[]string{"RequestLinkStatus"}, []string{"LinkStatus"}, nil},
	"probe/modbus": {[]string{"Request"}, []string{"Response"}, nil},
}

// exportedByteFuncs returns the exported functions of the package in dir
// (non-test files) whose results include a []byte.
func exportedByteFuncs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() || fn.Type.Results == nil {
				continue
			}
			for _, r := range fn.Type.Results.List {
				if at, ok := r.Type.(*ast.ArrayType); ok && at.Len == nil {
					if id, ok := at.Elt.(*ast.Ident); ok && id.Name == "byte" {
						name := fn.Name.Name
						if fn.Recv != nil {
							name = "(method) " + name
						}
						out = append(out, name)
						break
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestIndustrialEncodersAreReadOnly is the README's industrial-safety
// promise: the BACnet, S7, DNP3, EtherNet/IP and Modbus codecs expose only
// the encoders listed above, and every request encoder, for every argument,
// produces an identification or read request — never a write or control
// function code.
func TestIndustrialEncodersAreReadOnly(t *testing.T) {
	for pkg, want := range encoders {
		dir := strings.TrimPrefix(pkg, "wire/")
		if strings.HasPrefix(pkg, "probe/") {
			dir = filepath.Join("..", pkg)
		}
		got := exportedByteFuncs(t, dir)
		all := slices.Sorted(slices.Values(slices.Concat(want.requests, want.answers, want.readers)))
		if !slices.Equal(got, all) {
			t.Errorf("%s exports byte encoders %v, reviewed %v", pkg, got, all)
		}
	}

	// EtherNet/IP: the encapsulation command is ListIdentity, with no data.
	for _, ctx := range []uint64{0, 1, 1 << 63, ^uint64(0)} {
		b := enip.ListIdentity(ctx)
		if cmd := binary.LittleEndian.Uint16(b); cmd != enip.CmdListIdentity || len(b) != enip.HeaderLen {
			t.Errorf("ListIdentity(%d): command %#x, %d bytes", ctx, cmd, len(b))
		}
	}
	// BACnet: a confirmed ReadProperty (service 12) of the device object,
	// whatever the invoke id and property.
	for inv := range 256 {
		for prop := range 256 {
			r, err := bacnet.ParseRequest(bacnet.ReadProperty(byte(inv), bacnet.Property(prop)))
			if err != nil || r.Property != bacnet.Property(prop) {
				t.Fatalf("ReadProperty(%d, %d): %+v %v", inv, prop, r, err)
			}
			b := bacnet.ReadProperty(byte(inv), bacnet.Property(prop))
			if apdu := b[6:]; apdu[0]&0xf0 != 0 || apdu[3] != bacnet.ServiceReadProperty {
				t.Fatalf("ReadProperty(%d, %d): APDU % x", inv, prop, apdu)
			}
		}
	}
	// S7: connect, setup, or read SZL of the identification lists only.
	for slot := range 256 {
		if r, err := s7.ParseRequest(s7.ConnectRequest(byte(slot))[4:]); err != nil || !r.Connect {
			t.Fatalf("ConnectRequest(%d): %+v %v", slot, r, err)
		}
	}
	if r, err := s7.ParseRequest(s7.SetupCommunication()[4:]); err != nil || !r.Setup {
		t.Fatalf("SetupCommunication: %+v %v", r, err)
	}
	for id := range 1 << 16 {
		b := s7.ReadSZL(uint16(id), uint16(id))
		r, err := s7.ParseRequest(b[4:])
		if err != nil || (r.SZL != s7.SZLModuleID && r.SZL != s7.SZLComponentID) {
			t.Fatalf("ReadSZL(%#x): %+v %v", id, r, err)
		}
		// userdata, CPU function group 4, subfunction 1 (read SZL)
		if pdu := b[7:]; pdu[1] != 0x07 || pdu[15]&0x0f != 4 || pdu[16] != 1 {
			t.Fatalf("ReadSZL(%#x): PDU % x", id, pdu)
		}
	}
	// DNP3: link function 9 (request link status), header only: no
	// application layer can follow.
	for _, a := range []uint16{0, 1, 10, 0xfffd, 0xffff} {
		for _, m := range []uint16{0, 3, 0xffff} {
			b := dnp3.RequestLinkStatus(a, m)
			f, err := dnp3.ParseHeader(b)
			if err != nil || f.Function() != 9 || len(b) != dnp3.HeaderLen || b[2] != 5 {
				t.Fatalf("RequestLinkStatus(%d, %d): % x %v", a, m, b, err)
			}
		}
	}
	// Modbus: function 43/14 (read device identification) only.
	for unit := range 256 {
		b := modbus.Request(uint16(unit), byte(unit))
		if b[7] != 0x2b || b[8] != 0x0e || len(b) != 11 {
			t.Fatalf("Request(%d): % x", unit, b)
		}
	}
}
