package flow

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPackSlots packs rows of 100 spilled relations each, as Save
// does for bench/flows/pcapgen's devices (random peers, one packet each).
func BenchmarkPackSlots(b *testing.B) {
	rng := rand.New(rand.NewPCG(31, 32))
	const devs, per = 64, 100
	slots := make([]relSlot, devs*per)
	t0 := int64(1795168800) * 1e9
	for i := range slots {
		s := &slots[i]
		s.key = relKey4{dev: 0x0a000000 + uint32(i/per), peer: rng.Uint32(), port: []uint16{443, 80, 8883, 123}[rng.IntN(4)], proto: 6, out: true}
		s.flows, s.packets, s.bytes = 1, 1, 40
		s.first = t0 + int64(rng.IntN(3600e6))*1e3
		s.last = s.first
		s.attr = uint32(rng.IntN(50))
	}
	for d := range devs {
		sortSlots(slots[d*per:(d+1)*per], nil)
	}
	p := newRowPacker(nil)
	b.ReportAllocs()
	for b.Loop() {
		for d := range devs {
			p.packWith(nil, nil, slots[d*per:(d+1)*per])
		}
	}
}
