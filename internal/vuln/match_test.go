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

func TestPlainFields(t *testing.T) {
	tests := []struct{ raw, vendor, product string }{
		{"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", "openbsd", "openssh"},
		{"CPE:2.3:a:OpenBSD:OpenSSH", "openbsd", "openssh"},
		{"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*", "", ""}, // escapes: no pre-filter
		{"cpe:2.3:a:foo\\:bar:baz:1.0", "", ""},
		{"cpe:2.3:a:*:baz:1.0", "", "baz"},
		{"cpe:2.3:a:x:y*:1.0", "x", ""},
		{"cpe:2.3:a:-:?y", "", ""},
		{"cpe:2.3:a:x", "", ""},
		{"cpe:/a:x:y:1.0", "", ""},
		{"garbage", "", ""},
	}
	for _, tt := range tests {
		v, p := plainFields(tt.raw)
		if v != tt.vendor || p != tt.product {
			t.Errorf("plainFields(%q) = %q, %q, want %q, %q", tt.raw, v, p, tt.vendor, tt.product)
		}
	}
}

// TestRejectsOnlyNonMatches checks the vendor/product pre-filter on every
// criterion of the real NVD fixtures: it may only reject what a full
// comparison would not match.
func TestRejectsOnlyNonMatches(t *testing.T) {
	d := fixtureDB(t)
	rows, err := d.st.DB().Query("SELECT configs FROM vuln_cves")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var crit []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		cfgs, err := decodeConfigs(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cfgs {
			for _, n := range c.Nodes {
				for _, m := range n.Matches {
					crit = append(crit, m.Criteria)
				}
			}
		}
	}
	var known []cpe.Name
	for _, c := range crit {
		if n, err := cpe.Parse(c); err == nil {
			known = append(known, n)
		}
	}
	known = append(known, cpe.New("a", "", "openssh", "9.2"), cpe.New("o", "hikvision", "", ""))
	rejected := 0
	for _, c := range crit {
		m := &cmatch{raw: c}
		m.vendor, m.product = plainFields(c)
		p := m.cpeName()
		for _, k := range known {
			if m.rejects(k) {
				rejected++
				if p.ok && p.name.MatchIgnoringVersion(k) {
					t.Fatalf("%s rejected %s, which it matches", c, k)
				}
			}
		}
	}
	if rejected == 0 {
		t.Fatal("nothing rejected")
	}
}
