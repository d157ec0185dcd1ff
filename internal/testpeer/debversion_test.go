package testpeer

import "testing"

func TestUpstreamVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1:9.2p1-2+deb12u10", "9.2p1"},   // openssh-server: epoch and revision
		{"1.4.69-1", "1.4.69"},            // lighttpd
		{"3.0.3-13+b2", "3.0.3"},          // vsftpd: binNMU
		{"5.9.3+dfsg-2+deb12u1", "5.9.3"}, // snmpd: +dfsg repack
		{"1:1.2.13.dfsg-1", "1.2.13"},     // zlib1g: .dfsg repack
		{"2022.83-1+deb12u3", "2022.83"},  // dropbear-bin
		{"1:1.35.0-4+b3", "1.35.0"},       // busybox-static
		{"3.0.11-1~deb12u2", "3.0.11"},    // libssl3: backport tilde
		{"2.89", "2.89"},                  // native package
	}
	for _, tt := range tests {
		if got := upstreamVersion(tt.in); got != tt.want {
			t.Errorf("upstreamVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
