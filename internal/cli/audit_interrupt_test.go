package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
	"iotwatch/internal/store"
)

// cancelAfter cancels after it has been written n lines (JSON results).
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Count(w.buf.Bytes(), []byte("\n")) >= w.n {
		w.cancel()
	}
	return len(p), nil
}

// TestAuditCmdInterrupted is issue 14's Ctrl-C during audit: cancelled
// mid-way, the audit keeps every credential it had found (the ones it
// printed) in the store and records the run as interrupted.
func TestAuditCmdInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated fleet")
	}
	fctx, stop := context.WithCancel(context.Background())
	defer stop()
	fleet, err := simulate.Start(fctx, simulate.Options{Prefix: netip.MustParsePrefix("127.83.0.0/16"), Devices: 80, Seed: 11,
		Weak: 0.5, HighPorts: true})
	if err != nil {
		t.Skipf("simulator: %v", err)
	}
	defer fleet.Close()
	var ports []string
	for _, p := range fleet.TCPPorts() {
		ports = append(ports, strconv.Itoa(int(p)))
	}
	for _, p := range fleet.UDPPorts() {
		ports = append(ports, strconv.Itoa(int(p))+"/udp")
	}
	args := []string{"--db", filepath.Join(t.TempDir(), "iw.db"), "--log-level", "warn", "--json", "audit", "--show-secrets",
		"--ports", strings.Join(ports, ",")}
	for _, a := range fleet.Addrs() {
		args = append(args, a.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const printed = 5
	out := &cancelAfter{n: printed, cancel: cancel}
	var errOut bytes.Buffer
	err = Execute(ctx, args, out, &errOut)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("audit cancelled mid-way: err %v, want context.Canceled\n%s", err, errOut.String())
	}

	type key struct {
		ip    string
		port  uint16
		user  string
		pass  string
		proto string
	}
	var found []key
	for l := range strings.Lines(out.buf.String()) {
		var r model.CredentialResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		found = append(found, key{r.IP.String(), r.Port, r.Username, r.Password, r.Protocol})
	}
	if len(found) < printed {
		t.Fatalf("printed %d results before the cancellation, want at least %d", len(found), printed)
	}

	st, err := store.Open(context.Background(), args[1])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.LatestRun(context.Background(), "audit", false)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != model.RunInterrupted {
		t.Errorf("run status %q, want %q", run.Status, model.RunInterrupted)
	}
	creds, err := st.Credentials(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[key]bool{}
	for _, c := range creds {
		stored[key{c.IP.String(), c.Port, c.Username, c.Password, c.Protocol}] = true
	}
	for _, k := range found {
		if !stored[k] {
			t.Errorf("printed %+v, but the store does not have it (%d stored)", k, len(creds))
		}
	}
}
