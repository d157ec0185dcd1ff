package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"iotwatch/internal/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	opts := demo.Options{}
	var prefix string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on a simulated IoT fleet: simulate → scan → audit → vulns → flows → assess → report",
		Example: `  iotwatch demo -o demo-out
  iotwatch demo --devices 1000 --weak 0.2 --seed 7`,
		Long: `demo starts a simulated fleet of IoT devices on loopback addresses as it is on each of --days days
(rescanning it on the earlier ones), scans and fingerprints it, analyses a firmware image of each of
its products (written into firmware/), audits every login service for default and weak credentials,
matches known vulnerabilities from the embedded offline database, writes a synthetic capture of each
day's traffic in which a share of the weak devices behave like botnet members (--compromised; the
captures are only files, nothing is sent) and ingests them through the flow detectors, assesses the
devices against the baselines and writes report.html, report.json, truth.json (the simulator's
ground truth), telemetry-day0.pcap (one a day) and telemetry.json (their ground truth) into
--output. It targets only the fleet it started. Its log shows each stage; the credentials the audit
finds are logged one by one only at --log-level debug (the summary counts them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := netip.ParsePrefix(prefix)
			if err != nil || !p.Addr().Is4() || !netip.MustParsePrefix("127.0.0.0/8").Contains(p.Addr()) || p.Bits() < 8 {
				return usageError{fmt.Errorf("--prefix %q: want an IPv4 loopback prefix inside 127.0.0.0/8", prefix)}
			}
			if opts.Devices < 1 || opts.Devices > 1<<(32-p.Bits())-2 {
				return usageError{fmt.Errorf("--devices %d: want 1..%d for %s", opts.Devices, 1<<(32-p.Bits())-2, p)}
			}
			for name, v := range map[string]float64{"--weak": opts.Weak, "--empty": opts.Empty, "--anonymous": opts.Anonymous, "--compromised": opts.Compromised} {
				if v < 0 || v > 1 {
					return usageError{fmt.Errorf("%s %v: want a share between 0 and 1", name, v)}
				}
			}
			if opts.Days < 1 || opts.Days > 30 {
				return usageError{fmt.Errorf("--days %d: want 1..30", opts.Days)}
			}
			if opts.Weak+opts.Empty+opts.Anonymous > 1 {
				return usageError{fmt.Errorf("--weak + --empty + --anonymous must not exceed 1")}
			}
			opts.Prefix, opts.Logger = p, g.log
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			sum, err := demo.Run(cmd.Context(), st, opts)
			if err != nil {
				return err
			}
			if g.json {
				return json.NewEncoder(g.out).Encode(sum)
			}
			printDemoSummary(g, sum)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Devices, "devices", 500, "number of simulated devices")
	f.Int64Var(&opts.Seed, "seed", 1, "random seed: the same seed gives the same fleet")
	f.StringVarP(&opts.OutDir, "output", "o", "demo-out", "directory for report.html, report.json and truth.json")
	deprecatedAlias(g, f, "out", "output")
	f.StringVar(&prefix, "prefix", "127.20.0.0/16", "loopback prefix the fleet lives in")
	f.Float64Var(&opts.Weak, "weak", 0.30, "share of devices with a default or weak credential")
	f.Float64Var(&opts.Empty, "empty", 0.05, "share of devices with an empty password")
	f.Float64Var(&opts.Anonymous, "anonymous", 0.05, "share of devices with anonymous access")
	f.Float64Var(&opts.Compromised, "compromised", 0.05, "share of devices (drawn from the weak ones) that behave like botnet members in the telemetry; 0 skips it")
	f.IntVar(&opts.Days, "days", 4, "simulated days, the last of them today: the fleet is rescanned each earlier day (units install firmware updates as days pass) and the telemetry has a capture per day")
	f.BoolVar(&opts.HighPorts, "high-ports", os.Geteuid() != 0, "use the simulator's high-port map (default when not root)")
	return cmd
}

func printDemoSummary(g *globals, s *demo.Summary) {
	w := g.out
	fmt.Fprintf(w, "iotwatch demo — run %d, %s\n", s.RunID, s.Duration.Round(1e6))
	fmt.Fprintf(w, "  stages:            %v\n", s.Stages)
	if len(s.Skipped) > 0 {
		fmt.Fprintf(w, "  skipped:           %v\n", s.Skipped)
	}
	fmt.Fprintf(w, "  devices found:     %d of %d simulated\n", s.Devices, s.TruthDevices)
	fmt.Fprintf(w, "  services:          %d (%d fingerprinted)\n", s.Services, s.Fingerprinted)
	fmt.Fprintf(w, "  weak credentials:  %s, share %.4f (ground truth %.4f)\n", nouns(s.DevicesWithWeak, "device", "devices"), s.WeakShare, s.TruthWeakShare)
	fmt.Fprintf(w, "  vulnerabilities:   %s on %s, %d of them known exploited (KEV) on %s\n", nouns(s.VulnMatches, "match", "matches"),
		nouns(s.DevicesWithVulns, "device", "devices"), s.KEVMatches, nouns(s.KEVDevices, "device", "devices"))
	if s.TelemetryRecords > 0 || s.TruthCompromised > 0 {
		fmt.Fprintf(w, "  under control:     %s over %s from %s (ground truth %d, %d of them found); per day %v (ground truth %v)\n",
			nouns(s.DevicesCompromised, "device", "devices"), nouns(s.Days, "day", "days"), nouns(int(s.TelemetryRecords), "flow record", "flow records"), s.TruthCompromised, s.CompromisedFound, s.CompromisedPerDay, s.TruthCompromisedPerDay)
		fmt.Fprintf(w, "  why they fell:     %d of %d in the sample had a weak credential (ground truth %d of %d)\n", s.FallWeak, s.FallInSample, s.TruthFallWeak, s.TruthCompromised)
	}
	fmt.Fprintf(w, "  firmware:          %s, %s; %d of %s and %d of %s found (SSH host keys, TLS private keys)\n",
		nouns(s.FirmwareImages, "image", "images"), nouns(s.FirmwareFindings, "finding", "findings"), s.FirmwareAccounts,
		nouns(s.TruthFirmwareAccounts, "default account", "default accounts"), s.FirmwareKeys, nouns(s.TruthFirmwareKeys, "hard-coded key", "hard-coded keys"))
	fmt.Fprintf(w, "  firmware-proven:   %s found with an account of the product's firmware, %d of them in no built-in list (ground truth %d)\n",
		nouns(s.FirmwareCredentials, "weak credential", "weak credentials"), s.FirmwareOnlyCredentials, s.TruthFirmwareOnly)
	fmt.Fprintf(w, "  declared/observed: %s, %d by weak credentials (ground truth %d), %d by not updating (ground truth %d)\n",
		nouns(s.Contradicted, "device contradicts its maker's declaration", "devices contradict their maker's declaration"), s.ContradictedWeak, s.TruthContradictedWeak, s.ContradictedRescans, s.TruthNeverUpdated)
	if s.UptakeProduct != "" {
		fmt.Fprintf(w, "  patch uptake:      %s %s on %v of %s by day (ground truth %v); %d never updated (ground truth %d); %s half fixed after %s (ground truth %s)\n",
			s.UptakeProduct, s.UptakeFirmware, s.UpdatedPerDay, nouns(s.UptakeUnits, "unit", "units"), s.TruthUpdatedPerDay, s.NeverUpdated, s.TruthNeverUpdated,
			cmp.Or(s.UptakeCVE, "its vulnerability"), fmtDays(s.HalfFixedDays), fmtDays(s.TruthHalfFixedDays))
	}
	fmt.Fprintf(w, "  shared keys:       %s an SSH or TLS key another device serves (ground truth %d); %d a TLS certificate (ground truth %d)\n",
		nouns(s.SharedKeyDevices, "device serves", "devices serve"), s.TruthSharedKeyDevices, s.SharedCertDevices, s.TruthSharedCertDevices)
	fmt.Fprintf(w, "  report:            %s\n                     %s\n  ground truth:      %s\n", s.ReportHTML, s.ReportJSON, s.TruthFile)
}

// fmtDays prints a number of days with its noun, or "no days" when there
// is none.
func fmtDays(d *float64) string {
	switch {
	case d == nil:
		return "no days"
	case *d == 1:
		return "1 day"
	}
	return strconv.FormatFloat(*d, 'f', -1, 64) + " days"
}

// nouns is n with the singular or plural form of its noun (which may carry
// its verb: "device serves", "devices serve").
func nouns(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
