package vuln

import (
	"testing"

	"iotwatch/internal/vuln/cpe"
	"iotwatch/internal/vuln/feed"
)

func names(ss ...string) []cpe.Name {
	var out []cpe.Name
	for _, s := range ss {
		out = append(out, normalise(cpe.MustParse(s)))
	}
	return out
}

func TestEvalConfigurations(t *testing.T) {
	m := func(vuln bool, c string, rng ...string) feed.Match {
		mt := feed.Match{Vulnerable: vuln, Criteria: c}
		if len(rng) == 4 {
			mt.StartIncl, mt.StartExcl, mt.EndIncl, mt.EndExcl = rng[0], rng[1], rng[2], rng[3]
		}
		return mt
	}
	fw := m(true, "cpe:2.3:o:acme:cam_firmware:*:*:*:*:*:*:*:*", "", "", "", "2.0")
	hw := m(false, "cpe:2.3:h:acme:cam:-:*:*:*:*:*:*:*")
	andCfg := feed.Config{Operator: "AND", Nodes: []feed.Node{{Matches: []feed.Match{fw}}, {Matches: []feed.Match{hw}}}}
	tests := []struct {
		name    string
		cfg     feed.Config
		known   []cpe.Name
		want    bool
		assumed bool
	}{
		{"firmware on its hardware", andCfg, names("cpe:2.3:o:acme:cam_firmware:1.5", "cpe:2.3:h:acme:cam"), true, false},
		{"firmware, hardware unknown", andCfg, names("cpe:2.3:o:acme:cam_firmware:1.5"), true, true},
		{"firmware on other hardware", andCfg, names("cpe:2.3:o:acme:cam_firmware:1.5", "cpe:2.3:h:acme:doorbell"), false, false},
		{"fixed firmware", andCfg, names("cpe:2.3:o:acme:cam_firmware:2.0", "cpe:2.3:h:acme:cam"), false, false},
		{"hardware only", andCfg, names("cpe:2.3:h:acme:cam"), false, false},
		{"excluding start", feed.Config{Nodes: []feed.Node{{Matches: []feed.Match{m(true, "cpe:2.3:a:x:y:*", "", "1.0", "1.5", "")}}}},
			names("cpe:2.3:a:x:y:1.0"), false, false},
		{"including end", feed.Config{Nodes: []feed.Node{{Matches: []feed.Match{m(true, "cpe:2.3:a:x:y:*", "", "1.0", "1.5", "")}}}},
			names("cpe:2.3:a:x:y:1.5"), true, false},
		{"AND node needs all", feed.Config{Nodes: []feed.Node{{Operator: "AND", Matches: []feed.Match{
			m(true, "cpe:2.3:a:x:y:1.0"), m(true, "cpe:2.3:a:x:z:2.0")}}}}, names("cpe:2.3:a:x:y:1.0"), false, false},
		{"AND node all present", feed.Config{Nodes: []feed.Node{{Operator: "AND", Matches: []feed.Match{
			m(true, "cpe:2.3:a:x:y:1.0"), m(true, "cpe:2.3:a:x:z:2.0")}}}}, names("cpe:2.3:a:x:y:1.0", "cpe:2.3:a:x:z:2.0"), true, false},
		{"negated node excludes", feed.Config{Operator: "AND", Nodes: []feed.Node{
			{Matches: []feed.Match{m(true, "cpe:2.3:a:x:y:*", "", "", "", "3.0")}},
			{Negate: true, Matches: []feed.Match{m(false, "cpe:2.3:o:x:safe_os:*")}}}},
			names("cpe:2.3:a:x:y:1.0", "cpe:2.3:o:x:safe_os:1"), false, false},
		{"negated node satisfied", feed.Config{Operator: "AND", Nodes: []feed.Node{
			{Matches: []feed.Match{m(true, "cpe:2.3:a:x:y:*", "", "", "", "3.0")}},
			{Negate: true, Matches: []feed.Match{m(false, "cpe:2.3:o:x:safe_os:*")}}}},
			names("cpe:2.3:a:x:y:1.0", "cpe:2.3:o:x:other_os:1"), true, false},
		{"unparsable criterion ignored", feed.Config{Nodes: []feed.Node{{Matches: []feed.Match{m(true, "garbage"), m(true, "cpe:2.3:a:x:y:1.0")}}}},
			names("cpe:2.3:a:x:y:1.0"), true, false},
		{"wildcard product", feed.Config{Nodes: []feed.Node{{Matches: []feed.Match{m(true, "cpe:2.3:a:x:y*:1.0")}}}},
			names("cpe:2.3:a:x:yz:1.0"), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := compile([]feed.Config{tt.cfg}).eval(tt.known)
			if ok != tt.want || (ok && h.platformAssumed != tt.assumed) {
				t.Errorf("eval = %v (platform assumed %v), want %v (%v)", ok, h.platformAssumed, tt.want, tt.assumed)
			}
		})
	}
}
