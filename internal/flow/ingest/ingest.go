// Package ingest runs one telemetry ingest end to end: it reads a capture,
// log or export (or listens for NetFlow/IPFIX/sFlow), orients flows to
// devices, rolls them up, runs the detectors, and stores roll-ups, DNS
// answers, alerts and findings as a run of kind "flows".
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/detect"
	"iotwatch/internal/flow/ingest/netflow"
	"iotwatch/internal/flow/ingest/nfdump"
	"iotwatch/internal/flow/ingest/pcap"
	"iotwatch/internal/flow/ingest/zeek"
	"iotwatch/internal/flow/intel"
	"iotwatch/internal/flow/mud"
	"iotwatch/internal/geo"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// Kind names an input kind.
type Kind string

// Input kinds.
const (
	PCAP      Kind = "pcap"
	Zeek      Kind = "zeek"
	NfdumpCSV Kind = "nfdump-csv"
	Listen    Kind = "listen"
	// NetflowPCAP is a capture of exporter datagrams (NetFlow/IPFIX/sFlow
	// over UDP) replayed into the collector's decoder.
	NetflowPCAP Kind = "netflow-pcap"
)

// Source is what to ingest: a file of Kind, or a UDP address to listen on.
type Source struct {
	Kind Kind
	Path string // file, or host:port for Listen
}

// Options configure an ingest; all optional.
type Options struct {
	DeviceList string // file of device addresses/CIDRs (added to the inventory)
	// Networks are the monitored networks (CIDRs): their addresses are
	// devices, all others peers. Empty: private, CGNAT and link-local ranges.
	Networks   []string
	Rules      string   // detector overrides (YAML)
	Indicators []string // known-bad lists: plain, CSV or STIX 2.1
	OwnerDB    string   // MaxMind-format ASN database
	// Declarations are maker declarations (internal/declare), each
	// "[ADDR|CIDR=]FILE" (see mud.Load): periodic traffic they declare (MUD
	// entries, recipient hosts, heartbeats) is a heartbeat, not C2.
	Declarations []string
	// Continue names a stream whose detector state carries over between
	// ingests (empty: none): the state the last ingest of the stream left is
	// restored first, and this ingest's state replaces it at the end.
	Continue string
	Log      *slog.Logger
	// Progress, when set, is called with bytes read so far (file inputs).
	Progress func(read, total int64)
	// Ready, when set, is called with the bound address once a listener is up.
	Ready func(addr string)
	// Queue is the pipeline's queue length in batches (0: flow.PipelineConfig's default).
	Queue int
	// MaxRelations bounds device↔peer relations kept per run (default 2,000,000).
	MaxRelations int
	// FlushEvery is how often a listener (Listen, see Collect) stores what
	// it received (default DefaultFlushEvery).
	FlushEvery time.Duration
	// Sample, above 1, emulates packet-sampled export at 1 in Sample on
	// pcap, Zeek and nfdump inputs (flow.Sampler; for measuring detectors
	// on sampled telemetry).
	Sample uint32

	// listed are the files found by listing a directory: one that is not of
	// its kind (a licence text among captures) is skipped, not fatal.
	listed map[string]bool
}

// Summary is what an ingest did.
type Summary struct {
	RunID  int64        `json:"run_id"`
	Counts flow.Counts  `json:"counts"`
	Alerts []flow.Alert `json:"alerts"`
	Status string       `json:"status"`
}

// Run ingests src into st.
func Run(ctx context.Context, st *store.Store, src Source, opt Options) (*Summary, error) {
	return RunAll(ctx, st, []Source{src}, opt)
}

// RunAll ingests several file sources, in order, as one run: one pipeline and
// one set of detectors see them as one stream, so a beacon or a scan that
// spans files (CSV exports of nfcapd's five-minute files, hourly captures,
// Zeek's rotated logs) is judged whole, like `nfdump -R`. A directory stands for its
// regular files in name order (timestamped names sort by time). A Listen
// source must be the only one.
func RunAll(ctx context.Context, st *store.Store, srcs []Source, opt Options) (*Summary, error) {
	srcs, err := plan(srcs, &opt)
	if err != nil {
		return nil, err
	}
	if srcs[0].Kind == Listen {
		return Collect(ctx, st, srcs[0].Path, opt.FlushEvery, opt)
	}
	return runFiles(ctx, st, nil, srcs, opt)
}

// RunAllNew is RunAll into a store that does not exist yet (a new SQLite
// file), which open creates: the creation (the schema's migrations, tens of
// milliseconds) runs while the inputs are read, as if the store held what
// a new one holds: no inventory, no input ingested before, no detector
// state. Once open returns, RunAllNew checks that the store holds no run
// and no asset; when it does (another process made it meanwhile), what was
// read is dropped and RunAll reads the inputs again. A failed open stops
// the reading. The store opened is returned, also on error, for the caller
// to close; nil when open failed. Sources must be files.
func RunAllNew(ctx context.Context, open func(context.Context) (*store.Store, error), srcs []Source, opt Options) (*Summary, *store.Store, error) {
	srcs, err := plan(srcs, &opt)
	if err != nil {
		return nil, nil, err
	}
	if srcs[0].Kind == Listen {
		return nil, nil, errors.New("flow ingest: a listener needs its store open before it starts")
	}
	var st *store.Store
	sum, err := runFiles(ctx, nil, func(ctx context.Context) (*store.Store, error) {
		var err error
		st, err = open(ctx)
		return st, err
	}, srcs, opt)
	return sum, st, err
}

// plan expands srcs (see Expand), noting in opt which files came from a
// directory, and checks that a Listen source is alone.
func plan(srcs []Source, opt *Options) ([]Source, error) {
	srcs, listed, err := expand(srcs)
	if err != nil {
		return nil, err
	}
	opt.listed = listed
	if len(srcs) == 0 {
		return nil, errors.New("flow ingest: no input")
	}
	for _, s := range srcs {
		if s.Kind == Listen && len(srcs) > 1 {
			return nil, errors.New("flow ingest: a listener cannot be combined with other inputs")
		}
	}
	return srcs, nil
}

// opening is a store being opened (RunAllNew) while the inputs are read,
// and the run started in it once it is.
type opening struct {
	done  chan struct{}
	st    *store.Store
	isNew bool // st holds no run and no asset: the run was started
	err   error
}

// runFiles ingests file sources into st, or, when st is nil, into the new
// store open opens meanwhile (see RunAllNew).
func runFiles(ctx context.Context, st *store.Store, open func(context.Context) (*store.Store, error), srcs []Source, opt Options) (*Summary, error) {
	src := srcs[0]
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var assets []model.Asset
	if st != nil {
		var err error
		if assets, err = st.Assets(ctx); err != nil {
			return nil, fmt.Errorf("read inventory: %w", err)
		}
	}
	pr, err := prepare(assets, opt, log)
	if err != nil {
		return nil, err
	}
	defer pr.at.Close()
	id, eng, ind, at := pr.id, pr.eng, pr.ind, pr.at
	var fromRun int64
	if st != nil {
		if fromRun, err = restoreState(ctx, st, eng, opt.Continue, log); err != nil {
			return nil, err
		}
	}
	p := flow.NewPipeline(flow.PipelineConfig{Identity: id, Observers: []flow.Observer{eng}, Policy: flow.Block, Queue: opt.Queue, Log: log,
		Attributor: at, MaxRelations: opt.MaxRelations}) // its Lookup: the pipeline keeps its own index per peer (its producer calls it)

	var targets []string
	for _, s := range srcs {
		targets = append(targets, string(s.Kind)+":"+s.Path)
	}
	run := &model.Run{Kind: flow.RunKind, Targets: targets, Stages: []string{"ingest", "detect"}, StartedAt: time.Now()}
	devices, indicators := id.Len(), ind.Len()
	started := func(st *store.Store) error {
		if err := st.StartRun(ctx, run); err != nil {
			return fmt.Errorf("start run: %w", err)
		}
		log.Info("flow ingest started", "run", run.ID, "source", src.Kind, "path", src.Path, "inputs", len(srcs), "devices", devices, "indicators", indicators)
		return nil
	}
	rctx := ctx
	var o *opening
	if st == nil {
		// A failed open stops the reading: what is read could not be stored.
		var stop context.CancelCauseFunc
		rctx, stop = context.WithCancelCause(ctx)
		defer stop(nil)
		o = &opening{done: make(chan struct{})}
		go func() {
			defer close(o.done)
			if o.st, o.err = open(ctx); o.err == nil {
				if o.isNew, o.err = o.st.Empty(ctx); o.err == nil && o.isNew {
					o.err = started(o.st)
				}
				if o.err == nil && o.isNew {
					// The schema just written waits in the WAL: copied now,
					// while the inputs are read, Save need not.
					o.err = o.st.Checkpoint(ctx)
				}
			}
			if o.err != nil {
				stop(o.err)
			}
		}()
	} else if err := started(st); err != nil {
		return nil, err
	}

	t0 := time.Now()
	extra, inputs, readErr := readAll(rctx, st, srcs, p, opt, log)
	res, err := p.Close(context.WithoutCancel(ctx))
	log.Debug("flow pipeline done", "elapsed", time.Since(t0))
	if o != nil {
		<-o.done
		switch {
		case o.err != nil:
			if err == nil {
				res.Rollups.Close()
			}
			return nil, o.err
		case !o.isNew:
			if err == nil {
				res.Rollups.Close()
			}
			log.Info("the new database was filled by another process meanwhile: reading the inputs again")
			return runFiles(ctx, o.st, nil, srcs, opt)
		}
		st = o.st
	}
	if err != nil {
		readErr = errors.Join(readErr, err)
		res = &flow.Result{Counts: flow.Counts{}}
	}
	defer res.Rollups.Close() // the relations' spill file, when Save did not read it
	for k, v := range extra {
		res.Counts[k] += v
	}
	if err == nil {
		res.Inputs = inputs
	}
	if n := len(eng.Heartbeats); n > 0 {
		res.Counts["beacons_declared"] = int64(n)
		for _, h := range eng.Heartbeats {
			log.Info("declared heartbeat, not counted as beaconing", "device", h.Device, "peer", netip.AddrPortFrom(h.Peer, h.Port), "periodicity", h.Reason, "declaration", h.Declared)
		}
	}
	if n := len(eng.Allowed); n > 0 {
		res.Counts["beacons_allowed"] = int64(n)
		for _, h := range eng.Allowed {
			log.Info("beaconing to an allow-listed peer, not counted", "device", h.Device, "peer", netip.AddrPortFrom(h.Peer, h.Port), "periodicity", h.Reason, "allowed_by", h.Declared)
		}
	}
	if n := len(eng.Timers); n > 0 {
		res.Counts["beacons_heartbeat"] = int64(n)
		for _, h := range eng.Timers {
			log.Info("periodic series shaped like a device timer's heartbeat, not counted as beaconing", "device", h.Device, "peer", netip.AddrPortFrom(h.Peer, h.Port), "periodicity", h.Reason, "shape", h.Declared)
		}
	}
	if eng.Transit > 0 {
		res.Counts["records_transit"] = eng.Transit
		log.Info("records between two addresses outside the monitored networks were not judged (give --networks or --devices)", "records", eng.Transit)
	}
	if eng.BeaconOverflow > 0 {
		res.Counts["beacon_untracked"] = eng.BeaconOverflow
	}
	// Everything accepted is stored when an input is cut short (a truncated
	// file); an interrupted ingest of files stores nothing (see below).
	wctx := context.WithoutCancel(ctx)
	run.Status = model.RunComplete
	switch {
	case readErr != nil && ctx.Err() != nil:
		run.Status = model.RunInterrupted
	case readErr != nil:
		run.Status = model.RunFailed
		run.Error = readErr.Error()
	}
	t1 := time.Now()
	defer func() { log.Debug("flow results saved", "elapsed", time.Since(t1)) }()
	if run.Status == model.RunInterrupted {
		// Files stay where they are: an ingest interrupted midway stores
		// nothing from them, so that the re-run, which reads every input
		// again, counts each record once (partial roll-ups and alerts of
		// the first part would be counted twice). A listener (Collect)
		// keeps what it received.
		run.Error = "interrupted before the inputs were read to their end: nothing stored from them; run the same ingest again"
		log.Warn("flow ingest interrupted: nothing stored from the inputs; run the same ingest again", "run", run.ID,
			"records_read", res.Counts["records"])
	} else if err := flow.Save(wctx, st, run.ID, res); err != nil {
		run.Status, run.Error = model.RunFailed, err.Error()
		if taken := (*flow.IngestedMeanwhileError)(nil); errors.As(err, &taken) && ctx.Err() == nil {
			// Another process stored one of the inputs while this one read
			// it: this run stores nothing, and the inputs are read again
			// in a new run, which skips those recorded.
			run.Error += "; its inputs were read again in the next run"
			run.Counts = map[string]int64(res.Counts)
			if err := st.FinishRun(wctx, run); err != nil {
				return nil, fmt.Errorf("finish run: %w", err)
			}
			log.Warn("an input was ingested by another process meanwhile: this run's results are dropped and the inputs read again",
				"run", run.ID, "file", taken.Input.Path, "by_run", taken.RunID)
			return runFiles(ctx, st, nil, srcs, opt)
		}
	} else if err := st.SaveFindings(wctx, run.ID, flow.AlertFindings(res.Alerts)); err != nil {
		run.Status, run.Error = model.RunFailed, err.Error()
	} else if opt.Continue != "" && run.Status != model.RunFailed {
		// Only a stored ingest hands its state on: a failed one must not
		// make the next ingest believe its records were seen.
		var buf bytes.Buffer
		n, err := eng.SaveState(&buf)
		if err == nil {
			err = flow.SaveState(wctx, st, opt.Continue, run.ID, buf.Bytes())
		}
		if err != nil {
			run.Status, run.Error = model.RunFailed, err.Error()
		} else {
			res.Counts["state_series"] = int64(n)
			if fromRun != 0 {
				res.Counts["state_from_run"] = fromRun
			}
		}
	}
	run.Counts = map[string]int64(res.Counts)
	if err := st.FinishRun(wctx, run); err != nil {
		return nil, fmt.Errorf("finish run: %w", err)
	}
	log.Info("flow ingest finished", "run", run.ID, "status", run.Status, "counts", res.Counts)
	sum := &Summary{RunID: run.ID, Counts: res.Counts, Alerts: res.Alerts, Status: run.Status}
	if run.Status == model.RunFailed {
		return sum, fmt.Errorf("flow ingest: %s", run.Error)
	}
	if run.Status == model.RunInterrupted {
		return sum, ctx.Err()
	}
	return sum, nil
}

// prepared is what an ingest or a collector needs before its first record:
// the device identity, the detector engine and the attribution databases.
type prepared struct {
	id  *flow.Identity
	eng *detect.Engine
	ind *intel.Set
	at  *geo.Attributor
}

// prepare reads the device list, networks, rules, indicators, attribution
// databases and declarations of opt, with the inventory's assets. The
// caller closes at.
func prepare(assets []model.Asset, opt Options, log *slog.Logger) (pr *prepared, err error) {
	id := flow.NewIdentity(assets)
	if opt.DeviceList != "" {
		f, err := os.Open(opt.DeviceList)
		if err != nil {
			return nil, fmt.Errorf("device list: %w", err)
		}
		err = id.ReadDeviceList(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if len(opt.Networks) > 0 {
		nets, err := flow.ParseNetworks(opt.Networks)
		if err != nil {
			return nil, fmt.Errorf("networks: %w", err)
		}
		id.SetNetworks(nets)
	}
	rules := detect.DefaultRules()
	if opt.Rules != "" {
		f, err := os.Open(opt.Rules)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		rules, err = detect.ParseRules(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	ind := &intel.Set{}
	for _, p := range opt.Indicators {
		n, err := ind.Load(p)
		if err != nil {
			return nil, err
		}
		log.Info("indicators loaded", "file", p, "count", n)
	}
	at, err := geo.New(opt.OwnerDB)
	if err != nil {
		return nil, err
	}

	eng := detect.New(rules, ind)
	defer func() {
		if err != nil {
			at.Close()
		}
	}()
	if len(opt.Declarations) > 0 {
		decl, err := mud.Load(opt.Declarations, assets)
		if err != nil {
			return nil, err
		}
		eng.Expected = decl.Expected
	}
	if opt.OwnerDB != "" {
		eng.Owner = func(a netip.Addr) string { return at.Attribute(a).Owner }
	}
	return &prepared{id: id, eng: eng, ind: ind, at: at}, nil
}

// restoreState restores the detector state the last ingest of stream left
// (none when stream is empty or new) and returns that ingest's run.
func restoreState(ctx context.Context, st *store.Store, eng *detect.Engine, stream string, log *slog.Logger) (int64, error) {
	if stream == "" {
		return 0, nil
	}
	data, rid, err := flow.LoadState(ctx, st, stream)
	if err != nil || data == nil {
		return 0, err
	}
	n, err := eng.LoadState(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("stream %q (from run %d): %w", stream, rid, err)
	}
	log.Info("detector state restored", "stream", stream, "from_run", rid, "series", n)
	return rid, nil
}

// progressReader reports bytes read.
type progressReader struct {
	r        io.Reader
	n, total int64
	fn       func(int64, int64)
	last     time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.fn != nil && (err != nil || time.Since(p.last) > 200*time.Millisecond) {
		p.fn(p.n, p.total)
		p.last = time.Now()
	}
	return n, err
}

// Expand replaces directory sources by their regular files in name order
// (hidden files skipped) and checks that file sources exist.
func Expand(srcs []Source) ([]Source, error) {
	out, _, err := expand(srcs)
	return out, err
}

// expand is Expand, also returning which files came from a directory.
func expand(srcs []Source) ([]Source, map[string]bool, error) {
	var out []Source
	listed := map[string]bool{}
	for _, s := range srcs {
		if s.Kind == Listen {
			out = append(out, s)
			continue
		}
		fi, err := os.Stat(s.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s input: %w", s.Kind, err)
		}
		if !fi.IsDir() {
			out = append(out, s)
			continue
		}
		ents, err := os.ReadDir(s.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s input: %w", s.Kind, err)
		}
		n := 0
		for _, e := range ents { // ReadDir sorts by name
			if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(s.Path, e.Name())
			out = append(out, Source{Kind: s.Kind, Path: p})
			listed[p] = true
			n++
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("%s input: directory %s has no files", s.Kind, s.Path)
		}
	}
	return out, listed, nil
}

// readAll reads every source into p, summing counts, and returns the file
// inputs read completely; a NetFlow/IPFIX decoder is shared so templates
// learnt in one capture decode the next. A failed source stops the ingest
// (what was read so far is kept).
func readAll(ctx context.Context, st *store.Store, srcs []Source, p *flow.Pipeline, opt Options, log *slog.Logger) (flow.Counts, []flow.Input, error) {
	total := int64(0)
	for _, s := range srcs {
		if fi, err := os.Stat(s.Path); err == nil {
			total += fi.Size()
		}
	}
	var done int64
	if opt.Progress != nil && len(srcs) > 1 {
		fn := opt.Progress
		opt.Progress = func(n, _ int64) { fn(done+n, total) }
	}
	var dec *netflow.Decoder
	c := flow.Counts{}
	var inputs []flow.Input
	for _, s := range srcs {
		if err := ctx.Err(); err != nil {
			return c, inputs, err
		}
		if s.Kind == NetflowPCAP && dec == nil {
			var err error
			if dec, err = netflow.NewDecoder(); err != nil {
				return c, inputs, err
			}
		}
		var (
			sc  flow.Counts
			in  *flow.Input
			err error
		)
		sc, in, err = readFile(ctx, st, s, p, opt, log, dec, inputs)
		for k, v := range sc {
			c[k] += v
		}
		if in != nil {
			inputs = append(inputs, nowInput(*in))
		}
		if fi, serr := os.Stat(s.Path); serr == nil {
			done += fi.Size()
		}
		if err != nil {
			return c, inputs, fmt.Errorf("%s: %w", s.Path, err)
		}
	}
	if len(srcs) > 1 {
		c["inputs"] = int64(len(srcs))
	}
	return c, inputs, nil
}

// readFile reads what is new in one file input (see inputs.go) and returns
// the input to record when it was read completely.
func readFile(ctx context.Context, st *store.Store, s Source, p *flow.Pipeline, opt Options, log *slog.Logger, dec *netflow.Decoder, done []flow.Input) (flow.Counts, *flow.Input, error) {
	c := flow.Counts{}
	f, err := os.Open(s.Path)
	if err != nil {
		return c, nil, fmt.Errorf("open %s: %w", s.Kind, err)
	}
	defer f.Close()
	plan, err := planInput(ctx, st, s, f, done)
	if err != nil {
		return c, nil, err
	}
	for i := range done { // the same bytes earlier in this run
		if plan.skip == nil && done[i].SHA256 == plan.in.SHA256 && done[i].Size == plan.in.Size {
			plan.skip = &done[i]
		}
	}
	if plan.skip != nil {
		log.Warn("input already ingested, skipped: its records are counted once", "file", s.Path, "run", plan.skip.RunID,
			"bytes", plan.skip.Size, "as", plan.skip.Path)
		c["inputs_skipped"] = 1
		return c, nil, nil
	}
	var r io.Reader = io.NewSectionReader(f, 0, plan.in.Size)
	var hr *hashingReader
	var mr *mappedInput // a capture read in place (see mapped.go)
	if plan.in.SHA256 == "" && s.Kind == PCAP && plan.prev == nil {
		if mr, err = mapInput(f, plan.in.Size); err == nil {
			defer mr.close()
			r = mr
		} else {
			mr = nil
		}
	}
	if plan.in.SHA256 == "" && mr == nil {
		hr = &hashingReader{r: r, h: sha256.New()}
		r = hr
	}
	if plan.prev != nil {
		if s.Kind == NetflowPCAP && dec != nil {
			// Learn the templates the old part declared; its records were counted.
			if _, err := dec.ReplayPCAP(ctx, io.NewSectionReader(f, 0, plan.start), 0, discard{}); err != nil {
				return c, nil, fmt.Errorf("replay the part ingested by run %d: %w", plan.prev.RunID, err)
			}
		}
		if r, err = tailReader(s.Kind, f, plan.start, plan.in.Size); err != nil {
			// Reading it whole would count the old part twice.
			log.Warn("input grew since it was ingested but its new part cannot be read alone: skipped", "file", s.Path,
				"run", plan.prev.RunID, "err", err)
			c["inputs_not_readable_in_part"] = 1
			return c, nil, nil
		}
		log.Info("input grew since it was ingested: reading only the new part", "file", s.Path, "run", plan.prev.RunID,
			"from_byte", plan.start, "bytes", plan.in.Size-plan.start)
		c["inputs_appended"] = 1
		c["bytes_skipped"] = plan.start
	}
	var sc flow.Counts
	if mr != nil {
		sc, err = readMapped(mr, func() (flow.Counts, error) { return read(ctx, s, r, plan.in.Size-plan.start, p, opt, log, dec) })
	} else {
		sc, err = read(ctx, s, r, plan.in.Size-plan.start, p, opt, log, dec)
	}
	if err != nil && opt.listed[s.Path] && notOfKind(err) {
		// Format errors come before the first record: nothing was read.
		log.Warn("not a "+string(s.Kind)+" input, skipped", "file", s.Path, "err", err)
		c["inputs_not_recognised"] = 1
		return c, nil, nil
	}
	for k, v := range sc {
		c[k] += v
	}
	if err != nil {
		return c, nil, err
	}
	if sc["truncated"] != 0 {
		// Record what was read: up to the last complete record.
		end, err := recordsEnd(f, plan.start, plan.in.Size)
		if err == nil && end > plan.start {
			var sum string
			if sum, _, err = hashPrefixes(ctx, f, end, nil); err == nil {
				log.Warn("capture ends mid-record: the next ingest reads on from its last complete record", "file", s.Path, "byte", end)
				in := plan.in
				in.Size, in.SHA256 = end, sum
				return c, &in, nil
			}
		}
		log.Warn("capture ends mid-record", "file", s.Path, "err", err)
		return c, nil, nil
	}
	if hr != nil {
		if plan.in.SHA256, err = hr.finish(ctx, f, plan.in.Size); err != nil {
			return c, nil, fmt.Errorf("hash %s: %w", s.Path, err)
		}
	}
	if mr != nil {
		if plan.in.SHA256, err = mr.finish(ctx); err != nil {
			return c, nil, fmt.Errorf("hash %s: %w", s.Path, err)
		}
	}
	return c, &plan.in, nil
}

// notOfKind reports whether a reader refused its input as not of its format.
func notOfKind(err error) bool {
	return errors.Is(err, pcap.ErrFormat) || errors.Is(err, zeek.ErrFormat) || errors.Is(err, nfdump.ErrFormat) || errors.Is(err, netflow.ErrFormat)
}

func read(ctx context.Context, src Source, in io.Reader, total int64, p *flow.Pipeline, opt Options, log *slog.Logger, dec *netflow.Decoder) (flow.Counts, error) {
	c := flow.Counts{}
	var r io.Reader = &progressReader{r: in, total: total, fn: opt.Progress}
	if m, ok := in.(*mappedInput); ok {
		m.fn, r = opt.Progress, m // read in place: it reports the progress
	}
	var sink flow.Sink = p
	if opt.Sample > 1 {
		sm := flow.NewSampler(p, opt.Sample, 1)
		defer func() { c["sampled_kept"], c["sampled_dropped"] = sm.Kept, sm.Dropped }()
		sink = sm
	}
	switch src.Kind {
	case PCAP:
		s, err := pcap.Read(ctx, r, sink, pcap.Options{})
		c["packets"], c["non_ip"], c[flow.CountMalformed] = s.Packets, s.NonIP, s.Malformed
		if s.Truncated {
			c["truncated"] = 1
			log.Warn("capture is truncated; flows up to the cut are kept", "file", src.Path)
		}
		return c, err
	case Zeek:
		s, err := zeek.Read(ctx, r, sink)
		c["lines"], c[flow.CountMalformed], c["skipped"] = s.Lines, s.Malformed, s.Skipped
		return c, err
	case NetflowPCAP:
		if dec == nil {
			var err error
			if dec, err = netflow.NewDecoder(); err != nil {
				return c, err
			}
		}
		// The decoder may be shared across files: count this file's share.
		before := dec.Stats
		before.ByVersion = maps.Clone(dec.Stats.ByVersion)
		s, err := dec.ReplayPCAP(ctx, r, 0, p)
		c["packets"], c["datagrams"] = s.Packets, s.Datagrams
		c[flow.CountMalformed] = dec.Stats.Malformed - before.Malformed
		c[flow.CountNoTemplate] = dec.Stats.NoTemplate - before.NoTemplate
		for v, n := range dec.Stats.ByVersion {
			c["datagrams_"+v] = n - before.ByVersion[v]
		}
		if s.Truncated {
			c["truncated"] = 1
		}
		return c, err
	case NfdumpCSV:
		s, err := nfdump.Read(ctx, r, sink)
		c["lines"], c[flow.CountMalformed] = s.Lines, s.Malformed
		return c, err
	}
	return c, fmt.Errorf("unknown input kind %q", src.Kind)
}
