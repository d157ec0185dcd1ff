package synth

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBeaconMissing: every tenth beat's connection is left out whole, the
// others are Beacon's packets unchanged, on any port.
func TestBeaconMissing(t *testing.T) {
	dev, c2 := Addr("192.168.1.11"), Addr("203.0.113.66")
	for _, port := range []uint16{443, 80, 8443} {
		all := Beacon(rand.New(rand.NewPCG(5, 5)), dev, c2, port, time.Minute, 0.3, 30)
		got := BeaconMissing(rand.New(rand.NewPCG(5, 5)), dev, c2, port, time.Minute, 0.3, 30)
		beats := map[uint16]bool{}
		for _, pk := range got {
			sp := pk.SrcPort
			if pk.Src == c2 {
				sp = pk.DstPort
			}
			beats[sp] = true
		}
		if len(beats) != 27 {
			t.Errorf("port %d: %d beats kept of 30, want 27", port, len(beats))
		}
		for _, missed := range []uint16{40000, 40010, 40020} {
			if beats[missed] {
				t.Errorf("port %d: beat of source port %d kept", port, missed)
			}
		}
		want := slices.DeleteFunc(all, func(pk Packet) bool {
			return pk.SrcPort == 40000 || pk.SrcPort == 40010 || pk.SrcPort == 40020 ||
				pk.DstPort == 40000 || pk.DstPort == 40010 || pk.DstPort == 40020
		})
		if len(got) == 0 || !slices.EqualFunc(got, want, func(a, b Packet) bool {
			return a.Time.Equal(b.Time) && a.Src == b.Src && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort && a.Flags == b.Flags
		}) {
			t.Errorf("port %d: %d packets, want Beacon's %d without the missed beats", port, len(got), len(want))
		}
	}
}
