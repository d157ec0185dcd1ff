package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Formats lists the output formats, in the order the CLI writes them.
var Formats = []string{"html", "md", "json", "csv"}

// Write writes the report in the named format (html, md, json, csv).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "html":
		return r.WriteHTML(w)
	case "md", "markdown":
		return r.WriteMarkdown(w)
	case "json":
		return r.WriteJSON(w)
	case "csv":
		return r.WriteCSV(w)
	}
	return fmt.Errorf("unknown report format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// WriteCSV writes every number of the report as rows of
// section, group, key, metric, value — the same numbers as the JSON.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rows := r.csvRows()
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv report: %w", err)
	}
	return nil
}

func (r *Report) csvRows() [][]string {
	rows := [][]string{{"section", "group", "key", "metric", "value"}}
	add := func(section, group, key, metric string, v any) {
		var s string
		switch x := v.(type) {
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case int:
			s = strconv.Itoa(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case bool:
			s = strconv.FormatBool(x)
		default:
			s = fmt.Sprint(x)
		}
		rows = append(rows, []string{section, group, csvSafe(key), metric, csvSafe(s)})
	}
	s := r.Summary
	for _, kv := range []struct {
		k string
		v any
	}{
		{"devices", s.Devices}, {"services", s.Services},
		{"devices_with_weak_credentials", s.DevicesWithWeakCredentials}, {"sampled_devices", s.SampledDevices},
		{"weak_password_share", s.WeakPasswordShare}, {"weak_password_ci95_low", s.WeakPasswordCI95.Low},
		{"weak_password_ci95_high", s.WeakPasswordCI95.High}, {"credential_results", s.CredentialResults},
		{"lockout_suspected_services", s.LockoutSuspected}, {"unknown_verdict_services", s.UnknownVerdicts},
		{"vulnerable_devices", s.VulnerableDevices}, {"vulnerable_share", s.VulnerableShare},
		{"vulnerable_ci95_low", s.VulnerableCI95.Low}, {"vulnerable_ci95_high", s.VulnerableCI95.High},
		{"kev_devices", s.KEVDevices}, {"kev_share", s.KEVShare}, {"vuln_matches", s.VulnMatches},
		{"kev_ci95_low", s.KEVCI95.Low}, {"kev_ci95_high", s.KEVCI95.High},
		{"distinct_cves", s.DistinctCVEs}, {"findings", s.Findings}, {"firmware_images", s.FirmwareImages},
	} {
		add("summary", "", "", kv.k, kv.v)
	}
	if r.Compromise != nil {
		add("summary", "", "", "compromised_per_day", s.CompromisedPerDay)
		add("summary", "", "", "compromised_peak", s.CompromisedPeak)
	}
	if r.VulnArchive != nil {
		add("summary", "", "", "archived_latest_year", s.ArchivedLatestYear)
		add("summary", "", "", "archived_latest", s.ArchivedLatest)
		if s.ArchivedGrowth != nil {
			add("summary", "", "", "archived_growth", *s.ArchivedGrowth)
		}
		add("summary", "", "", "iot_share_latest", s.IoTShareLatest)
	}
	for _, run := range r.Runs {
		add("runs", "", strconv.FormatInt(run.ID, 10), "kind", run.Kind)
	}
	keys := make([]string, 0, len(r.Absent))
	for k := range r.Absent {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add("absent", "", k, "reason", r.Absent[k])
	}
	shares := func(group string, gs []GroupShare) {
		for _, g := range gs {
			add("weak_credentials", group, g.Key, "devices", g.Devices)
			add("weak_credentials", group, g.Key, "weak", g.Weak)
			add("weak_credentials", group, g.Key, "share", g.Share)
			add("weak_credentials", group, g.Key, "ci95_low", g.CI95.Low)
			add("weak_credentials", group, g.Key, "ci95_high", g.CI95.High)
		}
	}
	w := r.WeakCredentials
	shares("vendor", w.ByVendor)
	shares("device_type", w.ByDeviceType)
	shares("protocol", w.ByProtocol)
	shares("subnet", w.BySubnet)
	shares("region", w.ByRegion)
	for _, c := range w.ByKind {
		add("weak_credentials", "kind", c.Key, "devices", c.Devices)
	}
	for _, p := range w.TopPairs {
		add("weak_credentials", "pair", p.Username+":"+p.Password, "devices", p.Devices)
	}
	counts := func(section, group string, cs []Count, withServices bool) {
		for _, c := range cs {
			add(section, group, c.Key, "devices", c.Devices)
			if withServices {
				add(section, group, c.Key, "services", c.Services)
			}
		}
	}
	inv := r.Inventory
	counts("inventory", "protocol", inv.ByProtocol, true)
	counts("inventory", "vendor", inv.ByVendor, false)
	counts("inventory", "device_type", inv.ByDeviceType, false)
	counts("inventory", "product", inv.ByProduct, false)
	counts("inventory", "subnet", inv.BySubnet, false)
	for _, v := range r.Vulnerabilities {
		add("vulnerabilities", "cve", v.CVE, "devices", v.Devices)
		add("vulnerabilities", "cve", v.CVE, "cvss", v.CVSS)
		add("vulnerabilities", "cve", v.CVE, "kev", v.KEV)
	}
	if a := r.VulnArchive; a != nil {
		add("vulnerability_archive", "", "", "total", a.Total)
		add("vulnerability_archive", "", "", "iot", a.IoT)
		add("vulnerability_archive", "", "", "kev", a.KEV)
		for _, y := range a.Years {
			k := strconv.Itoa(y.Year)
			add("vulnerability_archive", "year", k, "total", y.Total)
			if y.Growth != nil {
				add("vulnerability_archive", "year", k, "growth", *y.Growth)
			}
			add("vulnerability_archive", "year", k, "iot", y.IoT)
			add("vulnerability_archive", "year", k, "iot_share", y.IoTShare)
			if y.IoTGrowth != nil {
				add("vulnerability_archive", "year", k, "iot_growth", *y.IoTGrowth)
			}
			add("vulnerability_archive", "year", k, "kev", y.KEV)
		}
	}
	if c := r.Compromise; c != nil {
		for _, d := range c.Days {
			add("compromise", "day", d.Day, "devices", d.Devices)
		}
	}
	if f := r.Fall; f != nil {
		add("fall", "", "", "compromised", f.Compromised)
		add("fall", "", "", "in_sample", f.InSample)
		add("fall", "", "", "others", f.Others)
		for _, x := range f.Reasons {
			add("fall", "weakness", x.Key, "devices", x.Devices)
			add("fall", "weakness", x.Key, "share", x.Share)
			add("fall", "weakness", x.Key, "ci95_low", x.CI95.Low)
			add("fall", "weakness", x.Key, "ci95_high", x.CI95.High)
			add("fall", "weakness", x.Key, "others", x.Others)
			add("fall", "weakness", x.Key, "others_share", x.OthersShare)
		}
	}
	for _, x := range r.Risk {
		add("risk", "cve", x.CVE, "units", x.Units)
		add("risk", "cve", x.CVE, "compromised", x.Compromised)
		add("risk", "cve", x.CVE, "attacked", x.Attacked)
	}
	if k := r.SharedKeys; k != nil {
		add("shared_keys", "", "", "keyed_devices", k.KeyedDevices)
		add("shared_keys", "", "", "sharing", k.Sharing)
		add("shared_keys", "", "", "sharing_share", k.SharingShare)
		add("shared_keys", "", "", "from_firmware", k.FromFirmware)
		add("shared_keys", "", "", "tls_keyed_devices", k.TLSKeyed)
		add("shared_keys", "", "", "tls_sharing", k.TLSSharing)
		add("shared_keys", "", "", "tls_cert_sharing", k.TLSCertSharing)
		for _, x := range k.Keys {
			add("shared_keys", "key", x.Fingerprint, "devices", len(x.Devices))
		}
	}
	if u := r.Uptake; u != nil {
		for _, p := range u.Products {
			k := strings.TrimSpace(p.Vendor + " " + p.Product)
			add("uptake", "product", k, "newest", p.Newest)
			add("uptake", "product", k, "tracked", p.Tracked)
			add("uptake", "product", k, "never_updated", p.NeverUpdated)
			for _, pt := range p.Series {
				add("uptake", "product", k, "on_newest_run_"+fmt.Sprint(pt.RunID), pt.OnNewest)
			}
			for _, c := range p.CVEs {
				if c.HalfFixedDays != nil {
					add("uptake", "cve", c.CVE+" "+k, "half_fixed_days", *c.HalfFixedDays)
				}
				add("uptake", "cve", c.CVE+" "+k, "affected_last", c.AffectedLast)
			}
		}
	}
	if d := r.Destinations; d != nil {
		add("destinations", "", "", "devices", d.Devices)
		add("destinations", "", "", "bytes", d.Bytes)
		for _, c := range d.ByCountry {
			add("destinations", "country", c.Key, "bytes", c.Bytes)
			add("destinations", "country", c.Key, "share", c.Share)
			add("destinations", "country", c.Key, "devices", c.Devices)
		}
		for _, c := range d.ByOwner {
			add("destinations", "owner", c.Key, "bytes", c.Bytes)
			add("destinations", "owner", c.Key, "share", c.Share)
		}
	}
	if f := r.Firmware; f != nil {
		add("firmware", "", "", "images", f.Images)
		add("firmware", "", "", "component_cves", f.ComponentCVEs)
		counts("firmware", "kind", f.ByKind, false)
	}
	counts("findings", "severity", r.Findings.BySeverity, false)
	counts("findings", "kind", r.Findings.ByKind, false)
	for _, g := range r.Findings.Top {
		add("findings", "title", g.Severity+" "+g.Kind+": "+g.Title, "subjects", g.Subjects)
	}
	if a := r.Assessment; a != nil {
		add("assessment", "", "", "devices", a.Devices)
		for _, p := range a.Provisions {
			k := p.Baseline + " " + p.ID
			add("assessment", "provision", k, "pass", p.Pass)
			add("assessment", "provision", k, "fail", p.Fail)
			add("assessment", "provision", k, "not_applicable", p.NotApplicable)
			add("assessment", "provision", k, "unknown", p.Unknown)
			add("assessment", "provision", k, "conformance_rate", p.Rate)
		}
		counts("assessment", "label", a.Labels, false)
	}
	for _, d := range r.Devices {
		add("devices", "ip", d.IP, "vendor", d.Vendor)
		add("devices", "ip", d.IP, "device_type", d.DeviceType)
		add("devices", "ip", d.IP, "scanned", d.Scanned)
		add("devices", "ip", d.IP, "services", strings.Join(d.Services, " "))
		add("devices", "ip", d.IP, "weak_credentials", strings.Join(d.Weak, " "))
		add("devices", "ip", d.IP, "cves", strings.Join(d.CVEs, " "))
		add("devices", "ip", d.IP, "kev", d.KEV)
	}
	for _, t := range r.Trends {
		k := strconv.FormatInt(t.RunID, 10)
		add("trends", "run", k, "devices", t.Devices)
		add("trends", "run", k, "services", t.Services)
		add("trends", "run", k, "weak_devices", t.WeakDevices)
		if t.WeakPasswordShare != nil {
			add("trends", "run", k, "weak_password_share", *t.WeakPasswordShare)
		}
	}
	return rows
}

// csvSafe defuses cells a spreadsheet would run as a formula: keys come from
// banners and other untrusted bytes.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s // a negative number, not a formula
		}
		return "'" + s
	}
	return s
}
