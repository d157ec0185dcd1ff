package scan

import (
	"context"
	"errors"
	"testing"
	"time"

	"iotwatch/internal/target"
)

// TestNewPlan: the plan is made without sending anything, counts public
// addresses, and refuses a scan beyond a /8 of public addresses unless it
// names its rate and is allowed to be large (issue 14.6).
func TestNewPlan(t *testing.T) {
	p80 := []target.Port{{Number: 80, Transport: "tcp"}}
	for _, tc := range []struct {
		name       string
		targets    []string
		rate       int
		allow      bool
		wantErr    error
		wantPublic uint64
		wantItems  uint64
		wantRate   int
	}{
		{name: "loopback, default rate", targets: []string{"127.0.0.0/8"}, wantPublic: 0, wantItems: 1 << 24, wantRate: DefaultRate},
		{name: "private /8 and public /8", targets: []string{"10.0.0.0/7"}, wantPublic: 1 << 24, wantItems: 1 << 25, wantRate: DefaultRate},
		{name: "one public /8 is not large", targets: []string{"1.0.0.0/8"}, wantPublic: 1 << 24, wantItems: 1 << 24, wantRate: DefaultRate},
		{name: "a /7 needs a rate", targets: []string{"2.0.0.0/7"}, wantErr: ErrLargeScan, wantPublic: 1 << 25},
		{name: "a rate alone is not enough", targets: []string{"0.0.0.0/0"}, rate: 1000, wantErr: ErrLargeScan},
		{name: "allowed alone is not enough", targets: []string{"0.0.0.0/0"}, allow: true, wantErr: ErrLargeScan},
		{name: "whole internet, named rate, allowed", targets: []string{"0.0.0.0/0"}, rate: 100_000, allow: true, wantRate: 100_000},
		{name: "unlimited", targets: []string{"192.168.0.0/16"}, rate: -1, wantItems: 1 << 16},
		{name: "IPv6 global unicast", targets: []string{"2a00::/96"}, wantErr: ErrLargeScan, wantPublic: 1 << 32},
		{name: "IPv6 unique local", targets: []string{"fd00::/104"}, wantItems: 1 << 24, wantRate: DefaultRate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(context.Background(), Config{Targets: tc.targets, Ports: p80, Rate: tc.rate, AllowLarge: tc.allow})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantPublic != 0 && p.PublicAddresses != tc.wantPublic {
				t.Errorf("public addresses = %d, want %d", p.PublicAddresses, tc.wantPublic)
			}
			if tc.wantItems != 0 && p.Items != tc.wantItems {
				t.Errorf("items = %d, want %d", p.Items, tc.wantItems)
			}
			if err == nil && p.Rate != tc.wantRate {
				t.Errorf("rate = %d, want %d", p.Rate, tc.wantRate)
			}
			if p.Rate > 0 && p.Items > 0 {
				if want := time.Duration(float64(p.Items) / float64(p.Rate) * float64(time.Second)); p.Duration != want {
					t.Errorf("duration = %v, want %v", p.Duration, want)
				}
			}
		})
	}
	// The whole IPv4 internet: 2^32 less the never-valid blocklist, less
	// the private and special ranges among what is left.
	p, _ := NewPlan(context.Background(), Config{Targets: []string{"0.0.0.0/0"}, Ports: p80})
	if !p.Large() || p.PublicAddresses < 3_500_000_000 || p.PublicAddresses >= p.Addresses {
		t.Errorf("0.0.0.0/0: %s", p)
	}
}
