package version

import (
	"os/exec"
	"testing"
)

// TestAgainstDpkg compares Compare with dpkg --compare-versions, the
// reference for Debian package versions, on the versions Debian ships for
// the embedded stacks iotwatch meets. Where the two differ on purpose (NVD
// semantics: pre-releases and trailing zeros), the table says so.
func TestAgainstDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	tests := []struct {
		a, b   string
		differ bool // deliberate difference from dpkg
	}{
		{"1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2", false},
		{"1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u12", false},
		{"1:9.2p1-2", "1:8.4p1-5+deb11u3", false},
		{"1:9.2p1-2", "9.9p1-1", false},
		{"2022.83-1+deb12u1", "2020.81-3+deb11u1", false},
		{"1:1.35.0-4", "1:1.30.1-6", false},
		{"1:1.36.1-9", "1:1.35.0-4+b3", false},
		{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", false},
		{"7.88.1-10+deb12u5", "8.14.1-2", false},
		{"2.90-4~deb12u1", "2.90-4", false},
		{"2.89-1", "2.90-4~deb12u1", false},
		{"3.0.15-1~deb12u1", "3.0.11-1~deb12u2", false},
		{"1.1.1n-0+deb11u5", "1.1.1w-0+deb11u1", false},
		{"1.0.2q", "1.0.2", false},
		{"1.0.2zd", "1.0.2z", false},
		{"1.0.2za", "1.0.2zb", false},
		{"2.0.11-1.2+deb12u1", "2.0.18-1", false},
		{"5.9.3+dfsg-2", "5.9.1+dfsg-4+deb11u1", false},
		{"3.0.3-13+b2", "3.0.3-12", false},
		{"1.0~rc1", "1.0", false},
		{"1.0", "1.0.0", true},         // NVD: 1.0 == 1.0.0
		{"3.0.0-beta1", "3.0.0", true}, // NVD: beta before release
		{"2.78rc1", "2.78", true},      // dnsmasq release candidates
	}
	agree := 0
	for _, tt := range tests {
		got := Compare(tt.a, tt.b)
		var dp int
		switch {
		case exec.Command(dpkg, "--compare-versions", tt.a, "lt", tt.b).Run() == nil:
			dp = -1
		case exec.Command(dpkg, "--compare-versions", tt.a, "gt", tt.b).Run() == nil:
			dp = 1
		}
		if (got == dp) == tt.differ {
			t.Errorf("Compare(%q, %q) = %d, dpkg %d, deliberate difference %v", tt.a, tt.b, got, dp, tt.differ)
		}
		if got == dp {
			agree++
		}
	}
	t.Logf("agreement with dpkg: %d of %d pairs (the rest differ by design)", agree, len(tests))
}
