package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/klauspost/compress/gzip"
)

// loadFixtures returns the shared NVD records, compacted.
func loadFixtures(dir string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no NVD fixtures in %s", dir)
	}
	sort.Strings(files)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, c.Bytes())
	}
	return out, nil
}

var (
	reID        = regexp.MustCompile(`"id":"CVE-\d{4}-\d+"`)
	rePublished = regexp.MustCompile(`"published":"\d{4}`)
	reCriteria  = regexp.MustCompile(`"criteria":"cpe:2\.3:([aoh]):([^:"]+):([^:"]+):`)
)

// writeFeed writes an NVD API 2.0 page of n records synthesised from the
// fixtures: ids renumbered, publication years spread over 1999..2025, and
// from the second copy on, vendors and products suffixed (-sK, K < 2000) so
// that candidate lists stay realistic. Records over 100 KiB (the Hikvision
// record with 305 configurations) are used once per 1000 copies, so the
// average record is about as large as NVD's.
func writeFeed(w io.Writer, fixtures [][]byte, n int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	fmt.Fprintf(cw, `{"resultsPerPage":%d,"startIndex":0,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":"2026-11-22T00:00:00.000","vulnerabilities":[`, n, n)
	written := 0
	for i := 0; written < n; i++ {
		f := fixtures[i%len(fixtures)]
		copyNo := i / len(fixtures)
		if len(f) > 100<<10 && copyNo%1000 != 0 {
			continue
		}
		rec := reID.ReplaceAll(f, []byte(`"id":"`+feedID(written, n)+`"`))
		rec = rePublished.ReplaceAll(rec, []byte(`"published":"`+strconv.Itoa(1999+written*27/n)))
		if copyNo > 0 {
			sfx := "-s" + strconv.Itoa(copyNo%2000)
			rec = reCriteria.ReplaceAll(rec, []byte(`"criteria":"cpe:2.3:$1:$2`+sfx+`:$3`+sfx+`:`))
		}
		if written > 0 {
			cw.Write([]byte{','})
		}
		cw.Write([]byte(`{"cve":`))
		cw.Write(rec)
		cw.Write([]byte{'}'})
		written++
	}
	cw.Write([]byte("]}"))
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// writeEPSS writes a gzip EPSS file of n rows in FIRST's layout, with
// scores spread over 0..1 (deterministic), for the ids writeFeed gives a
// feed of n records.
func writeEPSS(n int, date string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintf(zw, "#model_version:v2025.03.14,score_date:%sT00:00:00Z\ncve,epss,percentile\n", date)
	for i := 0; i < n; i++ {
		s := float64((i*7919)%100000) / 100000
		fmt.Fprintf(zw, "%s,%.5f,%.5f\n", feedID(i, n), s, s)
	}
	zw.Close()
	return buf.Bytes()
}

// feedID is the id writeFeed gives record i of a feed of n records.
func feedID(i, n int) string {
	return "CVE-" + strconv.Itoa(1999+i*27/n) + "-" + strconv.Itoa(1000000+i)
}

// Ecosystems of the generated distribution advisories, in turn.
var advisoryEcosystems = []struct{ eco, prefix, fixed string }{
	{"Debian:12", "DEBIAN-", "1:9.%dp1-2+deb12u3"},
	{"Ubuntu:22.04:LTS", "UBUNTU-", "1:9.%dp1-3ubuntu0.10"},
	{"Alpine:v3.20", "ALPINE-", "9.%d_p1-r4"},
}

// writeAdvisories writes a JSON array of n OSV distribution advisories
// (Debian, Ubuntu and Alpine in turn, as osv.dev publishes them) for a feed
// writeFeed made of records records from fixtures: first one for every
// copy of an OpenSSH record, in the package openssh-sK of that copy's
// product (so that the products' distribution tails meet them), then
// others for CVEs of the feed spread over the same packages — about as many
// as the three distributions' OSV exports hold together (100,000).
func writeAdvisories(w io.Writer, fixtures [][]byte, n, records int) (int64, error) {
	type target struct {
		id  string
		pkg int
	}
	var targets []target
	written := 0
	for i := 0; written < records && len(targets) < n; i++ {
		f := fixtures[i%len(fixtures)]
		copyNo := i / len(fixtures)
		if len(f) > 100<<10 && copyNo%1000 != 0 {
			continue
		}
		if copyNo > 0 && bytes.Contains(f, []byte(":openbsd:openssh:")) {
			targets = append(targets, target{feedID(written, records), copyNo % 2000})
		}
		written++
	}
	for i := 0; len(targets) < n; i++ {
		targets = append(targets, target{feedID((i*7)%records, records), i % 2000})
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	cw.Write([]byte{'['})
	for i, t := range targets {
		e := advisoryEcosystems[i%len(advisoryEcosystems)]
		if i > 0 {
			cw.Write([]byte{','})
		}
		fmt.Fprintf(cw, `{"schema_version":"1.6.0","id":"%s%s","modified":"2025-01-01T00:00:00Z","upstream":["%s"],`+
			`"affected":[{"package":{"ecosystem":"%s","name":"openssh-s%d"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"`+e.fixed+`"}]}]}]}`,
			e.prefix, t.id, t.id, e.eco, t.pkg, i%10)
	}
	cw.Write([]byte{']'})
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, cw.err
}
