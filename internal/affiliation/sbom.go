package affiliation

import (
	"bytes"
	"fmt"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// SBOMSuppliers reads a CycloneDX SBOM (JSON or XML) and returns the
// companies it names — metadata manufacturer and supplier, and each
// component's supplier, manufacturer, publisher and author — as subjects
// with role component-supplier, one per distinct name.
func SBOMSuppliers(b []byte, source string) ([]Subject, error) {
	if len(b) > MaxListSize {
		return nil, fmt.Errorf("%w: SBOM larger than %d bytes", ErrFormat, MaxListSize)
	}
	format := cdx.BOMFileFormatJSON
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '<' {
		format = cdx.BOMFileFormatXML
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), format).Decode(&bom); err != nil {
		return nil, fmt.Errorf("%w: SBOM %s: %v", ErrFormat, source, err)
	}
	if bom.BOMFormat != "" && bom.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("%w: SBOM %s: bomFormat %q is not CycloneDX", ErrFormat, source, bom.BOMFormat)
	}
	var out []Subject
	idx := map[string]int{}
	add := func(name, what string) {
		name = strings.TrimSpace(name)
		if name == "" || len(name) > 300 {
			return
		}
		k := strings.ToLower(name)
		if i, ok := idx[k]; ok {
			if len(out[i].Detail) < 200 && what != "" && !strings.Contains(out[i].Detail, what) {
				out[i].Detail += ", " + what
			}
			return
		}
		idx[k] = len(out)
		out = append(out, Subject{Role: RoleSupplier, Name: name, Source: "sbom " + source, Detail: what})
	}
	org := func(e *cdx.OrganizationalEntity, what string) {
		if e != nil {
			add(e.Name, what)
		}
	}
	var walk func(cs *[]cdx.Component, depth int)
	walk = func(cs *[]cdx.Component, depth int) {
		if cs == nil || depth > 32 {
			return
		}
		for i := range *cs {
			c := &(*cs)[i]
			what := strings.TrimSpace(c.Name + " " + c.Version)
			org(c.Supplier, what)
			org(c.Manufacturer, what)
			add(c.Publisher, what)
			add(c.Author, what)
			walk(c.Components, depth+1)
		}
	}
	if m := bom.Metadata; m != nil {
		org(m.Manufacturer, "product")
		org(m.Supplier, "product")
		if m.Component != nil {
			org(m.Component.Supplier, "product")
			org(m.Component.Manufacturer, "product")
		}
	}
	walk(bom.Components, 0)
	return out, nil
}
