package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"iotwatch/internal/store"
	"iotwatch/internal/store/storetest"
)

// BenchmarkListDevices measures one inventory page (50 devices and the
// bounded count) per filter over IOTWATCH_BENCH_DEVICES generated devices
// (default 20000), first pages and pages deep in the inventory.
func BenchmarkListDevices(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("IOTWATCH_BENCH_DEVICES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "iotwatch.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := storetest.Generate(ctx, st, n, 1); err != nil {
		b.Fatal(err)
	}
	// A cursor half-way through the inventory.
	mid, err := st.ListDevices(ctx, store.DeviceFilter{}, "", 1)
	if err != nil {
		b.Fatal(err)
	}
	for range n / 2 / store.MaxPageSize {
		p, err := st.ListDevices(ctx, store.DeviceFilter{}, mid.Next, store.MaxPageSize)
		if err != nil {
			b.Fatal(err)
		}
		mid = p
	}
	for _, bc := range []struct {
		name   string
		filter store.DeviceFilter
		deep   bool
	}{
		{"filter=none", store.DeviceFilter{}, false},
		{"filter=none/deep", store.DeviceFilter{}, true},
		{"filter=weak-hikvision-cameras", store.DeviceFilter{Vendor: "hikvision", DeviceType: "ip-camera", Weak: store.Yes}, false},
		{"filter=subnet-20", store.DeviceFilter{Prefix: netip.MustParsePrefix("10.0.16.0/20")}, false},
		{"filter=kev-telnet", store.DeviceFilter{KEV: store.Yes, Protocol: "telnet"}, false},
		{"filter=compromised", store.DeviceFilter{CompromisedOn: "2026-11-20"}, false},
		{"filter=tier-E/deep", store.DeviceFilter{Tier: "E"}, true},
		{"filter=text", store.DeviceFilter{Text: "synol"}, false},
	} {
		b.Run(fmt.Sprintf("devices=%d/%s", n, bc.name), func(b *testing.B) {
			cursor := ""
			if bc.deep {
				cursor = mid.Next
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.ListDevices(ctx, bc.filter, cursor, 50); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
