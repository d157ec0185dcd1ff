package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/fingerprint"
	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/target"
)

type scanFlags struct {
	ports, shard, format, out, fingerprints, communities      string
	rate, concurrency                                         int
	timeout                                                   time.Duration
	blocklist, allowlist                                      []string
	resume, showSecrets, discovery, noStore, noBlocklist, syn bool
	allowLarge                                                bool
	seed                                                      uint64
}

func newScanCmd(g *globals) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan TARGET...",
		Short: "Discover IoT services, speak their protocols and fingerprint them",
		Example: `  iotwatch scan 192.168.1.0/24 --json -o services.jsonl
  iotwatch scan @targets.txt -p 22,23,80,161/udp --rate 1000`,
		Long: `Scan targets for IoT services and identify vendor, product, version, device type and CPE.

TARGET is an IPv4/IPv6 address, CIDR, range (a.b.c.d-e), host name, @file or - (stdin);
files and stdin also accept zmap ("ip" or "ip,port") and masscan -oL lines.
--ports takes N, N-M, N/udp or N/PROTOCOL items (e.g. 22,80,161/udp,18830/mqtt), or
"demo": the TCP and UDP ports of the simulator's device profiles, which make demo scans;
without it a built-in IoT port list is scanned. The (address, port) space is walked in a
random order (zmap's cyclic group); --shard I/N (0 <= I < N, same --seed on every machine)
splits it disjointly; --resume continues the newest interrupted, failed or killed scan from
its checkpoint. Probes go out at --rate per second (default 10,000, zmap's; 0 lifts the limit);
more than a /8 of public addresses needs --rate and --allow-large, and a long scan prints its
size and expected duration first. Results are stored as a run with the known vulnerabilities of
what was identified; --json (or --format jsonl) prints one JSON object per service,
--format csv|table|nmap-xml other shapes. Found SNMP communities are redacted unless --show-secrets.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !f.resume {
				return usageError{errors.New("scan: at least one TARGET (or --resume)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd, g, &f, args) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.ports, "ports", "p", "", "ports to scan, or demo: the simulated fleet's (default: built-in IoT list)")
	fl.IntVar(&f.rate, "rate", scan.DefaultRate, "new probes per second over the whole scan (0: unlimited)")
	fl.BoolVar(&f.allowLarge, "allow-large", false, "allow a scan of more than a /8 of public addresses (also needs --rate)")
	fl.IntVar(&f.concurrency, "concurrency", 1000, "simultaneous probes")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "per-probe handshake timeout")
	fl.StringSliceVar(&f.blocklist, "blocklist", nil, "extra blocklist file(s) in zmap format")
	fl.StringSliceVar(&f.allowlist, "allowlist", nil, "allowlist file(s) in zmap format: scan only these")
	fl.BoolVar(&f.noBlocklist, "no-default-blocklist", false, "do not apply the built-in never-valid blocklist")
	fl.StringVar(&f.shard, "shard", "", "I/N: scan shard I (0-based) of N")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the random order (0: random; shards must share one)")
	fl.BoolVar(&f.resume, "resume", false, "continue the newest interrupted scan from its checkpoint")
	fl.StringVar(&f.format, "format", "", "output: table, jsonl, csv or nmap-xml (default table; jsonl with --json)")
	fl.StringVarP(&f.out, "output", "o", "", "write the output to this file instead of standard output")
	deprecatedAlias(g, fl, "out", "output")
	fl.StringVar(&f.fingerprints, "fingerprints", "", "load Recog XML fingerprints from DIR instead of the embedded set")
	fl.StringVar(&f.communities, "communities", "public", "SNMP communities to try, comma-separated")
	fl.BoolVar(&f.showSecrets, "show-secrets", false, "print found secrets (SNMP communities) unredacted")
	fl.BoolVar(&f.discovery, "discovery-only", false, "connect scan only: report open ports, no handshakes")
	fl.BoolVar(&f.syn, "syn", false, "discover TCP ports with stateless raw SYNs (IPv4 and IPv6; root or CAP_NET_RAW), then probe the open ones")
	fl.BoolVar(&f.noStore, "no-store", false, "do not record the scan in the database")
	return cmd
}

func runScan(cmd *cobra.Command, g *globals, f *scanFlags, args []string) error {
	ctx := cmd.Context()
	format := f.format
	if format == "" {
		format = "table"
		if g.json {
			format = "jsonl"
		}
	}
	switch format {
	case "table", "jsonl", "csv", "nmap-xml":
	default:
		return usageError{fmt.Errorf("--format %q: want table, jsonl, csv or nmap-xml", format)}
	}
	cfg := scan.Config{
		Targets: args, Blocklist: f.blocklist, Allowlist: f.allowlist, NoDefaultBlocklist: f.noBlocklist,
		Concurrency: f.concurrency, Rate: f.rate, Timeout: f.timeout, Seed: f.seed, AllowLarge: f.allowLarge,
		DiscoveryOnly: f.discovery, SYN: f.syn, ShowSecrets: f.showSecrets, Logger: g.log, Stdin: cmd.InOrStdin(),
	}
	if f.communities != "" {
		cfg.Communities = strings.Split(f.communities, ",")
	}
	if f.ports != "" {
		list, err := namedPorts(f.ports)
		if err != nil {
			return err
		}
		ports, err := target.ParsePorts(list)
		if err != nil {
			return usageError{fmt.Errorf("--ports: %w", err)}
		}
		cfg.Ports = ports
	}
	if f.shard != "" {
		i, n, err := target.ParseShard(f.shard)
		if err != nil {
			return usageError{fmt.Errorf("--shard: %w", err)}
		}
		cfg.Shard, cfg.Shards = i, n
	}
	if f.rate < 0 || f.concurrency < 0 || f.timeout < 0 {
		return usageError{errors.New("--rate, --concurrency and --timeout must not be negative")}
	}
	if !f.discovery {
		eng, err := fingerprint.New(fingerprint.Options{RecogDir: f.fingerprints, Logger: g.log})
		if err != nil {
			return err
		}
		if f.fingerprints != "" { // fail early on a bad directory (an input, exit 1)
			if _, _, err := eng.Recog(); err != nil {
				return fmt.Errorf("--fingerprints %s: %w", f.fingerprints, err)
			}
		}
		cfg.Engine = eng
	}

	var st *store.Store
	if !f.noStore || f.resume {
		var err error
		if st, err = g.openStore(ctx); err != nil {
			return err
		}
		defer st.Close()
	}
	opts := stage.ScanOptions{Config: cfg, Ports: f.ports}
	if f.resume {
		if _, err := stage.PrepareResume(ctx, st, &opts); err != nil {
			if errors.Is(err, stage.ErrResumeTargets) {
				return usageError{err}
			}
			return err
		}
		cp := opts.From.Checkpoint
		g.log.Info("resuming scan", "run", opts.From.RunID, "position", cp.Position, "pending", len(cp.Pending), "of", cp.Steps)
	}
	switch {
	case !cmd.Flags().Changed("rate"):
		opts.Config.Rate = 0 // the default, not a deliberate choice
	case f.rate == 0:
		opts.Config.Rate = -1 // unlimited
	}
	plan, err := scan.NewPlan(ctx, opts.Config)
	switch {
	case errors.Is(err, scan.ErrLargeScan):
		return usageError{fmt.Errorf("%w (--rate N --allow-large)", err)}
	case errors.Is(err, scan.ErrBadTargets):
		return usageError{err}
	case err != nil:
		return err
	}
	if plan.Large() || plan.Duration > time.Minute || plan.Rate == 0 && plan.Items > 1<<20 {
		fmt.Fprintf(g.errOut, "scanning %s\n", plan)
	}
	if f.noStore {
		st = nil
	}
	stages := stage.ScanStages
	if !f.discovery {
		stages = append(slices.Clip(stages), "vulns")
	}
	run, err := stage.Start(ctx, st, "scan", opts.Config.Targets, stages)
	if err != nil {
		return err
	}

	w, closeOut, err := scanOutput(g, f.out)
	if err != nil {
		return err
	}
	defer closeOut()

	var (
		all     []model.Service
		enc     = json.NewEncoder(w)
		started = time.Now()
	)
	bar := stage.NewBar(g.errOut, isTerminal(g.errOut), "scan", "probes", -1)
	if bar != nil {
		opts.Config.Progress = func(p scan.Progress) {
			bar.Set(int64(p.Done), int64(p.Total), fmt.Sprintf("scan: %d open", p.Open))
		}
	}
	opts.Emit = func(s model.Service) error {
		if format == "jsonl" {
			return enc.Encode(s)
		}
		all = append(all, s)
		return nil
	}
	res, scanErr := stage.Scan(ctx, st, run, opts)
	bar.Finish()
	var vr stage.VulnResult
	if scanErr == nil && !f.discovery {
		vr, scanErr = stage.VulnsOfRun(ctx, st, run)
	}
	stats := res.Stats
	switch format {
	case "table":
		err = scan.WriteTable(w, all)
	case "csv":
		err = scan.WriteCSV(w, all)
	case "nmap-xml":
		err = scan.WriteNmapXML(w, all, "iotwatch scan "+strings.Join(os.Args[min(len(os.Args), 2):], " "), started, time.Now())
	}
	err = run.Finish(ctx, errors.Join(scanErr, err))
	fmt.Fprintf(g.errOut, "scanned %d endpoints in %v: %d open, %d services", stats.Items, stats.Elapsed.Round(time.Millisecond), stats.Open, stats.Emitted)
	if len(vr.Matches) > 0 {
		fmt.Fprintf(g.errOut, ", %d known vulnerabilities on %d devices", len(vr.Matches), vr.Devices)
	}
	if run.Recorded() {
		fmt.Fprintf(g.errOut, " (%s)", run)
	}
	fmt.Fprintln(g.errOut)
	if errors.Is(scanErr, scan.ErrBadTargets) {
		return usageError{scanErr}
	}
	return err
}

// scanOutput opens --out or returns stdout.
func scanOutput(g *globals, path string) (io.Writer, func(), error) {
	if path == "" || path == "-" {
		return g.out, func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--out: %w", err)
	}
	return fh, func() { fh.Close() }, nil
}

// namedPorts returns a --ports value with a named list expanded: "demo" is
// the ports of the simulator's profiles under the port map a fleet started
// by this user has (the list `iotwatch demo` scans); anything else is
// returned as it is.
func namedPorts(s string) (string, error) {
	if s != "demo" {
		return s, nil
	}
	list, err := simulate.PortList(simulate.HighPortMap(false))
	if err != nil {
		return "", fmt.Errorf("--ports demo: %w", err)
	}
	return list, nil
}
