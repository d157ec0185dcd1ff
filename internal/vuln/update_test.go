package vuln

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nvdServer serves the shared NVD fixtures as the NVD CVE API 2.0 does
// (paging, lastModified windows) and the KEV catalogue with an ETag, on
// 127.0.0.1.
type nvdServer struct {
	t       *testing.T
	records []map[string]any
	kev     []byte

	mu        sync.Mutex
	requests  []string
	apiKeys   []string
	refuse    int // refuse this many NVD requests with 429 first
	failAt    int // fail (500) requests with this startIndex, when > 0
	kevHits   int
	kevCached int
}

func newNVDServer(t *testing.T) (*nvdServer, *httptest.Server) {
	files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json"))
	if len(files) == 0 {
		t.Skip("shared fixtures not present")
	}
	s := &nvdServer{t: t}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		s.records = append(s.records, m)
	}
	sort.Slice(s.records, func(i, j int) bool { return s.records[i]["id"].(string) < s.records[j]["id"].(string) })
	kev, err := os.ReadFile(filepath.Join(sharedVuln, "kev.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.kev = kev
	mux := http.NewServeMux()
	mux.HandleFunc("/rest/json/cves/2.0", s.cves)
	mux.HandleFunc("/kev.json", s.kevHandler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

func parseNVDTime(s string) time.Time {
	for _, l := range []string{"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000"} {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func (s *nvdServer) cves(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.RawQuery)
	s.apiKeys = append(s.apiKeys, r.Header.Get("apiKey"))
	refuse := s.refuse > 0
	if refuse {
		s.refuse--
	}
	failAt := s.failAt
	s.mu.Unlock()
	if refuse {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	start, _ := strconv.Atoi(q.Get("startIndex"))
	per, _ := strconv.Atoi(q.Get("resultsPerPage"))
	if failAt > 0 && start == failAt {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	var sel []map[string]any
	from, to := q.Get("lastModStartDate"), q.Get("lastModEndDate")
	for _, rec := range s.records {
		if from != "" {
			lm := parseNVDTime(rec["lastModified"].(string))
			if lm.Before(parseNVDTime(from)) || lm.After(parseNVDTime(to)) {
				continue
			}
		}
		sel = append(sel, rec)
	}
	total := len(sel)
	end := min(start+per, total)
	if start > total {
		start = total
	}
	var vulns []map[string]any
	for _, rec := range sel[start:end] {
		vulns = append(vulns, map[string]any{"cve": rec})
	}
	if vulns == nil {
		vulns = []map[string]any{}
	}
	json.NewEncoder(w).Encode(map[string]any{
		"resultsPerPage": len(vulns), "startIndex": start, "totalResults": total,
		"format": "NVD_CVE", "version": "2.0", "timestamp": "2026-11-22T00:00:00.000",
		"vulnerabilities": vulns,
	})
}

func (s *nvdServer) kevHandler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kevHits++
	if r.Header.Get("If-None-Match") == `"kev-2025.08.25"` {
		s.kevCached++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", `"kev-2025.08.25"`)
	w.Write(s.kev)
}

func testUpdateOptions(srv *httptest.Server) UpdateOptions {
	return UpdateOptions{
		Sources: map[string]string{
			SourceNVD: srv.URL + "/rest/json/cves/2.0",
			SourceKEV: srv.URL + "/kev.json",
		},
		PageSize: 7,
		Delay:    time.Millisecond,
		Backoff:  time.Millisecond,
		Now:      func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) },
	}
}

func TestUpdateFullThenIncremental(t *testing.T) {
	s, srv := newNVDServer(t)
	d := openDB(t)
	ctx := context.Background()
	opt := testUpdateOptions(srv)
	opt.APIKey = "test-key"
	s.refuse = 2 // politeness: the first two requests are refused with 429
	res, err := d.Update(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := d.Count(ctx); n != 30 {
		t.Fatalf("after full update: %d CVEs, want 30", n)
	}
	if k, _ := d.KEVCount(ctx); k != 1404 {
		t.Fatalf("KEV entries %d, want 1404", k)
	}
	var nvd UpdateResult
	for _, r := range res {
		if r.Source == SourceNVD {
			nvd = r
		}
	}
	// 5 pages of 7 + 2 refused requests.
	if nvd.Requests != 7 || nvd.Inserted != 30 || nvd.Incremental {
		t.Errorf("nvd result %+v, want 7 requests, 30 inserted, full", nvd)
	}
	for i, k := range s.apiKeys {
		if k != "test-key" {
			t.Errorf("request %d: apiKey header %q", i, k)
		}
	}
	if synced, _ := d.meta(ctx, metaNVDSynced); synced != "2026-11-22T00:00:00.000Z" {
		t.Errorf("nvd.synced = %q", synced)
	}

	// Second run: incremental by lastModified, KEV not modified.
	s.requests = nil
	opt.Now = func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	res, err = d.Update(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		switch r.Source {
		case SourceNVD:
			if !r.Incremental || r.Records != 0 {
				t.Errorf("incremental nvd = %+v", r)
			}
		case SourceKEV:
			if !r.NotModified {
				t.Errorf("kev = %+v, want not modified", r)
			}
		}
	}
	if len(s.requests) != 1 {
		t.Fatalf("incremental requests = %v", s.requests)
	}
	q := s.requests[0]
	if want := "lastModStartDate=2026-11-22T00%3A00%3A00.000%2B00%3A00"; !contains(q, want) {
		t.Errorf("incremental query %q lacks %q", q, want)
	}
}

func TestUpdateIncrementalWindows(t *testing.T) {
	s, srv := newNVDServer(t)
	d := openDB(t)
	ctx := context.Background()
	// Pretend the last sync was on 2024-01-01: records modified since then
	// come in 120-day windows.
	if err := d.setMeta(ctx, metaNVDSynced, "2024-01-01T00:00:00.000Z"); err != nil {
		t.Fatal(err)
	}
	opt := testUpdateOptions(srv)
	opt.Sources = map[string]string{SourceNVD: opt.Sources[SourceNVD]}
	res, err := d.Update(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range s.records {
		if !parseNVDTime(r["lastModified"].(string)).Before(since) {
			want++
		}
	}
	if res[0].Inserted != want || want == 0 {
		t.Errorf("inserted %d, want %d records modified since 2024", res[0].Inserted, want)
	}
	windows := 0
	for _, q := range s.requests {
		if v, _ := url.ParseQuery(q); v.Get("startIndex") == "0" {
			windows++
		}
	}
	if windows < 7 { // 2024-01-01 .. 2026-11-22 is more than 7 windows of 120 days
		t.Errorf("windows = %d, want >= 7 (requests %d)", windows, len(s.requests))
	}
}

func TestUpdateResumes(t *testing.T) {
	s, srv := newNVDServer(t)
	d := openDB(t)
	ctx := context.Background()
	opt := testUpdateOptions(srv)
	opt.Sources = map[string]string{SourceNVD: opt.Sources[SourceNVD]}
	opt.Retries = 2
	s.failAt = 14 // the third page fails every time
	if _, err := d.Update(ctx, opt); err == nil {
		t.Fatal("update with a failing page: no error")
	}
	if n, _ := d.Count(ctx); n != 14 {
		t.Fatalf("after failure: %d CVEs stored, want 14", n)
	}
	cur, _ := d.meta(ctx, metaNVDCursor)
	if !contains(cur, `"index":14`) {
		t.Fatalf("cursor = %s, want index 14", cur)
	}
	s.failAt = 0
	s.requests = nil
	if _, err := d.Update(ctx, opt); err != nil {
		t.Fatal(err)
	}
	if len(s.requests) == 0 || !contains(s.requests[0], "startIndex=14") {
		t.Errorf("resume requests = %v, want to start at 14", s.requests)
	}
	if n, _ := d.Count(ctx); n != 30 {
		t.Errorf("after resume: %d CVEs, want 30", n)
	}
	if cur, _ := d.meta(ctx, metaNVDCursor); cur != "" {
		t.Errorf("cursor left after completion: %s", cur)
	}
}

func TestUpdateHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/notfound":
			http.NotFound(w, r)
		case "/garbage":
			fmt.Fprint(w, "<html>maintenance</html>")
		}
	}))
	defer srv.Close()
	d := openDB(t)
	opt := UpdateOptions{Sources: map[string]string{SourceNVD: srv.URL + "/notfound", "extra": srv.URL + "/garbage"}, Delay: time.Millisecond, Backoff: time.Millisecond}
	res, err := d.Update(context.Background(), opt)
	if err == nil {
		t.Fatal("no error")
	}
	if len(res) != 2 {
		t.Errorf("results %d, want one per source", len(res))
	}
	t.Log(err)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestUpdateGzipEncodedZip(t *testing.T) {
	// A zip feed file served with Content-Encoding: gzip (as CDNs do).
	data, err := os.ReadFile(filepath.Join(sharedVuln, "nvd", "CVE-2023-1389.json"))
	if err != nil {
		t.Skip(err)
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("CVE-2023-1389.json")
	w.Write(data)
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		gz.Write(zbuf.Bytes())
		gz.Close()
	}))
	defer srv.Close()
	d := openDB(t)
	res, err := d.Update(context.Background(), UpdateOptions{Sources: map[string]string{"extra": srv.URL + "/feed.zip"}})
	if err != nil || res[0].Inserted != 1 {
		t.Fatalf("update: %+v %v", res, err)
	}
}

// TestUpdateUnreachable: a refused connection and a name that does not
// resolve fail at once, marked ErrUnreachable; a server error is retried.
func TestUpdateUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	noDNS := &http.Client{Transport: &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}}}
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer busy.Close()
	for _, tc := range []struct {
		name          string
		url           string
		client        *http.Client
		requests      int
		isUnreachable bool
	}{
		{"connection refused", refused, nil, 1, true},
		{"name does not resolve", "https://services.nvd.nist.gov/rest/json/cves/2.0", noDNS, 1, true},
		{"503 is retried", busy.URL, nil, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDB(t)
			opt := UpdateOptions{Sources: map[string]string{SourceNVD: tc.url}, Client: tc.client, Retries: 2,
				Delay: time.Millisecond, Backoff: time.Millisecond}
			res, err := d.Update(context.Background(), opt)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrUnreachable); got != tc.isUnreachable {
				t.Errorf("errors.Is(%v, ErrUnreachable) = %v, want %v", err, got, tc.isUnreachable)
			}
			if len(res) != 1 || res[0].Requests != tc.requests {
				t.Errorf("results %+v, want %d requests", res, tc.requests)
			}
		})
	}
}
