package demo

import (
	"path/filepath"
	"testing"
)

// checkBreakdowns compares every row of the report's weak-credential
// breakdowns by device type and by vendor with the simulator's ground
// truth: the same groups, the same device and weak counts. A device's type
// and vendor must come from what the scan saw before any log-in; taken from
// successful log-ins, the rows would be biased towards 100% weak.
func checkBreakdowns(t *testing.T, dir string) {
	t.Helper()
	var truth struct {
		Devices []struct {
			Vendor     string `json:"vendor"`
			DeviceType string `json:"device_type"`
			Weak       bool   `json:"weak"`
		} `json:"devices"`
	}
	readJSON(t, filepath.Join(dir, "truth.json"), &truth)
	type row struct{ Weak, Devices int }
	want := map[string]map[string]row{"by_device_type": {}, "by_vendor": {}}
	for _, d := range truth.Devices {
		for by, key := range map[string]string{"by_device_type": d.DeviceType, "by_vendor": d.Vendor} {
			r := want[by][key]
			r.Devices++
			if d.Weak {
				r.Weak++
			}
			want[by][key] = r
		}
	}
	type share struct {
		Key     string `json:"key"`
		Weak    int    `json:"weak"`
		Devices int    `json:"devices"`
	}
	var rep struct {
		WeakCredentials struct {
			ByDeviceType []share `json:"by_device_type"`
			ByVendor     []share `json:"by_vendor"`
		} `json:"weak_credentials"`
	}
	readJSON(t, filepath.Join(dir, "report.json"), &rep)
	reported := map[string][]share{"by_device_type": rep.WeakCredentials.ByDeviceType, "by_vendor": rep.WeakCredentials.ByVendor}
	for by, rows := range want {
		got := map[string]row{}
		for _, g := range reported[by] {
			got[g.Key] = row{g.Weak, g.Devices}
		}
		if len(got) == 0 {
			t.Errorf("%s: no rows in the report", by)
		}
		for key, w := range rows {
			if got[key] != w {
				t.Errorf("%s %q: report %d of %d weak, truth %d of %d", by, key, got[key].Weak, got[key].Devices, w.Weak, w.Devices)
			}
		}
		for key, g := range got {
			if _, ok := rows[key]; !ok {
				t.Errorf("%s %q: report has %d devices the truth does not group so", by, key, g.Devices)
			}
		}
	}
}
