// Package nfdump reads the CSV that `nfdump -r FILE -o csv` prints (nfdump
// 1.6 and 1.7 column names) into flow records. Columns are found by the
// header, so extra or reordered columns are fine; the trailing "Summary"
// block is ignored.
package nfdump

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/flow"
)

// Stats counts what a CSV held.
type Stats struct {
	Lines     int64 `json:"lines"`
	Records   int64 `json:"records"`
	Malformed int64 `json:"malformed"`
}

// ErrFormat reports input that is no nfdump CSV.
var ErrFormat = errors.New("not nfdump CSV output (header with ts, sa, da, sp, dp, pr, ipkt, ibyt)")

var required = []string{"ts", "sa", "da", "sp", "dp", "pr", "ipkt", "ibyt"}

// Read parses nfdump CSV from r into sink. Times are taken as UTC (run nfdump
// with TZ=UTC).
func Read(ctx context.Context, r io.Reader, sink flow.Sink) (Stats, error) {
	var st Stats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	col := map[string]int{}
	var fields [][]byte
	for sc.Scan() {
		st.Lines++
		if st.Lines%8192 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		line := sc.Bytes()
		if len(col) == 0 {
			for i, h := range strings.Split(strings.TrimSpace(string(line)), ",") {
				col[h] = i
			}
			for _, h := range required {
				if _, ok := col[h]; !ok {
					return st, fmt.Errorf("nfdump csv header: missing %q: %w", h, ErrFormat)
				}
			}
			continue
		}
		if bytes.HasPrefix(line, []byte("Summary")) {
			break
		}
		if len(line) == 0 {
			continue
		}
		fields = split(fields[:0], line)
		r, ok := parse(fields, col)
		if !ok {
			st.Malformed++
			continue
		}
		st.Records++
		sink.Flow(r)
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("read nfdump csv: %w", err)
	}
	if len(col) == 0 {
		return st, ErrFormat
	}
	return st, nil
}

func split(dst [][]byte, line []byte) [][]byte {
	for {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(dst, bytes.TrimSpace(line))
		}
		dst = append(dst, bytes.TrimSpace(line[:i]))
		line = line[i+1:]
	}
}

func get(f [][]byte, col map[string]int, name string) []byte {
	i, ok := col[name]
	if !ok || i >= len(f) {
		return nil
	}
	return f[i]
}

func parse(f [][]byte, col map[string]int) (flow.Record, bool) {
	var r flow.Record
	var ok bool
	if r.Start, ok = parseTime(get(f, col, "ts")); !ok {
		return r, false
	}
	r.End, _ = parseTime(get(f, col, "te"))
	var err error
	if r.Src, err = netip.ParseAddr(string(get(f, col, "sa"))); err != nil {
		return r, false
	}
	if r.Dst, err = netip.ParseAddr(string(get(f, col, "da"))); err != nil {
		return r, false
	}
	r.Src, r.Dst = r.Src.Unmap(), r.Dst.Unmap()
	sp, err1 := atou(get(f, col, "sp"))
	dp, err2 := atou(get(f, col, "dp"))
	pk, err3 := atou(get(f, col, "ipkt"))
	by, err4 := atou(get(f, col, "ibyt"))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || sp > 65535 || dp > 65535 {
		return r, false
	}
	r.SrcPort, r.DstPort, r.Packets, r.Bytes = uint16(sp), uint16(dp), pk, by
	r.RevPackets, _ = atou(get(f, col, "opkt"))
	r.RevBytes, _ = atou(get(f, col, "obyt"))
	r.Proto = proto(get(f, col, "pr"))
	r.TCPFlags = flags(get(f, col, "flg"))
	r.SamplingRate = 1
	return r, true
}

func parseTime(b []byte) (time.Time, bool) {
	s := string(b)
	for _, layout := range []string{"2006-01-02 15:04:05.000", "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func atou(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		// nfdump may scale big counters: "1.2 M".
		if f, ferr := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(string(b), "M"), "G")), 64); ferr == nil && f >= 0 {
			mult := 1.0
			switch {
			case bytes.HasSuffix(b, []byte("M")):
				mult = 1e6
			case bytes.HasSuffix(b, []byte("G")):
				mult = 1e9
			}
			return uint64(f * mult), nil
		}
	}
	return n, err
}

func proto(b []byte) uint8 {
	switch strings.ToUpper(string(b)) {
	case "TCP":
		return flow.ProtoTCP
	case "UDP":
		return flow.ProtoUDP
	case "ICMP":
		return flow.ProtoICMP
	case "ICMP6", "IPV6-ICMP":
		return flow.ProtoICMPv6
	}
	n, _ := strconv.ParseUint(string(b), 10, 8)
	return uint8(n)
}

// flags decodes nfdump's "CEUAPRSF" flag string ("......S.") or a hex value.
func flags(b []byte) uint8 {
	if len(b) == 8 {
		var v uint8
		for i, c := range b {
			if c != '.' {
				v |= 1 << (7 - i)
			}
		}
		return v
	}
	n, _ := strconv.ParseUint(strings.TrimPrefix(string(b), "0x"), 16, 8)
	return uint8(n)
}
