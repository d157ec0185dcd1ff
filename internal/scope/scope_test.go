package scope

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		scopes  []string
		targets []string
		outside string // first address refused, "" if allowed
	}{
		{"address inside", []string{"10.0.0.0/8"}, []string{"10.1.2.3"}, ""},
		{"cidr inside", []string{"10.0.0.0/8"}, []string{"10.20.0.0/16"}, ""},
		{"cidr equal", []string{"192.168.1.0/24"}, []string{"192.168.1.0/24"}, ""},
		{"cidr wider than scope", []string{"192.168.1.0/24"}, []string{"192.168.0.0/16"}, "192.168.0.0"},
		{"range straddling the end", []string{"192.168.1.0/24"}, []string{"192.168.1.250-192.168.2.3"}, "192.168.2.0"},
		{"range over two adjacent scopes", []string{"192.168.1.0/24", "192.168.2.0/24"}, []string{"192.168.1.250-192.168.2.3"}, ""},
		{"gap between scopes", []string{"192.168.1.0/24", "192.168.3.0/24"}, []string{"192.168.1.0-192.168.3.255"}, "192.168.2.0"},
		{"overlapping scopes", []string{"10.0.0.0/8", "10.1.0.0/16"}, []string{"10.0.0.0-10.255.255.255"}, ""},
		{"one of several outside", []string{"127.0.0.0/8"}, []string{"127.0.0.1", "8.8.8.8", "127.0.0.2"}, "8.8.8.8"},
		{"no scope at all", nil, []string{"127.0.0.1"}, "127.0.0.1"},
		{"ipv6 inside", []string{"2001:db8::/32"}, []string{"2001:db8:1::/112"}, ""},
		{"ipv6 outside", []string{"2001:db8::/32"}, []string{"2001:db9::1"}, "2001:db9::1"},
		{"ipv6 scope does not cover ipv4", []string{"::/0"}, []string{"127.0.0.1"}, "127.0.0.1"},
		{"whole ipv4", []string{"0.0.0.0/0"}, []string{"1.2.3.4", "255.255.255.255"}, ""},
		{"unmasked scope", []string{"10.1.2.3/8"}, []string{"10.200.0.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(context.Background(), prefixes(t, tt.scopes...), tt.targets, nil)
			if tt.outside == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var o *Outside
			if !errors.As(err, &o) || !errors.Is(err, ErrOutside) {
				t.Fatalf("err = %v, want an *Outside", err)
			}
			if o.Addr.String() != tt.outside {
				t.Errorf("first address outside = %s, want %s", o.Addr, tt.outside)
			}
			if !strings.Contains(err.Error(), tt.outside) {
				t.Errorf("message %q does not name %s", err, tt.outside)
			}
		})
	}
}

func TestCheckRefusesFiles(t *testing.T) {
	for _, spec := range []string{"@/etc/passwd", "-", " @targets.txt"} {
		if _, err := Check(context.Background(), prefixes(t, "0.0.0.0/0"), []string{spec}, nil); err == nil || errors.Is(err, ErrOutside) {
			t.Errorf("%q: err = %v, want a refusal to read files", spec, err)
		}
	}
	if _, err := Check(context.Background(), prefixes(t, "0.0.0.0/0"), nil, nil); err == nil {
		t.Error("no targets accepted")
	}
	if _, err := Check(context.Background(), prefixes(t, "0.0.0.0/0"), []string{"10.0.0.0/33"}, nil); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.255.255.255", "192.168.1.7/24": "192.168.1.255", "1.2.3.4/32": "1.2.3.4",
		"0.0.0.0/0": "255.255.255.255", "2001:db8::/126": "2001:db8::3",
	} {
		if got := lastAddr(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}
