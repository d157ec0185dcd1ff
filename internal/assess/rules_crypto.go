package assess

import (
	"fmt"
	"strings"

	"iotwatch/internal/hostkey"
	"iotwatch/internal/model"
)

// cryptoWeaknesses returns, for one service, whether its cryptography was
// read, and what is broken in it: for TLS, a weak key or signature, a
// legacy protocol version or cipher, an expired certificate
// (tlsinfo.Weaknesses; a self-signed certificate alone is usual on devices
// and not counted); for SSH, broken algorithms offered (probe/ssh's
// fail-level flags, as ssh-audit judges them).
func cryptoWeaknesses(s model.Service, v *view) (bool, []string) {
	d, ok := hostkey.Read(s)
	switch {
	case !ok:
		return false, nil
	case d.SSH != nil:
		if len(d.SSH.Kex) == 0 {
			return false, nil
		}
		if broken := d.SSH.Broken(); len(broken) > 0 {
			return true, []string{"legacy algorithms offered: " + strings.Join(broken[:min(len(broken), 6)], ", ")}
		}
		return true, nil
	case d.TLS != nil && d.TLS.Version != "":
		var out []string
		for _, w := range d.TLS.Weaknesses(v.opts.Now) {
			if w.Broken || w.Code == "expired" {
				out = append(out, w.Text)
			}
		}
		return true, out
	}
	return false, nil
}

// weakCrypto fails a subject whose TLS or SSH services use broken
// cryptography.
func weakCrypto(v *view, _ Provision) verdict {
	out := verdict{Outcome: Fail, Basis: BasisObserved}
	var what []string
	read := 0
	for _, s := range v.answering() {
		ok, weak := cryptoWeaknesses(s, v)
		if !ok {
			continue
		}
		read++
		if len(weak) > 0 {
			out.Refs = append(out.Refs, Ref{Source: SourceScan, Kind: s.Protocol, ID: fmt.Sprintf("%s:%d/%s", s.IP, s.Port, s.Transport),
				Detail: strings.Join(weak, "; ")})
			what = append(what, fmt.Sprintf("%s on %s:%d (%s)", s.Protocol, s.IP, s.Port, strings.Join(weak, "; ")))
		}
	}
	if len(what) > 0 {
		out.Reason = "broken cryptography: " + strings.Join(what, ", ")
		return out
	}
	if read == 0 {
		return unknown("no TLS or SSH service whose algorithms and keys the scan read")
	}
	return verdict{Outcome: Pass, Basis: BasisObserved, Reason: fmt.Sprintf("%d TLS/SSH service(s) use current algorithms and keys", read)}
}

// secureCommunication is EN 303 645 5.5-1: no cleartext protocol answers,
// and the encrypted ones use sound cryptography. Without a TLS or SSH
// service whose cryptography was read, the cleartext verdict stands.
func secureCommunication(v *view, p Provision) verdict {
	clear := cleartextServices(v, p)
	if clear.Outcome == Fail {
		return clear
	}
	if w := weakCrypto(v, p); w.Outcome == Fail || (w.Outcome == Pass && clear.Outcome == Pass) {
		if w.Outcome == Pass {
			w.Reason = clear.Reason + "; " + w.Reason
		}
		return w
	}
	return clear
}
