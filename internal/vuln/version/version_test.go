package version

import (
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		// OpenSSL letter suffixes.
		{"openssl letter after release", "1.0.2q", "1.0.2", 1},
		{"openssl letters", "1.0.2q", "1.0.2p", 1},
		{"openssl double letters after z", "1.0.2zd", "1.0.2z", 1},
		{"openssl double letters after q", "1.0.2zd", "1.0.2q", 1},
		{"openssl za < zb", "1.0.2za", "1.0.2zb", -1},
		{"openssl next minor", "1.0.2zd", "1.1.0", -1},
		{"openssl 1.1.1n < 1.1.1t", "1.1.1n", "1.1.1t", -1},
		{"openssl 3", "3.0.2", "3.0.10", -1},
		{"openssl beta before release", "3.0.0-beta1", "3.0.0", -1},
		{"openssl alpha < beta", "3.0.0-alpha17", "3.0.0-beta1", -1},
		// OpenSSH portable p-levels.
		{"openssh p1 after release", "9.2p1", "9.2", 1},
		{"openssh p1 < p2", "9.2p1", "9.2p2", -1},
		{"openssh p1 before next", "9.2p1", "9.3", -1},
		{"openssh 9.8p1 after 9.8", "9.8p1", "9.8", 1},
		{"openssh 8.5p1 before 8.6", "8.5p1", "8.6", -1},
		{"openssh 10 after 9", "10.0p1", "9.9p2", 1},
		// Dropbear year versions.
		{"dropbear years", "2022.83", "2020.81", 1},
		{"dropbear same year", "2019.78", "2019.77", 1},
		{"dropbear vs old", "0.52", "2011.54", -1},
		// BusyBox.
		{"busybox minor", "1.36.1", "1.35.0", 1},
		{"busybox two digit", "1.9.0", "1.10.0", -1},
		{"busybox git", "1.37.0.git", "1.37.0", 1},
		// dnsmasq, curl.
		{"dnsmasq", "2.77", "2.78", -1},
		{"dnsmasq test release", "2.78test2", "2.78", -1},
		{"dnsmasq test < rc", "2.78test2", "2.78rc1", -1},
		{"dnsmasq rc", "2.78rc1", "2.78", -1},
		{"curl", "7.88.1", "8.4.0", -1},
		// Trailing zeros.
		{"trailing zero", "1.0", "1.0.0", 0},
		{"trailing zeros", "2.4", "2.4.0.0", 0},
		{"leading zeros", "1.01", "1.1", 0},
		// Firmware builds.
		{"v prefix", "V5.5.0", "5.5.0", 0},
		{"v prefix build", "V5.5.0 build 210628", "V5.5.0 build 210101", 1},
		{"tenda dotted", "15.03.05.19", "15.03.05.18", 1},
		{"huge numbers", "1.99999999999999999999999", "1.100000000000000000000000", -1},
		// Debian epochs, revisions, tildes.
		{"epoch wins", "1:1.0", "2.0", 1},
		{"epoch zero", "0:1.0", "1.0", 0},
		{"debian revision", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2", 1},
		{"debian revision vs none", "9.2p1-2", "9.2p1", 1},
		{"tilde before release", "1.0~rc1", "1.0", -1},
		{"tilde before end", "1.0~", "1.0", -1},
		{"case", "1.0.2Q", "1.0.2q", 0},
		{"empty", "", "", 0},
		{"empty vs one", "", "1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := Compare(tt.b, tt.a); got != -tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func TestUpstream(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1:9.2p1-2+deb12u3", "9.2p1"},
		{"2022.83-1+deb12u1", "2022.83"},
		{"7.88.1-10+deb12u5", "7.88.1"},
		{"1.36.1-9", "1.36.1"},
		{"3.0.0-beta1", "3.0.0-beta1"},
		{"2.90", "2.90"},
		{"1.0.2q", "1.0.2q"},
		{"9.6p1-3ubuntu13.5", "9.6p1"},
	}
	for _, tt := range tests {
		if got := Upstream(tt.in); got != tt.want {
			t.Errorf("Upstream(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{{"1.0.2q", "1.0.2"}, {"9.2p1", "9.8"}, {"1:2.0~rc1-3", "2.0"}, {"2022.83", "V5.5.0 build 1"}, {"", "~"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := Compare(a, b), Compare(b, a)
		if ab != -ba {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		if Compare(a, a) != 0 {
			t.Fatalf("Compare(%q,%q) != 0", a, a)
		}
		if ab < -1 || ab > 1 {
			t.Fatalf("Compare out of range: %d", ab)
		}
		_ = Upstream(a)
	})
}

func BenchmarkCompare(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Compare("1:9.2p1-2+deb12u3", "9.8")
	}
}
