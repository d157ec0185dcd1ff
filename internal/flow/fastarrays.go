package flow

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A fast reader for the arrays this package writes into flow_devices
// ("hours" and "peers": arrays of flat arrays of integers and plain
// strings). Reading a day of a large network decodes millions of values;
// encoding/json into []any spends most of that time allocating. Anything
// the writer would not produce (fractions, exponents, escapes, nesting,
// wrong field counts) makes the fast reader give up, and the caller falls
// back to encoding/json, which reports errors properly.

// fastValue is one field: a string (isStr) or an integer.
type fastValue struct {
	s     string
	n     int64
	isStr bool
}

// interner shares the repeated strings (countries, owners) of one read and
// copies them out of the row, so that results do not keep rows alive.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(in) < 1<<16 {
		in[v] = v
	}
	return v
}

// getBytes is get for a byte slice (not kept).
func (in interner) getBytes(b []byte) string {
	if v, ok := in[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(in) < 1<<16 {
		in[v] = v
	}
	return v
}

// fastArrays calls fn for each inner array of s, which must have exactly n
// fields. ok is false when s is not in the writer's plain form.
func fastArrays(s string, n int, fn func([]fastValue) bool) (ok bool) {
	vals := make([]fastValue, n)
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '[' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return skipSpace(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '[' {
			return false
		}
		i++
		for f := 0; f < n; f++ {
			i = skipSpace(s, i)
			if i >= len(s) {
				return false
			}
			if s[i] == '"' {
				j := i + 1
				for j < len(s) && s[j] != '"' {
					if s[j] == '\\' || s[j] < 0x20 {
						return false
					}
					j++
				}
				if j >= len(s) {
					return false
				}
				if !utf8.ValidString(s[i+1 : j]) {
					return false // encoding/json would substitute U+FFFD
				}
				vals[f] = fastValue{s: s[i+1 : j], isStr: true}
				i = j + 1
			} else {
				j := i
				if j < len(s) && s[j] == '-' {
					j++
				}
				d := j
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				if j-d > 1 && s[d] == '0' {
					return false // JSON has no leading zeros
				}
				v, err := strconv.ParseInt(s[i:j], 10, 64)
				if err != nil {
					return false
				}
				vals[f] = fastValue{n: v}
				i = j
			}
			i = skipSpace(s, i)
			if f < n-1 {
				if i >= len(s) || s[i] != ',' {
					return false
				}
				i++
			}
		}
		if i >= len(s) || s[i] != ']' {
			return false
		}
		if !fn(vals) {
			return false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return false
		}
		if s[i] == ']' {
			return skipSpace(s, i+1) == len(s)
		}
		if s[i] != ',' {
			return false
		}
		i = skipSpace(s, i+1)
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	return i
}

// fastHours decodes an "hours" array; ok is false when the slow path must.
func fastHours(s string, in interner, out []hourEntry) ([]hourEntry, bool) {
	ok := fastArrays(s, 8, func(v []fastValue) bool {
		if v[0].isStr || v[1].isStr || !v[2].isStr || v[3].isStr || !v[4].isStr || v[5].isStr || v[6].isStr || v[7].isStr {
			return false
		}
		out = append(out, hourEntry{hour: v[0].n, outbound: v[1].n != 0, country: in.get(v[2].s), asn: uint32(v[3].n), owner: in.get(v[4].s),
			flows: uint64(v[5].n), packets: uint64(v[6].n), bytes: uint64(v[7].n)})
		return true
	})
	return out, ok
}

// fastRelations decodes a "peers" array; ok is false when the slow path must.
func fastRelations(s string, in interner, out []relEntry) ([]relEntry, bool) {
	ok := fastArrays(s, 12, func(v []fastValue) bool {
		if !v[0].isStr || !v[9].isStr || !v[11].isStr {
			return false
		}
		for _, i := range []int{1, 2, 3, 4, 5, 6, 7, 8, 10} {
			if v[i].isStr {
				return false
			}
		}
		peer, err := netip.ParseAddr(v[0].s)
		if err != nil {
			return false
		}
		out = append(out, relEntry{peer: peer, proto: uint8(v[1].n), port: uint16(v[2].n), outbound: v[3].n != 0,
			flows: uint64(v[4].n), packets: uint64(v[5].n), bytes: uint64(v[6].n), first: v[7].n, last: v[8].n,
			country: in.get(v[9].s), asn: uint32(v[10].n), owner: in.get(v[11].s)})
		return true
	})
	return out, ok
}
