// Package demo runs the whole iotwatch pipeline on a simulated fleet it
// starts itself: simulate → scan (discovery, banners, fingerprints) → audit →
// vulnerability match → assessment → report. It only ever targets the
// addresses of the fleet it started.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"iotwatch/internal/assess"
	"iotwatch/internal/audit"
	"iotwatch/internal/declare"
	"iotwatch/internal/firmware"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// Options configure a demo run.
type Options struct {
	Devices   int
	Seed      int64
	Prefix    netip.Prefix
	Weak      float64 // share of devices with a default/weak credential
	Empty     float64 // share with an empty password
	Anonymous float64 // share with anonymous access
	// Compromised is the share of devices (drawn from those with weak
	// credentials) that behave like botnet members in the synthetic
	// telemetry capture; 0 skips the telemetry stage.
	Compromised float64
	// Days is the number of simulated days, the last of them today (see
	// days.go); 1 or less runs today only.
	Days      int
	OutDir    string
	HighPorts bool
	Logger    *slog.Logger
}

// Summary holds the headline numbers of a demo run.
type Summary struct {
	RunID            int64   `json:"run_id"`
	Devices          int     `json:"devices"`
	Services         int     `json:"services"`
	DevicesWithWeak  int     `json:"devices_with_weak_credentials"`
	WeakShare        float64 `json:"weak_password_share"`
	TruthDevices     int     `json:"truth_devices"`
	TruthWeakShare   float64 `json:"truth_weak_password_share"`
	Fingerprinted    int     `json:"fingerprinted_services"`
	VulnMatches      int     `json:"vulnerability_matches"`
	KEVMatches       int     `json:"kev_matches"`
	KEVDevices       int     `json:"kev_devices"`
	DevicesWithVulns int     `json:"devices_with_vulnerabilities"`
	TelemetryRecords int64   `json:"telemetry_records,omitempty"`
	// DevicesCompromised are the devices the flow detectors found under
	// unauthorized control on any simulated day, TruthCompromised those
	// the captures hold, CompromisedFound the detected ones in the truth.
	DevicesCompromised int `json:"devices_under_unauthorized_control"`
	TruthCompromised   int `json:"truth_devices_under_unauthorized_control"`
	CompromisedFound   int `json:"compromised_found"`
	// Days is the number of simulated days; CompromisedPerDay the report's
	// devices under control on each, TruthCompromisedPerDay the captures'.
	Days                   int   `json:"days"`
	CompromisedPerDay      []int `json:"compromised_per_day,omitempty"`
	TruthCompromisedPerDay []int `json:"truth_compromised_per_day,omitempty"`
	// Patch uptake of the product whose units install a firmware update
	// over the days (report and truth): units on the update each day, units
	// never updated, and days until half of the units with the
	// vulnerability the update fixes (UptakeCVE) ran the fix.
	UptakeProduct      string   `json:"uptake_product,omitempty"`
	UptakeFirmware     string   `json:"uptake_firmware,omitempty"`
	UptakeUnits        int      `json:"uptake_units,omitempty"`
	UpdatedPerDay      []int    `json:"updated_per_day,omitempty"`
	TruthUpdatedPerDay []int    `json:"truth_updated_per_day,omitempty"`
	NeverUpdated       int      `json:"never_updated"`
	TruthNeverUpdated  int      `json:"truth_never_updated"`
	UptakeCVE          string   `json:"uptake_cve,omitempty"`
	HalfFixedDays      *float64 `json:"half_fixed_days,omitempty"`
	TruthHalfFixedDays *float64 `json:"truth_half_fixed_days,omitempty"`
	// FallInSample and FallWeak are the report's "why devices fall": devices
	// under control in the sample, and those of them with a weak credential;
	// TruthFallWeak is the same count from the ground truth.
	FallInSample  int `json:"fall_in_sample"`
	FallWeak      int `json:"fall_weak"`
	TruthFallWeak int `json:"truth_fall_weak"`
	// Firmware: images written and analysed, their findings; default
	// accounts found (cracked or empty) and hard-coded host keys found,
	// against what the images hold.
	FirmwareImages        int `json:"firmware_images"`
	FirmwareFindings      int `json:"firmware_findings"`
	FirmwareAccounts      int `json:"firmware_accounts"`
	TruthFirmwareAccounts int `json:"truth_firmware_accounts"`
	FirmwareKeys          int `json:"firmware_keys"`
	TruthFirmwareKeys     int `json:"truth_firmware_keys"`
	// FirmwareCredentials are the weak credentials the audit found with an
	// account proven in the firmware image of the device's product;
	// FirmwareOnlyCredentials those of them no built-in list holds, which
	// only the firmware could give (TruthFirmwareOnly in the truth).
	FirmwareCredentials     int `json:"firmware_credentials"`
	FirmwareOnlyCredentials int `json:"firmware_only_credentials"`
	TruthFirmwareOnly       int `json:"truth_firmware_only_credentials"`
	// Contradicted are the devices whose maker's declaration (the demo
	// declares the D-Link DIR-645: unique passwords, daily updates) the
	// evidence contradicts; ContradictedWeak those contradicted by weak
	// credentials the audit found, TruthContradictedWeak the DIR-645 units
	// with a weak credential in the truth.
	// ContradictedRescans are the units the rescans show not updated
	// within the declared day (TruthNeverUpdated in the truth, over three
	// or more days).
	Contradicted          int `json:"declaration_contradicted_devices"`
	ContradictedWeak      int `json:"declaration_contradicted_by_audit"`
	TruthContradictedWeak int `json:"truth_declaration_contradicted_by_audit"`
	ContradictedRescans   int `json:"declaration_contradicted_by_rescans"`
	// SharedKeyDevices are the devices serving an SSH host key or a TLS
	// public key another device serves too, SharedCertDevices a TLS
	// certificate another device serves too, in the report and in the truth.
	SharedKeyDevices       int                      `json:"shared_key_devices"`
	TruthSharedKeyDevices  int                      `json:"truth_shared_key_devices"`
	SharedCertDevices      int                      `json:"shared_cert_devices"`
	TruthSharedCertDevices int                      `json:"truth_shared_cert_devices"`
	Stages                 []string                 `json:"stages"`
	Skipped                []string                 `json:"skipped,omitempty"`
	Duration               time.Duration            `json:"duration_ns"`
	ReportHTML, ReportJSON string                   `json:"-"`
	TruthFile              string                   `json:"-"`
	StageTimes             map[string]time.Duration `json:"stage_times_ns"`
}

// Run starts the fleet, runs every stage against it, stores the results as
// one run and writes report.html, report.json and truth.json into OutDir.
func Run(ctx context.Context, st *store.Store, opts Options) (*Summary, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("demo output directory: %w", err)
	}
	start := time.Now()
	sum := &Summary{StageTimes: map[string]time.Duration{}}
	stageDone := func(name string, t0 time.Time) {
		sum.Stages = append(sum.Stages, name)
		sum.StageTimes[name] = time.Since(t0)
		log.Info("stage done", "stage", name, "took", time.Since(t0).Round(time.Millisecond))
	}

	// The simulated days before today: a rescan each.
	sum.Days = max(opts.Days, 1)
	at := dayTimes(sum.Days, time.Now())
	var dayRuns []int64
	t0 := time.Now()
	for d := range sum.Days - 1 {
		id, err := rescan(ctx, st, opts, d, at[d], log)
		if err != nil {
			return sum, err
		}
		dayRuns = append(dayRuns, id)
	}
	if sum.Days > 1 {
		stageDone("rescans", t0)
	}

	t0 = time.Now()
	fleet, err := simulate.Start(ctx, fleetOptions(opts, sum.Days-1, log))
	if err != nil {
		return nil, fmt.Errorf("start simulated fleet: %w", err)
	}
	defer fleet.Close()
	truth := fleet.Truth()
	sum.TruthFile = filepath.Join(opts.OutDir, "truth.json")
	if err := simulate.WriteTruth(sum.TruthFile, truth); err != nil {
		return nil, err
	}
	sum.TruthDevices = truth.Summary.Devices
	sum.TruthWeakShare = truth.Summary.WeakPasswordShare
	stageDone("simulate", t0)

	addrs := fleet.Addrs()
	inFleet := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		inFleet[a] = true
	}
	// Today's run is recorded at the time the days count from, 24 hours
	// after the last rescan's.
	run, err := stage.StartAt(ctx, st, "demo", []string{fmt.Sprintf("%s (%d simulated devices)", opts.Prefix, len(addrs))}, nil, at[sum.Days-1])
	if err != nil {
		return nil, err
	}
	sum.RunID = run.ID
	dayRuns = append(dayRuns, run.ID)
	finish := func(err error) error {
		run.Stages = sum.Stages
		run.Counts = map[string]int64{
			"devices": int64(sum.Devices), "services": int64(sum.Services),
			"weak_devices": int64(sum.DevicesWithWeak), "vuln_matches": int64(sum.VulnMatches),
		}
		return run.Finish(ctx, err)
	}

	// Discovery, banners and fingerprints.
	t0 = time.Now()
	services, err := scanFleet(ctx, st, run, fleet, log)
	devs := map[netip.Addr]bool{}
	for _, s := range services {
		devs[s.IP] = true
		if !s.Fingerprint.Empty() {
			sum.Fingerprinted++
		}
	}
	sum.Devices, sum.Services = len(devs), len(services)
	if err != nil {
		return sum, finish(err)
	}
	stageDone("scan", t0)

	// Firmware: an image per product of the fleet, written in pure Go at
	// demo time, analysed like any image (accounts, keys, components),
	// before the audit, which tries the accounts proven in an image first on
	// the devices of its product.
	t0 = time.Now()
	account := map[string]simulate.Credential{} // profile → its image's account
	imgs, err := fleet.WriteFirmware(filepath.Join(opts.OutDir, "firmware"))
	if err != nil {
		return sum, finish(fmt.Errorf("firmware images: %w", err))
	}
	// Each image is a firmware run of its own, as `firmware analyze` and a
	// firmware job record it: the report counts the images analysed (it
	// counted only those with a finding, 20 of 24).
	var fwRuns []int64
	for _, img := range imgs {
		frun, err := stage.Start(ctx, st, "firmware", []string{img.Path}, stage.FirmwareStages)
		if err != nil {
			return sum, finish(fmt.Errorf("firmware %s: %w", filepath.Base(img.Path), err))
		}
		res, err := stage.Firmware(ctx, st, frun, img.Path, stage.FirmwareOptions{Analyze: firmware.Options{CrackBudget: 3 * time.Second}, Vulns: true})
		if err = frun.Finish(ctx, err); err != nil {
			return sum, finish(fmt.Errorf("firmware %s: %w", filepath.Base(img.Path), err))
		}
		fwRuns = appendRun(fwRuns, frun.ID)
		sum.FirmwareImages++
		account[img.Profile] = img.Account
		sum.FirmwareFindings += len(res.Findings)
		if img.Account.Username != "" {
			sum.TruthFirmwareAccounts++
			for _, a := range res.Secrets.Accounts {
				if a.User == img.Account.Username && (a.Cracked || a.Empty) {
					sum.FirmwareAccounts++
				}
			}
		}
		if img.HostKey != "" {
			sum.TruthFirmwareKeys++
			for _, k := range res.Secrets.Keys {
				if k.SSHFingerprint == img.HostKey {
					sum.FirmwareKeys++
				}
			}
		}
		if img.TLSKey != "" {
			sum.TruthFirmwareKeys++
			for _, k := range res.Secrets.Keys {
				if k.Fingerprint == img.TLSKey {
					sum.FirmwareKeys++
				}
			}
		}
	}
	stageDone("firmware", t0)

	// Credential audit of every login surface found.
	t0 = time.Now()
	weak := map[netip.Addr]bool{}
	_, err = stage.Audit(ctx, st, run, services, stage.AuditOptions{
		Config: audit.Config{MaxAttempts: 200, PerHost: 1, Allowed: func(a netip.Addr) bool { return inFleet[a] }, Logger: auditLogger(ctx, log)},
		Emit: func(c model.CredentialResult) error {
			if c.Weak() {
				weak[c.IP] = true
				if _, ok := audit.FirmwareImage(c.Source); ok {
					sum.FirmwareCredentials++
					if !audit.InBuiltin(c.Username, c.Password) {
						sum.FirmwareOnlyCredentials++
					}
				}
			}
			return nil
		},
	})
	if err != nil {
		return sum, finish(fmt.Errorf("audit: %w", err))
	}
	sum.DevicesWithWeak = len(weak)
	if sum.Devices > 0 {
		sum.WeakShare = float64(sum.DevicesWithWeak) / float64(sum.Devices)
	}
	sum.TruthFirmwareOnly = truthFirmwareOnly(*truth, account)
	stageDone("audit", t0)

	// Vulnerability match from the embedded offline database.
	t0 = time.Now()
	vr, err := stage.Vulns(ctx, st, run, services)
	if err != nil {
		return sum, finish(err)
	}
	sum.VulnMatches, sum.DevicesWithVulns, sum.KEVMatches, sum.KEVDevices = len(vr.Matches), vr.Devices, vr.KEV, vr.KEVDevices
	stageDone("vulns", t0)

	// Telemetry: devices under unauthorized control, from traffic, a
	// capture each simulated day.
	var tt *TelemetryTruth
	var flowRuns []int64 // the flows runs: their alerts are the assessment's and the report's evidence too
	if opts.Compromised > 0 {
		t0 = time.Now()
		var detected []map[string]bool
		tt, detected, sum.TelemetryRecords, err = telemetry(ctx, st, truth, opts.Compromised, opts.Seed, opts.OutDir, at, &flowRuns)
		if err != nil {
			return sum, finish(fmt.Errorf("flows: %w", err))
		}
		sum.TruthCompromised = len(tt.Compromised)
		for _, d := range truth.Devices {
			if d.Weak && tt.Compromised[d.IP] != "" {
				sum.TruthFallWeak++
			}
		}
		found := map[string]bool{}
		for _, day := range detected {
			for d := range day {
				found[d] = true
			}
		}
		sum.DevicesCompromised = len(found)
		for d := range found {
			if tt.Compromised[d] != "" {
				sum.CompromisedFound++
			}
		}
		stageDone("flows", t0)
	}

	// Assessment against the baselines.
	t0 = time.Now()
	decl := demoDeclaration()
	covered := append(append([]int64{run.ID}, fwRuns...), flowRuns...)
	res, assessRun, err := stage.Assess(ctx, st, assess.RunOptions{Targets: []string{fmt.Sprintf("run %d", run.ID)},
		Declarations: []*declare.Declaration{decl}}, covered...)
	if err != nil {
		return sum, finish(fmt.Errorf("assess: %w", err))
	}
	for _, sr := range res.Subjects {
		if len(sr.Contradictions) > 0 {
			sum.Contradicted++
		}
		for _, c := range sr.Contradictions {
			switch c.Source {
			case assess.SourceAudit:
				sum.ContradictedWeak++
			case assess.SourceRescans:
				sum.ContradictedRescans++
			}
		}
	}
	for _, d := range truth.Devices {
		if d.Weak && d.Model == decl.Product.Model {
			sum.TruthContradictedWeak++
		}
	}
	stageDone("assess", t0)

	// Report. The run is recorded complete first, so the report shows it as
	// such; a failed report turns it into a failed run.
	t0 = time.Now()
	sum.Stages = append(sum.Stages, "report")
	if err := finish(nil); err != nil {
		return sum, err
	}
	r, err := stage.BuildReport(ctx, st, report.Inputs{RunIDs: appendRun(covered, assessRun), Title: "iotwatch demo: simulated IoT fleet"}, res)
	if err == nil && r.SharedKeys != nil {
		sum.SharedKeyDevices, sum.SharedCertDevices = r.SharedKeys.Sharing, r.SharedKeys.TLSCertSharing
	}
	sum.TruthSharedKeyDevices, sum.TruthSharedCertDevices = truthSharedKeys(*truth)
	if err == nil {
		sum.checkUptake(r, truth, dayRuns)
		if tt != nil {
			sum.checkCompromise(r, tt)
		}
	}
	if err == nil && r.Fall != nil {
		sum.FallInSample = r.Fall.InSample
		for _, x := range r.Fall.Reasons {
			if x.Key == report.ReasonWeak {
				sum.FallWeak = x.Devices
			}
		}
	}
	if err == nil {
		var paths []string
		paths, err = stage.WriteReport(r, opts.OutDir, "html", "json")
		if len(paths) == 2 {
			sum.ReportHTML, sum.ReportJSON = paths[0], paths[1]
		}
	}
	if err != nil {
		return sum, finish(fmt.Errorf("report: %w", err))
	}
	sum.StageTimes["report"] = time.Since(t0)
	log.Info("stage done", "stage", "report", "took", time.Since(t0).Round(time.Millisecond))
	sum.Duration = time.Since(start)
	return sum, nil
}

// demoDeclaration is a maker's declaration for the D-Link DIR-645 that the
// simulated fleet contradicts: unique passwords (its weak units and its
// firmware image's default account say otherwise) and updates checked
// daily within the support period (a quarter of the units never install
// 1.05B01 over the simulated days).
func demoDeclaration() *declare.Declaration {
	daily, yes := 1, true
	return &declare.Declaration{SchemaVersion: "1", Source: "demo: D-Link DIR-645 declaration",
		Product:      declare.Product{Model: "DIR-645", DeviceType: "router"},
		Manufacturer: declare.Entity{Name: "D-Link", Country: "TW"},
		Support:      &declare.Support{EndDate: "2035-12-31"},
		Credentials:  &declare.Credentials{Scheme: "unique-per-device"},
		Updates:      &declare.Updates{Automatic: &yes, CheckIntervalDays: &daily}}
}

// truthFirmwareOnly counts the weak credentials of the simulated devices
// that are their product's firmware account and in no built-in list.
func truthFirmwareOnly(t simulate.Truth, account map[string]simulate.Credential) int {
	n := 0
	for _, d := range t.Devices {
		a, ok := account[d.Profile]
		if !ok || a.Username == "" {
			continue
		}
		for _, c := range d.Credentials {
			if c.Kind != simulate.KindStrong && c.Username == a.Username && c.Password == a.Password && !audit.InBuiltin(c.Username, c.Password) {
				n++
			}
		}
	}
	return n
}

// truthSharedKeys counts the simulated devices whose SSH host key or TLS
// public key another device serves too, and those whose TLS certificate
// another device serves too.
func truthSharedKeys(t simulate.Truth) (keys, certs int) {
	holders := map[string]map[string]bool{}
	add := func(fp, ip string) {
		if fp == "" {
			return
		}
		if holders[fp] == nil {
			holders[fp] = map[string]bool{}
		}
		holders[fp][ip] = true
	}
	for _, d := range t.Devices {
		for _, s := range d.Services {
			add("key "+s.HostKey, d.IP)
			add("key "+s.SPKISHA256, d.IP)
			add("cert "+s.CertSHA256, d.IP)
		}
	}
	sharingKey, sharingCert := map[string]bool{}, map[string]bool{}
	for fp, h := range holders {
		if len(h) < 2 || fp == "key " || fp == "cert " {
			continue
		}
		for ip := range h {
			if strings.HasPrefix(fp, "cert ") {
				sharingCert[ip] = true
			} else {
				sharingKey[ip] = true
			}
		}
	}
	return len(sharingKey), len(sharingCert)
}

// appendRun appends the run id to ids when there is one (0: not recorded).
func appendRun(ids []int64, id int64) []int64 {
	if id == 0 {
		return ids
	}
	return append(ids, id)
}

// auditLogger is the demo audit's logger: the audit logs each credential it
// finds at info, hundreds of lines for a simulated fleet whose weak devices
// the summary counts anyway, so the demo passes on its warnings and errors
// only, unless log is at debug (--log-level debug), when it passes all.
func auditLogger(ctx context.Context, log *slog.Logger) *slog.Logger {
	if log.Enabled(ctx, slog.LevelDebug) {
		return log
	}
	return slog.New(minLevel{log.Handler(), slog.LevelWarn})
}

// minLevel is a slog.Handler that drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
