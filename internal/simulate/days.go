package simulate

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Simulated days. A fleet is started as it is on one day (Options.Day, 0
// for the first): a profile's updates (Profile.Updates) are released on
// later days and installed by a growing share of its units, so repeated
// scans of the fleet day after day see units move from one firmware version
// to the next, and some never do. Which unit installs an update on which
// day follows from the seed alone, so every day of a fleet can be started
// again, and the truth of any day names the whole schedule.

// Update is a firmware release of a profile's product.
type Update struct {
	// Firmware is the version released, and CPE the product's CPE for it
	// (empty: the profile's).
	Firmware string `yaml:"firmware"`
	CPE      string `yaml:"cpe"`
	// Day is the day it is released (1 or later; day 0 is the fleet's first).
	Day int `yaml:"day"`
	// Uptake is the share of the profile's units running it on Day, Day+1,
	// and so on, never decreasing; the last share holds for every later
	// day, and the units beyond it never install it.
	Uptake []float64 `yaml:"uptake"`
}

func (u Update) validate(prev int) error {
	switch {
	case u.Firmware == "":
		return errors.New("update: firmware is required")
	case u.CPE != "" && !cpeRE.MatchString(u.CPE):
		return fmt.Errorf("update %s: cpe %q is not a CPE 2.3 formatted string", u.Firmware, u.CPE)
	case u.Day < 1:
		return fmt.Errorf("update %s: day %d: want 1 or later (day 0 is the fleet's first)", u.Firmware, u.Day)
	case u.Day <= prev:
		return fmt.Errorf("update %s: day %d: updates must be listed in release order, one a day at most", u.Firmware, u.Day)
	case len(u.Uptake) == 0:
		return fmt.Errorf("update %s: uptake needs at least one share", u.Firmware)
	}
	for i, s := range u.Uptake {
		if s < 0 || s > 1 || i > 0 && s < u.Uptake[i-1] {
			return fmt.Errorf("update %s: uptake %v: want shares within 0..1, never decreasing", u.Firmware, u.Uptake)
		}
	}
	return nil
}

// running is how many of n units run u on day (0 before its release).
func (u Update) running(n, day int) int {
	if day < u.Day {
		return 0
	}
	s := u.Uptake[min(day-u.Day, len(u.Uptake)-1)]
	return int(s*float64(n) + 0.5)
}

// installDay is the day the unit ranked k (0-based) of n installs u, or -1
// when it never does.
func (u Update) installDay(k, n int) int {
	for i := range u.Uptake {
		if k < u.running(n, u.Day+i) {
			return u.Day + i
		}
	}
	return -1
}

// install is one update a unit installs, on Day.
type install struct {
	upd *Update
	day int
}

// scheduleUpdates gives every unit of a profile with updates the day it
// installs each (ranked by a hash of the seed, the update and its address,
// so the same seed gives the same schedule whatever the day), and sets each
// unit's profile to the firmware it runs on day.
func scheduleUpdates(seed int64, day int, devs []*device) {
	units := map[*Profile][]*device{}
	for _, d := range devs {
		if len(d.prof.Updates) > 0 {
			units[d.prof] = append(units[d.prof], d)
		}
	}
	for p, ds := range units {
		variants := make([]*Profile, len(p.Updates))
		for i := range p.Updates {
			u := &p.Updates[i]
			v := *p
			v.Firmware, v.CPE, v.Updates, v.base = u.Firmware, cmp.Or(u.CPE, p.CPE), nil, p
			variants[i] = &v
			rank := func(d *device) uint64 {
				h := sha256.Sum256(fmt.Appendf(nil, "iotwatch simulated update\x00%d\x00%s\x00%s\x00%s", seed, p.ID, u.Firmware, d.addr))
				return binary.BigEndian.Uint64(h[:8])
			}
			order := slices.Clone(ds)
			slices.SortFunc(order, func(a, b *device) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), a.addr.Compare(b.addr)) })
			for k, d := range order {
				if at := u.installDay(k, len(order)); at >= 0 {
					d.installs = append(d.installs, install{upd: u, day: at})
				}
			}
		}
		for _, d := range ds {
			// The newest update installed by day is what the unit runs.
			for i := range p.Updates {
				for _, in := range d.installs {
					if in.upd == &p.Updates[i] && in.day <= day {
						d.prof = variants[i]
					}
				}
			}
		}
	}
}

// baseProfile is the profile as declared, whichever firmware the unit runs.
func (d *device) baseProfile() *Profile {
	if d.prof.base != nil {
		return d.prof.base
	}
	return d.prof
}
