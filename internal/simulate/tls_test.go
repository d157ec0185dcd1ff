package simulate

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/tlsinfo"
)

// TestHTTPS: a device's HTTPS service serves the certificate the truth
// names, per device or, for a profile that hard-codes one, the same on
// every unit; the same seed gives the same certificate; the web UI answers
// through TLS.
func TestHTTPS(t *testing.T) {
	f := protoFleet(t)
	own := findService(t, f, model.ProtoHTTPS, "", func(s *deviceService) bool { return !s.sp.HardCodedCert })
	shared := findService(t, f, model.ProtoHTTPS, "", func(s *deviceService) bool { return s.sp.HardCodedCert })
	truth := map[string]TruthService{}
	for _, d := range f.Truth().Devices {
		for _, s := range d.Services {
			if s.Protocol == model.ProtoHTTPS {
				truth[d.IP] = s
			}
		}
	}
	spkiUnits := map[string]int{}
	for _, s := range truth {
		spkiUnits[s.SPKISHA256]++
	}
	for _, s := range []*deviceService{own, shared} {
		c, err := net.DialTimeout("tcp", addrOf(s), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tc, info, err := tlsinfo.Handshake(ctx, c, nil)
		cancel()
		if err != nil {
			c.Close()
			t.Fatalf("%s: %v", addrOf(s), err)
		}
		leaf, _ := info.Leaf()
		want := truth[s.dev.addr.String()]
		if leaf.SHA256 != want.CertSHA256 || leaf.SPKISHA256 != want.SPKISHA256 || want.CertSHA256 == "" {
			t.Errorf("%s serves %s/%s, truth %s/%s", addrOf(s), leaf.SHA256, leaf.SPKISHA256, want.CertSHA256, want.SPKISHA256)
		}
		if !leaf.SelfSigned || leaf.KeyType != "ecdsa" || info.JA4S == "" {
			t.Errorf("%s: leaf %+v JA4S %q", addrOf(s), leaf, info.JA4S)
		}
		n := spkiUnits[want.SPKISHA256]
		if s.sp.HardCodedCert != (n > 1) {
			t.Errorf("%s: key served by %d units (hard-coded %v)", addrOf(s), n, s.sp.HardCodedCert)
		}
		expired := len(info.Weaknesses(time.Now())) > 1 // self-signed, and expired when hard-coded
		if expired != s.sp.HardCodedCert {
			t.Errorf("%s: weaknesses %+v", addrOf(s), info.Weaknesses(time.Now()))
		}
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := tc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 12)
		if _, err := tc.Read(buf); err != nil || string(buf[:5]) != "HTTP/" {
			t.Errorf("%s: web UI through TLS: %q %v", addrOf(s), buf, err)
		}
		tc.Close()
	}
	// Deterministic from the seed.
	again, err := tlsCertificate(42, own.dev, false)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := certFingerprintsOf(t, own.cert), certFingerprintsOf(t, &again); a != b {
		t.Errorf("same seed, different certificate: %s, %s", a, b)
	}
}

func certFingerprintsOf(t *testing.T, c *tls.Certificate) string {
	t.Helper()
	a, b := certFingerprints(c)
	return a + "/" + b
}
