package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// storesFor returns, per backend, a function opening a new store: SQLite,
// and PostgreSQL when IOTWATCH_TEST_PG names a server.
func storesFor(t *testing.T) map[string]func() *store.Store { return backends.Openers(t) }

type totals struct{ flows, packets, bytes, alerts int64 }

func storedTotals(t *testing.T, st *store.Store) totals {
	t.Helper()
	var s totals
	err := st.DB().QueryRowContext(context.Background(),
		`SELECT COALESCE(SUM(flows),0), COALESCE(SUM(packets),0), COALESCE(SUM(bytes),0) FROM flow_devices`).Scan(&s.flows, &s.packets, &s.bytes)
	if err == nil {
		err = st.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM flow_alerts`).Scan(&s.alerts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pcapPrefix returns the first n records of a classic pcap capture.
func pcapPrefix(t *testing.T, b []byte, n int) []byte {
	t.Helper()
	off := 24
	for range n {
		if off+16 > len(b) {
			t.Fatalf("capture has fewer than %d records", n)
		}
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return b[:off]
}

// linePrefix returns the lines of b up to about half of it.
func linePrefix(b []byte) []byte {
	i := bytes.IndexByte(b[len(b)/2:], '\n')
	return b[:len(b)/2+i+1]
}

func nfdumpCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("ts,te,td,sa,da,sp,dp,pr,flg,ipkt,ibyt\n")
	for i := range n {
		fmt.Fprintf(&b, "2026-03-01 10:%02d:%02d,2026-03-01 10:%02d:%02d,0.500,10.9.0.%d,198.51.100.%d,%d,443,TCP,.AP.SF,%d,%d\n",
			i/60%60, i%60, i/60%60, i%60, i%7+2, i%13+1, 40000+i, 3+i%5, 400+i)
	}
	return b.Bytes()
}

// TestReingest: the same capture ingested twice is counted once (and so is a
// copy under another name); a capture that grew is read from where the last
// ingest stopped, and the totals equal one ingest of the whole file.
func TestReingest(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Skip(err)
		}
		return b
	}
	type tc struct {
		name        string
		kind        Kind
		whole, head []byte
		sameFlows   bool  // pcap assembly splits flows spanning the cut
		readBefore  int64 // bytes the first ingest recorded (0: all of head)
	}
	ssh := read(filepath.Join(data, "ssh-bruteforce.pcap"))
	nf := read(filepath.Join(data, "netflow/nfv9-cisco-asr9k.pcap"))
	zk := read(filepath.Join(data, "zeek/normal-mixed-ctu-normal-40-day1.conn.log.labeled"))
	csv := nfdumpCSV(400)
	cases := []tc{
		{"pcap", PCAP, ssh, pcapPrefix(t, ssh, 700), false, 0},
		// Cut mid-record, as a capture still being written is: read on from the last complete record.
		{"pcap cut mid-record", PCAP, ssh, ssh[:len(pcapPrefix(t, ssh, 700))+40], false, int64(len(pcapPrefix(t, ssh, 700)))},
		{"netflow-pcap", NetflowPCAP, nf, pcapPrefix(t, nf, 5), true, 0},
		{"zeek", Zeek, zk, linePrefix(zk), true, 0},
		{"nfdump-csv", NfdumpCSV, csv, linePrefix(csv), true, 0},
		// A line still being written is left for the next ingest.
		{"nfdump-csv cut mid-line", NfdumpCSV, csv, csv[:len(linePrefix(csv))+7], true, int64(len(linePrefix(csv)))},
	}
	ctx := context.Background()
	for sname, open := range storesFor(t) {
		for _, c := range cases {
			t.Run(sname+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				p := filepath.Join(dir, "input")
				os.WriteFile(p, c.whole, 0o644)
				ref := open()
				first, err := Run(ctx, ref, Source{c.kind, p}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				want := storedTotals(t, ref)
				if want.flows == 0 || first.Counts["inputs_skipped"] != 0 {
					t.Fatalf("first ingest stored %+v, counts %v", want, first.Counts)
				}
				// The same file again, and a copy under another name: skipped.
				cp := filepath.Join(dir, "copy")
				os.WriteFile(cp, c.whole, 0o644)
				for _, q := range []string{p, cp} {
					sum, err := Run(ctx, ref, Source{c.kind, q}, Options{})
					if err != nil {
						t.Fatal(err)
					}
					if sum.Counts["inputs_skipped"] != 1 || sum.Counts[flow.CountRecords] != 0 {
						t.Errorf("again %s: counts %v, want inputs_skipped 1 and no records", filepath.Base(q), sum.Counts)
					}
				}
				if got := storedTotals(t, ref); got != want {
					t.Errorf("after ingesting the same capture again: %+v, want %+v", got, want)
				}

				// A file that grew: head first, then the whole.
				st := open()
				os.WriteFile(p, c.head, 0o644)
				if _, err := Run(ctx, st, Source{c.kind, p}, Options{}); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(p, c.whole, 0o644)
				sum, err := Run(ctx, st, Source{c.kind, p}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				before := c.readBefore
				if before == 0 {
					before = int64(len(c.head))
				}
				if sum.Counts["inputs_appended"] != 1 || sum.Counts["bytes_skipped"] != before {
					t.Errorf("grown: counts %v, want inputs_appended 1, bytes_skipped %d", sum.Counts, before)
				}
				got := storedTotals(t, st)
				if got.packets != want.packets || got.bytes != want.bytes || (c.sameFlows && got.flows != want.flows) {
					t.Errorf("head + appended part: %+v, want %+v as from one ingest of the whole", got, want)
				}
				if sum, err := Run(ctx, st, Source{c.kind, p}, Options{}); err != nil || sum.Counts["inputs_skipped"] != 1 {
					t.Errorf("grown file again: %v, counts %v, want it skipped", err, sum.Counts)
				}
			})
		}
	}
}

// TestReingestContinue: a capture that grows by the three parts of a beacon,
// ingested after each with --continue, raises the beacon once; ingesting the
// finished capture again changes nothing, neither alerts nor carried state.
func TestReingestContinue(t *testing.T) {
	dir := t.TempDir()
	files, dev, c2 := splitBeacon(t, dir)
	var grown []byte
	p := filepath.Join(dir, "growing.pcap")
	st := openStore(t)
	ctx := context.Background()
	beacons := 0
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b = b[24:] // the same global header
		}
		grown = append(grown, b...)
		os.WriteFile(p, grown, 0o644)
		sum, err := Run(ctx, st, Source{PCAP, p}, Options{Continue: "edge-2"})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && sum.Counts["inputs_appended"] != 1 {
			t.Errorf("part %d: counts %v, want inputs_appended", i, sum.Counts)
		}
		for _, a := range sum.Alerts {
			if a.Detector == "c2-beaconing" && a.Device == dev && a.Peer == c2 {
				beacons++
			}
		}
	}
	if beacons != 1 {
		t.Errorf("beacon alerts over the growing capture = %d, want 1", beacons)
	}
	before := storedTotals(t, st)
	state, _, _ := flow.LoadState(ctx, st, "edge-2")
	sum, err := Run(ctx, st, Source{PCAP, p}, Options{Continue: "edge-2"})
	if err != nil || sum.Counts["inputs_skipped"] != 1 || len(sum.Alerts) != 0 {
		t.Fatalf("finished capture again: %v, counts %v, %d alerts", err, sum.Counts, len(sum.Alerts))
	}
	if got := storedTotals(t, st); got != before {
		t.Errorf("totals after the skipped ingest %+v, want %+v", got, before)
	}
	if after, _, _ := flow.LoadState(ctx, st, "edge-2"); !bytes.Equal(after, state) {
		t.Error("carried state changed by an ingest that read nothing")
	}
}

// TestUnterminatedLastLine: a log changed a minute ago or more is read to its
// end even without a final newline; a fresh one keeps its unterminated line
// for the next ingest.
func TestUnterminatedLastLine(t *testing.T) {
	csv := bytes.TrimSuffix(nfdumpCSV(10), []byte("\n"))
	for _, tc := range []struct {
		name    string
		age     time.Duration
		records int64
	}{{"old file", 2 * time.Hour, 10}, {"being written", 0, 9}} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "flows.csv")
			os.WriteFile(p, csv, 0o644)
			mt := time.Now().Add(-tc.age)
			os.Chtimes(p, mt, mt)
			sum, err := Run(context.Background(), openStore(t), Source{NfdumpCSV, p}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Counts[flow.CountRecords] != tc.records {
				t.Errorf("records %d, want %d", sum.Counts[flow.CountRecords], tc.records)
			}
		})
	}
}

// TestInterruptedThenRerun: an ingest interrupted midway stores nothing from
// its files and says so; the re-run counts every record once (before, the
// interrupted run's partial roll-ups and alerts stayed and the re-run added
// the whole file again).
func TestInterruptedThenRerun(t *testing.T) {
	csv := nfdumpCSV(20000)
	for sname, open := range storesFor(t) {
		t.Run(sname, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "in.csv")
			os.WriteFile(p, csv, 0o644)
			ref := open()
			if _, err := Run(context.Background(), ref, Source{NfdumpCSV, p}, Options{}); err != nil {
				t.Fatal(err)
			}
			want := storedTotals(t, ref)

			st := open()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sum, err := Run(ctx, st, Source{NfdumpCSV, p}, Options{Progress: func(read, total int64) {
				if read > 0 && read < total {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted ingest: err %v, want context.Canceled", err)
			}
			if sum == nil || sum.Status != model.RunInterrupted {
				t.Fatalf("interrupted ingest: summary %+v, want an interrupted run", sum)
			}
			if sum.Counts["records"] == 0 {
				t.Fatalf("interrupted before any record was read (%v); the test would prove nothing", sum.Counts)
			}
			if got := storedTotals(t, st); got != (totals{}) {
				t.Fatalf("interrupted ingest stored %+v, want nothing", got)
			}
			if _, err := Run(context.Background(), st, Source{NfdumpCSV, p}, Options{}); err != nil {
				t.Fatal(err)
			}
			if got := storedTotals(t, st); got != want {
				t.Errorf("interrupted then re-run: %+v, one ingest: %+v", got, want)
			}
		})
	}
}
