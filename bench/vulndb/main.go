// Command vulndb measures the vulnerability database: import rate and peak
// resident memory on a synthetic NVD feed generated from the shared fixtures
// (300,000 records by default), and match latency for 10,000 identified
// products. EPSS scores (one day, a row per record) and distribution
// advisories (OSV Debian/Ubuntu/Alpine records) are loaded first unless
// -epss 0 -advisories 0, and a quarter of the products then carry a
// distribution package (banner tails), so that matching applies backports.
//
//	go run ./bench/vulndb [-records 300000] [-matches 10000] [-epss 300000] [-advisories 100000] [-fixtures ../shared/data/vuln/nvd]
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln"
)

func main() {
	records := flag.Int("records", 300000, "records in the synthetic feed")
	matches := flag.Int("matches", 10000, "products to match")
	fixtures := flag.String("fixtures", "../shared/data/vuln/nvd", "directory of NVD fixture records")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed)")
	dsn := flag.String("dsn", "", "database (default: SQLite in the working directory; postgres:// URLs work)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.IntVar(&epssRows, "epss", 300000, "EPSS rows to import before the feed (0: none)")
	flag.IntVar(&advisories, "advisories", 100000, "OSV distribution advisories to import before the feed (0: none, and no product carries a distribution)")
	flag.BoolVar(&reuseFeed, "reuse-feed", false, "import DIR/feed.json from an earlier run instead of generating it (its record count wins over -records)")
	flag.BoolVar(&parallelOnly, "parallel-only", false, "with -reuse: measure only the all-cores cold match (first, in a fresh process)")
	reuse := flag.Bool("reuse", false, "skip generation and import: measure matching on the database of an earlier run (needs -dir)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *reuse {
		if err := matchOnly(*matches, *dir, *dsn); err != nil {
			log.Print(err)
		}
		return
	}
	if err := run(*records, *matches, *fixtures, *dir, *dsn); err != nil {
		log.Fatal(err)
	}
}

var (
	reuseFeed            bool
	epssRows, advisories int
)

func run(records, matches int, fixtures, dir, dsn string) error {
	ctx := context.Background()
	fx, err := loadFixtures(fixtures)
	if err != nil {
		return err
	}
	if dir == "" {
		dir, err = os.MkdirTemp("", "vulndb-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	feedPath := filepath.Join(dir, "feed.json")
	var size int64
	if fi, err := os.Stat(feedPath); err == nil && reuseFeed {
		size = fi.Size()
	} else {
		f, err := os.Create(feedPath)
		if err != nil {
			return err
		}
		size, err = writeFeed(f, fx, records)
		f.Close()
		if err != nil {
			return err
		}
	}
	fmt.Printf("feed: %d records, %.0f MiB\n", records, float64(size)/(1<<20))
	if dsn == "" {
		dsn = filepath.Join(dir, "iotwatch.db")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := vuln.Open(ctx, st)
	if err != nil {
		return err
	}
	if epssRows > 0 {
		data := writeEPSS(epssRows, "2025-09-03")
		start, cpu0 := time.Now(), cpuTime()
		res, err := d.Import(ctx, bytes.NewReader(data), vuln.ImportOptions{})
		if err != nil {
			return err
		}
		fmt.Printf("EPSS: %d rows (%.1f MiB gzip) in %.1f s wall, %.1f s CPU\n", res.EPSS, float64(len(data))/(1<<20), time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds())
	}
	if advisories > 0 {
		p := filepath.Join(dir, "advisories.json")
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		n, err := writeAdvisories(f, fx, advisories, records)
		f.Close()
		if err != nil {
			return err
		}
		start, cpu0 := time.Now(), cpuTime()
		res, err := d.ImportFile(ctx, p, vuln.ImportOptions{})
		if err != nil {
			return err
		}
		fmt.Printf("distribution advisories: %d (%.0f MiB OSV) in %.1f s wall, %.1f s CPU\n", res.Advisories, float64(n)/(1<<20), time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds())
	}
	fx = nil
	runtime.GC()
	rssBefore := peakRSS()
	start, cpu0 := time.Now(), cpuTime()
	res, err := d.ImportFile(ctx, feedPath, vuln.ImportOptions{})
	if err != nil {
		return err
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	fmt.Printf("import: %d records (%d new) in %.1f s wall = %.0f records/s; %.1f s CPU (user+sys) = %.0f records per CPU-second; peak RSS %d MiB (before import %d MiB)\n",
		res.Records, res.Inserted, el.Seconds(), float64(res.Records)/el.Seconds(), cpu.Seconds(), float64(res.Records)/cpu.Seconds(), peakRSS()>>20, rssBefore>>20)
	if st.Dialect() == store.SQLite {
		if fi, err := os.Stat(dsn); err == nil {
			fmt.Printf("database: %.0f MiB\n", float64(fi.Size())/(1<<20))
		}
	}
	// Re-import: everything unchanged (incremental check cost).
	start, cpu0 = time.Now(), cpuTime()
	res, err = d.ImportFile(ctx, feedPath, vuln.ImportOptions{})
	if err != nil {
		return err
	}
	el, cpu = time.Since(start), cpuTime()-cpu0
	fmt.Printf("re-import (all unchanged): %d records in %.1f s wall, %.1f s CPU = %.0f records/s\n", res.Unchanged, el.Seconds(), cpu.Seconds(), float64(res.Records)/el.Seconds())
	// Kev for KEV flags.
	if err := d.ImportSeed(ctx); err != nil {
		return err
	}

	if err := measureMatch(ctx, st, d, matches); err != nil {
		return err
	}
	fmt.Printf("peak RSS overall: %d MiB\n", peakRSS()>>20)
	return nil
}

func matchOnly(matches int, dir, dsn string) error {
	ctx := context.Background()
	if dsn == "" {
		if dir == "" {
			return fmt.Errorf("-reuse needs -dir or -dsn")
		}
		dsn = filepath.Join(dir, "iotwatch.db")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := vuln.Open(ctx, st)
	if err != nil {
		return err
	}
	n, _ := d.Count(ctx)
	fmt.Printf("database: %d CVEs\n", n)
	if err := measureMatch(ctx, st, d, matches); err != nil {
		return err
	}
	fmt.Printf("peak RSS overall: %d MiB\n", peakRSS()>>20)
	return nil
}

// parallelOnly skips the one-by-one passes (see -parallel-only).
var parallelOnly bool

func measureMatch(ctx context.Context, st *store.Store, d *vuln.DB, matches int) error {
	fps := products(matches)
	passes := []string{"cold", "warm"}
	if parallelOnly {
		passes = nil
	}
	for pass, name := range passes {
		start, cpu0 := time.Now(), cpuTime()
		total, withVulns := 0, 0
		for _, fp := range fps {
			ms, err := d.MatchFingerprint(ctx, fp)
			if err != nil {
				return err
			}
			total += len(ms)
			if len(ms) > 0 {
				withVulns++
			}
		}
		el, cpu := time.Since(start), cpuTime()-cpu0
		fmt.Printf("match (%s, pass %d): %d products in %.3f s wall (%.3f s CPU) = %.1f µs/product; %d with vulnerabilities, %d matches\n",
			name, pass+1, len(fps), el.Seconds(), cpu.Seconds(), float64(el.Microseconds())/float64(len(fps)), withVulns, total)
	}
	// The way scans are matched (MatchServices): all fingerprints at once,
	// on all cores, on fresh caches.
	fresh, err := vuln.Open(ctx, st)
	if err != nil {
		return err
	}
	start, cpu0 := time.Now(), cpuTime()
	res, err := fresh.MatchFingerprints(ctx, fps)
	if err != nil {
		return err
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	total, withVulns := 0, 0
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
		total += len(r.Matches)
		if len(r.Matches) > 0 {
			withVulns++
		}
	}
	fmt.Printf("match (cold, all cores, MatchFingerprints): %d products in %.3f s wall (%.3f s CPU); %d with vulnerabilities, %d matches\n",
		len(fps), el.Seconds(), cpu.Seconds(), withVulns, total)
	fixed, tails := 0, 0
	for _, fp := range fps {
		if strings.Contains(fp.Version, " ") {
			tails++
		}
		ms, err := fresh.MatchFingerprintAll(ctx, fp)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Status == "fixed" {
				fixed++
			}
		}
	}
	fmt.Printf("backports: %d products with a distribution package, %d upstream matches reported fixed by an advisory\n", tails, fixed)
	return nil
}

// products returns n fingerprints: real products at many versions and
// synthetic vendor/products of the generated feed.
func products(n int) []model.Fingerprint {
	real := []model.Fingerprint{
		{Product: "OpenSSH"}, {Product: "dnsmasq"}, {Product: "BusyBox"}, {Product: "curl"}, {Product: "OpenSSL"},
		{Product: "mosquitto"}, {Product: "net-snmp"}, {Product: "vsftpd"}, {Product: "Dropbear"}, {Product: "lighttpd"},
		{Vendor: "Hikvision", Product: "DS-2CD2026G2-IU/SL", DeviceType: "camera"},
		{Vendor: "TP-Link", Product: "Archer AX21", DeviceType: "router"},
	}
	vers := []string{"1.0", "2.77", "7.88.1", "9.2p1", "1.0.2q", "1.36.1", "2.0.11", "5.9.3", "3.0.3", "2022.83", "1.1.3", "V5.5.0", "9.8p1", "8.4.0"}
	out := make([]model.Fingerprint, 0, n)
	for i := 0; len(out) < n; i++ {
		if i%2 == 0 {
			fp := real[i/2%len(real)]
			fp.Version = vers[i/7%len(vers)]
			out = append(out, fp)
			continue
		}
		k := strconv.Itoa(i % 2000)
		v := "9." + strconv.Itoa(i%10) + "p1"
		if advisories > 0 && i%4 == 3 {
			// A distribution package: the advisories decide backports.
			v += []string{" Debian-2+deb12u3", " Ubuntu-3ubuntu0.10", " Debian-2"}[i/4%3]
		}
		out = append(out, model.Fingerprint{Vendor: "openbsd-s" + k, Product: "openssh-s" + k, Version: v})
	}
	return out
}

// cpuTime returns the process's user+system CPU time: on a machine shared
// with other work, wall time says more about the neighbours than about us.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
