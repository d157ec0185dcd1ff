package netflow

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// decodeBoth decodes the datagrams with the v9 fast path and with goflow2's
// general path and returns both decoders' records.
func decodeBoth(t testing.TB, dgs []datagram) (fast, general *collect, fd *Decoder) {
	t.Helper()
	fd, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := NewDecoder()
	gd.general = true
	fast, general = &collect{}, &collect{}
	for _, d := range dgs {
		nf, errF := fd.Decode(d.payload, d.from, d.ts, fast)
		ng, errG := gd.Decode(d.payload, d.from, d.ts, general)
		if nf != ng || (errF == nil) != (errG == nil) {
			t.Fatalf("fast path %d records (err %v), general %d (err %v)", nf, errF, ng, errG)
		}
	}
	return fast, general, fd
}

func TestFastV9MatchesGoflow2(t *testing.T) {
	for _, name := range []string{"nfv9-cisco-asr9k", "nfv9-cisco-sampling"} {
		t.Run(name, func(t *testing.T) {
			dgs := datagrams(t, filepath.Join(fixtures, name+".pcap"))
			fast, general, _ := decodeBoth(t, dgs)
			if len(general.recs) == 0 {
				t.Fatal("fixture decoded no records")
			}
			if !reflect.DeepEqual(fast.recs, general.recs) {
				t.Fatalf("fast path records differ from goflow2's (%d vs %d)", len(fast.recs), len(general.recs))
			}
		})
	}
}

func TestFastV9Truncated(t *testing.T) {
	dgs := datagrams(t, filepath.Join(fixtures, "nfv9-cisco-asr9k.pcap"))
	var cut []datagram
	for _, d := range dgs {
		cut = append(cut, d)
		for _, n := range []int{len(d.payload) - 1, len(d.payload) - 7, 22, 21} {
			if n > 0 && n < len(d.payload) {
				cut = append(cut, datagram{d.from, d.ts, d.payload[:n]})
			}
		}
	}
	fast, general, _ := decodeBoth(t, cut)
	if !reflect.DeepEqual(fast.recs, general.recs) {
		t.Fatalf("truncated datagrams: fast path records differ from goflow2's (%d vs %d)", len(fast.recs), len(general.recs))
	}
}

func FuzzFastV9(f *testing.F) {
	dgs := datagrams(f, filepath.Join(fixtures, "nfv9-cisco-asr9k.pcap"))
	for i, d := range dgs {
		if i < 6 {
			f.Add(d.payload)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		from := netip.MustParseAddrPort("127.0.0.1:2055")
		in := append(append([]datagram{}, dgs...), datagram{from, time.Unix(0, 0), data})
		for i := range dgs {
			in[i].from = from
		}
		fast, general, _ := decodeBoth(t, in)
		if !reflect.DeepEqual(fast.recs, general.recs) {
			t.Fatalf("fast path records differ from goflow2's (%d vs %d)", len(fast.recs), len(general.recs))
		}
	})
}
