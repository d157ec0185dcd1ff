package detect

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// The embedded vendor networks (vendor_networks.csv, CC-BY-4.0, see
// vendor_networks.README.md): the address ranges of the ASNs of the
// operating-system and antivirus vendors in beacon.allow_owners, so that the
// owner allow-list works without an ASN database.

//go:embed vendor_networks.csv
var vendorCSV []byte

type vendorRange struct {
	first, last netip.Addr
	owner       string
}

var vendorNets = sync.OnceValue(func() []vendorRange {
	rows, err := csv.NewReader(bytes.NewReader(vendorCSV)).ReadAll()
	if err != nil {
		panic("detect: embedded vendor_networks.csv: " + err.Error())
	}
	out := make([]vendorRange, 0, len(rows))
	for _, r := range rows {
		f, err1 := netip.ParseAddr(r[0])
		l, err2 := netip.ParseAddr(r[1])
		if err1 != nil || err2 != nil || len(r) < 4 {
			panic("detect: embedded vendor_networks.csv: bad row " + strings.Join(r, ","))
		}
		out = append(out, vendorRange{f, l, r[3]})
	}
	slices.SortFunc(out, func(a, b vendorRange) int { return a.first.Compare(b.first) })
	return out
})

// VendorOwner returns the owner of a's network when it is one of the
// embedded vendor networks, or "".
func VendorOwner(a netip.Addr) string {
	a = a.Unmap()
	nets := vendorNets()
	i, _ := slices.BinarySearchFunc(nets, a, func(r vendorRange, a netip.Addr) int { return r.first.Compare(a) })
	// nets[i-1] is the last range starting at or before a (or nets[i] starts at a).
	for _, j := range []int{i, i - 1} {
		if j >= 0 && j < len(nets) && nets[j].first.Compare(a) <= 0 && a.Compare(nets[j].last) <= 0 {
			return nets[j].owner
		}
	}
	return ""
}
