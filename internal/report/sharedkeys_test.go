package report

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
	"iotwatch/internal/tlsinfo"
)

// TestSharedTLSKeys: on the fixture fleet, both Archer C7 routers (8 and 9)
// serve one certificate whose private key is in an analysed image; camera
// 1 serves its own certificate; camera 2 a certificate of its own made on
// the DVRs' shared key (5 and 6 already share an SSH key). Devices sharing
// a key, a certificate, and a key found in firmware are counted apart.
func TestSharedTLSKeys(t *testing.T) {
	for name, st := range backends.Stores(t) {
		t.Run(name, func(t *testing.T) { sharedTLSKeysCase(t, st) })
	}
}

func sharedTLSKeysCase(t *testing.T, st *store.Store) {
	runID := fillStore(t, st)
	ctx := context.Background()
	https := func(n int, cert, spki string) model.Service {
		return model.Service{IP: ip(n), Port: 443, Transport: model.TCP, Protocol: model.ProtoHTTPS, Status: model.StatusSuccess, Time: at(11),
			Data: map[string]any{"status_code": 200, "tls": &tlsinfo.Info{Version: "TLS 1.2", Chain: []tlsinfo.Cert{
				{SHA256: cert, SPKISHA256: spki, KeyType: "rsa", KeyBits: 1024}}}}}
	}
	must(t, st.SaveServices(ctx, runID, []model.Service{
		https(8, "cert-archer", "key-archer"), https(9, "cert-archer", "key-archer"),
		https(1, "cert-cam1", "key-cam1"),
		https(5, "cert-dvr5", "key-dvr"), https(6, "cert-dvr6", "key-dvr"),
	}))
	must(t, st.SaveFindings(ctx, runID, []model.Finding{{Kind: "firmware-private-key", Subject: "fw/c7.bin", Severity: model.SeverityHigh,
		Title: "hard-coded private key in the image", Evidence: []model.Evidence{{Source: "firmware", Detail: "/etc/stunnel.key",
			Data: map[string]any{"path": "/etc/stunnel.key", "type": "rsa", "fingerprint": "key-archer"}}}, Time: at(13)}}))
	r, err := Build(ctx, st, fixtureInputs(runID))
	if err != nil {
		t.Fatal(err)
	}
	k := r.SharedKeys
	if k == nil {
		t.Fatalf("no shared keys: %s", r.Absent[SecSharedKeys])
	}
	// Keyed: 1, 5, 6, 8, 9. Sharing any key: 5, 6 (SSH and TLS), 8, 9.
	// From firmware: 5, 6 (SSH key in fw/archer.bin), 8, 9 (TLS key in fw/c7.bin).
	if k.KeyedDevices != 5 || k.Sharing != 4 || k.FromFirmware != 4 || k.TLSKeyed != 5 || k.TLSSharing != 4 || k.TLSCertSharing != 2 {
		t.Errorf("counts %+v", k)
	}
	byFP := map[string]SharedKey{}
	for _, x := range k.Keys {
		byFP[x.Fingerprint] = x
	}
	archer, dvr := byFP["key-archer"], byFP["key-dvr"]
	if archer.Kind != "tls-public-key" || archer.Type != "rsa-1024" || !slices.Equal(archer.Devices, []netip.Addr{ip(8), ip(9)}) ||
		!slices.Equal(archer.Images, []string{"fw/c7.bin"}) || !slices.Equal(archer.Certs, []string{"cert-archer"}) {
		t.Errorf("archer key %+v", archer)
	}
	if !slices.Equal(dvr.Devices, []netip.Addr{ip(5), ip(6)}) || !slices.Equal(dvr.Certs, []string{"cert-dvr5", "cert-dvr6"}) || len(dvr.Images) != 0 {
		t.Errorf("dvr key %+v", dvr)
	}
	if _, ok := byFP["key-cam1"]; ok {
		t.Errorf("a key served once and in no image is listed: %+v", byFP["key-cam1"])
	}
}
