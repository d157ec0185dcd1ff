package vuln

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Source names understood by Update; any other name is a feed file
// (any format Import reads) fetched whole.
const (
	SourceNVD = "nvd"
	SourceKEV = "kev"
)

// DefaultSources are the official endpoints.
var DefaultSources = map[string]string{
	SourceNVD: "https://services.nvd.nist.gov/rest/json/cves/2.0",
	SourceKEV: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
}

// UpdateOptions tune Update.
type UpdateOptions struct {
	// Sources maps a source name to its URL; nil means DefaultSources.
	Sources map[string]string
	// APIKey is an NVD API key (optional; raises NVD's rate limit).
	APIKey string
	// Client is the HTTP client (default: 60 s timeout per request).
	Client *http.Client
	// PageSize is NVD's resultsPerPage (default and maximum 2000).
	PageSize int
	// Delay is the pause between NVD requests. Default: 6 s without an API
	// key, 0.6 s with one (NVD allows 5 and 50 requests per rolling 30 s).
	Delay time.Duration
	// Backoff is the first wait after a refused request (429, 403, 5xx),
	// doubled per retry up to a minute, unless the server sends Retry-After.
	// Default 6 s.
	Backoff time.Duration
	// Retries per request (default 5).
	Retries int
	// Full ignores the incremental cursor and fetches everything.
	Full bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives progress messages (default: discarded).
	Log *slog.Logger
	// Progress, if set, is called after each NVD page with the records
	// fetched so far in the current window and the window's total.
	Progress func(source string, done, total int)
}

// UpdateResult is what one source gave.
type UpdateResult struct {
	Source      string `json:"source"`
	URL         string `json:"url"`
	Requests    int    `json:"requests"`
	NotModified bool   `json:"not_modified,omitempty"`
	Incremental bool   `json:"incremental,omitempty"`
	ImportResult
}

// nvdWindow is NVD's limit on a lastModified range (120 days).
const nvdWindow = 120 * 24 * time.Hour

// nvdCursor is the resumable state of an NVD sync, kept in vuln_meta.
type nvdCursor struct {
	Began    string `json:"began"`               // when this sync started (becomes nvd.synced)
	From     string `json:"from,omitempty"`      // incremental: lastModified lower bound
	To       string `json:"to,omitempty"`        // incremental: upper bound
	WinStart string `json:"win_start,omitempty"` // current window
	Index    int    `json:"index"`               // next startIndex in the window
}

const (
	metaNVDSynced = "nvd.synced"
	metaNVDCursor = "nvd.cursor"
	metaKEVETag   = "kev.etag"
	metaKEVLast   = "kev.last_modified"
	metaKEVCat    = "kev.catalog"
)

func (o *UpdateOptions) defaults() {
	if o.Sources == nil {
		o.Sources = DefaultSources
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if o.PageSize <= 0 || o.PageSize > 2000 {
		o.PageSize = 2000
	}
	if o.Delay == 0 {
		o.Delay = 6 * time.Second
		if o.APIKey != "" {
			o.Delay = 600 * time.Millisecond
		}
	}
	if o.Backoff <= 0 {
		o.Backoff = 6 * time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Update downloads the sources and imports them: NVD incrementally by
// lastModified since the last completed sync (the first sync fetches
// everything), resuming an interrupted sync where it stopped; KEV only when
// it changed (ETag / Last-Modified); other sources whole. It goes on with
// the next source when one fails and returns the errors joined.
func (d *DB) Update(ctx context.Context, opt UpdateOptions) ([]UpdateResult, error) {
	opt.defaults()
	names := make([]string, 0, len(opt.Sources))
	for n := range opt.Sources {
		names = append(names, n)
	}
	// KEV first (one request), then NVD, then the rest by name.
	sort.Slice(names, func(i, j int) bool {
		return rank(names[i]) < rank(names[j]) || rank(names[i]) == rank(names[j]) && names[i] < names[j]
	})
	var out []UpdateResult
	var errs []error
	for _, name := range names {
		u := opt.Sources[name]
		var res UpdateResult
		var err error
		switch name {
		case SourceNVD:
			res, err = d.updateNVD(ctx, u, &opt)
		case SourceKEV:
			res, err = d.updateKEV(ctx, u, &opt)
		default:
			res, err = d.updateFile(ctx, name, u, &opt)
		}
		res.Source, res.URL = name, u
		out = append(out, res)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("update %s: %w", name, err))
		}
	}
	return out, errors.Join(errs...)
}

func rank(name string) int {
	switch name {
	case SourceKEV:
		return 0
	case SourceNVD:
		return 1
	}
	return 2
}

// nvdTime is the date format of NVD's lastMod parameters.
func nvdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00" }

func (d *DB) updateNVD(ctx context.Context, base string, opt *UpdateOptions) (UpdateResult, error) {
	var res UpdateResult
	var cur nvdCursor
	raw, err := d.meta(ctx, metaNVDCursor)
	if err != nil {
		return res, err
	}
	synced, err := d.meta(ctx, metaNVDSynced)
	if err != nil {
		return res, err
	}
	now := opt.Now().UTC()
	switch {
	case raw != "" && !opt.Full:
		if err := json.Unmarshal([]byte(raw), &cur); err != nil {
			return res, fmt.Errorf("resume cursor: %w", err)
		}
		opt.Log.Info("nvd: resuming interrupted sync", "window", cur.WinStart, "index", cur.Index)
	case synced != "" && !opt.Full:
		cur = nvdCursor{Began: fixedTime(now), From: synced, To: fixedTime(now), WinStart: synced}
	default:
		cur = nvdCursor{Began: fixedTime(now)}
	}
	res.Incremental = cur.From != ""
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		q := url.Values{}
		q.Set("startIndex", strconv.Itoa(cur.Index))
		q.Set("resultsPerPage", strconv.Itoa(opt.PageSize))
		var winEnd time.Time
		if cur.From != "" {
			ws, err := time.Parse(time.RFC3339Nano, cur.WinStart)
			if err != nil {
				return res, fmt.Errorf("cursor window %q: %w", cur.WinStart, err)
			}
			to, err := time.Parse(time.RFC3339Nano, cur.To)
			if err != nil {
				return res, fmt.Errorf("cursor end %q: %w", cur.To, err)
			}
			winEnd = ws.Add(nvdWindow)
			if winEnd.After(to) {
				winEnd = to
			}
			q.Set("lastModStartDate", nvdTime(ws))
			q.Set("lastModEndDate", nvdTime(winEnd))
		}
		u := base
		if strings.Contains(u, "?") {
			u += "&" + q.Encode()
		} else {
			u += "?" + q.Encode()
		}
		if res.Requests > 0 {
			if err := sleep(ctx, opt.Delay); err != nil {
				return res, err
			}
		}
		var h http.Header
		if opt.APIKey != "" {
			h = http.Header{"apiKey": {opt.APIKey}}
		}
		body, _, err := d.fetch(ctx, u, h, opt, &res.Requests)
		if err != nil {
			return res, err
		}
		r, err := d.Import(ctx, body, ImportOptions{})
		body.Close()
		res.add(r)
		if err != nil {
			return res, fmt.Errorf("page at %d: %w", cur.Index, err)
		}
		if r.Format != "nvd-api" {
			return res, fmt.Errorf("page at %d: got %q, want an NVD API 2.0 page", cur.Index, r.Format)
		}
		cur.Index += r.Records
		if opt.Progress != nil {
			opt.Progress(SourceNVD, cur.Index, r.Total)
		}
		opt.Log.Info("nvd page", "index", cur.Index, "total", r.Total, "inserted", r.Inserted, "updated", r.Updated)
		done := cur.Index >= r.Total || r.Records == 0
		if done && cur.From != "" && winEnd.Before(mustTime(cur.To)) {
			cur.WinStart, cur.Index, done = fixedTime(winEnd), 0, false
		}
		if done {
			if err := d.setMeta(ctx, metaNVDSynced, cur.Began); err != nil {
				return res, err
			}
			return res, d.setMeta(ctx, metaNVDCursor, "")
		}
		b, _ := json.Marshal(cur)
		if err := d.setMeta(ctx, metaNVDCursor, string(b)); err != nil {
			return res, err
		}
	}
}

func mustTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (d *DB) updateKEV(ctx context.Context, u string, opt *UpdateOptions) (UpdateResult, error) {
	var res UpdateResult
	h := http.Header{}
	if etag, _ := d.meta(ctx, metaKEVETag); etag != "" && !opt.Full {
		h.Set("If-None-Match", etag)
	}
	if lm, _ := d.meta(ctx, metaKEVLast); lm != "" && !opt.Full {
		h.Set("If-Modified-Since", lm)
	}
	body, hdr, err := d.fetch(ctx, u, h, opt, &res.Requests)
	if errors.Is(err, errNotModified) {
		res.NotModified = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer body.Close()
	r, err := d.Import(ctx, body, ImportOptions{})
	res.ImportResult = r
	if err != nil {
		return res, err
	}
	var merr error
	if r.Catalog != "" {
		merr = d.setMeta(ctx, metaKEVCat, r.Catalog)
	}
	merr = errors.Join(merr, d.setMeta(ctx, metaKEVETag, hdr.Get("ETag")), d.setMeta(ctx, metaKEVLast, hdr.Get("Last-Modified")))
	if merr != nil {
		return res, fmt.Errorf("record the KEV feed's version: %w", merr)
	}
	return res, nil
}

// updateFile fetches a feed file whole (zip archives via a temporary file).
func (d *DB) updateFile(ctx context.Context, name, u string, opt *UpdateOptions) (UpdateResult, error) {
	var res UpdateResult
	body, _, err := d.fetch(ctx, u, nil, opt, &res.Requests)
	if err != nil {
		return res, err
	}
	defer body.Close()
	if p, err := url.Parse(u); err == nil && strings.EqualFold(path.Ext(p.Path), ".zip") {
		tmp, err := os.CreateTemp("", "iotwatch-"+name+"-*.zip")
		if err != nil {
			return res, err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, body); err != nil {
			return res, fmt.Errorf("download: %w", err)
		}
		r, err := d.ImportFile(ctx, tmp.Name(), ImportOptions{})
		res.ImportResult = r
		return res, err
	}
	r, err := d.Import(ctx, body, ImportOptions{})
	res.ImportResult = r
	return res, err
}

var errNotModified = errors.New("not modified")

// ErrUnreachable is returned (wrapped) when a feed's server cannot be
// reached at all: its name does not resolve, or the connection is refused or
// has no route. These do not heal within a retry's wait, so they are not
// retried; the feeds can be imported from files instead (ImportFile).
var ErrUnreachable = errors.New("feed server unreachable")

// unreachable reports whether a request error means the server cannot be
// reached at all (as opposed to a timeout, a reset or a refusal by HTTP
// status, which are retried).
func unreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}

// fetch GETs u, retrying refusals and server errors politely.
func (d *DB) fetch(ctx context.Context, u string, h http.Header, opt *UpdateOptions, requests *int) (io.ReadCloser, http.Header, error) {
	wait := opt.Backoff
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range h {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", "iotwatch-vulndb")
		req.Header.Set("Accept-Encoding", "gzip")
		*requests++
		resp, err := opt.Client.Do(req)
		if err != nil {
			if unreachable(err) && ctx.Err() == nil {
				return nil, nil, fmt.Errorf("GET %s: %w: %w", redactURL(u), ErrUnreachable, err)
			}
			if ctx.Err() != nil || attempt >= opt.Retries {
				return nil, nil, fmt.Errorf("GET %s: %w", redactURL(u), err)
			}
			opt.Log.Warn("request failed, retrying", "url", redactURL(u), "err", err, "wait", wait)
		} else {
			switch {
			case resp.StatusCode == http.StatusOK:
				if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
					zr, err := gzip.NewReader(resp.Body)
					if err != nil {
						resp.Body.Close()
						return nil, nil, fmt.Errorf("GET %s: gzip: %w", redactURL(u), err)
					}
					return gzipBody{zr, resp.Body}, resp.Header, nil
				}
				return resp.Body, resp.Header, nil
			case resp.StatusCode == http.StatusNotModified:
				resp.Body.Close()
				return nil, resp.Header, errNotModified
			case retryable(resp.StatusCode) && attempt < opt.Retries:
				if ra := retryAfter(resp.Header.Get("Retry-After")); ra >= 0 {
					wait = ra
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // drained for reuse; a failure costs only the connection
				resp.Body.Close()
				opt.Log.Warn("server refused, backing off", "url", redactURL(u), "status", resp.StatusCode, "wait", wait)
			default:
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				return nil, nil, fmt.Errorf("GET %s: %s: %s", redactURL(u), resp.Status, strings.TrimSpace(string(msg)))
			}
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, nil, err
		}
		wait = min(wait*2, time.Minute)
	}
}

func retryable(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusForbidden, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter parses a Retry-After header in seconds (or an HTTP date); -1 if absent.
func retryAfter(s string) time.Duration {
	if s == "" {
		return -1
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 5*time.Minute)
	}
	if t, err := http.ParseTime(s); err == nil {
		return min(max(time.Until(t), 0), 5*time.Minute)
	}
	return -1
}

func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	if q.Has("apiKey") {
		q.Set("apiKey", "***")
		p.RawQuery = q.Encode()
	}
	p.User = nil
	return p.String()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// gzipBody decompresses a response sent with Content-Encoding: gzip (we ask
// for it to save bandwidth, so Go's transport does not undo it for us).
type gzipBody struct {
	*gzip.Reader
	body io.ReadCloser
}

func (g gzipBody) Close() error {
	g.Reader.Close()
	return g.body.Close()
}
