package feed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// EPSS is one row of FIRST's daily Exploit Prediction Scoring System file
// (https://www.first.org/epss/data_stats): the probability that a CVE is
// exploited in the next 30 days, and its percentile among all scored CVEs.
// Date and Model come from the file's first line.
type EPSS struct {
	CVE        string
	Score      float64
	Percentile float64
	Date       string // score_date, YYYY-MM-DD
	Model      string // model_version, e.g. v2025.03.14
}

// ErrEPSS marks a malformed EPSS file.
var ErrEPSS = errors.New("malformed EPSS file")

// isEPSS reports whether a file starts like an EPSS score file: the
// "#model_version:…" comment, or the bare "cve,epss" header of older files.
func isEPSS(head []byte) bool {
	s := string(head)
	return strings.HasPrefix(s, "#model_version:") || strings.HasPrefix(s, "cve,epss")
}

// readEPSS streams the rows of an EPSS CSV (already decompressed):
//
//	#model_version:v2025.03.14,score_date:2025-03-15T12:55:00Z
//	cve,epss,percentile
//	CVE-1999-0001,0.01025,0.76780
func readEPSS(ctx context.Context, r io.Reader, h Handler) (Info, error) {
	info := Info{Format: "epss"}
	if h.EPSS == nil {
		return info, errors.New("EPSS scores not expected here")
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var model, date string
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return strings.TrimRight(sc.Text(), "\r"), true
	}
	first, ok := next()
	if !ok {
		return info, fmt.Errorf("empty EPSS file: %w", ErrEPSS)
	}
	if strings.HasPrefix(first, "#") {
		for _, kv := range strings.Split(strings.TrimPrefix(first, "#"), ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch strings.TrimSpace(k) {
			case "model_version":
				model = strings.TrimSpace(v)
			case "score_date":
				date = strings.TrimSpace(v)
			}
		}
		if first, ok = next(); !ok {
			return info, fmt.Errorf("EPSS file without a header: %w", ErrEPSS)
		}
	}
	if len(date) < 10 {
		return info, fmt.Errorf("EPSS file without a score_date: %w", ErrEPSS)
	}
	if _, err := time.Parse("2006-01-02", date[:10]); err != nil {
		return info, fmt.Errorf("EPSS score_date %q: %w", date, ErrEPSS)
	}
	date = date[:10]
	if h := strings.Split(first, ","); len(h) < 3 || h[0] != "cve" || h[1] != "epss" || h[2] != "percentile" {
		return info, fmt.Errorf("EPSS header %q, want cve,epss,percentile: %w", clip(first), ErrEPSS)
	}
	info.Catalog = model + " " + date
	for {
		s, ok := next()
		if !ok {
			break
		}
		if info.Records&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return info, err
			}
		}
		if s == "" {
			continue
		}
		cve, rest, ok1 := strings.Cut(s, ",")
		score, pct, ok2 := strings.Cut(rest, ",")
		if !ok1 || !ok2 || !strings.HasPrefix(cve, "CVE-") || !validID(cve) {
			return info, fmt.Errorf("EPSS line %d %q: %w", line, clip(s), ErrEPSS)
		}
		e := &EPSS{CVE: cve, Date: date, Model: model}
		var err1, err2 error
		e.Score, err1 = strconv.ParseFloat(score, 64)
		e.Percentile, err2 = strconv.ParseFloat(pct, 64)
		if err1 != nil || err2 != nil || !(e.Score >= 0 && e.Score <= 1) || !(e.Percentile >= 0 && e.Percentile <= 1) {
			return info, fmt.Errorf("EPSS line %d %q: scores must be numbers from 0 to 1: %w", line, clip(s), ErrEPSS)
		}
		if err := h.EPSS(e); err != nil {
			return info, err
		}
		info.Records++
	}
	if err := sc.Err(); err != nil {
		return info, fmt.Errorf("EPSS line %d: %w", line+1, err)
	}
	return info, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
