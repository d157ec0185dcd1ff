package jobs_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"iotwatch/internal/demo"
	"iotwatch/internal/jobs"
	"iotwatch/internal/report"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// headline is what the README's "Scaling out" promises equal to make demo's
// report for the same fleet: devices, services, weak credentials, both by
// protocol, the weak share by vendor and by device type (a device's
// identity must not depend on the order shards stored its services), and
// the firmware analysed before the scan: its images and their findings.
type headline struct {
	Devices, Services, Weak int
	WeakShare               float64
	Inventory               []report.Count
	WeakByProtocol          []report.GroupShare
	WeakByVendor            []report.GroupShare
	WeakByDeviceType        []report.GroupShare
	FirmwareImages          int
	FirmwareFindings        int
}

func headlineOf(r *report.Report) headline {
	return headline{
		Devices: r.Summary.Devices, Services: r.Summary.Services, Weak: r.Summary.DevicesWithWeakCredentials,
		WeakShare: r.Summary.WeakPasswordShare, Inventory: r.Inventory.ByProtocol, WeakByProtocol: r.WeakCredentials.ByProtocol,
		WeakByVendor: r.WeakCredentials.ByVendor, WeakByDeviceType: r.WeakCredentials.ByDeviceType,
		FirmwareImages: r.Summary.FirmwareImages, FirmwareFindings: firmwareFindings(r),
	}
}

func firmwareFindings(r *report.Report) int {
	if r.Firmware == nil {
		return 0
	}
	return len(r.Firmware.Findings)
}

// TestJobsGiveDemoReport runs `make demo`'s pipeline on a fleet, then the
// README's walk-through on the same fleet (a sharded scan of the demo's
// ports with its audit, as jobs), and compares the two reports' headline
// numbers.
func TestJobsGiveDemoReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet twice")
	}
	ctx := context.Background()
	prefix := netip.MustParsePrefix("127.79.0.0/24")
	fleet := simulate.Options{Prefix: prefix, Devices: 40, Seed: 11, Weak: 0.3, Empty: 0.05, Anonymous: 0.05, HighPorts: os.Geteuid() != 0}

	// make demo's first day (a later day rescans units that updated),
	// without telemetry.
	dir := t.TempDir()
	dst, err := store.Open(ctx, filepath.Join(dir, "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := demo.Run(ctx, dst, demo.Options{Devices: fleet.Devices, Seed: fleet.Seed, Prefix: prefix, Weak: fleet.Weak,
		Empty: fleet.Empty, Anonymous: fleet.Anonymous, OutDir: dir, HighPorts: fleet.HighPorts, Days: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want report.Report
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}

	// The walk-through: the same fleet, `jobs submit scan --ports demo
	// --shards 4 --audit`, worked in-process, then `iotwatch report`.
	f := startFleetOpts(t, fleet)
	st, c := openClient(t, filepath.Join(t.TempDir(), "jobs.db"))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Work(wctx, jobs.WorkOptions{PollEvery: 100 * time.Millisecond, Grace: 5 * time.Second})
	}()
	// The fleet's firmware images first, as the demo analyses them before
	// its audit (`simulate --firmware DIR`, `jobs submit firmware`): the
	// audit tries the accounts they prove.
	imgs, err := f.WriteFirmware(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		if _, err := c.SubmitFirmware(ctx, img.Path, true); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, c, 120*time.Second)
	ports, err := simulate.PortList(simulate.HighPortMap(fleet.HighPorts))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitScan(ctx, jobs.ScanRequest{Targets: []string{prefix.String()}, Ports: ports, Rate: -1,
		Timeout: 5 * time.Second, Shards: 4, Audit: &jobs.AuditRequest{MaxAttempts: 200}}); err != nil {
		t.Fatal(err)
	}
	settle(t, c, 120*time.Second)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	got, err := stage.BuildReport(ctx, st, report.Inputs{}, nil)
	if err != nil {
		t.Fatal(err)
	}

	w, g := headlineOf(&want), headlineOf(got)
	if w.Devices != fleet.Devices || w.Weak == 0 || len(w.Inventory) < 3 || len(w.WeakByProtocol) < 2 || w.FirmwareFindings == 0 {
		t.Fatalf("demo report %+v: want all %d devices, weak ones, several protocols", w, fleet.Devices)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("report of the jobs differs from the demo's:\n jobs %+v\n demo %+v", g, w)
	}
}
