package label

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/assess"
	"iotwatch/internal/declare"
	"iotwatch/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// result assesses two units of one camera model sharing a default password,
// one with a declaration whose maker name needs escaping.
func result(t testing.TB) *assess.Result {
	t.Helper()
	ts := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("10.0.0.11"), netip.MustParseAddr("10.0.0.12")
	ev := assess.Evidence{
		Runs: []model.Run{{ID: 1, Kind: "scan"}, {ID: 2, Kind: "audit"}},
		Assets: []model.Asset{
			{IP: a, Vendor: "Example", Product: "IPC-2000", CPE: "cpe:2.3:h:example:ipc-2000:-:*:*:*:*:*:*:*"},
			{IP: b, Vendor: "Example", Product: "IPC-2000", CPE: "cpe:2.3:h:example:ipc-2000:-:*:*:*:*:*:*:*"},
		},
		Services: []model.Service{
			{IP: a, Port: 23, Transport: "tcp", Protocol: "telnet", Status: model.StatusSuccess, Time: ts},
			{IP: b, Port: 23, Transport: "tcp", Protocol: "telnet", Status: model.StatusSuccess, Time: ts},
		},
		Credentials: []model.CredentialResult{
			{IP: a, Port: 23, Protocol: "telnet", Username: "admin", Password: "hunter2", Kind: model.KindDefaultCredential},
			{IP: b, Port: 23, Protocol: "telnet", Username: "admin", Password: "hunter2", Kind: model.KindDefaultCredential},
		},
		Vulns: []model.VulnMatch{{IP: a, CVE: "CVE-2021-36260", CVSS: 9.8, KEV: true, CPE: "cpe:2.3:h:example:ipc-2000"}},
	}
	d, err := declare.Parse([]byte(`{"schema_version":"1","product":{"model":"IPC-2000"},
		"manufacturer":{"name":"Example <Cameras> & Co","country":"GB"},
		"support":{"end_date":"2030-12-31"},
		"data":{"collected":[{"type":"video","purposes":["viewing"]}],"recipients":[{"name":"Cloud","country":"DE"}]}}`), "ipc.json")
	if err != nil {
		t.Fatal(err)
	}
	ev.Declarations = []*declare.Declaration{d}
	res, err := assess.Assess(context.Background(), ev, assess.Options{Now: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func render(t testing.TB, res *assess.Result, format string, opts Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, res, format, opts); err != nil {
		t.Fatalf("Render %s: %v", format, err)
	}
	return b.String()
}

func TestShortText(t *testing.T) {
	out := render(t, result(t), Text, Options{RecordURL: "https://cert.invalid/record/{id}"})
	for _, want := range []string{"tier E", "universal default accepted", "2030-12-31", "CVE-2021-36260", "DE (declared)", "https://cert.invalid/record/10.0.0.11"} {
		if !strings.Contains(out, want) {
			t.Errorf("text label lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("text label shows a password")
	}
}

func TestShortJSON(t *testing.T) {
	out := render(t, result(t), JSON, Options{})
	dec := json.NewDecoder(strings.NewReader(out))
	var n int
	for {
		var l Short
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		if l.Tier != "E" || len(l.Lines) < 4 || l.Lines[1].Status != "bad" {
			t.Errorf("label %+v", l)
		}
	}
	if n != 2 {
		t.Errorf("got %d labels, want 2", n)
	}
}

func TestSVGWellFormedAndEscaped(t *testing.T) {
	out := render(t, result(t), SVG, Options{})
	dec := xml.NewDecoder(strings.NewReader(out))
	var cards, qr int
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "g" {
			for _, a := range se.Attr {
				if a.Name.Local == "class" && a.Value == "label-card" {
					cards++
				}
				if a.Name.Local == "class" && a.Value == "qr" {
					qr++
				}
			}
		}
	}
	if cards != 2 || qr != 2 {
		t.Errorf("cards %d, qr codes %d; want 2, 2", cards, qr)
	}
	if !strings.Contains(out, "Example &lt;Cameras&gt; &amp; Co") {
		t.Error("maker name not escaped")
	}
}

func TestRecordHTMLHasEveryProvision(t *testing.T) {
	res := result(t)
	out := render(t, res, HTML, Options{Detailed: true})
	for _, s := range res.Subjects {
		for _, b := range s.Baselines {
			for _, p := range b.Provisions {
				if !strings.Contains(out, "<b>"+p.ID+"</b>") {
					t.Fatalf("record lacks provision %s", p.ID)
				}
			}
		}
	}
	if strings.Contains(out, "<Cameras>") {
		t.Error("record does not escape declaration text")
	}
	if strings.Contains(out, "hunter2") {
		t.Error("record shows a password")
	}
}

func TestRenderErrors(t *testing.T) {
	res := result(t)
	if err := Render(io.Discard, res, "pdf", Options{}); err == nil {
		t.Error("pdf accepted")
	}
	if err := Render(io.Discard, res, SVG, Options{Detailed: true}); err == nil {
		t.Error("svg record accepted")
	}
	if err := Render(io.Discard, nil, Text, Options{}); err == nil {
		t.Error("nil result accepted")
	}
}

func TestGolden(t *testing.T) {
	res := result(t)
	for _, tt := range []struct {
		file, format string
		opts         Options
	}{
		{"label.txt", Text, Options{RecordURL: "https://cert.invalid/record/{id}"}},
		{"label.svg", SVG, Options{RecordURL: "https://cert.invalid/record/{id}"}},
		{"record.txt", Text, Options{Detailed: true}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got := render(t, res, tt.format, tt.opts)
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from golden file; run go test -update and review", path)
			}
		})
	}
}

func BenchmarkRenderSVG(b *testing.B) {
	res := result(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, res, SVG, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
