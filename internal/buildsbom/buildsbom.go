// Package buildsbom describes iotwatch itself as a CycloneDX SBOM, built from
// the module and build information the Go toolchain embeds in every binary
// (runtime/debug.ReadBuildInfo, what `go version -m` prints): the main module,
// every module linked in with its version and go.sum hash, and the Go
// standard library of the toolchain that built it.
package buildsbom

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
	"github.com/package-url/packageurl-go"
)

// FromBuildInfo returns the SBOM of the binary that bi describes. The BOM
// holds no timestamp, and its serial number is derived from its content, so
// the same binary always gives the same document.
func FromBuildInfo(bi *debug.BuildInfo) *cdx.BOM {
	main := component(cdx.ComponentTypeApplication, bi.Main.Path, mainVersion(bi), bi.Main.Sum)
	var props []cdx.Property
	for _, s := range bi.Settings {
		if s.Value != "" && (strings.HasPrefix(s.Key, "GO") || strings.HasPrefix(s.Key, "CGO_") || strings.HasPrefix(s.Key, "vcs.") ||
			s.Key == "-tags" || s.Key == "-trimpath" || s.Key == "-buildmode") {
			props = append(props, cdx.Property{Name: "go:build:" + s.Key, Value: s.Value})
		}
	}
	if len(props) > 0 {
		main.Properties = &props
	}

	std := component(cdx.ComponentTypeLibrary, "stdlib", bi.GoVersion, "")
	comps := []cdx.Component{std}
	refs := []string{std.BOMRef}
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c := component(cdx.ComponentTypeLibrary, m.Path, m.Version, m.Sum)
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	deps := []cdx.Dependency{{Ref: main.BOMRef, Dependencies: &refs}}

	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Component: &main,
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "iotwatch version --sbom", Version: main.Version,
		}}},
	}
	bom.Components = &comps
	bom.Dependencies = &deps
	h := sha256.New()
	for _, c := range append([]cdx.Component{main}, comps...) {
		fmt.Fprintln(h, c.PackageURL, hashOf(c))
	}
	bom.SerialNumber = uuid.NewSHA1(uuid.NameSpaceURL, h.Sum(nil)).URN()
	return bom
}

// Write encodes bom as CycloneDX 1.6 JSON.
func Write(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("encode sbom: %w", err)
	}
	return nil
}

// mainVersion is the main module's version, or the VCS revision of a
// development build ("(devel)" says nothing).
func mainVersion(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	switch {
	case rev == "":
		return "(devel)"
	case modified == "true":
		return rev + "+dirty"
	}
	return rev
}

func component(typ cdx.ComponentType, path, version, sum string) cdx.Component {
	ns, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	pv := version
	if pv == "(devel)" {
		pv = "" // no version rather than a made-up one
	}
	purl := packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, pv, nil, "").ToString()
	c := cdx.Component{Type: typ, BOMRef: purl, Name: path, Version: version, PackageURL: purl}
	if hx := h1Hex(sum); hx != "" {
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hx}}
	}
	return c
}

// h1Hex turns a go.sum hash ("h1:" + base64 SHA-256 of the module's file
// list) into the hex form CycloneDX wants; "" if sum is not an h1 hash.
func h1Hex(sum string) string {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(b)
}

func hashOf(c cdx.Component) string {
	if c.Hashes == nil {
		return ""
	}
	return (*c.Hashes)[0].Value
}
