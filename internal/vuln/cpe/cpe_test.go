package cpe

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		vendor  string
		product string
		version Kind
		verLit  string
		str     string
	}{
		{"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", "openbsd", "openssh", Value, "9.2", "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"},
		{"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*", "hikvision", "ds-2cd2026g2-iu/sl_firmware", NA, "", "cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*"},
		{"CPE:2.3:A:Haxx:Curl:7.88.1", "haxx", "curl", Value, "7.88.1", "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*"},
		{"cpe:/a:thekelleys:dnsmasq:2.77", "thekelleys", "dnsmasq", Value, "2.77", "cpe:2.3:a:thekelleys:dnsmasq:2.77:*:*:*:*:*:*:*"},
		{"cpe:/o:tp-link:archer_ax21_firmware:-", "tp-link", "archer_ax21_firmware", NA, "", "cpe:2.3:o:tp-link:archer_ax21_firmware:-:*:*:*:*:*:*:*"},
		{"cpe:/a:vendor%21:prod:1.0::~~~linux~~", "vendor!", "prod", Value, "1.0", "cpe:2.3:a:vendor\\!:prod:1.0:*:*:*:*:linux:*:*"},
		{"cpe:2.3:a:*:openssh:*:*:*:*:*:*:*:*", "", "openssh", Any, "", "cpe:2.3:a:*:openssh:*:*:*:*:*:*:*:*"},
		{"cpe:2.3:a:a\\:b:c:1", "a:b", "c", Value, "1", "cpe:2.3:a:a\\:b:c:1:*:*:*:*:*:*:*"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := n[Vendor].Lit; got != tt.vendor {
				t.Errorf("vendor = %q, want %q", got, tt.vendor)
			}
			if got := n[Product].Lit; got != tt.product {
				t.Errorf("product = %q, want %q", got, tt.product)
			}
			if got := n[Version].Kind; got != tt.version {
				t.Errorf("version kind = %d, want %d", got, tt.version)
			}
			if got := n[Version].Lit; got != tt.verLit {
				t.Errorf("version = %q, want %q", got, tt.verLit)
			}
			if got := n.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			// Round trip.
			m, err := Parse(n.String())
			if err != nil || m != n {
				t.Errorf("round trip of %q: %v, %v", n.String(), m, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"openssh",
		"cpe:2.3:",
		"cpe:2.3:a:vendor",
		"cpe:2.3:x:vendor:product",
		"cpe:2.3:a:v:p:1:2:3:4:5:6:7:8:9",
		"cpe:2.3:a:v:p:1\\",
		"cpe:2.3:a:v:p:1 2",
		"cpe:/a:v:p:%zz",
		"cpe:/",
		"cpe:2.3:a:v:p:\x00",
	} {
		if _, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v, want ErrSyntax", in, err)
		}
	}
}

func TestMatchAttr(t *testing.T) {
	tests := []struct {
		src, tgt string
		want     bool
	}{
		{"*", "openssh", true},
		{"openssh", "*", true},
		{"-", "-", true},
		{"-", "openssh", false},
		{"openssh", "-", false},
		{"openssh", "OpenSSH", true},
		{"openssh", "dropbear", false},
		{"open*", "openssh", true},
		{"*ssh", "openssh", true},
		{"*ssh", "sshd", false},
		{"?penssh", "openssh", true},
		{"?penssh", "penssh", false},
		{"iu\\/sl", "iu/sl", true},
		{"a\\*b", "a*b", true},
		{"a\\*b", "axb", false},
	}
	for _, tt := range tests {
		s, err := parseAttr(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		tg := Literal(tt.tgt)
		if tt.tgt == "*" || tt.tgt == "-" {
			tg, _ = parseAttr(tt.tgt)
		}
		if got := MatchAttr(s, tg); got != tt.want {
			t.Errorf("MatchAttr(%q, %q) = %v, want %v", tt.src, tt.tgt, got, tt.want)
		}
	}
}

func TestMatchIgnoringVersion(t *testing.T) {
	c := MustParse("cpe:2.3:a:netapp:active_iq_unified_manager:-:*:*:*:*:windows:*:*")
	if !c.MatchIgnoringVersion(MustParse("cpe:2.3:a:netapp:active_iq_unified_manager:9.1")) {
		t.Error("target_sw ANY in target should match")
	}
	if c.MatchIgnoringVersion(MustParse("cpe:2.3:a:netapp:active_iq_unified_manager:9.1:*:*:*:*:vmware_vsphere")) {
		t.Error("target_sw windows must not match vmware_vsphere")
	}
	if c.MatchIgnoringVersion(MustParse("cpe:2.3:h:netapp:active_iq_unified_manager")) {
		t.Error("part a must not match part h")
	}
}

func TestNew(t *testing.T) {
	n := New("o", "Hikvision", "DS-2CD2026G2-IU/SL firmware", "V5.5.0")
	if got, want := n.String(), "cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:v5.5.0:*:*:*:*:*:*:*"; got != want {
		t.Errorf("New = %q, want %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*",
		"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*",
		"cpe:/a:vendor%21:prod:1.0::~~~linux~~",
		"cpe:2.3:a:*:op?n*:*",
		"cpe:2.3:a:v:p:1\\",
	} {
		f.Add(s, "openssh")
	}
	f.Fuzz(func(t *testing.T, s, lit string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		m, err := Parse(n.String())
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", n.String(), s, err)
		}
		if m.String() != n.String() {
			t.Fatalf("unstable: %q -> %q", n.String(), m.String())
		}
		for i := range n {
			_ = MatchAttr(n[i], Literal(lit)) // must not panic
		}
	})
}
