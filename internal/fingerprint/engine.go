package fingerprint

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	recog "github.com/RumbleDiscovery/recog-go"

	"iotwatch/internal/model"
)

// Options configure an Engine.
type Options struct {
	// RecogDir loads Recog XML files from a directory instead of the set
	// embedded in recog-go (e.g. a newer checkout of rapid7/recog's xml/).
	RecogDir string
	// NoRecog disables Recog; only our rules run.
	NoRecog bool
	// Rules replaces the built-in YAML rules (tests).
	Rules []byte
	// Logger receives the Recog load time; nil discards.
	Logger *slog.Logger
}

// Engine identifies services. It is safe for concurrent use.
type Engine struct {
	rules []*compiled
	types []deviceType
	opts  Options

	once     sync.Once
	recog    *recog.FingerprintSet
	recogErr error
	loadTime time.Duration
}

// New compiles the rules. Recog is loaded on first use.
func New(opts Options) (*Engine, error) {
	b := opts.Rules
	if b == nil {
		b = builtinRules
	}
	rules, err := ParseRules(b)
	if err != nil {
		return nil, err
	}
	types, err := parseDeviceTypes(builtinDeviceTypes)
	if err != nil {
		return nil, err
	}
	return &Engine{rules: rules, types: types, opts: opts}, nil
}

// recogDBs maps record fields to the Recog database that matches them.
var recogDBs = map[string]string{
	"ssh.software":          "ssh_banners.xml",
	"ftp.banner":            "ftp_banners.xml",
	"telnet.banner":         "telnet_banners.xml",
	"http.server":           "http_servers.xml",
	"http.title":            "html_title.xml",
	"http.www_authenticate": "http_wwwauth.xml",
	"http.x_powered_by":     "http_xpoweredby.xml",
	"http.cookie":           "http_cookies.xml",
	"http.favicon_md5":      "favicons.xml",
	"tls.subject":           "x509_subjects.xml",
	"tls.issuer":            "x509_issuers.xml",
	"snmp.sys_descr":        "snmp_sysdescr.xml",
	"snmp.sys_object_id":    "snmp_sysobjid.xml",
	"rtsp.server":           "rtsp_servers.xml",
	"dns.version":           "dns_versionbind.xml",
}

// Recog loads (once) and returns the Recog set, with its load time.
func (e *Engine) Recog() (*recog.FingerprintSet, time.Duration, error) {
	e.once.Do(func() {
		if e.opts.NoRecog {
			return
		}
		start := time.Now()
		fsys := recog.RecogXML
		if e.opts.RecogDir != "" {
			fsys = http.Dir(e.opts.RecogDir)
		}
		set, err := loadRecog(fsys)
		if err != nil {
			e.recogErr = fmt.Errorf("load recog fingerprints: %w", err)
			return
		}
		e.recog = set
		e.loadTime = time.Since(start)
		if e.opts.Logger != nil {
			n := 0
			for _, db := range set.Databases {
				n += len(db.Fingerprints)
			}
			e.opts.Logger.Debug("recog loaded", "fingerprints", n, "took", e.loadTime)
		}
	})
	return e.recog, e.loadTime, e.recogErr
}

// Identify returns the best fingerprint for a record of protocol proto with
// the given fields, or nil when nothing matched. A maker and model without
// a device type take it from the device-type table (devicetypes.yaml). When
// the best fingerprint names only server software and another match names
// the device, that one is kept in the result's Device.
func (e *Engine) Identify(proto string, fields map[string]string) *model.Fingerprint {
	var best, device *model.Fingerprint
	consider := func(fp *model.Fingerprint) {
		if model.GenericDeviceType(fp.DeviceType) && !fp.SoftwareOnly() {
			if t := typeOf(e.types, fp.Vendor, fp.Product); t != "" {
				fp.DeviceType = t
			}
		}
		if fp.Vendor != "" && fp.Product != "" && !fp.SoftwareOnly() && better(fp, device) {
			device = fp
		}
		if better(fp, best) {
			best = fp
		}
	}
	done := func() *model.Fingerprint {
		if best != nil && best.SoftwareOnly() && device != nil {
			d := *device
			best.Device = &d
		}
		withDistro(proto, fields, best)
		return best
	}
	for _, r := range e.rules {
		vars := r.apply(proto, fields)
		if vars == nil {
			continue
		}
		fp := &model.Fingerprint{
			Vendor: expand(r.Vendor, vars, fields), Product: expand(r.Product, vars, fields),
			Version: expand(r.Version, vars, fields), DeviceType: expand(r.DeviceType, vars, fields),
			Confidence: r.Confidence, Rule: r.ID,
		}
		fp.Version = plausibleVersion(fp.Version, fp.Product)
		if r.CPE != nil {
			product := expand(r.CPE.Product, vars, fields)
			fp.CPE = BuildCPE(r.CPE.Part, expand(r.CPE.Vendor, vars, fields), product,
				cpeComponent(plausibleVersion(expand(r.CPE.Version, vars, fields), product)), cpeComponent(expand(r.CPE.Update, vars, fields)))
		}
		consider(fp)
	}
	if best != nil && score(best) >= 0.95 {
		return done() // nothing in Recog can beat it; skip the regex sweep
	}
	set, _, err := e.Recog()
	if err != nil || set == nil {
		return done()
	}
	for field, db := range recogDBs {
		v := strings.TrimSpace(fields[field])
		if v == "" {
			continue
		}
		if fp := matchRecog(set, db, v); fp != nil {
			consider(fp)
		}
	}
	return done()
}

// better reports whether a beats b: confidence, with a bonus of 0.05 for
// naming a version, so a versioned software match outranks an unversioned
// device guess of similar confidence.
func better(a, b *model.Fingerprint) bool {
	if b == nil {
		return true
	}
	return score(a) > score(b)
}

func score(f *model.Fingerprint) float64 {
	if f.Version != "" {
		return f.Confidence + 0.05
	}
	return f.Confidence
}

func matchRecog(set *recog.FingerprintSet, db, data string) *model.Fingerprint {
	fdb, ok := set.Databases[db]
	if !ok {
		return nil
	}
	for _, f := range fdb.Fingerprints {
		if f.PatternCompiled == nil {
			continue
		}
		m := f.Match(data)
		if !m.Matched {
			continue
		}
		desc := ""
		if f.Description != nil {
			desc = strings.Join(strings.Fields(f.Description.Text), " ")
		}
		return fromRecog(m.Values, db, desc)
	}
	return nil
}

// fromRecog turns Recog's values into a fingerprint, preferring the service
// layer, then hardware, then operating system.
func fromRecog(v map[string]string, db, desc string) *model.Fingerprint {
	layer := ""
	for _, l := range []string{"service", "hw", "os"} {
		if v[l+".product"] != "" || v[l+".vendor"] != "" {
			layer = l
			break
		}
	}
	if layer == "" {
		return nil
	}
	fp := &model.Fingerprint{
		Vendor: v[layer+".vendor"], Product: v[layer+".product"], Version: v[layer+".version"],
		CPE:  ConvertCPE(v[layer+".cpe23"]),
		Rule: "recog:" + strings.TrimSuffix(db, ".xml") + ":" + desc,
	}
	if fp.Product == "" {
		fp.Product = v[layer+".family"]
	}
	for _, k := range []string{"hw.device", "os.device", "service.device"} {
		if v[k] != "" {
			fp.DeviceType = strings.ToLower(v[k])
			break
		}
	}
	fp.Confidence = 0.85
	if c, err := strconv.ParseFloat(v["fp.certainty"], 64); err == nil && c > 0 && c <= 1 {
		fp.Confidence = c * 0.9
	}
	if strings.Contains(fp.Version, "{") {
		fp.Version = ""
	}
	return fp
}

var openSSHVersion = regexp.MustCompile(`^(\d+\.\d+(?:\.\d+)?)(p\d+)$`)

// ConvertCPE turns Recog's CPE 2.2 URI ("cpe:/a:openbsd:openssh:9.2p1") into
// a CPE 2.3 formatted string. Unfilled template variables become "*", and
// OpenSSH's portable suffix moves to the update field as NVD spells it.
func ConvertCPE(uri string) string {
	if !strings.HasPrefix(uri, "cpe:/") {
		if strings.HasPrefix(uri, "cpe:2.3:") {
			return uri
		}
		return ""
	}
	parts := strings.Split(uri[len("cpe:/"):], ":")
	comp := make([]string, 7) // part vendor product version update edition language
	for i := range comp {
		comp[i] = "*"
		if i < len(parts) && parts[i] != "" {
			p := parts[i]
			if strings.Contains(p, "{") {
				continue
			}
			if u, err := url.PathUnescape(p); err == nil {
				p = u
			}
			if p == "-" {
				comp[i] = "-"
				continue
			}
			comp[i] = cpeComponent(p)
		}
	}
	if comp[1] == "*" || comp[2] == "*" {
		return ""
	}
	if comp[1] == "openbsd" && comp[2] == "openssh" && comp[4] == "*" {
		if m := openSSHVersion.FindStringSubmatch(comp[3]); m != nil {
			comp[3], comp[4] = m[1], m[2]
		}
	}
	return fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:%s:%s:%s:*:*:*:*", comp[0], comp[1], comp[2], comp[3], comp[4], comp[5], comp[6])
}

// plausibleVersion drops a "version" that has no digit or merely repeats
// the product (UPnP modelNumber often equals modelName).
func plausibleVersion(v, product string) string {
	if v == "" || !strings.ContainsAny(v, "0123456789") || strings.EqualFold(v, product) || cpeComponent(v) == product {
		return ""
	}
	return v
}
