package report

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"iotwatch/internal/hostkey"
	"iotwatch/internal/stats"
)

// SecSharedKeys is the shared-keys section's key in Report.Absent.
const SecSharedKeys = "shared_keys"

// SharedKeys counts devices that serve one key from different addresses —
// an SSH host key, or the public key of a TLS certificate — and devices
// serving a key whose private half was extracted from a firmware image:
// every unit of the product holds the same secret, so one extraction
// breaks them all (EN 303 645 provision 5.4-4).
type SharedKeys struct {
	// KeyedDevices is the number of devices presenting a key; Sharing
	// those whose key another device also presents; FromFirmware those
	// whose key's private half is in an analysed firmware image.
	KeyedDevices int      `json:"keyed_devices"`
	Sharing      int      `json:"sharing"`
	SharingShare float64  `json:"sharing_share"`
	SharingCI95  Interval `json:"sharing_ci95"`
	FromFirmware int      `json:"from_firmware"`
	// TLSKeyed, TLSSharing and TLSCertSharing count the devices presenting
	// a TLS certificate, those sharing its public key with another device,
	// and those sharing the certificate itself.
	TLSKeyed       int         `json:"tls_keyed_devices"`
	TLSSharing     int         `json:"tls_sharing"`
	TLSCertSharing int         `json:"tls_cert_sharing"`
	Keys           []SharedKey `json:"keys"`
}

// SharedKey is one key served by several devices, or found in firmware.
type SharedKey struct {
	Kind        string       `json:"kind"`
	Type        string       `json:"type,omitempty"`
	Fingerprint string       `json:"fingerprint"`
	Devices     []netip.Addr `json:"devices"`
	Products    []string     `json:"products,omitempty"`
	// Certs are the SHA-256 of the certificates carrying a TLS key.
	Certs []string `json:"certs,omitempty"`
	// Images are the firmware images whose private key this is.
	Images []string `json:"images,omitempty"`
}

// firmwareKey is the part of a firmware-private-key finding's evidence
// (firmware/secrets.Key) that names the key.
type firmwareKey struct {
	SSHFingerprint string `json:"ssh_fingerprint"`
	// Fingerprint is the SHA-256 of the public key's SubjectPublicKeyInfo,
	// which a TLS key's fingerprint is.
	Fingerprint string `json:"fingerprint"`
}

// buildSharedKeys groups the devices by the keys they present.
func (r *Report) buildSharedKeys(ev *evidence) {
	type acc struct {
		key      hostkey.Key
		devices  map[netip.Addr]bool
		products map[string]bool
		images   map[string]bool
		certs    map[string]map[netip.Addr]bool
	}
	by := map[string]*acc{}
	get := func(k hostkey.Key) *acc {
		a := by[k.Fingerprint]
		if a == nil {
			a = &acc{key: k, devices: map[netip.Addr]bool{}, products: map[string]bool{}, images: map[string]bool{},
				certs: map[string]map[netip.Addr]bool{}}
			by[k.Fingerprint] = a
		}
		if a.key.Type == "" {
			a.key.Type = k.Type
		}
		return a
	}
	ident := map[netip.Addr]stats.Identity{}
	for _, d := range ev.devices {
		ident[d.Addr] = d.Identity
	}
	keyed, tlsKeyed := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, s := range ev.open {
		k, ok := hostkey.Of(s)
		if !ok {
			continue
		}
		d := stats.DeviceKey(s.IP)
		keyed[d] = true
		a := get(k)
		a.devices[d] = true
		if k.Kind == hostkey.KindTLS {
			tlsKeyed[d] = true
			if a.certs[k.Cert] == nil {
				a.certs[k.Cert] = map[netip.Addr]bool{}
			}
			a.certs[k.Cert][d] = true
		}
		if id := ident[d]; id.Vendor != "" || id.Product != "" {
			a.products[strings.TrimSpace(id.Vendor+" "+id.Product)] = true
		}
	}
	if len(keyed) == 0 {
		r.Absent[SecSharedKeys] = "no scanned service presented a host key or a TLS certificate"
		return
	}
	for _, f := range ev.Findings {
		if f.Kind != "firmware-private-key" {
			continue
		}
		for _, e := range f.Evidence {
			raw, ok := e.Data.(json.RawMessage) // read back from the store
			if !ok {
				raw, _ = json.Marshal(e.Data) // the analysis's own record
			}
			var fk firmwareKey
			if json.Unmarshal(raw, &fk) != nil {
				continue
			}
			for _, fp := range []string{fk.SSHFingerprint, fk.Fingerprint} {
				if a := by[fp]; fp != "" && a != nil {
					a.images[f.Subject] = true
				}
			}
		}
	}
	sk := &SharedKeys{KeyedDevices: len(keyed), TLSKeyed: len(tlsKeyed), Keys: []SharedKey{}}
	sharing, fromFW := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	tlsSharing, certSharing := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, a := range by {
		if len(a.devices) < 2 && len(a.images) == 0 {
			continue
		}
		k := SharedKey{Kind: a.key.Kind, Type: a.key.Type, Fingerprint: a.key.Fingerprint,
			Devices: slices.SortedFunc(maps.Keys(a.devices), netip.Addr.Compare), Products: sortedKeys(a.products), Images: sortedKeys(a.images)}
		for c, holders := range a.certs {
			k.Certs = append(k.Certs, c)
			if len(holders) > 1 {
				for d := range holders {
					certSharing[d] = true
				}
			}
		}
		slices.Sort(k.Certs)
		for _, d := range k.Devices {
			if len(k.Devices) > 1 {
				sharing[d] = true
				if k.Kind == hostkey.KindTLS {
					tlsSharing[d] = true
				}
			}
			if len(k.Images) > 0 {
				fromFW[d] = true
			}
		}
		sk.Keys = append(sk.Keys, k)
	}
	sk.Sharing, sk.FromFirmware = len(sharing), len(fromFW)
	sk.TLSSharing, sk.TLSCertSharing = len(tlsSharing), len(certSharing)
	sk.SharingShare, sk.SharingCI95 = stats.Ratio(sk.Sharing, sk.KeyedDevices), stats.Wilson(sk.Sharing, sk.KeyedDevices)
	slices.SortFunc(sk.Keys, func(a, b SharedKey) int {
		return cmp.Or(cmp.Compare(len(b.Devices), len(a.Devices)), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	r.SharedKeys = sk
}
