package simulate

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// planDay plans the fleet of opts on day and returns its devices and truth.
func planDay(t *testing.T, ps []Profile, opts Options, day int) ([]*device, *Truth) {
	t.Helper()
	opts.Day = day
	devs, err := planFleet(opts, ps, true)
	if err != nil {
		t.Fatal(err)
	}
	tr := buildTruth(opts.Seed, opts.Prefix.String(), devs)
	tr.Day = day
	return devs, tr
}

// TestUpdateDays follows the built-in profile with an update (the D-Link
// DIR-645, 1.03 → 1.05B01) over five simulated days: every day's units run
// what the truth's releases say, once updated a unit stays updated, the
// schedule is the same whichever day the fleet starts on, and the banners
// scans read name the version the unit runs.
func TestUpdateDays(t *testing.T) {
	ps, err := BuiltinProfiles()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Prefix: netip.MustParsePrefix("127.20.0.0/16"), Devices: 500, Seed: 1, Weak: 0.3, Empty: 0.05, Anonymous: 0.05}
	const days = 5
	truths := make([]*Truth, days)
	var rel TruthRelease
	for day := range days {
		devs, tr := planDay(t, ps, opts, day)
		truths[day] = tr
		if len(tr.Releases) != 1 || tr.Releases[0].Profile != "dlink-dir-645" {
			t.Fatalf("day %d: releases %+v, want the DIR-645's one", day, tr.Releases)
		}
		rel = tr.Releases[0]
		on := map[string]int{}
		for _, d := range devs {
			if d.baseProfile().ID != rel.Profile {
				continue
			}
			on[d.prof.Firmware]++
			for _, s := range d.services {
				if b := s.banner(); strings.Contains(b, "DIR-645 Ver") && !strings.HasSuffix(b, "Ver "+d.prof.Firmware) {
					t.Errorf("day %d %s: banner %q does not name firmware %s", day, d.addr, b, d.prof.Firmware)
				}
			}
		}
		want := 0
		if day >= rel.Day {
			want = rel.Running[min(day-rel.Day, len(rel.Running)-1)]
		}
		if on[rel.Firmware] != want || on[rel.From] != rel.Units-want {
			t.Errorf("day %d: units by firmware %v, want %d on %s and %d on %s", day, on, want, rel.Firmware, rel.Units-want, rel.From)
		}
		// Planning the same day again gives the same fleet.
		_, again := planDay(t, ps, opts, day)
		if diff := cmp.Diff(tr, again); diff != "" {
			t.Errorf("day %d planned twice differs (-first +second):\n%s", day, diff)
		}
	}
	if rel.Units < 10 || rel.Running[0] == 0 || rel.Running[len(rel.Running)-1] == rel.Units {
		t.Fatalf("release %+v: want some units updating each day and some never", rel)
	}
	for i, d := range truths[0].Devices {
		for day := range days {
			dd := truths[day].Devices[i]
			if diff := cmp.Diff(d.Installs, dd.Installs); diff != "" {
				t.Errorf("%s: schedule differs on day %d:\n%s", d.IP, day, diff)
			}
			fw, ok := truths[0].FirmwareOn(d.IP, day)
			if !ok || fw != dd.Firmware {
				t.Errorf("%s: day 0's truth says %q on day %d, that day's truth %q", d.IP, fw, day, dd.Firmware)
			}
			if day > 0 && dd.Firmware != truths[day-1].Devices[i].Firmware && truths[day-1].Devices[i].Firmware != rel.From {
				t.Errorf("%s: firmware went from %s to %s", d.IP, truths[day-1].Devices[i].Firmware, dd.Firmware)
			}
			// Only the firmware (and its CPE) moves from day to day.
			a, b := d, dd
			a.Firmware, a.CPE, a.Services, b.Firmware, b.CPE, b.Services = "", "", nil, "", "", nil
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("%s: day %d differs beyond the firmware:\n%s", d.IP, day, diff)
			}
		}
	}
	// Day 0 is the fleet as it always was: the update is in the truth's
	// schedule only.
	b, err := json.Marshal(truths[0].Devices)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), `"firmware":"1.05B01"`) != rel.Running[len(rel.Running)-1] {
		t.Errorf("day 0 truth: want %d scheduled installs of 1.05B01", rel.Running[len(rel.Running)-1])
	}
}
