package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest/netflow"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// DefaultFlushEvery is how often a collector stores what it received: a
// collector killed without warning (kill -9, power loss) loses at most this
// much (nfcapd rotates its files every 5 minutes; a minute keeps the
// dashboard current).
const DefaultFlushEvery = time.Minute

// summaryAlerts is how many of its newest alerts a collector's Summary
// keeps in memory.
var summaryAlerts = 1000

// keepNewest appends more to kept and keeps the newest n of them.
func keepNewest(kept, more []flow.Alert, n int) []flow.Alert {
	if len(more) >= n {
		return slices.Clone(more[len(more)-n:])
	}
	if drop := len(kept) + len(more) - n; drop > 0 {
		kept = slices.Delete(kept, 0, drop)
	}
	return append(kept, more...)
}

// Collect runs a long-running flow collector on the UDP address addr
// (NetFlow v5/v9, IPFIX, sFlow) until ctx ends. The detectors keep their
// state in this process for as long as it runs (each router exports to one
// collector, as nfcapd is deployed per exporter, so a device's traffic is
// judged whole by one collector); every flushEvery (DefaultFlushEvery when
// zero) it stores the hourly roll-ups, relations, DNS answers and the new
// alerts of the interval as one run of kind "flows" (target
// "collect:udp://ADDR"), so several collectors write one shared store and the
// daily count of devices under unauthorized control is one query over all of
// them (flow.DailyCompromised). An interval with nothing received stores
// nothing. When ctx ends the rest is stored and, with opt.Continue, the
// detector state is handed on to the next collector of that stream.
//
// The summary totals every stored interval; RunID is the last run. Every
// alert is stored with the interval it was raised in, so the summary's
// Alerts keeps only the newest (summaryAlerts): a collector that runs for
// months holds a bounded list (Counts["alerts"] counts them all).
func Collect(ctx context.Context, st *store.Store, addr string, flushEvery time.Duration, opt Options) (*Summary, error) {
	if flushEvery <= 0 {
		flushEvery = DefaultFlushEvery
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	assets, err := st.Assets(ctx)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	pr, err := prepare(assets, opt, log)
	if err != nil {
		return nil, err
	}
	defer pr.at.Close()
	eng := pr.eng
	if _, err := restoreState(ctx, st, eng, opt.Continue, log); err != nil {
		return nil, err
	}
	col, err := netflow.Listen(addr, log)
	if err != nil {
		return nil, err
	}
	target := "collect:udp://" + col.Addr().String()
	p := flow.NewPipeline(flow.PipelineConfig{Identity: pr.id, Observers: []flow.Observer{eng}, Policy: flow.Drop, Queue: opt.Queue, Log: log,
		Attributor: pr.at, MaxRelations: opt.MaxRelations})
	if opt.Ready != nil {
		opt.Ready(col.Addr().String())
	}
	log.Info("collector listening", "addr", col.Addr(), "flush_every", flushEvery, "devices", pr.id.Len(), "indicators", pr.ind.Len())

	sum := &Summary{Counts: flow.Counts{}, Status: model.RunComplete}
	// save writes one interval's result as a run; it is called from this
	// goroutine only.
	save := func(res *flow.Result, last bool) error {
		wctx := context.WithoutCancel(ctx)
		defer res.Rollups.Close()
		if res.Counts[flow.CountRecords] == 0 && res.Counts[flow.CountDropped] == 0 && len(res.Alerts) == 0 && len(res.DNS) == 0 && !last {
			return nil
		}
		run := &model.Run{Kind: flow.RunKind, Targets: []string{target}, Stages: []string{"ingest", "detect"}}
		if err := st.StartRun(wctx, run); err != nil {
			return fmt.Errorf("start run: %w", err)
		}
		run.Status = model.RunComplete
		err := flow.Save(wctx, st, run.ID, res)
		if err == nil {
			err = st.SaveFindings(wctx, run.ID, flow.AlertFindings(res.Alerts))
		}
		if err == nil && last && opt.Continue != "" {
			var buf bytes.Buffer
			var n int
			if n, err = eng.SaveState(&buf); err == nil {
				err = flow.SaveState(wctx, st, opt.Continue, run.ID, buf.Bytes())
				res.Counts["state_series"] = int64(n)
			}
		}
		if err != nil {
			run.Status, run.Error = model.RunFailed, err.Error()
		}
		run.Counts = map[string]int64(res.Counts)
		if ferr := st.FinishRun(wctx, run); ferr != nil && err == nil {
			err = fmt.Errorf("finish run: %w", ferr)
		}
		for k, v := range res.Counts {
			sum.Counts[k] += v
		}
		sum.Alerts = keepNewest(sum.Alerts, res.Alerts, summaryAlerts)
		sum.RunID = run.ID
		log.Info("collector stored", "run", run.ID, "status", run.Status, "records", res.Counts[flow.CountRecords],
			"dropped", res.Counts[flow.CountDropped], "alerts", len(res.Alerts))
		return err
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- col.Run(cctx, p) }()
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	var failed error
loop:
	for {
		select {
		case err := <-runErr:
			failed = err
			break loop
		case <-tick.C:
			res, err := p.Checkpoint(cctx)
			if err != nil {
				if ctx.Err() != nil {
					continue // the collector is stopping: Close below takes the rest
				}
				failed = err // the pipeline failed: stop reading
				cancel()
				if err := <-runErr; err != nil {
					log.Warn("collector socket", "err", err)
				}
				break loop
			}
			if err := save(res, false); err != nil {
				// The store is unreachable (PostgreSQL restarting): the
				// interval's roll-ups are lost, the collector goes on.
				log.Error("collector could not store an interval", "err", err)
				sum.Counts["intervals_lost"]++
			}
		}
	}
	res, err := p.Close(context.WithoutCancel(ctx))
	if err != nil {
		return sum, errors.Join(failed, err)
	}
	s := col.Stats()
	res.Counts["datagrams"], res.Counts[flow.CountMalformed], res.Counts[flow.CountNoTemplate] = s.Datagrams, s.Malformed, s.NoTemplate
	for v, n := range s.ByVersion {
		res.Counts["datagrams_"+v] = n
	}
	if err := save(res, true); err != nil {
		sum.Status = model.RunFailed
		return sum, errors.Join(failed, err)
	}
	if failed != nil {
		sum.Status = model.RunFailed
	}
	return sum, failed
}
