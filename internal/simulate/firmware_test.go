package simulate

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"iotwatch/internal/firmware"
)

// TestWriteFirmware: every image written for the fleet unpacks, its default
// account is found (and cracked), and the hard-coded host key is found with
// the fingerprint the devices serve.
func TestWriteFirmware(t *testing.T) {
	if testing.Short() {
		t.Skip("firmware analysis")
	}
	f, err := Start(context.Background(), Options{Prefix: netip.MustParsePrefix("127.45.0.0/24"), Devices: 40, Seed: 3, Weak: 0.5, HighPorts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imgs, err := f.WriteFirmware(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) < 3 {
		t.Fatalf("%d images for 40 devices, want one per profile used", len(imgs))
	}
	keyed, certified := 0, 0
	for _, img := range imgs {
		res, err := firmware.Analyze(context.Background(), img.Path, firmware.Options{CrackBudget: 5 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", img.Profile, err)
		}
		if res.NotRecognised() {
			t.Fatalf("%s: not recognised as firmware", img.Profile)
		}
		if img.Account.Username != "" {
			found := false
			for _, a := range res.Secrets.Accounts {
				if a.User == img.Account.Username && (a.Cracked || a.Empty) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: account %q not found or not cracked: %+v", img.Profile, img.Account.Username, res.Secrets.Accounts)
			}
		}
		if img.TLSKey != "" {
			// The private key is found by the public-key fingerprint the
			// scan records, and every unit serves its certificate.
			certified++
			ok := false
			for _, k := range res.Secrets.Keys {
				ok = ok || k.Fingerprint == img.TLSKey
			}
			if !ok {
				t.Errorf("%s: TLS key %s not found: %+v", img.Profile, img.TLSKey, res.Secrets.Keys)
			}
			units := 0
			for _, d := range f.Truth().Devices {
				for _, s := range d.Services {
					if d.Profile == img.Profile && s.Protocol == "https" {
						units++
						if s.SPKISHA256 != img.TLSKey || s.CertSHA256 != img.TLSCert {
							t.Errorf("%s serves %s/%s, the image ships %s/%s", d.IP, s.CertSHA256, s.SPKISHA256, img.TLSCert, img.TLSKey)
						}
					}
				}
			}
			if units == 0 {
				t.Errorf("%s: no unit serves https", img.Profile)
			}
		}
		if img.HostKey != "" {
			keyed++
			ok := false
			for _, k := range res.Secrets.Keys {
				ok = ok || k.SSHFingerprint == img.HostKey
			}
			if !ok {
				t.Errorf("%s: host key %s not found: %+v", img.Profile, img.HostKey, res.Secrets.Keys)
			}
			for _, d := range f.Truth().Devices {
				for _, s := range d.Services {
					if d.Profile == img.Profile && s.HostKey != "" && s.HostKey != img.HostKey {
						t.Errorf("%s serves %s, the image ships %s", d.IP, s.HostKey, img.HostKey)
					}
				}
			}
		}
	}
	if keyed == 0 {
		t.Error("no image ships a hard-coded host key: the fleet has no Archer AX21")
	}
	if certified == 0 {
		t.Error("no image ships a hard-coded TLS key: the fleet has no DIR-645")
	}
}

// TestWriteSquashfsLeavesNoWorkspace: go-diskfs builds an image in a
// directory under $TMPDIR that its Finalize leaves behind; writeSquashfs
// must remove it.
func TestWriteSquashfsLeavesNoWorkspace(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	img := filepath.Join(t.TempDir(), "fw.squashfs")
	if err := writeSquashfs(img, map[string][]byte{"etc/passwd": []byte("root:x:0:0::/root:/bin/sh\n")}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(img); err != nil || fi.Size() == 0 {
		t.Fatalf("image: %v", err)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in $TMPDIR: %s", e.Name())
	}
}
