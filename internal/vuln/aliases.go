package vuln

import (
	_ "embed"
	"encoding/json"
	"strings"
	"sync"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln/cpe"
)

//go:embed data/aliases.json
var aliasesJSON []byte

// aliasTable maps the names scanners see to NVD's names.
type aliasTable struct {
	Products map[string][]string `json:"products"` // product -> ["vendor:product", ...]
	Vendors  map[string]string   `json:"vendors"`  // spelling -> NVD vendor
}

var loadAliases = sync.OnceValue(func() *aliasTable {
	var t aliasTable
	if err := json.Unmarshal(aliasesJSON, &t); err != nil {
		panic("vuln: embedded aliases.json: " + err.Error()) // caught by tests
	}
	return &t
})

// normName lower-cases a free-text name and joins words with underscores.
func normName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "_")
}

// NVDNames returns the NVD vendor:product pairs for a product name a scanner
// reported, and whether the alias table knows it.
func NVDNames(product string) ([]string, bool) {
	v, ok := loadAliases().Products[normName(product)]
	return v, ok
}

// NVDVendor returns NVD's spelling of a vendor name.
func NVDVendor(vendor string) string {
	v := normName(vendor)
	if nv, ok := loadAliases().Vendors[v]; ok {
		return nv
	}
	return v
}

// KnownNames turns a fingerprint into the CPE names to match: its CPE as
// given; the product through the alias table (or as vendor:product when the
// table does not know it, with any vendor when none was reported); and for
// devices (a device type, or a device vendor) the firmware
// (o:vendor:product_firmware:version) with its hardware (h:vendor:product)
// as the platform NVD lists it with.
func KnownNames(fp model.Fingerprint) []cpe.Name {
	var out []cpe.Name
	seen := map[string]bool{}
	add := func(n cpe.Name) {
		if s := n.String(); !seen[s] {
			seen[s] = true
			out = append(out, n)
		}
	}
	if fp.CPE != "" {
		if n, err := cpe.Parse(fp.CPE); err == nil {
			if n[cpe.Version].Kind == cpe.Any && fp.Version != "" {
				n[cpe.Version] = cpe.Literal(fp.Version)
			}
			add(n)
		}
	}
	product := normName(fp.Product)
	if product == "" {
		return out
	}
	// Banners append distribution and build details after a space
	// ("9.2p1 Debian-2+deb12u3", "V5.5.0 build 210628"); NVD lists upstream
	// versions only.
	if f := strings.Fields(fp.Version); len(f) > 0 {
		fp.Version = f[0]
	}
	vendor := NVDVendor(fp.Vendor)
	if names, ok := NVDNames(product); ok {
		for _, vp := range names {
			v, p, _ := strings.Cut(vp, ":")
			add(cpe.New("a", v, p, fp.Version))
		}
	} else {
		add(cpe.New("a", vendor, product, fp.Version))
	}
	if vendor != "" && (fp.DeviceType != "" || deviceVendors[vendor]) {
		fw := product
		if !strings.HasSuffix(fw, "_firmware") {
			fw += "_firmware"
		}
		add(cpe.New("o", vendor, fw, fp.Version))
		add(cpe.New("h", vendor, strings.TrimSuffix(product, "_firmware"), ""))
	}
	return out
}
