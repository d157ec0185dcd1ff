// Package zeek reads Zeek conn.log, dns.log and ssh.log files, in Zeek's TSV
// format (with #fields header) or as JSON lines, into flow records and DNS
// answers. conn.log rows become bidirectional records; ssh.log rows become
// SSH records carrying the number of authentication attempts; dns.log answers
// map names to addresses.
package zeek

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/flow"
)

// Stats counts what a log held.
type Stats struct {
	Lines     int64 `json:"lines"`
	Conn      int64 `json:"conn"`
	SSH       int64 `json:"ssh"`
	DNS       int64 `json:"dns_answers"`
	Skipped   int64 `json:"skipped"`   // rows of other log types
	Malformed int64 `json:"malformed"` // rows that did not parse
}

// ErrFormat reports input that is no Zeek log.
var ErrFormat = errors.New("not a Zeek TSV or JSON log")

// maxLine bounds one log line.
const maxLine = 1 << 20

// entry is the union of the fields we read from the three logs.
type entry struct {
	TS       float64 `json:"ts"`
	OrigH    string  `json:"id.orig_h"`
	OrigP    uint16  `json:"id.orig_p"`
	RespH    string  `json:"id.resp_h"`
	RespP    uint16  `json:"id.resp_p"`
	Proto    string  `json:"proto"`
	Service  string  `json:"service"`
	Duration float64 `json:"duration"`
	OrigPkts uint64  `json:"orig_pkts"`
	OrigIPB  uint64  `json:"orig_ip_bytes"`
	RespPkts uint64  `json:"resp_pkts"`
	RespIPB  uint64  `json:"resp_ip_bytes"`
	// conn.log marker
	ConnState *string `json:"conn_state"`
	// dns.log
	Query   *string  `json:"query"`
	Answers []string `json:"answers"`
	// ssh.log
	AuthAttempts *uint32 `json:"auth_attempts"`
	AuthSuccess  *bool   `json:"auth_success"`
	Server       *string `json:"server"`
	Client       *string `json:"client"`
	Path         string  `json:"_path"`
}

// Read parses a Zeek log from r into sink.
func Read(ctx context.Context, r io.Reader, sink flow.Sink) (Stats, error) {
	var st Stats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var tsv *tsvHeader
	sawData := false
	for sc.Scan() {
		st.Lines++
		if st.Lines%4096 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '#' {
			if tsv == nil {
				tsv = &tsvHeader{sep: "\t", setSep: ",", unset: "-", empty: "(empty)"}
			}
			if err := tsv.directive(string(line)); err != nil {
				return st, err
			}
			continue
		}
		var e entry
		var err error
		switch {
		case line[0] == '{':
			err = json.Unmarshal(line, &e)
		case tsv != nil && len(tsv.fields) > 0:
			err = tsv.parse(string(line), &e)
		default:
			if !sawData {
				return st, fmt.Errorf("zeek log line %d: %w", st.Lines, ErrFormat)
			}
			err = ErrFormat
		}
		sawData = true
		if err != nil {
			st.Malformed++
			continue
		}
		if tsv != nil && tsv.path != "" && e.Path == "" {
			e.Path = tsv.path
		}
		emit(&e, sink, &st)
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("read zeek log: %w", err)
	}
	return st, nil
}

func kind(e *entry) string {
	switch {
	case e.Path != "":
		return e.Path
	case e.Query != nil:
		return "dns"
	case e.AuthAttempts != nil || e.Server != nil || e.Client != nil:
		return "ssh"
	case e.ConnState != nil || e.Proto != "":
		return "conn"
	}
	return ""
}

func emit(e *entry, sink flow.Sink, st *Stats) {
	t := tsTime(e.TS)
	if t.IsZero() {
		st.Malformed++
		return
	}
	switch kind(e) {
	case "conn":
		src, err1 := netip.ParseAddr(e.OrigH)
		dst, err2 := netip.ParseAddr(e.RespH)
		if err1 != nil || err2 != nil {
			st.Malformed++
			return
		}
		r := flow.Record{Start: t, Src: src.Unmap(), Dst: dst.Unmap(), SrcPort: e.OrigP, DstPort: e.RespP,
			Proto: protoNum(e.Proto), Packets: e.OrigPkts, Bytes: e.OrigIPB, RevPackets: e.RespPkts, RevBytes: e.RespIPB,
			App: firstService(e.Service), SamplingRate: 1}
		if e.Duration > 0 && e.Duration < 1e9 {
			r.End = t.Add(time.Duration(e.Duration * float64(time.Second)))
		}
		st.Conn++
		sink.Flow(r)
	case "ssh":
		src, err1 := netip.ParseAddr(e.OrigH)
		dst, err2 := netip.ParseAddr(e.RespH)
		if err1 != nil || err2 != nil {
			st.Malformed++
			return
		}
		r := flow.Record{Start: t, Src: src.Unmap(), Dst: dst.Unmap(), SrcPort: e.OrigP, DstPort: e.RespP,
			Proto: flow.ProtoTCP, App: flow.AppSSH, SamplingRate: 1}
		if e.AuthAttempts != nil {
			r.Attempts = *e.AuthAttempts
		}
		st.SSH++
		sink.Flow(r)
	case "dns":
		if e.Query == nil || *e.Query == "" {
			return
		}
		name := strings.ToLower(strings.TrimSuffix(*e.Query, "."))
		for _, a := range e.Answers {
			ad, err := netip.ParseAddr(a)
			if err != nil {
				continue // CNAMEs, TXT, …
			}
			st.DNS++
			sink.DNS(flow.DNSAnswer{Time: t, Name: name, Addr: ad.Unmap()})
		}
	default:
		st.Skipped++
	}
}

func firstService(s string) string {
	s, _, _ = strings.Cut(s, ",")
	if s == "-" {
		return ""
	}
	return s
}

func protoNum(p string) uint8 {
	switch p {
	case "tcp":
		return flow.ProtoTCP
	case "udp":
		return flow.ProtoUDP
	case "icmp":
		return flow.ProtoICMP
	}
	return 0
}

func tsTime(ts float64) time.Time {
	if ts <= 0 || math.IsNaN(ts) || ts > 1e11 {
		return time.Time{}
	}
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// tsvHeader is the state of Zeek's #directives.
type tsvHeader struct {
	sep, setSep, unset, empty, path string
	fields                          []string
}

func (h *tsvHeader) directive(line string) error {
	if v, ok := strings.CutPrefix(line, "#separator "); ok {
		s, err := strconv.Unquote(`"` + strings.TrimSpace(v) + `"`)
		if err != nil || s == "" {
			return fmt.Errorf("zeek #separator %q: %w", v, ErrFormat)
		}
		h.sep = s
		return nil
	}
	name, val, _ := strings.Cut(line[1:], h.sep)
	switch name {
	case "set_separator":
		h.setSep = val
	case "unset_field":
		h.unset = val
	case "empty_field":
		h.empty = val
	case "path":
		h.path = val
	case "fields":
		h.fields = strings.Split(val, h.sep)
	}
	return nil
}

func (h *tsvHeader) parse(line string, e *entry) error {
	vals := strings.Split(line, h.sep)
	if len(vals) != len(h.fields) {
		return fmt.Errorf("%d values for %d fields", len(vals), len(h.fields))
	}
	for i, f := range h.fields {
		v := vals[i]
		if v == h.unset {
			continue
		}
		var err error
		switch f {
		case "ts":
			e.TS, err = strconv.ParseFloat(v, 64)
		case "id.orig_h":
			e.OrigH = v
		case "id.resp_h":
			e.RespH = v
		case "id.orig_p":
			e.OrigP, err = port(v)
		case "id.resp_p":
			e.RespP, err = port(v)
		case "proto":
			e.Proto = v
		case "service":
			e.Service = v
		case "duration":
			e.Duration, err = strconv.ParseFloat(v, 64)
		case "orig_pkts":
			e.OrigPkts, err = strconv.ParseUint(v, 10, 64)
		case "orig_ip_bytes":
			e.OrigIPB, err = strconv.ParseUint(v, 10, 64)
		case "resp_pkts":
			e.RespPkts, err = strconv.ParseUint(v, 10, 64)
		case "resp_ip_bytes":
			e.RespIPB, err = strconv.ParseUint(v, 10, 64)
		case "conn_state":
			e.ConnState = &v
		case "query":
			e.Query = &v
		case "answers":
			if v != h.empty {
				e.Answers = strings.Split(v, h.setSep)
			}
		case "auth_attempts":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			a := uint32(n)
			e.AuthAttempts = &a
		case "auth_success":
			b := v == "T"
			e.AuthSuccess = &b
		case "server":
			e.Server = &v
		case "client":
			e.Client = &v
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", f, err)
		}
	}
	return nil
}

func port(v string) (uint16, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	return uint16(n), err
}
