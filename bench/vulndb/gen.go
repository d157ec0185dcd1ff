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
		rec := reID.ReplaceAll(f, []byte(`"id":"CVE-`+strconv.Itoa(1999+written*27/n)+`-`+strconv.Itoa(1000000+written)+`"`))
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
