package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/audit"
	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/scan"
	"iotwatch/internal/stage"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
	"iotwatch/internal/target"
)

type auditFlags struct {
	ports       string
	creds       string
	communities string
	commFile    string
	maxAttempts int
	perHost     int
	concurrency int
	delay       time.Duration
	timeout     time.Duration
	all         bool
	showSecrets bool
	summary     bool
	noScan      bool
	noStore     bool
	httpPath    string
	rtspPath    string
}

func newAuditCmd(g *globals) *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit TARGET...",
		Short: "Find default and weak credentials on the login surfaces of named targets",
		Example: `  iotwatch audit 192.168.1.0/24 --summary
  iotwatch audit 10.0.0.5 --no-scan -p 22,23,2323/telnet --creds site-list.txt`,
		Long: `audit scans the named targets (reusing the scan stage and its fingerprints), then tries
default and weak credentials on every login surface found: telnet, SSH, HTTP Basic/Digest/forms,
FTP, MQTT, RTSP and SNMP communities. Vendor defaults (DefaultCreds, keyed by the fingerprint's
vendor) come first, then the Mirai list, or the list given with --creds (user:pass lines or the
DefaultCreds CSV). Safety: only the named targets are touched, one attempt at a time per host
(--per-host), at most --max-attempts per service, --delay between attempts, back-off when a
device shows lockout or rate limiting, and a stop at the first success per service (--all to
continue). Passwords are redacted unless --show-secrets. --summary prints the weak-credential
share of the devices overall and by vendor, device type, protocol and /24 with 95% Wilson
intervals.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAudit(cmd, g, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.ports, "ports", "p", "", "ports to scan and audit, e.g. 22,23,80,161/udp,2323/telnet (default: the scan's default ports)")
	fl.StringVar(&f.creds, "creds", "", "credential list: user:pass lines or a DefaultCreds CSV (replaces the built-in lists)")
	fl.StringVar(&f.communities, "communities", "", "SNMP communities to try, comma-separated (default: built-in list)")
	fl.StringVar(&f.commFile, "communities-file", "", "SNMP communities to try from a `FILE`, one per line")
	fl.IntVar(&f.maxAttempts, "max-attempts", audit.DefaultMaxAttempts, "login attempts per service at most, the wrong-password control included")
	fl.IntVar(&f.perHost, "per-host", audit.DefaultPerHost, "concurrent attempts per host")
	fl.IntVar(&f.concurrency, "concurrency", audit.DefaultConcurrency, "hosts audited at once")
	fl.DurationVar(&f.delay, "delay", 0, "pause between attempts on one service")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "timeout of one attempt")
	fl.BoolVar(&f.all, "all", false, "keep trying after the first accepted credential of a service")
	fl.BoolVar(&f.showSecrets, "show-secrets", false, "print passwords and communities unredacted")
	fl.BoolVar(&f.summary, "summary", false, "print population statistics (weak-credential shares with 95% Wilson intervals)")
	fl.BoolVar(&f.noScan, "no-scan", false, "skip the scan: audit every named address on every --ports port with the port's usual protocol")
	fl.BoolVar(&f.noStore, "no-store", false, "do not record the run in the database")
	fl.StringVar(&f.httpPath, "http-path", "/", "HTTP path to audit")
	fl.StringVar(&f.rtspPath, "rtsp-path", "/", "RTSP path to audit")
	return cmd
}

func runAudit(cmd *cobra.Command, g *globals, f *auditFlags, args []string) error {
	ctx := cmd.Context()
	if f.maxAttempts <= 0 || f.perHost <= 0 || f.concurrency <= 0 || f.delay < 0 || f.timeout <= 0 {
		return usageError{errors.New("--max-attempts, --per-host, --concurrency and --timeout must be positive, --delay not negative")}
	}
	var ports []target.Port
	if f.ports != "" {
		var err error
		if ports, err = target.ParsePorts(f.ports); err != nil {
			return usageError{fmt.Errorf("--ports: %w", err)}
		}
	}
	dict, err := loadDictionary(f, g.errOut)
	if err != nil {
		return usageError{err}
	}
	set, err := (&target.Parser{Stdin: cmd.InOrStdin()}).Parse(ctx, args)
	if err != nil {
		return usageError{fmt.Errorf("targets: %w", err)}
	}
	pairs := map[netip.Addr]bool{}
	for _, p := range set.Pairs {
		pairs[p.Addr()] = true
	}
	allowed := func(a netip.Addr) bool { return set.Contains(a) || pairs[a] }

	var st *store.Store
	if !f.noStore {
		if st, err = g.openStore(ctx); err != nil {
			return err
		}
		defer st.Close()
	}
	run, err := stage.Start(ctx, st, "audit", args, []string{"scan", "vulns", "audit"})
	if err != nil {
		return err
	}
	finish := func(runErr error, counts map[string]int64) error {
		for k, v := range counts {
			run.Count(k, v)
		}
		runErr = run.Finish(ctx, runErr)
		if run.Recorded() {
			fmt.Fprintf(g.errOut, "run %d: %s\n", run.ID, run.Status)
		}
		return runErr
	}

	// Stage 1: the login surfaces.
	var services []model.Service
	if f.noScan {
		if services, err = directServices(set, ports); err != nil {
			return finish(usageError{err}, nil)
		}
	} else {
		cfg := scan.Config{Targets: args, Ports: ports, Timeout: min(f.timeout, 5*time.Second), Logger: g.log, Stdin: cmd.InOrStdin()}
		// An SNMP agent answers only a community it knows: discover with
		// the audit's communities, or agents without "public" stay unseen.
		comms := audit.Builtin().Communities
		if dict != nil {
			comms = dict.Communities
		}
		for _, c := range comms {
			cfg.Communities = append(cfg.Communities, c.Password)
		}
		var mu sync.Mutex
		// What the scan found is kept even when it was interrupted.
		_, err := stage.Scan(ctx, st, run, stage.ScanOptions{Config: cfg, Emit: func(s model.Service) error {
			mu.Lock()
			defer mu.Unlock()
			services = append(services, s)
			return nil
		}})
		if err == nil {
			var vr stage.VulnResult
			vr, err = stage.Vulns(ctx, st, run, services)
			g.log.Info("audit: known vulnerabilities", "matches", len(vr.Matches), "devices", vr.Devices)
		}
		if err != nil {
			return finish(fmt.Errorf("audit scan: %w", err), map[string]int64{"services": int64(len(services))})
		}
	}
	nSurfaces := 0
	for _, s := range services {
		if protocol.Lookup(s.Protocol).Login && allowed(s.IP) { // what the audit stage will try
			nSurfaces++
		}
	}
	g.log.Info("audit: login surfaces", "services", len(services), "auditable", nSurfaces)

	// Stage 2: the audit.
	cfg := audit.Config{
		MaxAttempts: f.maxAttempts, PerHost: f.perHost, Concurrency: f.concurrency, Delay: f.delay,
		Timeout: f.timeout, All: f.all, Dict: dict, Allowed: allowed, Logger: g.log,
		Paths: map[string]string{model.ProtoHTTP: f.httpPath, model.ProtoHTTPS: f.httpPath, model.ProtoRTSP: f.rtspPath},
	}
	bar := stage.NewBar(g.errOut, isTerminal(g.errOut) && nSurfaces > 0, "audit", "services", int64(nSurfaces))
	if bar != nil {
		cfg.Progress = func(done, total int) { bar.Set(int64(done), int64(total), "") }
	} else if nSurfaces > 0 {
		var mu sync.Mutex
		last := time.Now()
		cfg.Progress = func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) >= 5*time.Second || done == total {
				last = time.Now()
				g.log.Info("audit: progress", "services_done", done, "services", total)
			}
		}
	}
	out := newResultPrinter(g.out, g.json, f.showSecrets)
	ar, runErr := stage.Audit(ctx, st, run, services, stage.AuditOptions{Config: cfg, Emit: out.print})
	stats, results := ar.Stats, ar.Results
	bar.Finish()
	if err := out.flush(); err != nil && runErr == nil {
		runErr = err
	}
	g.log.Info("audit: done", "services", stats.Audited, "attempts", stats.Attempts, "found", stats.Found,
		"lockouts", stats.Lockouts, "unknown", stats.Unknown, "duration", stats.Duration.Round(time.Millisecond))
	if f.summary && runErr == nil {
		sum, err := weakSummary(ctx, st, run.ID, services, results)
		if err == nil {
			err = printSummary(g.out, g.json, sum)
		}
		if err != nil {
			runErr = err
		}
	}
	return finish(runErr, map[string]int64{"services": int64(len(services))})
}

// loadDictionary builds the dictionary from --creds and --communities or
// --communities-file.
func loadDictionary(f *auditFlags, errOut io.Writer) (*audit.Dictionary, error) {
	if f.creds == "" && f.communities == "" && f.commFile == "" {
		return nil, nil // built-in
	}
	b := audit.Builtin()
	d := &audit.Dictionary{Vendors: b.Vendors, Generic: b.Generic, Communities: b.Communities}
	if f.creds != "" {
		data, err := os.ReadFile(f.creds)
		if err != nil {
			return nil, fmt.Errorf("--creds: %w", err)
		}
		if first, _, _ := strings.Cut(string(data), "\n"); strings.HasPrefix(strings.ToLower(strings.TrimSpace(first)), "productvendor,") {
			cd, err := audit.ParseDefaultCreds(strings.NewReader(string(data)), f.creds)
			if err != nil {
				return nil, fmt.Errorf("--creds: %w", err)
			}
			d.Vendors, d.Generic = cd.Vendors, nil
			for _, k := range slices.Sorted(maps.Keys(cd.Vendors)) { // a CSV also serves as a generic list
				d.Generic = append(d.Generic, cd.Vendors[k]...)
			}
		} else {
			es, err := audit.ParseUserPass(strings.NewReader(string(data)), f.creds)
			if err != nil {
				return nil, fmt.Errorf("--creds: %w", err)
			}
			d.Vendors, d.Generic = nil, es
		}
	}
	if fi, err := os.Stat(f.communities); f.commFile == "" && err == nil && fi.Mode().IsRegular() {
		// Before the one convention --communities named a file here.
		fmt.Fprintf(errOut, "iotwatch: --communities FILE is deprecated; use --communities-file FILE\n")
		f.commFile, f.communities = f.communities, ""
	}
	switch {
	case f.commFile != "":
		fh, err := os.Open(f.commFile)
		if err != nil {
			return nil, fmt.Errorf("--communities-file: %w", err)
		}
		defer fh.Close()
		if d.Communities, err = audit.ParseCommunities(fh, f.commFile); err != nil {
			return nil, fmt.Errorf("--communities-file: %w", err)
		}
	case f.communities != "":
		list := strings.NewReader(strings.ReplaceAll(f.communities, ",", "\n"))
		var err error
		if d.Communities, err = audit.ParseCommunities(list, "--communities"); err != nil {
			return nil, fmt.Errorf("--communities: %w", err)
		}
	}
	return d, nil
}

// directServices lists every named address × port, with the port's usual
// protocol, for --no-scan.
func directServices(set *target.Set, ports []target.Port) ([]model.Service, error) {
	if len(ports) == 0 {
		return nil, errors.New("--no-scan needs --ports")
	}
	const maxEndpoints = 1 << 16
	if set.Len()*uint64(len(ports))+uint64(len(set.Pairs)) > maxEndpoints {
		return nil, fmt.Errorf("--no-scan: more than %d endpoints; scan instead", maxEndpoints)
	}
	var out []model.Service
	add := func(ip netip.Addr, p target.Port) {
		if proto := target.ProtocolFor(p); proto != "" {
			out = append(out, model.Service{IP: ip, Port: p.Number, Transport: p.Transport, Protocol: proto, Status: model.StatusSuccess})
		}
	}
	for i := range set.Len() {
		for _, p := range ports {
			add(set.At(i), p)
		}
	}
	for _, ap := range set.Pairs {
		add(ap.Addr(), target.Port{Number: ap.Port(), Transport: model.TCP})
	}
	return out, nil
}

// resultPrinter prints credential results as they come: a table (flushed
// at the end) or JSON Lines, redacting secrets unless asked not to.
type resultPrinter struct {
	w       io.Writer
	json    bool
	secrets bool
	tw      *tabwriter.Writer
	header  bool
}

func newResultPrinter(w io.Writer, asJSON, secrets bool) *resultPrinter {
	p := &resultPrinter{w: w, json: asJSON, secrets: secrets}
	if !asJSON {
		p.tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	return p
}

func (p *resultPrinter) print(r model.CredentialResult) error {
	if !p.secrets {
		r.Password = model.Redact(r.Password)
	}
	if p.json {
		return json.NewEncoder(p.w).Encode(r)
	}
	if !p.header {
		fmt.Fprintln(p.tw, "IP\tPORT\tPROTOCOL\tUSERNAME\tPASSWORD\tKIND\tSOURCE\tATTEMPTS\tLOCKOUT")
		p.header = true
	}
	_, err := fmt.Fprintf(p.tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%v\n", r.IP, r.Port, r.Protocol, r.Username, r.Password, r.Kind, r.Source, r.Attempts, r.LockoutSuspected)
	return err
}

func (p *resultPrinter) flush() error {
	if p.tw == nil {
		return nil
	}
	if !p.header {
		fmt.Fprintln(p.w, "no default or weak credentials found")
		return nil
	}
	return p.tw.Flush()
}

// weakSummary is the weak-credential share of the audited devices, computed
// as the report and the API compute it: from the run's evidence read back
// through the store's evidence loader when the run is recorded, else from
// what this audit found.
func weakSummary(ctx context.Context, st *store.Store, runID int64, services []model.Service, results []model.CredentialResult) (stats.Summary, error) {
	if st != nil && runID != 0 {
		ev, err := st.LoadEvidence(ctx, []int64{runID})
		if err != nil {
			return stats.Summary{}, fmt.Errorf("audit summary: %w", err)
		}
		services, results = ev.Services, ev.Credentials
	}
	return stats.Summarize(stats.Population(services, results), nil), nil
}

// printSummary prints population statistics as a table or one JSON object.
func printSummary(w io.Writer, asJSON bool, s stats.Summary) error {
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]stats.Summary{"summary": s})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nGROUP\tVALUE\tWEAK\tDEVICES\tSHARE\t95% CI")
	row := func(group string, x stats.Share) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t[%.1f%%, %.1f%%]\n", group, x.Key, x.Weak, x.Devices, 100*x.Share, 100*x.CI95.Low, 100*x.CI95.High)
	}
	overall := s.Overall
	overall.Key = "all devices"
	row("overall", overall)
	for _, g := range []struct {
		name string
		l    []stats.Share
	}{{"vendor", s.ByVendor}, {"device type", s.ByDeviceType}, {"protocol", s.ByProtocol}, {"subnet", s.BySubnet}} {
		for _, x := range g.l {
			row(g.name, x)
		}
	}
	return tw.Flush()
}
