package flow

import (
	"slices"
	"testing"
)

// TestRollupsOrder: the same records give the same roll-ups in the same
// order (the hours and the IPv6 roll-ups were read from maps, so Save's
// split of the devices, which samples them by position, varied from run to
// run, and TestPipeDevices with it).
func TestRollupsOrder(t *testing.T) {
	a := testRollups(t)
	for range 10 {
		b := testRollups(t)
		if !slices.Equal(a.Hourly, b.Hourly) {
			t.Fatalf("hourly roll-ups in another order (%d and %d)", len(a.Hourly), len(b.Hourly))
		}
	}
}
