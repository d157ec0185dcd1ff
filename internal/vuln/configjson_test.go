package vuln

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"iotwatch/internal/vuln/feed"
)

var configJSONSeeds = []string{
	``,
	`null`,
	`[]`,
	`[{"nodes":[{"m":[{"v":true,"c":"cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*","ee":"9.8"}]}]}]`,
	`[{"op":"AND","nodes":[{"op":"OR","m":[{"v":true,"c":"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*"}]},{"op":"OR","neg":true,"m":[{"v":false,"c":"cpe:2.3:h:hikvision:ds-2cd2026g2-iu\\/sl:-:*:*:*:*:*:*:*","si":"1","se":"2","ei":"3"}]}]}]`,
	`[{"nodes":[{"m":[{"v":true,"c":"cpe:2.3:a:x:y\u003cz:1.0"}]}]}]`,
	` [ { "op" : "AND" , "neg" : true , "nodes" : null } ] `,
	`[{"nodes":[{"m":[{"v":true,"c":"caf\u00e9"}]}]}]`,
	`[{"nodes":[{"m":[{"v":true,"c":"\ud83d\ude00"}]}]}]`,
	`[{"Nodes":[]}]`,
	`[{"nodes":[{"m":[{"v":true,"c":"é"}]}]}]`,
	`[{"nodes":[{"m":[{"v":1}]}]}]`,
	`[{"nodes":[{"m":[{"v":true,"c":"a"}]}]}`,
	`[{"nodes":[],"nodes":[{"m":[]}]}]`,
}

// TestDecodeConfigs checks the fast decoder against encoding/json on what
// the importer writes and on odd input.
func TestDecodeConfigs(t *testing.T) {
	for _, s := range configJSONSeeds {
		checkDecodeConfigs(t, s)
	}
	cfgs := []feed.Config{{Operator: "AND", Negate: true, Nodes: []feed.Node{
		{Operator: "OR", Matches: []feed.Match{{Vulnerable: true, Criteria: `cpe:2.3:a:x:a\/b<&>"q":1.0`, StartIncl: "1", StartExcl: "2", EndIncl: "3", EndExcl: "4"}}},
		{Negate: true, Matches: []feed.Match{{Criteria: "cpe:2.3:h:x:y:-"}}},
	}}}
	b, err := json.Marshal(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	p := cfgParser{s: string(b)}
	got, ok := p.configs()
	if !ok {
		t.Fatalf("fast path rejected json.Marshal output %s", b)
	}
	if diff := cmp.Diff(cfgs, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func checkDecodeConfigs(t *testing.T, s string) {
	t.Helper()
	got, err := decodeConfigs(s)
	var want []feed.Config
	var werr error
	if s != "" {
		werr = json.Unmarshal([]byte(s), &want)
	}
	if (err != nil) != (werr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", s, err, werr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%q (-encoding/json +fast):\n%s", s, diff)
	}
	c, err := compileStored(s)
	if err != nil {
		t.Fatalf("%q: compileStored: %v", s, err)
	}
	if w, g := dumpCompiled(compile(want)), dumpCompiled(c); w != g {
		t.Errorf("%q: compileStored\n%s\nwant\n%s", s, g, w)
	}
}

// dumpCompiled prints what matching uses of a compiled CVE.
func dumpCompiled(c *compiled) string {
	var b strings.Builder
	for _, cc := range c.configs {
		fmt.Fprintf(&b, "config and=%v neg=%v\n", cc.and, cc.neg)
		for _, n := range cc.nodes {
			fmt.Fprintf(&b, " node and=%v neg=%v platform=%v\n", n.and, n.neg, n.platform)
			for i := range n.ms {
				m := &n.ms[i]
				fmt.Fprintf(&b, "  %v %q %q %q", m.vuln, m.raw, m.vendor, m.product)
				if m.rng != nil {
					fmt.Fprintf(&b, " %+v", *m.rng)
				}
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

func FuzzDecodeConfigs(f *testing.F) {
	for _, s := range configJSONSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkDecodeConfigs(t, s)
	})
}

// BenchmarkCompileStored measures a cold match's per-CVE cost: decoding the
// stored configurations of the 30 real NVD fixtures and compiling them.
func BenchmarkCompileStored(b *testing.B) {
	d := fixtureDB(b)
	rows, err := d.st.DB().Query("SELECT configs FROM vuln_cves")
	if err != nil {
		b.Fatal(err)
	}
	var raws []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			b.Fatal(err)
		}
		raws = append(raws, s)
	}
	rows.Close()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range raws {
			if _, err := compileStored(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
