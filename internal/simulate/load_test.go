package simulate

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"iotwatch/internal/model"
)

// TestConcurrentHTTP hits every device's web UI at once, as a fast scanner
// does: all must answer within a short timeout (the shared socket's accept
// queue must not overflow).
func TestConcurrentHTTP(t *testing.T) {
	f := startFleet(t, Options{Devices: 250, Seed: 2, Weak: 0.3, HighPorts: true})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 1}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	var firstErr error
	for _, d := range f.devices {
		s := findIn(d, model.ProtoHTTP)
		if s == nil {
			continue // a controller without a web UI
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := client.Get("http://" + addrOf(s) + "/")
			if err == nil {
				r.Body.Close()
				return
			}
			mu.Lock()
			failed++
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Deterministic part: a shared socket must have a deep accept queue
	// (for a listener, tcpi_sacked is the backlog limit).
	for _, sk := range f.socks {
		if sk.svc == nil && !sk.udp {
			ti, err := unix.GetsockoptTCPInfo(sk.fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				t.Fatal(err)
			}
			if ti.Sacked < 1024 {
				t.Errorf("shared socket on port %d has backlog %d, want >= 1024", sk.port, ti.Sacked)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d devices did not answer HTTP: %v", failed, len(f.devices), firstErr)
	}
}
