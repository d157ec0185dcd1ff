// Command console is the load bench of the dashboard's device inventory:
// it writes -devices synthetic devices straight into a store
// (storetest.Generate: eight product profiles, ~30% weak, KEV matches,
// tiers, flow alerts), serves the store read-only as `iotwatch serve` does,
// on loopback, and sends -requests requests per scenario from -clients
// concurrent clients (a bounded pool, one keep-alive connection each),
// printing the p50, p99 and maximum latency per scenario: inventory pages
// with several filters, first and deep pages, device pages and their JSON.
//
//	go run ./bench/console [-devices 100000] [-clients 50] [-requests 2000] [-pg postgres://…]
//
// Without -pg it measures SQLite only; with it, both.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"iotwatch/internal/store"
	"iotwatch/internal/store/storetest"
	"iotwatch/internal/web"
)

func main() {
	devices := flag.Int("devices", 100000, "devices to store")
	clients := flag.Int("clients", 50, "concurrent clients")
	requests := flag.Int("requests", 2000, "requests per scenario")
	pg := flag.String("pg", os.Getenv("IOTWATCH_BENCH_PG"), "PostgreSQL database to measure too (emptied first)")
	flag.Parse()
	ctx := context.Background()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "backend\tscenario\trequests\terrors\tp50 ms\tp99 ms\tmax ms\t\n")
	dir, err := os.MkdirTemp("", "bench-console-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	backends := [][2]string{{"sqlite", filepath.Join(dir, "iotwatch.db")}}
	if *pg != "" {
		backends = append(backends, [2]string{"postgres", *pg})
	}
	for _, b := range backends {
		if err := run(ctx, tw, b[0], b[1], *devices, *clients, *requests); err != nil {
			log.Fatalf("%s: %v", b[0], err)
		}
	}
	tw.Flush()
}

func run(ctx context.Context, tw *tabwriter.Writer, backend, dsn string, devices, clients, requests int) error {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	if backend == "postgres" { // start from an empty database
		for _, t := range []string{"runs", "devices", "device_protocols", "device_alert_days", "device_keys", "device_index_runs", "flow_alerts"} {
			if _, err := st.DB().ExecContext(ctx, "TRUNCATE "+t+" CASCADE"); err != nil {
				return err
			}
		}
	}
	t0 := time.Now()
	if err := storetest.Generate(ctx, st, devices, 1); err != nil {
		return err
	}
	log.Printf("%s: %d devices stored and indexed in %s", backend, devices, time.Since(t0).Round(time.Millisecond))
	if backend == "postgres" {
		// The state autovacuum reaches soon after a bulk load: planner
		// statistics, and a visibility map that lets index-only scans
		// stop at the count's bound instead of reading every match.
		if _, err := st.DB().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return err
		}
	}
	st.Close()
	// Served read-only, as `iotwatch serve` opens it.
	ro, err := store.OpenReadOnly(ctx, dsn)
	if err != nil {
		return err
	}
	defer ro.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- web.Serve(sctx, ln, web.New(ro, web.Options{APIRate: 1 << 30})) }()
	defer func() { stop(); <-done }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

	// Cursors of every page of the whole inventory (for deep pages) and
	// the addresses of every device (for device pages).
	var cursors, addrs []string
	for next := ""; ; {
		var p store.DevicePage
		if err := getJSON(client, base+"/api/devices?limit=500&after="+next, &p); err != nil {
			return err
		}
		for _, d := range p.Devices {
			addrs = append(addrs, d.IP.String())
		}
		if p.Next == "" {
			break
		}
		cursors, next = append(cursors, p.Next), p.Next
	}
	if len(addrs) != devices {
		return fmt.Errorf("inventory lists %d devices, %d stored", len(addrs), devices)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	pick := func(xs []string) string {
		mu.Lock()
		defer mu.Unlock()
		return xs[rng.IntN(len(xs))]
	}
	scenarios := []struct {
		name string
		url  func() string
	}{
		{"inventory, first page", func() string { return "/devices" }},
		{"inventory, deep page", func() string { return "/devices?after=" + pick(cursors) }},
		{"weak Hikvision cameras", func() string { return "/devices?vendor=hikvision&type=ip-camera&weak=true" }},
		{"subnet /20", func() string { return "/devices?q=10.0.16.0/20" }},
		{"KEV + telnet", func() string { return "/devices?kev=true&protocol=telnet" }},
		{"compromised on a day", func() string { return "/devices?compromised=2026-11-20" }},
		{"tier E, deep page", func() string { return "/devices?tier=E&after=" + pick(cursors) }},
		{"vendor text search", func() string { return "/devices?q=synol" }},
		{"API page of 100", func() string { return "/api/devices?weak=true&limit=100" }},
		{"device page", func() string { return "/devices/" + pick(addrs) }},
		{"device JSON", func() string { return "/api/devices/" + pick(addrs) }},
	}
	for _, sc := range scenarios {
		lat, errs := load(client, base, sc.url, clients, requests)
		slices.Sort(lat)
		q := func(p float64) float64 {
			if len(lat) == 0 {
				return 0
			}
			return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t\n", backend, sc.name, requests, errs, q(0.50), q(0.99), q(1))
		tw.Flush() // row by row: a long run shows its progress
	}
	return nil
}

// load sends n requests from c concurrent clients and returns their
// latencies and the number that failed.
func load(client *http.Client, base string, url func() string, c, n int) ([]time.Duration, int) {
	jobs := make(chan string)
	go func() {
		for range n {
			jobs <- base + url()
		}
		close(jobs)
	}()
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for u := range jobs {
				t := time.Now()
				res, err := client.Get(u)
				ok := err == nil && res.StatusCode == http.StatusOK
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					ok = ok && err == nil
				}
				d := time.Since(t)
				mu.Lock()
				lat = append(lat, d)
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, errs
}

func getJSON(client *http.Client, url string, v any) error {
	res, err := client.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("GET %s: %s: %s", url, res.Status, b)
	}
	return json.NewDecoder(res.Body).Decode(v)
}
