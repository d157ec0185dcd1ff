package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// guard counts bytes read since the last reset and fails once more than
// limit were read, so that one enormous JSON value cannot exhaust memory.
type guard struct {
	r     io.Reader
	n     int64
	limit int64
	total int64
}

func (g *guard) Read(p []byte) (int, error) {
	if g.n > g.limit {
		return 0, fmt.Errorf("%w: more than %d bytes in one value near byte %d", ErrTooLarge, g.limit, g.total)
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	g.total += int64(n)
	return n, err
}

type jsonReader struct {
	ctx  context.Context
	dec  *json.Decoder
	g    *guard
	h    Handler
	info Info
}

func readJSON(ctx context.Context, r io.Reader, h Handler) (Info, error) {
	g := &guard{r: r, limit: MaxRecordBytes}
	jr := &jsonReader{ctx: ctx, dec: json.NewDecoder(g), g: g, h: h}
	err := jr.run()
	if err != nil {
		err = jr.wrap(err)
	}
	return jr.info, err
}

// wrap adds the position to decoding errors.
func (jr *jsonReader) wrap(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated JSON at byte %d after %d records: %w", jr.dec.InputOffset(), jr.info.Records+jr.info.KEVs, io.ErrUnexpectedEOF)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d after %d records: %w", se.Offset, jr.info.Records+jr.info.KEVs, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("unexpected JSON type at byte %d (field %s) after %d records: %w", te.Offset, te.Field, jr.info.Records+jr.info.KEVs, err)
	}
	return err
}

func (jr *jsonReader) decode(v any) error {
	jr.g.n = 0
	return jr.dec.Decode(v)
}

func (jr *jsonReader) run() error {
	tok, err := jr.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		if err := jr.array(""); err != nil {
			return err
		}
	case json.Delim('{'):
		if err := jr.object(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("top-level JSON value is %v: %w", tok, ErrUnknownFormat)
	}
	if _, err := jr.dec.Token(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("trailing data after the top-level JSON value at byte %d", jr.dec.InputOffset())
		}
		return err
	}
	return nil
}

// object reads a top-level object: a feed with a "vulnerabilities" array,
// or one record.
func (jr *jsonReader) object() error {
	top := map[string]json.RawMessage{}
	streamed := false
	for jr.dec.More() {
		tok, err := jr.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch key {
		case "vulnerabilities", "items": // "items": EUVD search pages
			kind, err := feedKind(top)
			if err != nil {
				return err
			}
			tok, err := jr.dec.Token()
			if err != nil {
				return err
			}
			if tok == nil { // "vulnerabilities": null
				streamed = true
				continue
			}
			if tok != json.Delim('[') {
				return fmt.Errorf("\"vulnerabilities\" is not an array: %w", ErrUnknownFormat)
			}
			if err := jr.array(kind); err != nil {
				return err
			}
			streamed = true
		case "CVE_Items":
			return fmt.Errorf("NVD JSON 1.1 feed (CVE_Items; retired by NVD in 2023), use the 2.0 feeds or API: %w", ErrSchemaVersion)
		default:
			var raw json.RawMessage
			if err := jr.decode(&raw); err != nil {
				return err
			}
			top[key] = raw
		}
	}
	if _, err := jr.dec.Token(); err != nil { // closing '}'
		return err
	}
	if streamed {
		if jr.info.Format == "" {
			kind, _ := feedKind(top)
			jr.info.Format = kind
		}
		var n struct {
			Total int `json:"totalResults"`
		}
		for _, k := range []string{"catalogVersion", "timestamp"} {
			if raw, ok := top[k]; ok {
				if err := json.Unmarshal(raw, &jr.info.Catalog); err != nil {
					return fmt.Errorf("feed %s: %w", k, err)
				}
			}
		}
		if raw, ok := top["totalResults"]; ok {
			if err := json.Unmarshal(raw, &n.Total); err != nil {
				return fmt.Errorf("feed totalResults: %w", err)
			}
			jr.info.Total = n.Total
		}
		return nil
	}
	if isSecdb(top) {
		return jr.secdb(top)
	}
	b, err := json.Marshal(top)
	if err != nil {
		return err
	}
	return jr.element(b)
}

// feedKind decides, from the top-level keys seen before the
// "vulnerabilities" array, what its elements are ("" = decide per element).
func feedKind(top map[string]json.RawMessage) (string, error) {
	var s string
	if raw, ok := top["format"]; ok {
		if err := json.Unmarshal(raw, &s); err != nil || s != "NVD_CVE" {
			return "", fmt.Errorf("NVD feed format %q: %w", s, ErrUnknownFormat)
		}
		var v string
		if err := json.Unmarshal(top["version"], &v); err != nil || v != "2.0" && !strings.HasPrefix(v, "2.") {
			return "", fmt.Errorf("NVD feed version %q, want 2.x: %w", v, ErrSchemaVersion)
		}
		return "nvd-api", nil
	}
	if _, ok := top["catalogVersion"]; ok {
		return "kev-json", nil
	}
	return "", nil
}

// array streams the elements of an array of records.
func (jr *jsonReader) array(kind string) error {
	for jr.dec.More() {
		if err := jr.ctx.Err(); err != nil {
			return err
		}
		var err error
		switch kind {
		case "nvd-api":
			var item struct {
				CVE *nvdCVE `json:"cve"`
			}
			if err = jr.decode(&item); err != nil {
				return err
			}
			if item.CVE == nil {
				return fmt.Errorf("NVD feed element %d has no \"cve\": %w", jr.info.Records, ErrUnknownFormat)
			}
			jr.info.Format = kind
			err = jr.nvd(item.CVE)
		case "kev-json":
			var k kevJSON
			if err = jr.decode(&k); err != nil {
				return err
			}
			jr.info.Format = kind
			err = jr.kev(k.entry())
		default:
			var raw json.RawMessage
			if err = jr.decode(&raw); err != nil {
				return err
			}
			err = jr.element(raw)
		}
		if err != nil {
			return err
		}
	}
	_, err := jr.dec.Token() // closing ']'
	return err
}

// element detects and handles one record given as raw JSON.
func (jr *jsonReader) element(raw []byte) error {
	var probe struct {
		CVE         json.RawMessage `json:"cve"`
		CveID       string          `json:"cveID"`
		ID          string          `json:"id"`
		DataType    string          `json:"dataType"`
		DataVersion string          `json:"dataVersion"`
		Affected    json.RawMessage `json:"affected"`
		Schema      string          `json:"schema_version"`
		Descs       json.RawMessage `json:"descriptions"`
		Vulnerable  json.RawMessage `json:"vulnStatus"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(probe.ID, "EUVD-"):
		var e euvdRecord
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		jr.setFormat("euvd")
		return jr.record(e.record())
	case len(probe.CVE) > 0:
		var c nvdCVE
		if err := json.Unmarshal(probe.CVE, &c); err != nil {
			return err
		}
		jr.setFormat("nvd-api")
		return jr.nvd(&c)
	case probe.CveID != "":
		var k kevJSON
		if err := json.Unmarshal(raw, &k); err != nil {
			return err
		}
		jr.setFormat("kev-json")
		return jr.kev(k.entry())
	case probe.DataType == "CVE_RECORD":
		if !strings.HasPrefix(probe.DataVersion, "5.") {
			return fmt.Errorf("CVE record dataVersion %q, want 5.x: %w", probe.DataVersion, ErrSchemaVersion)
		}
		var c cve5
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		jr.setFormat("cve5")
		return jr.record(c.record())
	case probe.ID != "" && (len(probe.Descs) > 0 || len(probe.Vulnerable) > 0):
		var c nvdCVE
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		jr.setFormat("nvd-record")
		return jr.nvd(&c)
	case probe.ID != "" && (len(probe.Affected) > 0 || probe.Schema != ""):
		if probe.Schema != "" && !strings.HasPrefix(probe.Schema, "1.") {
			return fmt.Errorf("OSV schema_version %q, want 1.x: %w", probe.Schema, ErrSchemaVersion)
		}
		var o osvRecord
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		jr.setFormat("osv")
		return jr.record(o.record())
	}
	return fmt.Errorf("JSON object is none of NVD CVE 2.0, CVE JSON 5, CISA KEV, OSV, EUVD: %w", ErrUnknownFormat)
}

func (jr *jsonReader) setFormat(f string) {
	if jr.info.Format == "" {
		jr.info.Format = f
	}
}

func (jr *jsonReader) nvd(c *nvdCVE) error {
	rec, err := c.record()
	if err != nil {
		return err
	}
	return jr.record(rec)
}

func (jr *jsonReader) record(rec *Record) error {
	if !validID(rec.ID) {
		return fmt.Errorf("record %d: invalid id %q: %w", jr.info.Records+1, rec.ID, ErrUnknownFormat)
	}
	if jr.h.Record == nil {
		return fmt.Errorf("record %s: vulnerability records not expected here", rec.ID)
	}
	if rec.Rejected {
		jr.info.Skipped++
	}
	if err := jr.h.Record(rec); err != nil {
		return err
	}
	jr.info.Records++
	return nil
}

func (jr *jsonReader) kev(k *KEV) error {
	if !validID(k.CVE) {
		return fmt.Errorf("KEV entry %d: invalid cveID %q: %w", jr.info.KEVs+1, k.CVE, ErrUnknownFormat)
	}
	if jr.h.KEV == nil {
		return fmt.Errorf("KEV entry %s: KEV entries not expected here", k.CVE)
	}
	if err := jr.h.KEV(k); err != nil {
		return err
	}
	jr.info.KEVs++
	return nil
}
