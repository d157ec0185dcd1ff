package simulate

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	"github.com/sergeymakinen/go-crypt/md5"
	"golang.org/x/crypto/ssh"
)

// FirmwareImage is a firmware image written for one profile of the fleet,
// with what an analysis must find in it.
type FirmwareImage struct {
	Profile  string `json:"profile"`
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	Path     string `json:"path"`
	// Account is the default login account /etc/shadow holds (md5crypt),
	// the same credential the profile's units accept when weak.
	Account Credential `json:"account"`
	// HostKey is the SSH fingerprint of the Dropbear host key the image
	// ships, when the profile hard-codes one: every unit serves it.
	HostKey string `json:"host_key,omitempty"`
	// TLSKey is the SHA-256 of the public key (SubjectPublicKeyInfo) of the
	// TLS certificate and private key the image ships, when the profile
	// hard-codes one; TLSCert the certificate's SHA-256.
	TLSKey  string `json:"tls_key,omitempty"`
	TLSCert string `json:"tls_cert,omitempty"`
}

// WriteFirmware writes a SquashFS root filesystem for every profile the
// fleet uses into dir, in pure Go (go-diskfs): /etc/passwd and /etc/shadow
// with the profile's default account, /etc/os-release and a banner naming
// the product and firmware, for profiles that hard-code their SSH host
// key, that key in Dropbear's format, and for those that hard-code their
// TLS certificate, it and its private key in PEM.
func (f *Fleet) WriteFirmware(dir string) ([]FirmwareImage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("firmware images: %w", err)
	}
	profiles := map[string]*Profile{}
	for _, d := range f.devices {
		profiles[d.prof.ID] = d.baseProfile()
	}
	var out []FirmwareImage
	for _, id := range slices.Sorted(maps.Keys(profiles)) {
		img, err := f.writeImage(dir, profiles[id])
		if err != nil {
			return out, err
		}
		out = append(out, img)
	}
	return out, nil
}

func (f *Fleet) writeImage(dir string, p *Profile) (FirmwareImage, error) {
	img := FirmwareImage{Profile: p.ID, Vendor: p.Vendor, Model: p.Model, Firmware: p.Firmware,
		Path: filepath.Join(dir, strings.NewReplacer("/", "_", "\\", "_").Replace(p.Vendor+" "+p.Model+" "+p.Firmware)+".squashfs")}
	files := map[string][]byte{
		"etc/os-release": fmt.Appendf(nil, "NAME=%q\nVERSION=%q\nID=%s\nPRETTY_NAME=%q\n", p.Vendor+" "+p.Model, p.Firmware,
			strings.ToLower(strings.Fields(p.Vendor)[0]), p.Vendor+" "+p.Model+" "+p.Firmware),
		"etc/banner": fmt.Appendf(nil, "%s %s firmware %s\n", p.Vendor, p.Model, p.Firmware),
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	shadow := "root:*:19000:0:99999:7:::\n"
	for _, s := range p.Services {
		if s.Default == nil || s.Default.Username == "" || s.Default.Username == "root" {
			continue
		}
		img.Account = *s.Default
		break
	}
	if img.Account.Username == "" {
		for _, s := range p.Services {
			if s.Default != nil && s.Default.Username == "root" {
				img.Account = *s.Default
				break
			}
		}
	}
	if a := img.Account; a.Username != "" {
		hash := "" // an account without a password has an empty field
		if a.Password != "" {
			hash = md5.NewHash(a.Password)
		}
		if a.Username == "root" {
			shadow = "root:" + hash + ":19000:0:99999:7:::\n"
		} else {
			passwd += a.Username + ":x:1000:1000:" + a.Username + ":/home/" + a.Username + ":/bin/sh\n"
			shadow += a.Username + ":" + hash + ":19000:0:99999:7:::\n"
		}
	}
	files["etc/passwd"], files["etc/shadow"] = []byte(passwd), []byte(shadow)
	for _, s := range p.Services {
		if s.HardCodedHostKey {
			key := hostKeyPrivate(f.opts.Seed, "profile "+p.ID)
			pub, err := ssh.NewPublicKey(key.Public())
			if err != nil {
				return img, fmt.Errorf("firmware image %s: %w", p.ID, err)
			}
			img.HostKey = ssh.FingerprintSHA256(pub)
			files["etc/dropbear/dropbear_ed25519_host_key"] = ssh.Marshal(struct {
				Name string
				Key  []byte
			}{ssh.KeyAlgoED25519, key})
			break
		}
	}
	if c := f.hardCodedCert(p); c != nil {
		cp, kp, err := certPEM(c)
		if err != nil {
			return img, fmt.Errorf("firmware image %s: %w", p.ID, err)
		}
		files["etc/stunnel_cert.pem"], files["etc/stunnel.key"] = cp, kp
		img.TLSCert, img.TLSKey = certFingerprints(c)
	}
	if err := writeSquashfs(img.Path, files); err != nil {
		return img, fmt.Errorf("firmware image %s: %w", p.ID, err)
	}
	return img, nil
}

// hardCodedCert returns the certificate every unit of p serves, if p
// hard-codes one.
func (f *Fleet) hardCodedCert(p *Profile) *tls.Certificate {
	for _, d := range f.devices {
		if d.prof.ID != p.ID {
			continue
		}
		for _, s := range d.services {
			if s.sp.HardCodedCert && s.cert != nil {
				return s.cert
			}
		}
	}
	return nil
}

// writeSquashfs writes files (path → content, directories implied) as a
// gzip-compressed SquashFS image at name.
func writeSquashfs(name string, files map[string][]byte) error {
	os.Remove(name)
	b, err := file.CreateFromPath(name, 8<<20)
	if err != nil {
		return err
	}
	defer b.Close()
	sq, err := squashfs.Create(b, 8<<20, 0, 0)
	if err != nil {
		return err
	}
	// Create builds the image in a directory of its own under $TMPDIR,
	// which Finalize leaves behind and forgets (go-diskfs v1.9.4): every
	// demo and test run left one per simulated firmware image.
	defer os.RemoveAll(sq.Workspace())
	dirs := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := sq.Mkdir(d); err != nil {
			return err
		}
	}
	for p, data := range files {
		w, err := sq.OpenFile(p, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		if c, ok := w.(fs.File); ok {
			c.Close()
		}
	}
	return sq.Finalize(squashfs.FinalizeOptions{})
}
