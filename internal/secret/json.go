package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SealJSON seals secrets inside the JSON document doc: every string value
// that holds one of secrets has it replaced by its sealed value. The string
// values of object members named in fields (say "community") are secrets too,
// unless empty, already sealed or redacted display values ("pu***"), and are
// sealed wherever they appear in doc (a detail that quotes a password).
// Numbers, names and structure are left alone.
func (b *Box) SealJSON(doc []byte, secrets []string, fields ...string) ([]byte, error) {
	if len(secrets) == 0 && len(fields) == 0 {
		return doc, nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	secrets = slices.Clone(secrets)
	walkStrings(v, "", func(field, s string) string {
		if slices.Contains(fields, field) && s != "" && !IsSealed(s) && !strings.HasSuffix(s, "***") {
			secrets = append(secrets, s)
		}
		return s
	})
	if len(secrets) == 0 {
		return doc, nil
	}
	// Longest first, so a secret holding another is sealed whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	var err error
	v = walkStrings(v, "", func(_, s string) string {
		if err != nil {
			return s
		}
		var out string
		out, err = b.SealIn(s, secrets)
		return out
	})
	if err != nil {
		return nil, err
	}
	return marshal(v)
}

// walkStrings calls fn on every string value of the decoded JSON value x
// with the name of the object member holding it (the nearest one, for array
// elements) and stores what fn returns.
func walkStrings(x any, field string, fn func(field, s string) string) any {
	switch t := x.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = walkStrings(e, k, fn)
		}
	case []any:
		for i, e := range t {
			t[i] = walkStrings(e, field, fn)
		}
	case string:
		return fn(field, t)
	}
	return x
}

// OpenJSON replaces every sealed value inside the string values of doc by
// its plain text, or by its placeholder when no key opens it.
func (b *Box) OpenJSON(doc []byte) ([]byte, error) {
	if !bytes.Contains(doc, []byte(Prefix)) {
		return doc, nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	return marshal(walkStrings(v, "", func(_, s string) string { return b.OpenIn(s) }))
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
