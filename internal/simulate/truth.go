package simulate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"iotwatch/internal/fsutil"

	"golang.org/x/crypto/ssh"
)

// Truth is the ground truth of a fleet: every device, service, product,
// version and accepted credential. It serialises to the truth.json format.
type Truth struct {
	Seed   int64  `json:"seed"`
	Prefix string `json:"prefix"`
	// Day is the simulated day described (Options.Day): each device's
	// Firmware is the one it runs that day.
	Day     int           `json:"day"`
	Devices []TruthDevice `json:"devices"`
	// Releases are the firmware updates of the fleet's products and how
	// many units run each, day by day.
	Releases []TruthRelease `json:"releases,omitempty"`
	Summary  TruthSummary   `json:"summary"`
}

// TruthRelease is one firmware update of a profile: released on Day, run
// by Running[i] of the profile's Units on day Day+i; the last count holds
// for every later day.
type TruthRelease struct {
	Profile  string `json:"profile"`
	Vendor   string `json:"vendor"`
	Model    string `json:"model"`
	From     string `json:"from"` // the profile's firmware before any update
	Firmware string `json:"firmware"`
	Day      int    `json:"day"`
	Units    int    `json:"units"`
	Running  []int  `json:"running"`
}

// TruthInstall is an update a device installs on Day (before or after the
// truth's day).
type TruthInstall struct {
	Firmware string `json:"firmware"`
	Day      int    `json:"day"`
}

// FirmwareOn returns the firmware the device at ip runs on day, and
// whether the truth holds the device.
func (t *Truth) FirmwareOn(ip string, day int) (string, bool) {
	for _, d := range t.Devices {
		if d.IP != ip {
			continue
		}
		fw, declared := d.Firmware, false
		for _, r := range t.Releases { // in release order
			if r.Profile != d.Profile {
				continue
			}
			if !declared {
				fw, declared = r.From, true
			}
			for _, in := range d.Installs {
				if in.Firmware == r.Firmware && in.Day <= day {
					fw = r.Firmware
				}
			}
		}
		return fw, true
	}
	return "", false
}

// TruthDevice is one emulated device.
type TruthDevice struct {
	IP          string            `json:"ip"`
	Vendor      string            `json:"vendor"`
	Model       string            `json:"model"`
	Firmware    string            `json:"firmware"`
	DeviceType  string            `json:"device_type"`
	CPE         string            `json:"cpe"`
	Profile     string            `json:"profile"`
	Serial      string            `json:"serial"`
	MAC         string            `json:"mac"`
	Services    []TruthService    `json:"services"`
	Credentials []TruthCredential `json:"credentials"`
	Weak        bool              `json:"weak"`
	// Installs are the firmware updates the device installs, by day.
	Installs []TruthInstall `json:"installs,omitempty"`
}

// TruthService is one service of a device.
type TruthService struct {
	Protocol  string `json:"protocol"`
	Port      uint16 `json:"port"`
	Transport string `json:"transport"`
	Product   string `json:"product,omitempty"`
	Version   string `json:"version,omitempty"`
	CPE       string `json:"cpe,omitempty"`
	Banner    string `json:"banner,omitempty"`
	// HostKey is the SSH host key's SHA-256 fingerprint (ssh services), as
	// ssh-keygen -l prints it.
	HostKey string `json:"host_key,omitempty"`
	// CertSHA256 and SPKISHA256 are the SHA-256 of the TLS certificate and
	// of its public key (https services), as the scan records them.
	CertSHA256 string `json:"cert_sha256,omitempty"`
	SPKISHA256 string `json:"spki_sha256,omitempty"`
}

// TruthCredential is the credential a login service accepts. Kind is one of
// model.KindDefaultCredential, KindEmptyPassword, KindAnonymousAccess,
// KindSNMPCommunity or "strong". For SNMP the community is in Password.
type TruthCredential struct {
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
	Username string `json:"username"`
	Password string `json:"password"`
	Kind     string `json:"kind"`
}

// TruthSummary holds the headline numbers.
type TruthSummary struct {
	Devices                    int     `json:"devices"`
	Services                   int     `json:"services"`
	DevicesWithWeakCredentials int     `json:"devices_with_weak_credentials"`
	WeakPasswordShare          float64 `json:"weak_password_share"`
}

// KindStrong marks a credential no dictionary should find.
const KindStrong = "strong"

func buildTruth(seed int64, prefix string, devs []*device) *Truth {
	t := &Truth{Seed: seed, Prefix: prefix, Devices: make([]TruthDevice, 0, len(devs))}
	for _, d := range devs {
		p := d.prof
		td := TruthDevice{IP: d.addr.String(), Vendor: p.Vendor, Model: p.Model, Firmware: p.Firmware,
			DeviceType: p.DeviceType, CPE: p.CPE, Profile: p.ID, Serial: d.serial, MAC: d.mac,
			Services: []TruthService{}, Credentials: []TruthCredential{}}
		for _, in := range d.installs {
			td.Installs = append(td.Installs, TruthInstall{Firmware: in.upd.Firmware, Day: in.day})
		}
		for _, s := range d.services {
			ts := TruthService{Protocol: s.sp.Protocol, Port: s.port,
				Transport: transportOf(s.sp.Protocol), Product: s.sp.Product, Version: s.sp.Version,
				CPE: s.sp.CPE, Banner: s.banner()}
			if s.hostKey != nil {
				ts.HostKey = ssh.FingerprintSHA256(s.hostKey.PublicKey())
			}
			ts.CertSHA256, ts.SPKISHA256 = certFingerprints(s.cert)
			td.Services = append(td.Services, ts)
			if s.kind == "" {
				continue
			}
			td.Credentials = append(td.Credentials, TruthCredential{Protocol: s.sp.Protocol, Port: s.port,
				Username: s.cred.Username, Password: s.cred.Password, Kind: s.kind})
			if s.kind != KindStrong {
				td.Weak = true
			}
		}
		t.Summary.Services += len(td.Services)
		if td.Weak {
			t.Summary.DevicesWithWeakCredentials++
		}
		t.Devices = append(t.Devices, td)
	}
	t.Summary.Devices = len(t.Devices)
	t.Releases = truthReleases(devs)
	if t.Summary.Devices > 0 {
		t.Summary.WeakPasswordShare = float64(t.Summary.DevicesWithWeakCredentials) / float64(t.Summary.Devices)
	}
	return t
}

// WriteTruth writes t as indented JSON to path, atomically (temp file + rename).
func WriteTruth(path string, t *Truth) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("encode truth: %w", err)
	}
	b = append(b, '\n')
	if err := fsutil.WriteFileAtomicBytes(path, 0o644, b); err != nil {
		return fmt.Errorf("truth: %w", err)
	}
	return nil
}

// truthReleases lists the updates of the profiles the fleet's units run.
func truthReleases(devs []*device) []TruthRelease {
	units := map[*Profile]int{}
	var order []*Profile
	for _, d := range devs {
		p := d.baseProfile()
		if len(p.Updates) == 0 {
			continue
		}
		if units[p] == 0 {
			order = append(order, p)
		}
		units[p]++
	}
	slices.SortFunc(order, func(a, b *Profile) int { return strings.Compare(a.ID, b.ID) })
	var out []TruthRelease
	for _, p := range order {
		for _, u := range p.Updates {
			r := TruthRelease{Profile: p.ID, Vendor: p.Vendor, Model: p.Model, From: p.Firmware, Firmware: u.Firmware,
				Day: u.Day, Units: units[p], Running: make([]int, len(u.Uptake))}
			for i := range u.Uptake {
				r.Running[i] = u.running(units[p], u.Day+i)
			}
			out = append(out, r)
		}
	}
	return out
}
