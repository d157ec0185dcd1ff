package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/testpeer"
)

func TestProbeMosquitto(t *testing.T) {
	for _, anon := range []bool{true, false} {
		p := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: anon, Users: map[string]string{"u": "p"}})
		rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "tcp", p.Addr, &probe.Env{Timeout: 5 * time.Second}))
		if rec.Anonymous != anon {
			t.Errorf("anonymous = %v, want %v (code %d)", rec.Anonymous, anon, rec.ConnackCode)
		}
		if anon && !strings.HasPrefix(rec.BrokerVersion, "mosquitto version ") {
			t.Errorf("broker version = %q, want mosquitto version …", rec.BrokerVersion)
		}
		if !anon && rec.ConnackCode != 5 {
			t.Errorf("connack = %d, want 5 (not authorised)", rec.ConnackCode)
		}
	}
}

// TestProbeMosquittoTLS reads the session, certificate and JA4S of a real
// mosquitto listener over TLS, then its CONNACK through the session.
func TestProbeMosquittoTLS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "broker.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	p := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: true,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})})
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := Prober{TLS: true}.Probe(context.Background(), conn, &probe.Env{Timeout: 5 * time.Second})
	rec, _ := res.Data.(*Record)
	if res.Status != model.StatusSuccess || rec == nil || rec.TLS == nil {
		t.Fatalf("status %v err %v rec %+v", res.Status, res.Err, rec)
	}
	leaf, ok := rec.TLS.Leaf()
	sum := sha256.Sum256(der)
	if !ok || leaf.SHA256 != hex.EncodeToString(sum[:]) || !leaf.SelfSigned || leaf.Subject != "CN=broker.test" || leaf.Serial != "4d" {
		t.Errorf("leaf %+v", leaf)
	}
	if rec.TLS.ServerHello == nil || !strings.HasPrefix(rec.TLS.JA4S, "t1") || rec.TLS.Version == "" {
		t.Errorf("session %s, JA4S %q", rec.TLS.Version, rec.TLS.JA4S)
	}
	if !rec.Anonymous || !strings.HasPrefix(rec.BrokerVersion, "mosquitto version ") {
		t.Errorf("through TLS: anonymous %v, broker %q", rec.Anonymous, rec.BrokerVersion)
	}
	t.Logf("mosquitto: %s %s JA4S %s", rec.TLS.Version, rec.TLS.Cipher, rec.TLS.JA4S)
}

func TestProbeNotMQTT(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		buf := make([]byte, 256)
		s.Read(buf)
		s.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		s.Close()
	}()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: time.Second})
	if res.Status == model.StatusSuccess {
		t.Errorf("status = success on an HTTP reply")
	}
}
