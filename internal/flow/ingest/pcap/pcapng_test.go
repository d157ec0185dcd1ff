package pcap

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow/synth"
)

// TestPCAPNG converts a generated pcap to pcapng and checks both read the same.
func TestPCAPNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	var classic bytes.Buffer
	if err := synth.WritePCAP(&classic, synth.Normal(rng, synth.Addr("192.168.9.9"))); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(bytes.NewReader(classic.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		ci.InterfaceIndex = 0
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: len(data), Length: len(data)}, data); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	a, b := &synth.Collect{}, &synth.Collect{}
	sa, err := Read(context.Background(), bytes.NewReader(classic.Bytes()), a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Read(context.Background(), bytes.NewReader(ng.Bytes()), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Packets != sb.Packets || len(a.Records) != len(b.Records) || len(a.Answers) != len(b.Answers) || sb.Packets == 0 {
		t.Errorf("pcap %+v (%d flows) vs pcapng %+v (%d flows)", sa, len(a.Records), sb, len(b.Records))
	}
}
