package s7

import (
	"bytes"
	"errors"
	"testing"
)

func frame(t *testing.T, b []byte) []byte {
	t.Helper()
	p, err := ReadFrame(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExchange(t *testing.T) {
	if r, err := ParseRequest(frame(t, ConnectRequest(2))); err != nil || !r.Connect {
		t.Fatalf("connect %+v %v", r, err)
	}
	if !IsConnectConfirm(frame(t, ConnectConfirm())) {
		t.Error("connection confirm not recognised")
	}
	if r, err := ParseRequest(frame(t, SetupCommunication())); err != nil || !r.Setup {
		t.Fatalf("setup %+v %v", r, err)
	}
	if !IsSetupAck(frame(t, SetupAck(1))) {
		t.Error("setup ack not recognised")
	}
	for _, id := range []uint16{SZLModuleID, SZLComponentID} {
		if r, err := ParseRequest(frame(t, ReadSZL(5, id))); err != nil || r.SZL != id || r.Ref != 5 {
			t.Fatalf("read SZL %#x: %+v %v", id, r, err)
		}
	}
	var m Module
	szl, err := ParseSZL(frame(t, SZLAnswer(5, SZLModuleID, 28, [][]byte{
		ModuleRecord(1, "6ES7 315-2EH14-0AB0", [6]byte{0, 0xc0, 0, 4, 0, 1}),
		ModuleRecord(7, "", [6]byte{0, 0xc0, 'V', 3, 2, 6}),
	})))
	if err != nil {
		t.Fatal(err)
	}
	m.AddModuleID(szl)
	szl, err = ParseSZL(frame(t, SZLAnswer(6, SZLComponentID, 34, [][]byte{
		ComponentRecord(1, "SIMATIC 300(1)"), ComponentRecord(5, "S C-X4U421302009"), ComponentRecord(7, "CPU 315-2 PN/DP"),
	})))
	if err != nil {
		t.Fatal(err)
	}
	m.AddComponentID(szl)
	want := Module{OrderNumber: "6ES7 315-2EH14-0AB0", Firmware: "V3.2.6", SystemName: "SIMATIC 300(1)",
		SerialNumber: "S C-X4U421302009", ModuleType: "CPU 315-2 PN/DP"}
	if m != want {
		t.Errorf("module %+v\nwant %+v", m, want)
	}
	for name, b := range map[string][]byte{
		"setup ack":  SetupAck(1),
		"connect":    ConnectConfirm(),
		"truncated":  SZLAnswer(5, SZLModuleID, 28, [][]byte{ModuleRecord(1, "x", [6]byte{})})[:40],
		"bad return": append(SZLAnswer(5, SZLModuleID, 28, nil)[:29], 0x0a),
	} {
		p, err := ReadFrame(bytes.NewReader(b))
		if err == nil {
			_, err = ParseSZL(p)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRequestsAreReadOnly checks every request the package encodes: the
// only S7 PDUs are the setup job (function 0xf0) and userdata in the CPU
// function group, subfunction read SZL (4/1) — never a job with read/write
// variable (0x04/0x05), download, PLC control (0x28), or stop (0x29).
func TestRequestsAreReadOnly(t *testing.T) {
	reqs := [][]byte{ConnectRequest(1), ConnectRequest(2), SetupCommunication(),
		ReadSZL(1, SZLModuleID), ReadSZL(1, SZLComponentID), ReadSZL(1, 0x0424), ReadSZL(1, 0xffff)}
	for _, b := range reqs {
		r, err := ParseRequest(frame(t, b))
		if err != nil {
			t.Fatalf("% x: %v", b, err)
		}
		if r.SZL != 0 && r.SZL != SZLModuleID && r.SZL != SZLComponentID {
			t.Errorf("ReadSZL encoded SZL %#x", r.SZL)
		}
		p := frame(t, b)
		if len(p) > 3 && p[1] == cotpDT && p[3+1] == rosctrJob && p[3+10] != funcSetup {
			t.Errorf("job with function %#x", p[3+10])
		}
	}
}

func FuzzParseSZL(f *testing.F) {
	f.Add(SZLAnswer(5, SZLModuleID, 28, [][]byte{ModuleRecord(1, "6ES7 214-1AG40-0XB0", [6]byte{})}))
	f.Add(SZLAnswer(6, SZLComponentID, 34, [][]byte{ComponentRecord(2, "PLC_1")}))
	f.Add(SetupAck(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		szl, err := ParseSZL(p)
		if err != nil {
			if !errors.Is(err, ErrNotS7) {
				t.Fatalf("error %v does not wrap ErrNotS7", err)
			}
			return
		}
		var m Module
		m.AddModuleID(szl)
		m.AddComponentID(szl)
		_, _ = ParseRequest(p)
	})
}
