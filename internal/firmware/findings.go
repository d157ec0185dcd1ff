package firmware

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/model"
)

// Finding kinds produced by firmware analysis.
const (
	KindEmptyPassword   = "firmware-empty-password"
	KindDefaultPassword = "firmware-default-password"
	KindExtraRoot       = "firmware-extra-root-account"
	KindPrivateKey      = "firmware-private-key"
	KindCertificate     = "firmware-certificate"
	KindSecret          = "firmware-secret"
	KindDebugService    = "firmware-debug-service"
	KindUpdate          = "firmware-update-weakness"
	KindUnpack          = "firmware-unpack"
	KindNotFirmware     = "firmware-not-recognised"
)

// NotRecognised reports whether the analysis found no container at all in
// the image: not firmware, encrypted, or a format the unpacker lacks.
func (r *Result) NotRecognised() bool {
	return r.Unpack != nil && len(r.Unpack.Extracted) == 0
}

func ev(detail string, data any) []model.Evidence {
	return []model.Evidence{{Source: "firmware", Detail: detail, Data: data}}
}

// findings turns the analysis into findings with severities. Secrets in the
// result are already redacted unless the caller asked for raw values.
func findings(r *Result) []model.Finding {
	now := time.Now()
	var out []model.Finding
	add := func(kind string, sev model.Severity, title, detail string, evd []model.Evidence) {
		out = append(out, model.Finding{Kind: kind, Subject: r.Image, Severity: sev, Title: title, Detail: detail, Evidence: evd, Time: now})
	}
	if s := r.Secrets; s != nil {
		for _, a := range s.Accounts {
			loc := fmt.Sprintf("%s (uid %d, shell %s)", a.Source, a.UID, a.Shell)
			switch {
			case a.Empty && a.CanLogin():
				add(KindEmptyPassword, model.SeverityCritical, fmt.Sprintf("account %q has no password", a.User), loc, ev(loc, a))
			case a.Cracked:
				sev := model.SeverityCritical
				if !a.CanLogin() {
					sev = model.SeverityHigh
				}
				add(KindDefaultPassword, sev, fmt.Sprintf("account %q has a default password (%s)", a.User, a.HashType),
					fmt.Sprintf("%s: password %q found in the default-credential list", loc, a.Password), ev(loc, a))
			}
			if a.UID == 0 && a.User != "root" && !a.Locked {
				add(KindExtraRoot, model.SeverityHigh, fmt.Sprintf("second uid-0 account %q", a.User), loc, ev(loc, a))
			}
		}
		fps := map[string]int{}
		for _, k := range s.Keys {
			fps[k.Fingerprint]++
		}
		for _, k := range s.Keys {
			sev := model.SeverityHigh
			what := "private key"
			if k.HostKey {
				what = "SSH host key"
			}
			detail := fmt.Sprintf("%s %s", k.Path, k.Type)
			if k.Bits > 0 {
				detail += fmt.Sprintf(" %d bits", k.Bits)
			}
			if k.Encrypted {
				sev, detail = model.SeverityMedium, detail+" (passphrase-protected)"
			}
			if fps[k.Fingerprint] > 1 {
				detail += fmt.Sprintf("; same key in %d files", fps[k.Fingerprint])
			}
			add(KindPrivateKey, sev, "hard-coded "+what+" in the image (shared by every device running it)",
				detail+"; fingerprint sha256:"+k.Fingerprint, ev(k.Path, k))
		}
		for _, c := range s.Certs {
			if c.Bundle {
				continue
			}
			var issues []string
			sev := model.SeverityInfo
			if c.SelfSigned && !c.IsCA {
				issues = append(issues, "self-signed")
				sev = max(sev, model.SeverityLow)
			}
			if (c.KeyType == "rsa" && c.Bits < 2048) || (c.KeyType == "ecdsa" && c.Bits < 256) {
				issues = append(issues, fmt.Sprintf("weak %s-%d key", c.KeyType, c.Bits))
				sev = max(sev, model.SeverityMedium)
			}
			if c.NotAfter.Before(now) {
				issues = append(issues, "expired "+c.NotAfter.Format("2006-01-02"))
				sev = max(sev, model.SeverityLow)
			}
			if len(issues) == 0 {
				continue
			}
			add(KindCertificate, sev, "certificate: "+strings.Join(issues, ", "), fmt.Sprintf("%s: %s", c.Path, c.Subject), ev(c.Path, c))
		}
		for _, sc := range s.Secrets {
			sev := model.SeverityHigh
			title := "hard-coded " + sc.Kind
			if sc.Kind == "config-password" {
				sev = model.SeverityMedium
				title = fmt.Sprintf("password in configuration (%s)", sc.Name)
			}
			loc := fmt.Sprintf("%s:%d", sc.Path, sc.Line)
			add(KindSecret, sev, title, fmt.Sprintf("%s: %s", loc, sc.Value), ev(loc, sc))
		}
	}
	for _, h := range r.Services {
		if h.Severity == model.SeverityInfo && h.Rule == "uart-console" {
			add(KindDebugService, h.Severity, h.Title, fmt.Sprintf("%s:%d: %s", h.Path, h.Line, h.Text), ev(h.Path, h))
			continue
		}
		add(KindDebugService, h.Severity, h.Title, fmt.Sprintf("%s:%d: %s", h.Path, h.Line, h.Text), ev(h.Path, h))
	}
	for _, w := range r.Update.Weaknesses {
		loc := w.Path
		if w.Line > 0 {
			loc = fmt.Sprintf("%s:%d", w.Path, w.Line)
		}
		add(KindUpdate, w.Severity, w.Title, strings.TrimSpace(loc+" "+w.Text), ev(loc, w))
	}
	if r.NotRecognised() {
		add(KindNotFirmware, model.SeverityLow, "no firmware container recognised",
			"no known container, compressed stream or filesystem was found at any offset: the file is not firmware, "+
				"is encrypted, or uses a format iotwatch cannot unpack; only the file itself was analysed", nil)
	}
	if u := r.Unpack; u != nil {
		for _, e := range u.Unsupported {
			add(KindUnpack, model.SeverityInfo, "not unpacked: "+e.Format, fmt.Sprintf("offset %d in %s: %s", e.Offset, parentName(e.Parent), e.Error), ev(e.Format, e))
		}
		for _, e := range u.Failed {
			add(KindUnpack, model.SeverityInfo, "unpack failed: "+e.Format, fmt.Sprintf("offset %d in %s: %s", e.Offset, parentName(e.Parent), e.Error), ev(e.Format, e))
		}
		if u.LimitHit != "" {
			add(KindUnpack, model.SeverityLow, "extraction stopped at a safety limit (possible decompression bomb)", u.LimitHit, nil)
		}
		if len(u.Rejected) > 0 {
			add(KindUnpack, model.SeverityMedium, fmt.Sprintf("%d archive entries with unsafe paths refused", len(u.Rejected)),
				strings.Join(u.Rejected[:min(5, len(u.Rejected))], "; "), nil)
		}
	}
	out = mergeFindings(out)
	slices.SortStableFunc(out, func(a, b model.Finding) int { return int(b.Severity) - int(a.Severity) })
	return out
}

// mergeFindings folds findings with the same kind and title into one with
// all the evidence: a finding is identified by (run, kind, subject, title).
func mergeFindings(fs []model.Finding) []model.Finding {
	var out []model.Finding
	idx := map[string]int{}
	for _, f := range fs {
		k := f.Kind + "\x00" + f.Title
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, f)
			continue
		}
		m := &out[i]
		m.Severity = max(m.Severity, f.Severity)
		if len(m.Detail) < 2000 {
			m.Detail += "; " + f.Detail
		}
		m.Evidence = append(m.Evidence, f.Evidence...)
	}
	return out
}

func parentName(p string) string {
	if p == "" {
		return "image"
	}
	return p
}

// KindSharedKey marks a private key also found in another analysed image.
const KindSharedKey = "firmware-shared-private-key"

var fpRe = regexp.MustCompile(`sha256:([0-9a-f]{64})`)

// SharedKeys returns one finding per private key of current that earlier
// findings (other images, e.g. from the evidence store) also hold: the same
// key on many products means one leak compromises all of them.
func SharedKeys(current, previous []model.Finding) []model.Finding {
	others := map[string][]string{} // fingerprint → other images
	for _, f := range previous {
		if f.Kind != KindPrivateKey {
			continue
		}
		for _, m := range fpRe.FindAllStringSubmatch(f.Detail, -1) {
			if !slices.Contains(others[m[1]], f.Subject) {
				others[m[1]] = append(others[m[1]], f.Subject)
			}
		}
	}
	var out []model.Finding
	for _, f := range current {
		if f.Kind != KindPrivateKey {
			continue
		}
		for _, m := range fpRe.FindAllStringSubmatch(f.Detail, -1) {
			var imgs []string
			for _, s := range others[m[1]] {
				if s != f.Subject {
					imgs = append(imgs, s)
				}
			}
			if len(imgs) == 0 {
				continue
			}
			out = append(out, model.Finding{Kind: KindSharedKey, Subject: f.Subject, Severity: model.SeverityCritical,
				Title:    fmt.Sprintf("private key shared with %d other image(s)", len(imgs)),
				Detail:   fmt.Sprintf("key sha256:%s also in %s", m[1], strings.Join(imgs[:min(5, len(imgs))], ", ")),
				Evidence: []model.Evidence{{Source: "firmware", Detail: "sha256:" + m[1], Data: imgs}}, Time: f.Time})
		}
	}
	return out
}
