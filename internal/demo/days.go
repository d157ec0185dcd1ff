package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/scan"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// The demo's simulated days. Patch uptake and devices under control per day
// need a series: the demo simulates Options.Days days, the last of them
// today. Every earlier day the fleet is started as it is that day (units of
// a product install a firmware update as days pass: simulate.Update),
// rescanned and matched against the vulnerability database, as a run
// recorded at that day's time (stage.StartAt), exactly 24 hours apart, so
// the days the report counts are the truth's. Today gets the whole
// pipeline. The flow telemetry has a capture per day (telemetry.go).

// dayTimes returns the time of each simulated day's scan: now on the last,
// whole days before it on the others.
func dayTimes(days int, now time.Time) []time.Time {
	out := make([]time.Time, days)
	for d := range out {
		out[d] = now.Add(-time.Duration(days-1-d) * 24 * time.Hour)
	}
	return out
}

// fleetOptions are the simulator's options for day.
func fleetOptions(opts Options, day int, log *slog.Logger) simulate.Options {
	return simulate.Options{
		Prefix: opts.Prefix, Devices: opts.Devices, Seed: opts.Seed,
		Weak: opts.Weak, Empty: opts.Empty, Anonymous: opts.Anonymous,
		HighPorts: opts.HighPorts, Logger: log, Day: day,
	}
}

// scanFleet scans every device of fleet on the ports of every profile
// (`jobs submit scan --ports demo` scans the same) as part of run, and
// returns the services whose handshake succeeded.
func scanFleet(ctx context.Context, st *store.Store, run *stage.Run, fleet *simulate.Fleet, log *slog.Logger) ([]model.Service, error) {
	addrs := fleet.Addrs()
	targets := make([]string, len(addrs))
	inFleet := make(map[netip.Addr]bool, len(addrs))
	for i, a := range addrs {
		targets[i] = a.String()
		inFleet[a] = true
	}
	tcpPorts, udpPorts, err := simulate.ProfilePorts(fleet.HighPortMap())
	if err != nil {
		return nil, err
	}
	var services []model.Service
	_, err = stage.Scan(ctx, st, run, stage.ScanOptions{
		Config: scan.Config{
			Targets: targets, TCPPorts: tcpPorts, UDPPorts: udpPorts,
			Concurrency: 512, Timeout: 3 * time.Second, Logger: log,
			Rate: -1, // its own loopback fleet: no rate limit
		},
		Emit: func(s model.Service) error {
			if !inFleet[s.IP] {
				return fmt.Errorf("scan produced %s, which is not in the fleet", s.IP)
			}
			if s.Status == model.StatusSuccess {
				services = append(services, s)
			}
			return nil
		},
		SuccessOnly: true,
	})
	if err != nil {
		return services, fmt.Errorf("scan: %w", err)
	}
	return services, nil
}

// rescan starts the fleet as it is on day, scans it and matches its
// vulnerabilities in a run recorded at at, and stops the fleet again. It
// returns the run's ID.
func rescan(ctx context.Context, st *store.Store, opts Options, day int, at time.Time, log *slog.Logger) (int64, error) {
	fleet, err := simulate.Start(ctx, fleetOptions(opts, day, log))
	if err != nil {
		return 0, fmt.Errorf("start simulated fleet, day %d: %w", day, err)
	}
	defer fleet.Close()
	run, err := stage.StartAt(ctx, st, "demo", []string{fmt.Sprintf("%s (%d simulated devices, day %d)", opts.Prefix, opts.Devices, day)},
		[]string{"scan", "vulns"}, at)
	if err != nil {
		return 0, err
	}
	services, err := scanFleet(ctx, st, run, fleet, log)
	if err == nil {
		var vr stage.VulnResult
		vr, err = stage.Vulns(ctx, st, run, services)
		run.Count("vuln_matches", int64(len(vr.Matches)))
	}
	run.Count("services", int64(len(services)))
	return run.ID, run.Finish(ctx, err)
}

// checkUptake puts the report's patch uptake of the product the simulator
// updates beside the truth: units on the update each day, units never
// updated, and days until half of the units that had the vulnerability
// the update fixes ran the fix.
func (s *Summary) checkUptake(r *report.Report, truth *simulate.Truth, runs []int64) {
	if len(truth.Releases) == 0 || len(runs) < 2 {
		return // one scan says nothing of uptake
	}
	rel := truth.Releases[0]
	s.UptakeProduct, s.UptakeFirmware, s.UptakeUnits = rel.Vendor+" "+rel.Model, rel.Firmware, rel.Units
	days := len(runs)
	s.TruthUpdatedPerDay = make([]int, days)
	for d := range days {
		if d >= rel.Day {
			s.TruthUpdatedPerDay[d] = rel.Running[min(d-rel.Day, len(rel.Running)-1)]
		}
	}
	s.TruthNeverUpdated = rel.Units - s.TruthUpdatedPerDay[days-1]
	for d, n := range s.TruthUpdatedPerDay {
		if 2*(rel.Units-n) <= rel.Units && d > 0 {
			v := float64(d)
			s.TruthHalfFixedDays = &v
			break
		}
	}
	if r == nil || r.Uptake == nil {
		return
	}
	for _, p := range r.Uptake.Products {
		if p.Vendor != rel.Vendor || p.Product != rel.Model {
			continue
		}
		s.UpdatedPerDay = make([]int, days)
		for _, pt := range p.Series {
			d := slices.Index(runs, pt.RunID)
			if d < 0 {
				continue
			}
			for _, v := range pt.Versions {
				if v.Key == rel.Firmware {
					s.UpdatedPerDay[d] = v.Devices
				}
			}
		}
		s.NeverUpdated = p.NeverUpdated
		// The vulnerability the update fixes: it affected only the
		// version the units ran before it.
		for _, c := range p.CVEs {
			if slices.Equal(c.Affected, []string{rel.From}) && c.AffectedFirst == rel.Units {
				s.UptakeCVE, s.HalfFixedDays = c.CVE, c.HalfFixedDays
			}
		}
	}
}

// checkCompromise puts the report's devices under control per simulated
// day beside the telemetry's truth.
func (s *Summary) checkCompromise(r *report.Report, tt *TelemetryTruth) {
	s.CompromisedPerDay = make([]int, len(tt.Days))
	s.TruthCompromisedPerDay = make([]int, len(tt.Days))
	for i, d := range tt.Days {
		s.TruthCompromisedPerDay[i] = len(d.Compromised)
		if r == nil || r.Compromise == nil {
			continue
		}
		for _, c := range r.Compromise.Days {
			if c.Day == d.Day {
				s.CompromisedPerDay[i] = c.Devices
			}
		}
	}
}
