package stage

import (
	"context"
	"time"

	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/store"
)

// Flows ingests flow records (NetFlow/IPFIX/sFlow, pcap, Zeek, nfdump CSV,
// or a UDP collector) from srcs as one stream through the detectors and
// stores relations, alerts and findings. It records its own run (kind
// "flows"), because how a flow run ends has rules of its own: a collector
// stopped by a signal has completed, a file cut short is interrupted. See
// ingest.RunAll.
func Flows(ctx context.Context, st *store.Store, srcs []ingest.Source, opts ingest.Options) (*ingest.Summary, error) {
	return ingest.RunAll(ctx, st, srcs, opts)
}

// FlowsNew is Flows into a store not created yet, which open creates while
// the files srcs are read (see ingest.RunAllNew). The caller closes the
// store returned, when not nil.
func FlowsNew(ctx context.Context, open func(context.Context) (*store.Store, error), srcs []ingest.Source, opts ingest.Options) (*ingest.Summary, *store.Store, error) {
	return ingest.RunAllNew(ctx, open, srcs, opts)
}

// Collect runs a long-running flow collector on the UDP address addr
// (host:port) until ctx ends, storing roll-ups, relations and alerts every
// flushEvery as runs of kind "flows" (see ingest.Collect). It is what
// `iotwatch worker --collect udp://ADDR:PORT` and `flows ingest --listen`
// run: one collector per exporter, all of them writing one store.
func Collect(ctx context.Context, st *store.Store, addr string, flushEvery time.Duration, opts ingest.Options) (*ingest.Summary, error) {
	return ingest.Collect(ctx, st, addr, flushEvery, opts)
}
