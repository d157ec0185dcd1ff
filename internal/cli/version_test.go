package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := Execute(context.Background(), []string{"version"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "iotwatch ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("version printed %q, want iotwatch and %s", out.String(), runtime.Version())
	}

	path := filepath.Join(t.TempDir(), "iotwatch.cdx.json")
	if err := Execute(context.Background(), []string{"version", "--sbom", "-o", path}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(f, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Metadata == nil || bom.Metadata.Component == nil || bom.Components == nil {
		t.Fatalf("not a CycloneDX 1.6 SBOM with a main component and components: %+v", bom)
	}
	found := false
	for _, c := range *bom.Components {
		found = found || c.Name == "stdlib" && c.Version == runtime.Version()
	}
	if !found {
		t.Errorf("SBOM lacks the standard library %s: %+v", runtime.Version(), *bom.Components)
	}
}
