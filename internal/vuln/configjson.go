package vuln

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"iotwatch/internal/vuln/feed"
)

// decodeConfigs decodes the configurations stored in vuln_cves.configs. The
// column holds what json.Marshal wrote for []feed.Config, so a small
// special-purpose decoder reads it several times faster than encoding/json's
// reflection, and its strings share the column's memory when they need no
// unescaping. Anything it does not expect (another writer, a future field)
// falls back to encoding/json, so the result is always the same.
func decodeConfigs(raw string) ([]feed.Config, error) {
	if raw == "" {
		return nil, nil
	}
	p := cfgParser{s: raw}
	if cfgs, ok := p.configs(); ok {
		return cfgs, nil
	}
	var cfgs []feed.Config
	if err := json.Unmarshal([]byte(raw), &cfgs); err != nil {
		return nil, err
	}
	return cfgs, nil
}

// compileStored decodes and compiles stored configurations in one pass,
// without building the []feed.Config that compile takes.
func compileStored(raw string) (*compiled, error) {
	if raw == "" {
		return compile(nil), nil
	}
	sp := scratchPool.Get().(*[]feed.Match)
	p := cfgParser{s: raw, scratch: (*sp)[:0]}
	cc, ok := p.compiled()
	clear(p.scratch[:cap(p.scratch)]) // drop references into raw
	*sp = p.scratch[:0]
	scratchPool.Put(sp)
	if ok {
		return &compiled{configs: cc}, nil
	}
	cfgs, err := decodeConfigs(raw)
	if err != nil {
		return nil, err
	}
	return compile(cfgs), nil
}

// scratchPool recycles cfgParser.scratch: nodes of large records hold
// hundreds of criteria.
var scratchPool = sync.Pool{New: func() any { return new([]feed.Match) }}

var errCfgSyntax = errors.New("unexpected configuration JSON")

type cfgParser struct {
	s   string
	i   int
	err error
	// scratch collects a node's criteria before they are compiled into
	// a slice of the right size.
	scratch []feed.Match
}

func (p *cfgParser) fail() { p.err = errCfgSyntax }

func (p *cfgParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// eat consumes byte c (after white space) and reports whether it was there.
func (p *cfgParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *cfgParser) expect(c byte) {
	if !p.eat(c) {
		p.fail()
	}
}

// list parses a JSON array (or null), calling elem for each element.
func (p *cfgParser) list(elem func()) {
	p.ws()
	if p.lit("null") {
		return
	}
	p.expect('[')
	if p.err != nil || p.eat(']') {
		return
	}
	for p.err == nil {
		elem()
		if p.eat(',') {
			continue
		}
		p.expect(']')
		return
	}
}

// object parses a JSON object, calling field for each key.
func (p *cfgParser) object(field func(key string)) {
	p.expect('{')
	if p.err != nil || p.eat('}') {
		return
	}
	for p.err == nil {
		key := p.str()
		p.expect(':')
		if p.err != nil {
			return
		}
		field(key)
		if p.eat(',') {
			continue
		}
		p.expect('}')
		return
	}
}

func (p *cfgParser) lit(w string) bool {
	if len(p.s)-p.i >= len(w) && p.s[p.i:p.i+len(w)] == w {
		p.i += len(w)
		return true
	}
	return false
}

func (p *cfgParser) boolean() bool {
	p.ws()
	switch {
	case p.lit("true"):
		return true
	case p.lit("false"), p.lit("null"):
		return false
	}
	p.fail()
	return false
}

// str parses a JSON string (null is "").
func (p *cfgParser) str() string {
	p.ws()
	if p.lit("null") {
		return ""
	}
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		p.fail()
		return ""
	}
	p.i++
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			return v
		case c == '\\':
			return p.escaped(start)
		case c < 0x20 || c >= utf8.RuneSelf:
			// Control bytes are invalid, non-ASCII needs UTF-8
			// validation: leave both to encoding/json.
			p.fail()
			return ""
		}
		p.i++
	}
	p.fail()
	return ""
}

// escaped finishes a string that holds escapes, from its start.
func (p *cfgParser) escaped(start int) string {
	b := []byte(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b)
		case c == '\\':
			if p.i+1 >= len(p.s) {
				p.fail()
				return ""
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				if p.i+4 > len(p.s) {
					p.fail()
					return ""
				}
				r, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
				if err != nil || (r >= 0xd800 && r < 0xe000) {
					p.fail() // surrogates: encoding/json's business
					return ""
				}
				p.i += 4
				b = utf8.AppendRune(b, rune(r))
			default:
				p.fail()
				return ""
			}
		case c < 0x20 || c >= utf8.RuneSelf:
			p.fail()
			return ""
		default:
			b = append(b, c)
			p.i++
		}
	}
	p.fail()
	return ""
}

func (p *cfgParser) configs() ([]feed.Config, bool) {
	var out []feed.Config
	p.list(func() {
		var c feed.Config
		p.object(func(key string) {
			switch key {
			case "op":
				c.Operator = p.str()
			case "neg":
				c.Negate = p.boolean()
			case "nodes":
				c.Nodes = nil
				p.list(func() { c.Nodes = append(c.Nodes, p.node()) })
			default:
				p.fail()
			}
		})
		out = append(out, c)
	})
	p.ws()
	if p.err != nil || p.i != len(p.s) {
		return nil, false
	}
	return out, true
}

func (p *cfgParser) node() feed.Node {
	var n feed.Node
	p.object(func(key string) {
		switch key {
		case "op":
			n.Operator = p.str()
		case "neg":
			n.Negate = p.boolean()
		case "m":
			n.Matches = nil
			p.list(func() { n.Matches = append(n.Matches, p.match()) })
		default:
			p.fail()
		}
	})
	return n
}

func (p *cfgParser) match() feed.Match {
	var m feed.Match
	p.object(func(key string) {
		switch key {
		case "v":
			m.Vulnerable = p.boolean()
		case "c":
			m.Criteria = p.str()
		case "si":
			m.StartIncl = p.str()
		case "se":
			m.StartExcl = p.str()
		case "ei":
			m.EndIncl = p.str()
		case "ee":
			m.EndExcl = p.str()
		default:
			p.fail()
		}
	})
	return m
}

func (p *cfgParser) compiled() ([]cconfig, bool) {
	var out []cconfig
	p.list(func() {
		var c cconfig
		p.object(func(key string) {
			switch key {
			case "op":
				c.and = strings.EqualFold(p.str(), "AND")
			case "neg":
				c.neg = p.boolean()
			case "nodes":
				c.nodes = nil
				p.list(func() { c.nodes = append(c.nodes, p.cnode()) })
			default:
				p.fail()
			}
		})
		out = append(out, c)
	})
	p.ws()
	if p.err != nil || p.i != len(p.s) {
		return nil, false
	}
	return out, true
}

func (p *cfgParser) cnode() cnode {
	var n cnode
	p.scratch = p.scratch[:0]
	p.object(func(key string) {
		switch key {
		case "op":
			n.and = strings.EqualFold(p.str(), "AND")
		case "neg":
			n.neg = p.boolean()
		case "m":
			p.scratch = p.scratch[:0]
			p.list(func() { p.scratch = append(p.scratch, p.match()) })
		default:
			p.fail()
		}
	})
	n.setMatches(p.scratch)
	return n
}
