package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/fsutil"
	"iotwatch/internal/model"
)

// Network is one network of an owner to notify: the networks file of
// `report --notify` lists them.
type Network struct {
	Prefix netip.Prefix
	Owner  string // the owner's name: one notification file per owner
	ASN    uint32 // 0 when not given
}

// ParseNetworks reads a networks file: one network per line as
// "CIDR,owner[,ASN]" (CSV; a header line starting with "network" or
// "prefix", empty lines and lines starting with # are skipped). An owner may
// have several lines.
func ParseNetworks(r io.Reader) ([]Network, error) {
	var out []Network
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil, fmt.Errorf("networks line %d: %w", n, err)
		}
		first := strings.ToLower(strings.TrimSpace(rec[0]))
		if len(out) == 0 && (first == "network" || first == "prefix" || first == "cidr") {
			continue
		}
		if len(rec) < 2 || strings.TrimSpace(rec[1]) == "" {
			return nil, fmt.Errorf("networks line %d: want CIDR,owner[,ASN]", n)
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(rec[0]))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(rec[0]))
			if aerr != nil {
				return nil, fmt.Errorf("networks line %d: %w", n, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nw := Network{Prefix: p.Masked(), Owner: strings.TrimSpace(rec[1])}
		if len(rec) > 2 && strings.TrimSpace(rec[2]) != "" {
			asn, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(rec[2])), "AS"), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("networks line %d: ASN %q: %w", n, rec[2], err)
			}
			nw.ASN = uint32(asn)
		}
		out = append(out, nw)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	return out, nil
}

// NotificationHeader follows the columns of Shadowserver's device reports
// (timestamp, ip, protocol, port, hostname, tag, asn, geo, region, city, naics,
// sic, then the device and the issue): one row per device and issue.
var NotificationHeader = []string{"timestamp", "ip", "protocol", "port", "hostname", "tag", "asn", "geo", "region", "city",
	"naics", "sic", "severity", "device_vendor", "device_type", "device_model", "cve", "kev", "detail"}

// Notifications is the outcome of WriteNotifications.
type Notifications struct {
	Files      map[string]string // owner → file written
	Rows       map[string]int    // owner → rows in it
	Unassigned int               // devices with an issue in no listed network
}

// WriteNotifications writes one CSV file per owner of nets into dir (0700,
// files 0600: they name devices) holding the issues of that owner's devices
// only: weak credentials (kind, never the secret), matched vulnerabilities
// and control by an outside party. An address in several networks goes to
// the most specific one. Owners without devices with issues get no file.
func (r *Report) WriteNotifications(dir string, nets []Network) (Notifications, error) {
	res := Notifications{Files: map[string]string{}, Rows: map[string]int{}}
	// Most specific first.
	nets = slices.Clone(nets)
	slices.SortStableFunc(nets, func(a, b Network) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	owner := func(a netip.Addr) (Network, bool) {
		for _, n := range nets {
			if n.Prefix.Contains(a) {
				return n, true
			}
		}
		return Network{}, false
	}
	ts := r.GeneratedAt
	if len(r.Runs) > 0 {
		ts = r.Runs[len(r.Runs)-1].StartedAt
	}
	stamp := ts.UTC().Format(time.DateTime)
	rows := map[string][][]string{}
	vulns := make(map[string]VulnRow, len(r.Vulnerabilities))
	for _, v := range r.Vulnerabilities {
		vulns[v.CVE] = v
	}
	controlled := map[string]FallDevice{}
	if r.Fall != nil {
		for _, d := range r.Fall.Devices {
			controlled[d.Device.String()] = d
		}
	}
	for _, d := range r.Devices {
		a, err := netip.ParseAddr(d.IP)
		if err != nil {
			continue
		}
		var issues [][]string
		row := func(proto, port, tag, sev, cve, kev, detail string) {
			issues = append(issues, []string{stamp, d.IP, proto, port, "", tag, "", d.Region, "", "", "", "", sev,
				d.Vendor, d.DeviceType, d.Product, cve, kev, detail})
		}
		for _, w := range d.Weak { // protocol/port:kind
			pp, kind, _ := strings.Cut(w, ":")
			proto, port, _ := strings.Cut(pp, "/")
			row(proto, port, "weak-credential;"+kind, "high", "", "", weakDetail(kind))
		}
		for _, cve := range d.CVEs {
			// The CVE's own KEV flag; for a CVE missing from the
			// vulnerability rows the device's, when it is its only one.
			v, known := vulns[cve]
			kev := v.KEV || !known && d.KEV && len(d.CVEs) == 1
			row("", "", "vulnerable", NotificationSeverity(v.CVSS, kev).String(), cve, strconv.FormatBool(kev), vulnDetail(v.CVSS, kev))
		}
		if c, ok := controlled[d.IP]; ok {
			row("", "", "compromised;"+strings.Join(c.Detectors, ";"), "critical", "", "", "under unauthorized control on "+strings.Join(c.Days, ", "))
		}
		if len(issues) == 0 {
			continue
		}
		n, ok := owner(a)
		if !ok {
			res.Unassigned++
			continue
		}
		for _, is := range issues {
			if n.ASN != 0 {
				is[6] = strconv.FormatUint(uint64(n.ASN), 10)
			}
		}
		rows[n.Owner] = append(rows[n.Owner], issues...)
	}
	if len(rows) == 0 {
		return res, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("notification directory: %w", err)
	}
	used := map[string]bool{}
	for _, o := range slices.Sorted(maps.Keys(rows)) {
		name := fileName(o)
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s-%d", fileName(o), i)
		}
		used[name] = true
		path := filepath.Join(dir, name+".csv")
		err := fsutil.WriteFileAtomic(path, 0o600, func(w io.Writer) error {
			cw := csv.NewWriter(w)
			if err := cw.Write(NotificationHeader); err != nil {
				return err
			}
			if err := cw.WriteAll(rows[o]); err != nil {
				return err
			}
			return cw.Error()
		})
		if err != nil {
			return res, fmt.Errorf("notification for %s: %w", o, err)
		}
		res.Files[o], res.Rows[o] = path, len(rows[o])
	}
	return res, nil
}

// NotificationSeverity is the severity of a "vulnerable" notification row,
// after Shadowserver's reports, which rate known exploitation above the
// score: a vulnerability in CISA's Known Exploited Vulnerabilities catalogue
// is critical whatever its CVSS; otherwise the CVSS v3 qualitative rating
// (9.0 critical, 7.0 high, 4.0 medium, above 0 low), and medium when no score
// is known.
func NotificationSeverity(cvss float64, kev bool) model.Severity {
	switch {
	case kev:
		return model.SeverityCritical
	case cvss <= 0:
		return model.SeverityMedium
	}
	return model.SeverityFromCVSS(cvss)
}

// weakDetail says in words what a weak-credential row's kind means.
func weakDetail(kind string) string {
	switch kind {
	case model.KindDefaultCredential:
		return "login accepted a default credential"
	case model.KindEmptyPassword:
		return "login accepted an empty password"
	case model.KindAnonymousAccess:
		return "login open to anyone: anonymous access needs no credential"
	case model.KindSNMPCommunity:
		return "SNMP answered to a default community string"
	case model.KindWeakPassword:
		return "login accepted a weak password"
	case model.KindHardcoded:
		return "login accepted a hard-coded credential"
	}
	return "login accepted a credential (" + kind + ")"
}

// vulnDetail is a vulnerable row's detail: its score and whether it is
// known exploited.
func vulnDetail(cvss float64, kev bool) string {
	var parts []string
	if cvss > 0 {
		parts = append(parts, "CVSS "+strconv.FormatFloat(cvss, 'f', 1, 64))
	}
	if kev {
		parts = append(parts, "known exploited (CISA KEV)")
	}
	return strings.Join(parts, "; ")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName is an owner's name made safe as a file name.
func fileName(owner string) string {
	s := strings.Trim(unsafeName.ReplaceAllString(owner, "_"), "._")
	if s == "" {
		s = "owner"
	}
	return s[:min(len(s), 80)]
}
