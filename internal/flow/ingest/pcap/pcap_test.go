package pcap

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

const sshPcap = "../../../../../shared/data/flows/ssh-bruteforce.pcap"

func TestSSHBruteForceCapture(t *testing.T) {
	f, err := os.Open(sshPcap)
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer f.Close()
	c := &synth.Collect{}
	st, err := Read(context.Background(), f, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 1178 {
		t.Errorf("packets = %d, want 1178", st.Packets)
	}
	ssh, toVictim := 0, 0
	var pk uint64
	for _, r := range c.Records {
		pk += r.Packets + r.RevPackets
		if r.Dst == synth.Addr("147.32.80.37") && r.DstPort == 902 {
			toVictim++
			if r.App == flow.AppSSH {
				ssh++
			}
		}
	}
	if int64(pk)+st.NonIP+st.Malformed != st.Packets {
		t.Errorf("packets in flows %d + non-IP %d + malformed %d != %d packets", pk, st.NonIP, st.Malformed, st.Packets)
	}
	// nmap ssh-brute with 40 passwords opens dozens of connections.
	if toVictim < 20 || ssh < 20 {
		t.Errorf("connections to 147.32.80.37:902 = %d (ssh %d), want ≥ 20 each", toVictim, ssh)
	}
	t.Logf("%d flows, %d to victim (%d identified as SSH), stats %+v", len(c.Records), toVictim, ssh, st)
}

func TestBidirectionalAndDNS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dev := synth.Addr("192.168.1.50")
	var buf bytes.Buffer
	if err := synth.WritePCAP(&buf, synth.Normal(rng, dev)); err != nil {
		t.Fatal(err)
	}
	c := &synth.Collect{}
	st, err := Read(context.Background(), &buf, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Answers) != 3 || c.Answers[0].Name != "api.vendor.example" || c.Answers[0].Addr != synth.Addr("93.184.216.34") {
		t.Errorf("dns answers = %+v, want 3 starting with api.vendor.example → 93.184.216.34", c.Answers)
	}
	https := 0
	for _, r := range c.Records {
		if r.DstPort == 443 && r.Src == dev && r.Packets == 3 && r.RevPackets == 3 {
			https++
		}
	}
	if https != 40 {
		t.Errorf("bidirectional HTTPS connections = %d, want 40 (3 packets each way); stats %+v", https, st)
	}
}

func TestTruncatedCapture(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	if err := synth.WritePCAP(&buf, synth.Normal(rng, synth.Addr("10.0.0.5"))); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	cut := full[:len(full)*2/3+7]
	c := &synth.Collect{}
	st, err := Read(context.Background(), bytes.NewReader(cut), c, Options{})
	if err != nil {
		t.Fatalf("truncated capture: err %v, want partial result", err)
	}
	if !st.Truncated || len(c.Records) == 0 {
		t.Errorf("truncated=%v records=%d, want truncated with records", st.Truncated, len(c.Records))
	}
}

func TestBadInput(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("hello"), []byte("not a capture file at all, really not")} {
		_, err := Read(context.Background(), bytes.NewReader(in), &synth.Collect{}, Options{})
		if !errors.Is(err, ErrFormat) {
			t.Errorf("Read(%q) err = %v, want ErrFormat", in, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	checkingHints(f)
	rng := rand.New(rand.NewPCG(5, 6))
	var buf bytes.Buffer
	_ = synth.WritePCAP(&buf, synth.Normal(rng, synth.Addr("10.0.0.5"))[:30])
	f.Add(buf.Bytes())
	if b, err := os.ReadFile(sshPcap); err == nil {
		f.Add(b[:4096])
	}
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &synth.Collect{}
		_, _ = Read(context.Background(), bytes.NewReader(data), c, Options{})
	})
}

func BenchmarkRead(b *testing.B) {
	data, err := os.ReadFile(sshPcap)
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := &synth.Collect{}
		if _, err := Read(context.Background(), bytes.NewReader(data), c, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// countingSink is a sink that tells how many records it took.
type countingSink interface {
	flow.Sink
	count() int
}

type countSink struct{ flows int }

func (c *countSink) Flow(flow.Record)   { c.flows++ }
func (c *countSink) DNS(flow.DNSAnswer) {}
func (c *countSink) count() int         { return c.flows }

// batchSink does with each record what flow.Pipeline's producer does but
// look its peer up: it takes the record in place into a batch of 1,024 and
// orients the batch's records when it is full.
type batchSink struct {
	id   *flow.Identity
	recs []flow.Record
	ors  []flow.Orientation
	n    int
}

func (c *batchSink) Flow(r flow.Record) { *c.Record() = r }
func (c *batchSink) DNS(flow.DNSAnswer) {}
func (c *batchSink) count() int         { c.flush(); return c.n }

func (c *batchSink) Record() *flow.Record {
	if len(c.recs) == cap(c.recs) {
		c.flush()
	}
	c.recs = append(c.recs, flow.Record{})
	return &c.recs[len(c.recs)-1]
}

func (c *batchSink) flush() {
	c.ors = c.ors[:0]
	for i := range c.recs {
		c.ors = append(c.ors, c.id.Orient(&c.recs[i]))
	}
	c.n += len(c.recs)
	c.recs = c.recs[:0]
}

// BenchmarkReadSYNs assembles 200,000 single-packet flows (the flows of
// bench/flows/pcap.sh, at their rate: the open flows are those of a minute);
// ns/op is per capture. Oriented: into batches it orients (batchSink).
func BenchmarkReadSYNs(b *testing.B) {
	var buf bytes.Buffer
	if err := synth.WriteSYNs(&buf, 200000, 10000, 12*time.Minute); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for _, bc := range []struct {
		name string
		sink func() countingSink
	}{
		{"count", func() countingSink { return &countSink{} }},
		{"oriented", func() countingSink {
			return &batchSink{id: flow.NewIdentity(nil), recs: make([]flow.Record, 0, 1024), ors: make([]flow.Orientation, 0, 1024)}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c := bc.sink()
				if _, err := Read(context.Background(), bytes.NewReader(data), c, Options{}); err != nil || c.count() != 200000 {
					b.Fatal(c.count(), err)
				}
			}
		})
	}
}
