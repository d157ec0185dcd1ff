package jobs_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/jobs"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/testpeer"
)

// tcpProxy forwards connections from a loopback port to a backend. Cut
// closes the port and every connection through it (as a network partition
// that resets them would); Restore opens the same port again.
type tcpProxy struct {
	backend string
	addr    string
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func newTCPProxy(t *testing.T, backend string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{backend: backend, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.Cut(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // cut
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, b) {
				continue
			}
			p.wg.Go(func() { _, _ = io.Copy(b, c); b.Close(); c.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, b); b.Close(); c.Close() })
		}
	})
}

// track records a connection pair, or closes it when the proxy was cut
// meanwhile.
func (p *tcpProxy) track(c, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		b.Close()
		return false
	}
	p.conns[c], p.conns[b] = true, true
	return true
}

// Cut refuses new connections and resets the open ones.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		c.Close()
	}
	clear(p.conns)
}

// Restore listens on the proxy's port again.
func (p *tcpProxy) Restore(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just closed: retry briefly
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// TestWorkerCutOff cuts a worker process off from PostgreSQL for 30 s in
// the middle of a scan shard (a TCP proxy between them, closed and
// reopened), beside a worker that stays connected: every job completes, the
// evidence equals an uninterrupted run's, nothing stored twice, and the
// worker that was cut off reconnects and runs jobs again.
func TestWorkerCutOff(t *testing.T) {
	dsn := testpeer.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr

	startFleet(t, clusterPrefix, 40)
	ref := reference(t, clusterPrefix)
	ctx := context.Background()
	st, c := openClient(t, dsn)
	cut := startWorker(t, viaProxy.String(), "cut")
	if _, err := c.SubmitScan(ctx, jobs.ScanRequest{
		Targets: []string{clusterPrefix.String()}, Ports: fleetPorts, Rate: 40, Timeout: 5 * time.Second,
		Shards: 4, Audit: &jobs.AuditRequest{},
	}); err != nil {
		t.Fatal(err)
	}
	shard := runningOn(t, c, spec.KindScan, "cut", 60*time.Second, func(j jobs.Job) bool { return j.Progress != nil && j.Progress.Done > 0 })
	proxy.Cut()
	t.Logf("worker cut off from PostgreSQL in shard job %d (%d/%d)", shard.ID, shard.Progress.Done, shard.Progress.Total)
	steady := startWorker(t, dsn, "steady")
	time.Sleep(30 * time.Second)
	proxy.Restore(t)
	t.Log("worker reconnected")
	list := settle(t, c, 120*time.Second)
	// The worker that was cut off works again: alone now, it runs a match.
	steady.stop(t)
	id, err := c.SubmitVulns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, c, 30*time.Second)
	if j, err := c.Get(ctx, id); err != nil || j.State != "completed" || len(j.AttemptedBy) != 1 || j.AttemptedBy[0] != "cut" {
		t.Errorf("job %d after the cut: %+v (%v); want completed by the worker that was cut off", id, j, err)
	}
	cut.stop(t)
	kinds := byKind(list)
	if kinds[spec.KindScan] != 4 || kinds[spec.KindVulns] != 4 || kinds[spec.KindAudit] < 4 || len(kinds) != 3 {
		t.Errorf("jobs by kind %v, want 4 scan, 4 vulns, at least 4 audit, all completed", kinds)
	}
	j, err := c.Get(ctx, shard.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != "completed" || j.Run != shard.Run {
		t.Errorf("shard job %d cut off: %s on %v, run %d; want completed with run %d", shard.ID, j.State, j.AttemptedBy, j.Run, shard.Run)
	}
	t.Logf("shard job %d: %d attempts, by %v", j.ID, j.Attempt, j.AttemptedBy)
	compare(t, ref.DB(), st.DB())
}
