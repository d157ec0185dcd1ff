package nfdump

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

const fixture = "../../../../../shared/data/flows/test1-malicious.nfdump"

// nfdumpCSV runs the real nfdump on the fixture.
func nfdumpCSV(t testing.TB) []byte {
	t.Helper()
	bin, err := exec.LookPath("nfdump")
	if err != nil {
		if os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" {
			t.Fatal("nfdump not installed")
		}
		t.Skip("nfdump not installed")
	}
	if _, err := os.Stat(fixture); err != nil {
		t.Skipf("fixture: %v", err)
	}
	cmd := exec.Command(bin, "-r", fixture, "-o", "csv")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nfdump: %v", err)
	}
	return out
}

// TestRealNfdump checks records and totals against nfdump's own summary.
func TestRealNfdump(t *testing.T) {
	out := nfdumpCSV(t)
	c := &synth.Collect{}
	st, err := Read(context.Background(), bytes.NewReader(out), c)
	if err != nil {
		t.Fatal(err)
	}
	var pk, by uint64
	tcp := 0
	for _, r := range c.Records {
		pk += r.Packets
		by += r.Bytes
		if r.Proto == flow.ProtoTCP {
			tcp++
		}
	}
	// nfdump's summary for this file: flows 4593, bytes 241025, packets 4652.
	if st.Records != 4593 || pk != 4652 || by != 241025 || tcp != 4576 || st.Malformed != 0 {
		t.Errorf("records %d packets %d bytes %d tcp %d malformed %d; want 4593 4652 241025 4576 0", st.Records, pk, by, tcp, st.Malformed)
	}
	r := c.Records[0]
	want := time.Date(2018, 1, 12, 15, 37, 30, 0, time.UTC)
	if !r.Start.Equal(want) || r.Src != synth.Addr("147.32.80.119") || r.DstPort != 902 || r.TCPFlags != 0x02 {
		t.Errorf("first record %+v", r)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Read(context.Background(), strings.NewReader("a,b,c\n1,2,3\n"), &synth.Collect{}); !errors.Is(err, ErrFormat) {
		t.Errorf("err = %v, want ErrFormat", err)
	}
	in := "ts,te,td,sa,da,sp,dp,pr,flg,ipkt,ibyt\n" +
		"2018-01-12 15:37:30,2018-01-12 15:37:30,0.000,10.0.0.1,10.0.0.2,1,23,TCP,......S.,1,60\n" +
		"bad time,x,0,10.0.0.1,10.0.0.2,1,23,TCP,......S.,1,60\n" +
		"2018-01-12 15:37:30,x,0,10.0.0.1,10.0.0.2,70000,23,TCP,......S.,1,60\n" +
		"2018-01-12 15:37:30,x,0,10.0.0.1\n"
	c := &synth.Collect{}
	st, err := Read(context.Background(), strings.NewReader(in), c)
	if err != nil || st.Records != 1 || st.Malformed != 3 {
		t.Errorf("stats %+v err %v, want 1 record 3 malformed", st, err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("ts,te,td,sa,da,sp,dp,pr,flg,ipkt,ibyt\n2018-01-12 15:37:30,2018-01-12 15:37:30,0.000,10.0.0.1,10.0.0.2,1,23,TCP,......S.,1,60\nSummary\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &synth.Collect{}
		st, _ := Read(context.Background(), bytes.NewReader(data), c)
		if int64(len(c.Records)) != st.Records {
			t.Fatalf("records %d != stats %d", len(c.Records), st.Records)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	out := nfdumpCSV(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := Read(context.Background(), bytes.NewReader(out), &synth.Collect{}); err != nil {
			b.Fatal(err)
		}
	}
}
