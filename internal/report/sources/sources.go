// Package sources connects the stage packages (vulnerability database, flow
// detection, assessment) to the report's optional providers, so that the demo
// and `iotwatch report` build the same report from the same evidence.
package sources

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"iotwatch/internal/assess"
	"iotwatch/internal/flow"
	"iotwatch/internal/report"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln"
)

// Wire fills the providers of in that the store can answer: vulnerability
// archive statistics, devices under unauthorized control per day, and the
// assessment of the covered runs' evidence.
func Wire(st *store.Store, in *report.Inputs) {
	in.VulnStats = func(ctx context.Context) (report.VulnStats, error) { return VulnStats(ctx, st) }
	in.DailyCompromised = func(ctx context.Context) ([]report.DayCount, error) { return DailyCompromised(ctx, st) }
	in.Destinations = func(ctx context.Context) ([]report.DestinationRow, error) { return Destinations(ctx, st) }
	in.Alerts = func(ctx context.Context) ([]report.AlertRow, error) { return Alerts(ctx, st) }
	runIDs := in.RunIDs
	in.Assessment = func(ctx context.Context) (report.AssessmentSummary, error) {
		ev, err := assess.LoadEvidence(ctx, st, runIDs...)
		if err != nil {
			return report.AssessmentSummary{}, err
		}
		res, err := assess.Assess(ctx, ev, assess.Options{})
		if err != nil {
			return report.AssessmentSummary{}, err
		}
		return AssessmentSummary(res), nil
	}
}

// VulnStats returns the archive statistics of the store's vulnerability
// database. An empty database yields no years (the report then says so).
func VulnStats(ctx context.Context, st *store.Store) (report.VulnStats, error) {
	db, err := vuln.Open(ctx, st)
	if err != nil {
		return report.VulnStats{}, fmt.Errorf("vulnerability database: %w", err)
	}
	s, err := db.Stats(ctx, 0)
	if err != nil {
		return report.VulnStats{}, fmt.Errorf("vulnerability statistics: %w", err)
	}
	out := report.VulnStats{Source: s.Source}
	for _, y := range s.Years {
		out.ByYear = append(out.ByYear, report.YearStats{Year: y.Year, Total: y.CVEs, IoT: y.IoT, KEV: y.KEV})
	}
	return out, nil
}

// AssessmentSummary counts, per baseline provision, how many subjects passed,
// failed, were not applicable or unknown, and tallies the label tiers.
func AssessmentSummary(res *assess.Result) report.AssessmentSummary {
	type key struct{ baseline, id string }
	idx := map[key]int{}
	var out report.AssessmentSummary
	tiers := map[string]int{}
	for _, sub := range res.Subjects {
		out.Devices++
		if sub.Tier != "" {
			tiers["tier "+sub.Tier]++
		}
		for _, c := range sub.Contradictions {
			var evs []string
			for _, r := range c.Refs {
				evs = append(evs, strings.TrimSpace(r.ID+" "+r.Detail))
			}
			out.Contradictions = append(out.Contradictions, report.Contradiction{Subject: sub.Subject.ID, Declaration: sub.Declaration,
				Claim: c.Claim, Field: c.Field, Declared: c.Declared, Source: c.Source, Observed: c.Observed, Evidence: evs, Tier: sub.Tier})
		}
		for _, b := range sub.Baselines {
			for _, p := range b.Provisions {
				k := key{b.ID, p.ID}
				i, ok := idx[k]
				if !ok {
					i = len(out.Provisions)
					idx[k] = i
					out.Provisions = append(out.Provisions, report.ProvisionOutcomes{
						Baseline: b.ID, ID: p.ID, Title: p.Title, Mandatory: p.Status == "mandatory"})
				}
				po := &out.Provisions[i]
				switch p.Outcome {
				case assess.Pass:
					po.Pass++
				case assess.Fail:
					po.Fail++
				case assess.NotApplicable:
					po.NotApplicable++
				default:
					po.Unknown++
				}
			}
		}
	}
	for t, n := range tiers {
		out.Labels = append(out.Labels, report.Count{Key: t, Devices: n})
	}
	sort.Slice(out.Labels, func(i, j int) bool { return out.Labels[i].Key < out.Labels[j].Key })
	return out
}

// DailyCompromised returns the devices under unauthorized remote control per
// day, as the flow detectors stored them. No stored alerts yield no days.
func DailyCompromised(ctx context.Context, st *store.Store) ([]report.DayCount, error) {
	days, err := flow.DailyCompromised(ctx, st, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("flow alerts: %w", err)
	}
	out := make([]report.DayCount, len(days))
	for i, d := range days {
		out[i] = report.DayCount{Day: d.Day, Devices: d.Devices}
	}
	return out, nil
}

// Destinations returns the stored outbound traffic per device and
// destination, as flow.Destinations sums it.
func Destinations(ctx context.Context, st *store.Store) ([]report.DestinationRow, error) {
	ds, err := flow.Destinations(ctx, st, netip.Addr{})
	if err != nil {
		return nil, fmt.Errorf("flow destinations: %w", err)
	}
	out := make([]report.DestinationRow, len(ds))
	for i, d := range ds {
		out[i] = report.DestinationRow{Device: d.Device, Country: d.Country, ASN: d.ASN, Owner: d.Owner, Bytes: d.Bytes, CountryDB: d.CountryDB, OwnerDB: d.OwnerDB}
	}
	return out, nil
}

// Alerts returns every stored flow alert as the report's insight sections
// read it.
func Alerts(ctx context.Context, st *store.Store) ([]report.AlertRow, error) {
	as, err := flow.Alerts(ctx, st, time.Time{})
	if err != nil {
		return nil, err
	}
	out := make([]report.AlertRow, 0, len(as))
	for _, a := range as {
		dev := a.Device
		if a.Inbound { // the actor is outside: the device is the one it targeted
			dev = a.Peer
		}
		out = append(out, report.AlertRow{Device: dev, Day: a.Day, Detector: a.Detector, Port: a.Port, Inbound: a.Inbound})
	}
	return out, nil
}
