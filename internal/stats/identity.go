package stats

import (
	"cmp"
	"slices"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
)

// Identity is what is known of a device before any log-in: its maker,
// product and kind, from the scan's fingerprints. Empty fields are unknown.
type Identity struct {
	Vendor     string `json:"vendor,omitempty"`
	Product    string `json:"product,omitempty"`
	DeviceType string `json:"device_type,omitempty"`
}

// Credentialed reports whether a protocol's fingerprint is learnt only
// through an accepted credential: an SNMP agent answers only a community it
// knows, and an MQTT broker names its version ($SYS) only to a client it
// accepted. Such fingerprints exist only for the devices whose credentials
// are weak, so identifying devices by them would bias every breakdown of
// the weak share towards 100%.
func Credentialed(proto string) bool {
	return proto == model.ProtoSNMP || proto == model.ProtoMQTT
}

// rank orders fingerprints by how well they identify the device: a specific
// device type first, then a protocol whose answers describe the device
// (protocol.Spec.Identifies: UPnP descriptions, Modbus device
// identification, camera streams; HTTP, SSH and FTP banners often name
// server software), then the fingerprint's own confidence.
func rank(proto string, f *model.Fingerprint) float64 {
	r := f.Confidence
	if !model.GenericDeviceType(f.DeviceType) {
		r += 2
	}
	if protocol.Lookup(proto).Identifies {
		r++
	}
	return r
}

// Identify returns a device's identity from the fingerprints of its
// services, ignoring those learnt through a credential (Credentialed) and
// those that name only server software (an OpenSSH banner says nothing of
// the maker), but reading the device a software fingerprint names beside it
// (model.Fingerprint.Device). The best-ranked fingerprint gives vendor and
// product; the device type is the best-ranked specific one.
func Identify(services []model.Service) Identity {
	type cand struct {
		proto string
		fp    *model.Fingerprint
	}
	// Candidates in port order, so that fingerprints of equal rank resolve
	// the same way whatever order the services were stored in (scan shards
	// on several workers store them in different orders).
	services = slices.Clone(services)
	slices.SortStableFunc(services, func(a, b model.Service) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Transport, b.Transport), cmp.Compare(a.Protocol, b.Protocol))
	})
	var cands []cand
	for _, s := range services {
		fp := s.Fingerprint
		if fp == nil || Credentialed(s.Protocol) {
			continue
		}
		if fp.SoftwareOnly() {
			fp = fp.Device
		}
		if fp == nil || fp.SoftwareOnly() || (fp.Empty() && model.GenericDeviceType(fp.DeviceType)) {
			continue
		}
		cands = append(cands, cand{s.Protocol, fp})
	}
	var id Identity
	best, bestTyped := -1.0, -1.0
	for _, c := range cands {
		r := rank(c.proto, c.fp)
		if (c.fp.Vendor != "" || c.fp.Product != "") && r > best {
			best = r
			id.Vendor, id.Product = c.fp.Vendor, c.fp.Product
		}
		if !model.GenericDeviceType(c.fp.DeviceType) && r > bestTyped {
			bestTyped = r
			id.DeviceType = c.fp.DeviceType
		}
	}
	if id.Vendor == "" {
		for _, c := range cands { // a product without a vendor: take any vendor named
			id.Vendor = cmp.Or(id.Vendor, c.fp.Vendor)
		}
	}
	return id
}
