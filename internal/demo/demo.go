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
	"iotwatch/internal/firmware"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/scan"
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
	OutDir      string
	HighPorts   bool
	Logger      *slog.Logger
}

// Summary holds the headline numbers of a demo run.
type Summary struct {
	RunID              int64   `json:"run_id"`
	Devices            int     `json:"devices"`
	Services           int     `json:"services"`
	DevicesWithWeak    int     `json:"devices_with_weak_credentials"`
	WeakShare          float64 `json:"weak_password_share"`
	TruthDevices       int     `json:"truth_devices"`
	TruthWeakShare     float64 `json:"truth_weak_password_share"`
	Fingerprinted      int     `json:"fingerprinted_services"`
	VulnMatches        int     `json:"vulnerability_matches"`
	KEVMatches         int     `json:"kev_matches"`
	DevicesWithVulns   int     `json:"devices_with_vulnerabilities"`
	TelemetryRecords   int64   `json:"telemetry_records,omitempty"`
	DevicesCompromised int     `json:"devices_under_unauthorized_control"`
	TruthCompromised   int     `json:"truth_devices_under_unauthorized_control"`
	CompromisedFound   int     `json:"compromised_found"` // detected devices that are in the truth`
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

	t0 := time.Now()
	fleet, err := simulate.Start(ctx, simulate.Options{
		Prefix: opts.Prefix, Devices: opts.Devices, Seed: opts.Seed,
		Weak: opts.Weak, Empty: opts.Empty, Anonymous: opts.Anonymous,
		HighPorts: opts.HighPorts, Logger: log,
	})
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
	targets := make([]string, len(addrs))
	inFleet := make(map[netip.Addr]bool, len(addrs))
	for i, a := range addrs {
		targets[i] = a.String()
		inFleet[a] = true
	}
	run, err := stage.Start(ctx, st, "demo", []string{fmt.Sprintf("%s (%d simulated devices)", opts.Prefix, len(addrs))}, nil)
	if err != nil {
		return nil, err
	}
	sum.RunID = run.ID
	finish := func(err error) error {
		run.Stages = sum.Stages
		run.Counts = map[string]int64{
			"devices": int64(sum.Devices), "services": int64(sum.Services),
			"weak_devices": int64(sum.DevicesWithWeak), "vuln_matches": int64(sum.VulnMatches),
		}
		return run.Finish(ctx, err)
	}

	// Discovery, banners and fingerprints, on the ports of every profile
	// (`jobs submit scan --ports demo` scans the same).
	t0 = time.Now()
	tcpPorts, udpPorts, err := simulate.ProfilePorts(fleet.HighPortMap())
	if err != nil {
		return sum, finish(err)
	}
	var services []model.Service
	_, err = stage.Scan(ctx, st, run, stage.ScanOptions{
		Config: scan.Config{
			Targets: targets, TCPPorts: tcpPorts, UDPPorts: udpPorts,
			Concurrency: 512, Timeout: 3 * time.Second, Logger: log,
			Rate: -1, // its own loopback fleet: no rate limit
		},
		Emit: func(s model.Service) error {
			if !inFleet[s.IP] {
				return fmt.Errorf("scan produced %s, which is not in the fleet", s.IP)
			}
			if s.Status == model.StatusSuccess {
				services = append(services, s)
			}
			return nil
		},
		SuccessOnly: true,
	})
	devs := map[netip.Addr]bool{}
	for _, s := range services {
		devs[s.IP] = true
		if !s.Fingerprint.Empty() {
			sum.Fingerprinted++
		}
	}
	sum.Devices, sum.Services = len(devs), len(services)
	if err != nil {
		return sum, finish(fmt.Errorf("scan: %w", err))
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
	for _, img := range imgs {
		res, err := stage.Firmware(ctx, st, run, img.Path, stage.FirmwareOptions{Analyze: firmware.Options{CrackBudget: 3 * time.Second}, Vulns: true})
		if err != nil {
			return sum, finish(fmt.Errorf("firmware %s: %w", filepath.Base(img.Path), err))
		}
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
		Config: audit.Config{MaxAttempts: 200, PerHost: 1, Allowed: func(a netip.Addr) bool { return inFleet[a] }, Logger: log},
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
	sum.VulnMatches, sum.DevicesWithVulns, sum.KEVMatches = len(vr.Matches), vr.Devices, vr.KEV
	stageDone("vulns", t0)

	// Telemetry: devices under unauthorized control, from traffic.
	if opts.Compromised > 0 {
		t0 = time.Now()
		tt, isum, err := telemetry(ctx, st, *truth, opts.Compromised, opts.Seed, opts.OutDir)
		if err != nil {
			return sum, finish(fmt.Errorf("flows: %w", err))
		}
		sum.TruthCompromised = len(tt.Compromised)
		for _, d := range truth.Devices {
			if d.Weak && tt.Compromised[d.IP] != "" {
				sum.TruthFallWeak++
			}
		}
		sum.TelemetryRecords = isum.Counts["records"]
		found := map[string]bool{}
		for _, a := range isum.Alerts {
			if !a.Inbound && a.Day() == tt.Day {
				found[a.Device.String()] = true
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
	res, _, err := stage.Assess(ctx, st, assess.RunOptions{Targets: []string{fmt.Sprintf("run %d", run.ID)}}, run.ID)
	if err != nil {
		return sum, finish(fmt.Errorf("assess: %w", err))
	}
	stageDone("assess", t0)

	// Report. The run is recorded complete first, so the report shows it as
	// such; a failed report turns it into a failed run.
	t0 = time.Now()
	sum.Stages = append(sum.Stages, "report")
	if err := finish(nil); err != nil {
		return sum, err
	}
	r, err := stage.BuildReport(ctx, st, report.Inputs{RunIDs: []int64{run.ID}, Title: "iotwatch demo: simulated IoT fleet"}, res)
	if err == nil && r.SharedKeys != nil {
		sum.SharedKeyDevices, sum.SharedCertDevices = r.SharedKeys.Sharing, r.SharedKeys.TLSCertSharing
	}
	sum.TruthSharedKeyDevices, sum.TruthSharedCertDevices = truthSharedKeys(*truth)
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
