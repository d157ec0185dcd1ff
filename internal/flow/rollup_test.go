package flow

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestAggregator checks sums for IPv4 (packed keys) and IPv6 (full keys),
// relation pointers across chunk growth and the relation bound.
func TestAggregator(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		dev, peer  string
		max        int
		peers      int // distinct peers, each sent twice
		wantRels   int
		wantUntrk  int64
		wantHourly int
	}{
		{"ipv4", "10.0.0.1", "192.0.2.%d", 0, relChunk + 10, relChunk + 10, 0, 1},
		{"ipv6", "fd00::1", "2001:db8::%x", 0, 300, 300, 0, 1},
		{"bounded", "10.0.0.1", "192.0.2.%d", 100, 250, 100, 2 * 150, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(nil, tc.max)
			first := map[netip.Addr]*Relation{}
			for pass := 0; pass < 2; pass++ {
				for i := 0; i < tc.peers; i++ {
					s := fmt.Sprintf(tc.peer, i)
					if tc.peer == "192.0.2.%d" {
						s = fmt.Sprintf("192.%d.%d.%d", i>>16&255, i>>8&255, i&255)
					}
					peer := netip.MustParseAddr(s)
					r := &Record{Start: t0.Add(time.Duration(pass) * time.Second), Proto: ProtoUDP, Packets: 2, Bytes: 100}
					rel := a.Add(r, Orientation{Device: netip.MustParseAddr(tc.dev), Peer: peer, Port: 53, Outbound: true})
					if pass == 0 {
						first[peer] = rel
					} else if rel != first[peer] {
						t.Fatalf("peer %s: relation pointer changed", peer)
					}
				}
			}
			ru := a.Rollups()
			if len(ru.Relations) != tc.wantRels || ru.Untracked != tc.wantUntrk || len(ru.Hourly) != tc.wantHourly {
				t.Fatalf("relations %d untracked %d hourly %d, want %d %d %d", len(ru.Relations), ru.Untracked, len(ru.Hourly), tc.wantRels, tc.wantUntrk, tc.wantHourly)
			}
			for _, rel := range ru.Relations {
				if rel.Flows != 2 || rel.Packets != 4 || rel.Bytes != 200 || rel.Last-rel.First != int64(time.Second) {
					t.Fatalf("relation %+v: wrong sums", rel)
				}
			}
			if tk := a.take(); !reflect.DeepEqual(tk, ru) {
				t.Fatal("take differs from Rollups")
			}
			if after := a.Rollups(); len(after.Hourly)+len(after.Relations) != 0 {
				t.Fatal("aggregator not empty after take")
			}
			h := ru.Hourly[0]
			if h.Flows != uint64(2*tc.peers) || h.Bytes != uint64(200*tc.peers) || !h.HourTime().Equal(t0.Truncate(time.Hour)) {
				t.Fatalf("hourly %+v", h)
			}
		})
	}
}
