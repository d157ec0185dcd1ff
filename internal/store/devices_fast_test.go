package store_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/storetest"
	"iotwatch/internal/testpeer"
)

// TestFastFiltersMatchSlowQueries checks the two filters that read their
// own tables alone ("KEV and a protocol" through the KEV flag copied into
// device_protocols, "compromised on a day" counted from device_alert_days)
// against the queries they replaced, which read the devices' own KEV flag
// and the stored flow alerts: the same devices, in the same order, with
// the same count, on both stores, after the first indexing, after a re-run
// of the vulnerability match that moves the KEV flag from one product to
// another, and after the alerts of a new day.
func TestFastFiltersMatchSlowQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 3,000 devices")
	}
	for name, dsn := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, dsn())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := storetest.Generate(ctx, st, 3000, 3); err != nil {
				t.Fatal(err)
			}
			const day1, day2 = "2026-11-20", "2026-11-21"
			before := checkFastFilters(t, st, "first indexing", day1)

			// A re-match: the Hikvision CVE is no longer known exploited,
			// the TP-Link one now is.
			runs, err := st.Runs(ctx, 10)
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs %v, %v: want the generated one", runs, err)
			}
			ev, err := st.LoadEvidence(ctx, []int64{runs[0].ID})
			if err != nil {
				t.Fatal(err)
			}
			var rematched []model.VulnMatch
			for _, v := range ev.Vulns {
				switch v.CVE {
				case "CVE-2017-7921":
					v.KEV = false
				case "CVE-2020-10882":
					v.KEV = true
				}
				rematched = append(rematched, v)
			}
			rematch := &model.Run{Kind: "rematch", Stages: []string{"vulns"}}
			if err := st.StartRun(ctx, rematch); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveVulnMatches(ctx, rematch.ID, rematched); err != nil {
				t.Fatal(err)
			}
			if err := st.EndRun(ctx, rematch, nil); err != nil {
				t.Fatal(err)
			}
			after := checkFastFilters(t, st, "after a re-match", day1)
			if slices.Equal(before, after) {
				t.Errorf("KEV telnet devices unchanged by the re-match (%d): the test does not exercise it", len(after))
			}

			// Alerts of a new day: on every seventh KEV telnet device and
			// on an address the inventory does not hold yet.
			flows := &model.Run{Kind: "flows", Stages: []string{"flows"}}
			if err := st.StartRun(ctx, flows); err != nil {
				t.Fatal(err)
			}
			devs := append([]string{"10.200.0.1"}, everyNth(after, 7)...)
			for _, dev := range devs {
				if _, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO flow_alerts (run_id, day, device, detector, seen_at, reason)
					VALUES (?, ?, ?, ?, ?, ?)`), flows.ID, day2, dev, "mirai-scan", store.Time(runs[0].StartedAt), "test"); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.EndRun(ctx, flows, nil); err != nil {
				t.Fatal(err)
			}
			checkFastFilters(t, st, "after a new day", day1)
			got := checkFastFilters(t, st, "after a new day", day2)
			if len(got) == 0 {
				t.Error("no KEV telnet device compromised on the new day")
			}
		})
	}
}

func everyNth(xs []string, n int) []string {
	var out []string
	for i := 0; i < len(xs); i += n {
		out = append(out, xs[i])
	}
	return out
}

// checkFastFilters compares the filters with the slow queries and returns
// the addresses of the KEV telnet devices.
func checkFastFilters(t *testing.T, st *store.Store, when, day string) []string {
	t.Helper()
	const protoKEV = `d.addr IN (SELECT addr FROM device_protocols WHERE protocol = 'telnet') AND d.kev = 1`
	const alerted = `d.ip IN (SELECT device FROM flow_alerts WHERE inbound = 0 AND day = ?)`
	var kevTelnet []string
	for _, tt := range []struct {
		name   string
		filter store.DeviceFilter
		slow   string
	}{
		{"KEV telnet", store.DeviceFilter{KEV: store.Yes, Protocol: "telnet"}, protoKEV},
		{"not KEV telnet", store.DeviceFilter{KEV: store.No, Protocol: "TELNET"},
			`d.addr IN (SELECT addr FROM device_protocols WHERE protocol = 'telnet') AND d.kev = 0`},
		{"KEV telnet, weak", store.DeviceFilter{KEV: store.Yes, Protocol: "telnet", Weak: store.Yes}, protoKEV + ` AND d.weak = 1`},
		{"KEV telnet, tier E deep in a subnet", store.DeviceFilter{KEV: store.Yes, Protocol: "telnet", Tier: "E", Prefix: netip.MustParsePrefix("10.0.4.0/22")},
			protoKEV + ` AND d.tier = 'E'`},
		{"telnet", store.DeviceFilter{Protocol: "telnet"}, `d.addr IN (SELECT addr FROM device_protocols WHERE protocol = 'telnet')`},
		{"compromised", store.DeviceFilter{CompromisedOn: day}, alerted},
		{"compromised, KEV telnet", store.DeviceFilter{CompromisedOn: day, KEV: store.Yes, Protocol: "telnet"}, alerted + ` AND ` + protoKEV},
		{"compromised, weak", store.DeviceFilter{CompromisedOn: day, Weak: store.Yes}, alerted + ` AND d.weak = 1`},
		// The text search reads the distinct names (device_keys): a vendor,
		// a product of a vendor that does not match, both of one device
		// (counted once), a broad one over the count's bound, with other
		// conditions.
		{"text: vendor", store.DeviceFilter{Text: "Synol"}, textLike("synol")},
		{"text: product only", store.DeviceFilter{Text: "hue"}, textLike("hue")},
		{"text: vendor and product", store.DeviceFilter{Text: "s"}, textLike("s")},
		{"text: broad", store.DeviceFilter{Text: "i"}, textLike("i")},
		{"text, weak in a subnet", store.DeviceFilter{Text: "i", Weak: store.Yes, Prefix: netip.MustParsePrefix("10.0.4.0/22")}, textLike("i") + ` AND d.weak = 1`},
		{"text, KEV telnet", store.DeviceFilter{Text: "k", KEV: store.Yes, Protocol: "telnet"}, textLike("k") + ` AND ` + protoKEV},
	} {
		var args []any
		if tt.filter.CompromisedOn != "" {
			args = append(args, day)
		}
		rows, err := st.DB().QueryContext(context.Background(), st.Rebind(`SELECT d.ip FROM devices d WHERE `+tt.slow+` ORDER BY d.addr`), args...)
		if err != nil {
			t.Fatalf("%s: %s: %v", when, tt.name, err)
		}
		var want []string
		for rows.Next() {
			var ip string
			if err := rows.Scan(&ip); err != nil {
				t.Fatal(err)
			}
			if p := tt.filter.Prefix; !p.IsValid() || p.Contains(netip.MustParseAddr(ip)) {
				want = append(want, ip)
			}
		}
		rows.Close()
		if len(want) == 0 {
			t.Fatalf("%s: %s: the slow query selects no device: the test does not exercise the filter", when, tt.name)
		}
		for _, limit := range []int{13, store.MaxPageSize} {
			devs, total := allPages(t, st, tt.filter, limit)
			var got []string
			for _, d := range devs {
				got = append(got, d.IP.String())
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s, pages of %d: %d devices, the slow query %d\n got %v\nwant %v", when, tt.name, limit, len(got), len(want), got, want)
			}
			if total != min(len(want), store.CountCap) {
				t.Errorf("%s: %s: total %d, the slow query selects %d", when, tt.name, total, len(want))
			}
		}
		if tt.name == "KEV telnet" {
			kevTelnet = want
		}
	}
	return kevTelnet
}

// textLike is the text search as it was before device_keys: the pattern on
// every device's vendor and product.
func textLike(text string) string {
	return `(d.vendor_key LIKE '%` + text + `%' OR d.product_key LIKE '%` + text + `%')`
}
