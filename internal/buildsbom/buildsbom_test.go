package buildsbom

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schema compiles the CycloneDX 1.6 JSON schema shipped in the cyclonedx-go
// module this package builds with.
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("locate cyclonedx-go: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, id := range map[string]string{
		"bom-1.6.schema.json":   "http://cyclonedx.org/schema/bom-1.6.schema.json",
		"spdx.schema.json":      "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schemax.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	} {
		f, err := os.Open(filepath.Join(strings.TrimSpace(string(dir)), "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validate encodes bom, checks it against the schema and decodes it back.
func validate(t *testing.T, s *jsonschema.Schema, bom *cdx.BOM) *cdx.BOM {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, bom); err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(doc); err != nil {
		t.Fatalf("SBOM does not conform to CycloneDX 1.6: %v\n%s", err, buf.String())
	}
	var back cdx.BOM
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	return &back
}

func byName(bom *cdx.BOM) map[string]cdx.Component {
	m := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		m[c.Name] = c
	}
	return m
}

func TestFromBuildInfo(t *testing.T) {
	s := schema(t)
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "iotwatch", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
			{Path: "golang.org/x/net", Version: "v0.1.0", Replace: &debug.Module{Path: "example.com/fork/net", Version: "v0.1.1"}},
			{Path: "gopkg.in/yaml.v3", Version: "v3.0.1", Sum: "h1:not base64!"},
		},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}, {Key: "CGO_ENABLED", Value: "0"},
			{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}, {Key: "-ldflags", Value: "-X secret=1"},
		},
	}
	bom := validate(t, s, FromBuildInfo(bi))
	if got, want := bom.Metadata.Component.Version, "0123456789abcdef+dirty"; got != want {
		t.Errorf("main version %q, want %q (the VCS revision of a devel build)", got, want)
	}
	props := map[string]string{}
	for _, p := range *bom.Metadata.Component.Properties {
		props[p.Name] = p.Value
	}
	if props["go:build:GOOS"] != "linux" || props["go:build:CGO_ENABLED"] != "0" {
		t.Errorf("build properties %v lack GOOS/CGO_ENABLED", props)
	}
	if _, ok := props["go:build:-ldflags"]; ok {
		t.Error("-ldflags (may carry secrets) recorded as a property")
	}
	comps := byName(bom)
	tests := []struct {
		name, version, purl, sha256 string
	}{
		{"stdlib", "go1.26.8", "pkg:golang/stdlib@go1.26.8", ""},
		{"github.com/spf13/cobra", "v1.10.2", "pkg:golang/github.com/spf13/cobra@v1.10.2", strings.Repeat("0", 64)},
		{"example.com/fork/net", "v0.1.1", "pkg:golang/example.com/fork/net@v0.1.1", ""},
		{"gopkg.in/yaml.v3", "v3.0.1", "pkg:golang/gopkg.in/yaml.v3@v3.0.1", ""},
	}
	if len(comps) != len(tests) {
		t.Errorf("%d components, want %d: %v", len(comps), len(tests), comps)
	}
	for _, tt := range tests {
		c, ok := comps[tt.name]
		if !ok {
			t.Errorf("component %s missing", tt.name)
			continue
		}
		if c.Version != tt.version || c.PackageURL != tt.purl {
			t.Errorf("%s: version %q purl %q, want %q %q", tt.name, c.Version, c.PackageURL, tt.version, tt.purl)
		}
		if got := hashOf(c); got != tt.sha256 {
			t.Errorf("%s: sha256 %q, want %q", tt.name, got, tt.sha256)
		}
	}
	if _, ok := comps["golang.org/x/net"]; ok {
		t.Error("a replaced module is listed under its original path")
	}
	if deps := *(*bom.Dependencies)[0].Dependencies; len(deps) != len(tests) {
		t.Errorf("main depends on %d components, want %d", len(deps), len(tests))
	}
	again := FromBuildInfo(bi)
	if again.SerialNumber != bom.SerialNumber {
		t.Errorf("serial number changes between runs: %s, %s", bom.SerialNumber, again.SerialNumber)
	}
}

// TestIotwatchBinary builds cmd/iotwatch and describes it from the build
// information in the file: every module that `go list -deps` says the
// command links is listed at its version, with its go.sum hash.
func TestIotwatchBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the iotwatch binary")
	}
	bin := filepath.Join(t.TempDir(), "iotwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "iotwatch/cmd/iotwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	bom := validate(t, schema(t), FromBuildInfo(bi))
	if m := bom.Metadata.Component; m.Name != "iotwatch" || m.PackageURL == "" || strings.Contains(m.PackageURL, "devel") {
		t.Errorf("main component %q purl %q, want iotwatch and a purl without a made-up version", m.Name, m.PackageURL)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "iotwatch/cmd/iotwatch").Output()
	if err != nil {
		t.Fatal(err)
	}
	comps := byName(bom)
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, version, ok := strings.Cut(line, " "); ok {
			want[path] = version
		}
	}
	if len(want) < 20 {
		t.Fatalf("go list found only %d modules: %q", len(want), out)
	}
	for path, version := range want {
		c, ok := comps[path]
		if !ok {
			t.Errorf("%s missing from the SBOM", path)
			continue
		}
		if c.Version != version || len(hashOf(c)) != 64 {
			t.Errorf("%s: version %q hash %q, want %s and a SHA-256", path, c.Version, hashOf(c), version)
		}
	}
	if len(comps) != len(want)+1 { // + stdlib
		t.Errorf("%d components, want %d modules + stdlib", len(comps), len(want))
	}
}
