package audit

import (
	"fmt"
	"path"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/secret"
	"iotwatch/internal/stats"
)

// SourceFirmware is model.SourceFirmware.
const SourceFirmware = model.SourceFirmware

// FirmwareImage is model.FirmwareImageOf.
func FirmwareImage(source string) (string, bool) { return model.FirmwareImageOf(source) }

// WithFirmware returns a copy of d that also holds the accounts analysed
// firmware images proved: on a device whose identity names an image's
// product (its model in the image's name, as assess and the report link
// them, and its maker when known), they are tried before any list. Accounts
// whose password could not be opened (sealed under a key not held) are left
// out.
func (d *Dictionary) WithFirmware(accts []model.FirmwareAccount) *Dictionary {
	out := &Dictionary{Vendors: d.Vendors, Generic: d.Generic, Communities: d.Communities, Firmware: d.Firmware}
	seen := map[[3]string]bool{}
	for _, a := range d.Firmware {
		seen[[3]string{a.Image, a.Username, a.Password}] = true
	}
	for _, a := range accts {
		if secret.IsPlaceholder(a.Password) || secret.IsSealed(a.Password) || (a.Password == "" && !a.Empty) {
			continue
		}
		k := [3]string{a.Image, a.Username, a.Password}
		if seen[k] {
			continue
		}
		seen[k] = true
		out.Firmware = append(out.Firmware, a)
	}
	return out
}

// firmwareEntries returns the proven accounts of the images naming the
// device's product, most recent run first.
func (d *Dictionary) firmwareEntries(id stats.Identity) []Entry {
	prod := alnum(id.Product)
	if len(d.Firmware) == 0 || len(prod) < 3 {
		return nil
	}
	vendor := vendorKey(id.Vendor)
	var out []Entry
	for _, a := range d.Firmware {
		name := alnum(imageName(a.Image))
		if !strings.Contains(name, prod) || (vendor != "" && !strings.Contains(name, vendor)) {
			continue
		}
		note := fmt.Sprintf("account %q of %s in firmware image %s", a.Username, cmpOr(a.File, "the image"), imageName(a.Image))
		if a.SHA256 != "" {
			note += " (sha256 " + a.SHA256 + ")"
		}
		if a.RunID != 0 {
			note += fmt.Sprintf(", firmware run %d", a.RunID)
		}
		out = append(out, Entry{Username: a.Username, Password: a.Password, Source: SourceFirmware + ":" + imageName(a.Image),
			Default: true, Note: note})
	}
	return out
}

func imageName(p string) string { return path.Base(strings.ReplaceAll(p, `\`, "/")) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ForDevice is For with the accounts proven by firmware images of the
// device's product (id) first.
func (d *Dictionary) ForDevice(proto string, fp *model.Fingerprint, id stats.Identity) []Entry {
	fw := d.firmwareEntries(id)
	if len(fw) == 0 || proto == model.ProtoSNMP {
		return d.For(proto, fp)
	}
	out := append(fw, d.For(proto, fp)...)
	if needsUser[proto] {
		out = deleteNoUser(out)
	}
	// The anonymous checks stay first: they are not password guesses.
	var anon, rest []Entry
	for _, e := range out {
		if e.Source == SourceAnonymous {
			anon = append(anon, e)
		} else {
			rest = append(rest, e)
		}
	}
	out = dedup(append(anon, rest...))
	if proto == model.ProtoSSH {
		out = groupByUser(out)
	}
	return out
}

func deleteNoUser(es []Entry) []Entry {
	out := es[:0:0]
	for _, e := range es {
		if e.Username != "" {
			out = append(out, e)
		}
	}
	return out
}

// InBuiltin reports whether the embedded lists hold the pair user:pass for
// any vendor: a credential found that is not in them was found only through
// firmware evidence.
func InBuiltin(user, pass string) bool {
	d := Builtin()
	for _, e := range d.Generic {
		if e.Username == user && e.Password == pass {
			return true
		}
	}
	for _, es := range d.Vendors {
		for _, e := range es {
			if e.Username == user && e.Password == pass {
				return true
			}
		}
	}
	return false
}
