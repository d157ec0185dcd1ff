package cli

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/declare"
	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/flow/intel"
	"iotwatch/internal/flow/mud"
	"iotwatch/internal/geo"
	"iotwatch/internal/model"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

func newFlowsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "flows",
		Short:   "Ingest network telemetry, detect compromised devices, map where device data goes",
		Example: `  iotwatch flows ingest --pcap capture.pcap && iotwatch flows detect`,
	}
	cmd.AddCommand(newFlowsIngestCmd(g), newFlowsDetectCmd(g), newFlowsDestinationsCmd(g), newFlowsExportCmd(g))
	return cmd
}

func newFlowsIngestCmd(g *globals) *cobra.Command {
	var (
		pcapPaths, zeekPaths, nfPaths, nfPcaps []string
		listen                                 string
		opt                                    ingest.Options
	)
	cmd := &cobra.Command{
		Use:   "ingest (--pcap FILE | --zeek FILE | --nfdump-csv FILE | --netflow-pcap FILE)... | --listen udp://ADDR:PORT",
		Short: "Read flows from a capture, Zeek log, nfdump CSV, or a NetFlow/IPFIX/sFlow collector",
		Example: `  iotwatch flows ingest --pcap capture.pcap
  iotwatch flows ingest --nfdump-csv latest.csv --continue edge-1
  iotwatch flows ingest --listen udp://127.0.0.1:2055`,
		Long: `Reads flow telemetry, links addresses to inventoried devices (or --devices), rolls
flows up per device and hour, runs the detectors (scanning, Mirai fingerprint, brute force,
C2 beaconing, DDoS participation, known-bad peers) and stores the results as a run of kind
"flows". A device is an address in the monitored networks: the inventory, --devices, and
--networks (private, CGNAT and link-local ranges when not given); every other address is a
peer, also when it opened the connection (its alerts are inbound: exposure, not compromise).
Records between two outside addresses are counted as records_transit and not judged.
File flags repeat and take directories (their files in name order, like nfdump -R): all
inputs of one command are one run and one stream, so a beacon or a scan that spans files
(per-interval exports, hourly captures, rotated Zeek logs) is judged whole. Give a Zeek dns.log before
the conn.log so names are known when connections are judged.
A file already ingested (the same bytes, under any name) is skipped and its records stay counted once;
a capture or log that grew since is read from where the last ingest stopped (a line or packet still
being written is left for the next one); a file of a directory that is not of its flag's kind (a licence
text among captures) is skipped with a warning and counted.
--listen is a long-running collector (one per exporter, as nfcapd is deployed): it stores the roll-ups,
relations and new alerts it has received every --flush interval (one run each; an idle interval stores
nothing), so several collectors keep one shared store current, a kill -9 loses at most one interval, and
SIGINT/SIGTERM stores everything accepted before the signal.
Under overload the collector drops whole batches and counts them ("dropped").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// An ingest holds its roll-up and detector tables (mostly
			// pointer-free, cheap to mark) for the whole run: a GC target of
			// 1.5× the live heap instead of Go's 2× costs little CPU and
			// bounds the peak (Prometheus lowers GOGC for the same reason).
			// GOGC in the environment wins.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(50)
			}
			var srcs []ingest.Source
			for _, in := range []struct {
				kind  ingest.Kind
				paths []string
			}{{ingest.PCAP, pcapPaths}, {ingest.Zeek, zeekPaths}, {ingest.NfdumpCSV, nfPaths}, {ingest.NetflowPCAP, nfPcaps}} {
				for _, p := range in.paths {
					if p == "" {
						return usageError{fmt.Errorf("--%s: empty path", in.kind)}
					}
					srcs = append(srcs, ingest.Source{Kind: in.kind, Path: p})
				}
			}
			if listen != "" {
				addr, ok := strings.CutPrefix(listen, "udp://")
				if !ok {
					return usageError{fmt.Errorf("--listen: want udp://ADDR:PORT, got %q", listen)}
				}
				srcs = append(srcs, ingest.Source{Kind: ingest.Listen, Path: addr})
			}
			if len(srcs) == 0 || (listen != "" && len(srcs) > 1) {
				return usageError{errors.New("give --pcap, --zeek, --nfdump-csv or --netflow-pcap (repeatable), or --listen alone")}
			}
			if listen == "" {
				// Files are read once, into tables that fill the heap:
				// in huge pages, they fault and are freed at exit far
				// faster (a collector's long-lived heap stays as it is).
				flow.HugeHeap(flow.HugeHeapSize)
			}
			if srcs[0].Kind != ingest.Listen {
				// Checked before the store opens; the ingest lists the
				// directories again, so that a file in one that is not a
				// capture is skipped and counted rather than fatal.
				if _, err := ingest.Expand(srcs); err != nil {
					return usageError{err}
				}
			}
			ctx := cmd.Context()
			if srcs[0].Kind == ingest.Listen { // until SIGINT/SIGTERM cancel ctx (main)
				opt.Ready = func(a string) { fmt.Fprintf(g.errOut, "listening on udp://%s (Ctrl-C to stop)\n", a) }
			} else if isTerminal(g.errOut) {
				var bar *stage.Bar
				opt.Progress = func(n, total int64) {
					if bar == nil {
						bar = stage.NewBar(g.errOut, true, "ingest", "bytes", total)
					}
					bar.Set(n, total, "")
				}
			}
			opt.Log = g.log
			var (
				sum *ingest.Summary
				err error
			)
			if srcs[0].Kind != ingest.Listen && newSQLite(g.dbPath) {
				// A new database is created (its schema migrated) while
				// the files are read.
				var st *store.Store
				sum, st, err = stage.FlowsNew(ctx, g.openStore, srcs, opt)
				if st != nil {
					defer st.Close()
				}
			} else {
				st, oerr := g.openStore(ctx)
				if oerr != nil {
					return oerr
				}
				defer st.Close()
				sum, err = stage.Flows(ctx, st, srcs, opt)
			}
			if sum == nil && (errors.Is(err, intel.ErrFormat) || errors.Is(err, mud.ErrOldFormat) || errors.Is(err, mud.ErrUnbound) || errors.Is(err, declare.ErrInvalid)) {
				return usageError{err} // a bad --indicators or --declarations file
			}
			if sum != nil {
				if g.json {
					if perr := printJSONLines(g.out, []*ingest.Summary{sum}); perr != nil {
						return perr
					}
				} else {
					fmt.Fprintf(g.out, "run %d %s: %d records, %d dropped, %d malformed, %d roll-ups, %d alerts", sum.RunID, sum.Status,
						sum.Counts[flow.CountRecords], sum.Counts[flow.CountDropped], sum.Counts[flow.CountMalformed], sum.Counts[flow.CountRollups], sum.Counts[flow.CountAlerts])
					for _, k := range []struct{ key, what string }{
						{"inputs_skipped", "inputs already ingested (skipped)"},
						{"inputs_appended", "grown inputs read from where the last ingest stopped"},
						{"inputs_not_recognised", "files not recognised (skipped)"},
					} {
						if n := sum.Counts[k.key]; n > 0 {
							fmt.Fprintf(g.out, ", %d %s", n, k.what)
						}
					}
					fmt.Fprintln(g.out)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&pcapPaths, "pcap", nil, "pcap or pcapng capture, or a directory of them (repeatable)")
	f.StringArrayVar(&zeekPaths, "zeek", nil, "Zeek conn.log, dns.log or ssh.log (TSV or JSON), or a directory (repeatable)")
	f.StringArrayVar(&nfPaths, "nfdump-csv", nil, "output of `nfdump -r FILE -o csv` (run with TZ=UTC), or a directory (repeatable)")
	f.StringArrayVar(&nfPcaps, "netflow-pcap", nil, "capture of NetFlow/IPFIX/sFlow export datagrams to replay into the collector's decoder, or a directory (repeatable)")
	f.StringVar(&listen, "listen", "", "collect NetFlow v5/v9, IPFIX and sFlow on udp://ADDR:PORT")
	f.DurationVar(&opt.FlushEvery, "flush", ingest.DefaultFlushEvery, "with --listen: store what was received this often")
	f.StringVar(&opt.DeviceList, "devices", "", "device list: one address or CIDR per line, optional name (besides the inventory)")
	f.StringSliceVar(&opt.Networks, "networks", nil, "monitored networks (CIDRs, repeatable or comma-separated): their addresses are devices, all others peers (default: private, CGNAT and link-local ranges)")
	f.StringVar(&opt.Rules, "rules", "", "detector thresholds (YAML, overrides the embedded defaults)")
	f.StringSliceVar(&opt.Indicators, "indicators", nil, "known-bad indicators: plain list, CSV or STIX 2.1 JSON (repeatable)")
	f.StringVar(&opt.OwnerDB, "asn-db", "", "MaxMind-format ASN database for network owners (optional)")
	f.StringVar(&opt.Continue, "continue", "", "carry detector state over from the last ingest of this stream `NAME` and on to the next (files ingested one by one)")
	f.StringArrayVar(&opt.Declarations, "declarations", nil, "maker declaration (`iotwatch declare`), as ADDR=FILE, CIDR=FILE or FILE (the inventory's devices of its model); repeatable: traffic it declares (MUD file, recipients, heartbeats) is not C2 beaconing")
	return cmd
}

// newSQLite reports whether db names a SQLite file that does not exist yet.
func newSQLite(db string) bool {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return false
	}
	_, err := os.Lstat(db)
	return errors.Is(err, os.ErrNotExist)
}

func newFlowsDetectCmd(g *globals) *cobra.Command {
	var (
		since, home string
		declPaths   []string
		daily       bool
	)
	cmd := &cobra.Command{
		Use:   "detect [--since T] [--daily] [--declarations [ADDR=]FILE]... [--home-country CC]",
		Short: "Report alerts and the daily count of devices under unauthorized control",
		Example: `  iotwatch flows detect --since 24h
  iotwatch flows detect --daily --json`,
		Long: `Lists stored detector alerts and, per UTC day, the number of devices with at least one
alert (inbound attacks on devices are listed but not counted). With --declarations (maker
declarations of ` + "`iotwatch declare`" + `, bound to devices as ADDR=FILE or CIDR=FILE, or FILE for the
inventory's devices of the declared model), checks each device's flows against its MUD file
(mud_file) and the countries and recipients of its data; with --home-country, destinations
abroad are reported too. Violations are stored as findings in a run of kind "flows".
--json prints JSON Lines of one shape: the alerts (as flows export and the API give them), the
day counts with --daily, or the findings when declarations or a home country are given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			t, err := parseSince(since)
			if err != nil {
				return usageError{err}
			}
			if home != "" && (len(home) != 2 || strings.ToUpper(home) != home) {
				return usageError{fmt.Errorf("--home-country %q: want an ISO 3166-1 alpha-2 code such as DE", home)}
			}
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var decl *mud.Declarations
			if len(declPaths) > 0 || home != "" {
				assets, err := st.Assets(ctx)
				if err != nil {
					return err
				}
				if decl, err = mud.Load(declPaths, assets); err != nil {
					return usageError{err}
				}
				decl.HomeCountry = home
			}
			alerts, err := flow.Alerts(ctx, st, t)
			if err != nil {
				return err
			}
			days, err := flow.DailyCompromised(ctx, st, t)
			if err != nil {
				return err
			}
			var findings []model.Finding
			if decl != nil {
				uses, err := flow.PeerUses(ctx, st, netip.Addr{})
				if err != nil {
					return err
				}
				findings = mud.Check(uses, decl)
				run := &model.Run{Kind: flow.RunKind, Targets: declPaths, Stages: []string{"declarations"}}
				if err := st.StartRun(ctx, run); err != nil {
					return err
				}
				run.Counts = map[string]int64{"findings": int64(len(findings)), "relations": int64(len(uses))}
				if err := st.EndRun(ctx, run, st.SaveFindings(ctx, run.ID, findings)); err != nil {
					return err
				}
			}
			if g.json {
				switch {
				case decl != nil:
					return printJSONLines(g.out, findings)
				case daily:
					return printJSONLines(g.out, days)
				}
				return printJSONLines(g.out, alerts)
			}
			tw := newTable(g.out)
			if !daily {
				fmt.Fprintln(tw, "TIME\tDEVICE\tDETECTOR\tPEER\tREASON")
				for _, a := range alerts {
					dev := a.Device.String()
					if a.Inbound {
						dev += " (inbound)"
					}
					peer := "-"
					if a.Peer.IsValid() {
						peer = a.Peer.String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Time.Format(time.DateTime), dev, a.Detector, peer, a.Reason)
				}
				fmt.Fprintln(tw)
			}
			fmt.Fprintln(tw, "DAY\tDEVICES UNDER UNAUTHORIZED CONTROL")
			for _, d := range days {
				fmt.Fprintf(tw, "%s\t%d\n", d.Day, d.Devices)
			}
			if decl != nil {
				fmt.Fprintln(tw, "\nSEVERITY\tDEVICE\tKIND\tFINDING")
				for _, f := range findings {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, f.Subject, f.Kind, f.Title)
				}
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only alerts at or after T (RFC 3339, YYYY-MM-DD, or a duration like 24h)")
	f.BoolVar(&daily, "daily", false, "only the daily counts of devices under unauthorized control")
	f.StringArrayVar(&declPaths, "declarations", nil, "maker declaration as ADDR=FILE, CIDR=FILE or FILE (the inventory's devices of its model); repeatable")
	f.StringVar(&home, "home-country", "", "report data sent outside this country (ISO code, e.g. DE)")
	return cmd
}

// parseSince accepts RFC 3339, a date, or a duration back from now.
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want RFC 3339, YYYY-MM-DD or a duration", s)
}

func newFlowsDestinationsCmd(g *globals) *cobra.Command {
	var device string
	cmd := &cobra.Command{
		Use:     "destinations [--device IP]",
		Short:   "Bytes and flows per device, destination country and network owner",
		Example: `  iotwatch flows destinations --device 192.168.1.20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var dev netip.Addr
			if device != "" {
				var err error
				if dev, err = netip.ParseAddr(device); err != nil {
					return usageError{fmt.Errorf("--device: %w", err)}
				}
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			ds, err := flow.Destinations(cmd.Context(), st, dev)
			if err != nil {
				return err
			}
			if g.json {
				return printJSONLines(g.out, ds)
			}
			tw := newTable(g.out)
			fmt.Fprintln(tw, "DEVICE\tCOUNTRY\tASN\tOWNER\tFLOWS\tBYTES\tPEERS\tDATABASES")
			for _, d := range ds {
				asn := "-"
				if d.ASN != 0 {
					asn = fmt.Sprintf("AS%d", d.ASN)
				}
				dbs := d.CountryDB
				if d.OwnerDB != "" {
					dbs += "; " + d.OwnerDB
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", d.Device, cmp.Or(d.Country, "-"), asn, cmp.Or(d.Owner, "-"), d.Flows, d.Bytes, d.Peers, dbs)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&device, "device", "", "only this device")
	return cmd
}

// shadowserverHeader follows Shadowserver's compromised-host ("drone") report columns.
var shadowserverHeader = []string{"timestamp", "ip", "port", "asn", "geo", "region", "city", "hostname", "type", "infection", "tag",
	"application", "src_port", "dst_ip", "dst_port", "dst_asn", "dst_geo", "protocol", "device_vendor", "device_type", "device_model"}

func newFlowsExportCmd(g *globals) *cobra.Command {
	var format, since, asnDB string
	cmd := &cobra.Command{
		Use:     "export --format shadowserver-csv|jsonl",
		Short:   "Export alerts for sharing: Shadowserver-style CSV or JSON Lines",
		Example: `  iotwatch flows export --format shadowserver-csv --since 2026-12-01 > alerts.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "shadowserver-csv" && format != "jsonl" {
				return usageError{fmt.Errorf("--format: want shadowserver-csv or jsonl, got %q", format)}
			}
			t, err := parseSince(since)
			if err != nil {
				return usageError{err}
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			alerts, err := flow.Alerts(cmd.Context(), st, t)
			if err != nil {
				return err
			}
			if format == "jsonl" {
				return printJSONLines(g.out, alerts)
			}
			at, err := geo.New(asnDB)
			if err != nil {
				return err
			}
			defer at.Close()
			// The device columns from the inventory: the identity the
			// report and the console give the device (stats.Identify over
			// its services), empty for a device never identified.
			ids := map[netip.Addr]store.Device{}
			identity := func(a netip.Addr) (store.Device, error) {
				if d, ok := ids[a]; ok {
					return d, nil
				}
				d, err := st.Device(cmd.Context(), a)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return d, err
				}
				ids[a] = d
				return d, nil
			}
			w := csv.NewWriter(g.out)
			_ = w.Write(shadowserverHeader)
			for _, a := range alerts {
				dev, err := identity(a.Device)
				if err != nil {
					return err
				}
				src, dst := at.Attribute(a.Device), geo.Attribution{}
				peer := ""
				if a.Peer.IsValid() {
					dst, peer = at.Attribute(a.Peer), a.Peer.String()
				}
				typ := "compromised-device"
				if a.Inbound {
					typ = "attacker"
				}
				_ = w.Write([]string{a.Time.UTC().Format(time.DateTime), a.Device.String(), portString(a.SrcPort), asnString(src.ASN), src.Country, "", "", "",
					typ, a.Detector, "iotwatch", "", portString(a.SrcPort), peer, portString(a.Port), asnString(dst.ASN), dst.Country, flow.ProtoName(a.Proto), dev.Vendor, dev.DeviceType, dev.Product})
			}
			w.Flush()
			return w.Error()
		},
	}
	cmd.Flags().StringVar(&format, "format", "jsonl", "shadowserver-csv or jsonl")
	cmd.Flags().StringVar(&since, "since", "", "only alerts at or after T")
	cmd.Flags().StringVar(&asnDB, "asn-db", "", "MaxMind-format ASN database for the asn columns (optional)")
	return cmd
}

func portString(p uint16) string {
	if p == 0 {
		return ""
	}
	return fmt.Sprint(p)
}

func asnString(n uint32) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}
