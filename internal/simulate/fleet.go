package simulate

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"

	"golang.org/x/crypto/ssh"
)

// Device categories: which kind of credential a device accepts.
const (
	catWeak      = "weak"
	catEmpty     = "empty"
	catAnonymous = "anonymous"
	catStrong    = "strong"
)

// realPorts are the standard ports used when the process may bind below 1024.
var realPorts = map[string]uint16{
	model.ProtoTelnet: 23, model.ProtoSSH: 22, model.ProtoHTTP: 80, model.ProtoHTTPS: 443, model.ProtoFTP: 21,
	model.ProtoRTSP: 554, model.ProtoSNMP: 161, model.ProtoSSDP: 1900, model.ProtoCoAP: 5683,
	model.ProtoModbus: 502, model.ProtoMQTT: 1883, model.ProtoDNS: 53, model.ProtoCWMP: 7547, model.ProtoXMeye: 34567, model.ProtoDVRIP: 37777, model.ProtoENIP: 44818, model.ProtoBACnet: 47808, model.ProtoS7: 102, model.ProtoDNP3: 20000, model.ProtoFox: 1911,
	model.ProtoONVIF:  3702,
	model.ProtoHikSDK: 8000, model.ProtoMDNS: 5353,
}

// HighPorts is the documented port map used by unprivileged users (or with
// --high-ports): telnet 2323, ssh 2222, http 8080, https 8443, ftp 2121, rtsp 8554,
// snmp 1161/udp, ssdp 1900/udp, coap 5683/udp, modbus 5020, mqtt 1883,
// dns 1053/udp; ports above 1024 stay (cwmp 7547, xmeye 34567, dvrip 37777, enip 44818, bacnet 47808/udp, dnp3 20000, fox 1911, onvif 3702/udp, hiksdk 8000, mdns 5353/udp); s7 1102.
var HighPorts = func() map[string]uint16 {
	m := maps.Clone(realPorts)
	maps.Copy(m, map[string]uint16{
		model.ProtoTelnet: 2323, model.ProtoSSH: 2222, model.ProtoHTTP: 8080, model.ProtoHTTPS: 8443, model.ProtoFTP: 2121,
		model.ProtoRTSP: 8554, model.ProtoSNMP: 1161, model.ProtoModbus: 5020, model.ProtoDNS: 1053, model.ProtoS7: 1102,
	})
	return m
}()

// udpProtocols are served over UDP (the protocol table's transport); the
// rest over TCP.
var udpProtocols = protocol.Set(func(s protocol.Spec) bool { return s.Transport() == model.UDP })

func transportOf(proto string) string {
	if udpProtocols[proto] {
		return model.UDP
	}
	return model.TCP
}

// device is one emulated device.
type device struct {
	addr     netip.Addr
	prof     *Profile
	category string
	serial   string
	mac      string
	hostname string
	uuid     string
	services []*deviceService
	installs []install // the updates it installs and when (days.go)
}

// deviceService is one service of one device with its accepted credential.
type deviceService struct {
	dev   *device
	sp    *ServiceProfile
	port  uint16
	cred  Credential // accepted login (username, password); community for SNMP
	kind  string     // model.Kind* of cred, or "strong"
	anon  bool       // anonymous access accepted (mqtt: no username; ftp: anonymous/ftp)
	realm string
	// hostKey is the SSH host key (ssh services): the device's own, or the
	// profile's when the profile hard-codes one.
	hostKey ssh.Signer
	// cert is the TLS certificate (https services): the device's own, or
	// the profile's when the profile hard-codes one.
	cert *tls.Certificate
}

// banner returns the service banner with per-device placeholders filled in.
func (s *deviceService) banner() string {
	if !strings.Contains(s.sp.Banner, "{") {
		return s.sp.Banner
	}
	return strings.NewReplacer("{serial}", s.dev.serial, "{FW}", s.dev.prof.Firmware).Replace(s.sp.Banner)
}

// accepts reports whether the service accepts user/pass.
func (s *deviceService) accepts(user, pass string) bool {
	if s.anon {
		switch s.sp.Protocol {
		case model.ProtoFTP:
			if strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp") {
				return true
			}
		case model.ProtoMQTT:
			if user == "" {
				return true
			}
		}
	}
	return user == s.cred.Username && pass == s.cred.Password
}

// planFleet builds the devices deterministically from opts and profiles.
func planFleet(opts Options, profiles []Profile, high bool) ([]*device, error) {
	if opts.Devices <= 0 {
		return nil, errors.New("devices must be positive")
	}
	if opts.Day < 0 {
		return nil, fmt.Errorf("day %d: want 0 or later", opts.Day)
	}
	for _, f := range []float64{opts.Weak, opts.Empty, opts.Anonymous} {
		if f < 0 || f > 1 {
			return nil, fmt.Errorf("credential shares must be within 0..1, got %g", f)
		}
	}
	if opts.Weak+opts.Empty+opts.Anonymous > 1+1e-9 {
		return nil, fmt.Errorf("--weak + --empty + --anonymous = %g exceeds 1", opts.Weak+opts.Empty+opts.Anonymous)
	}
	addrs, err := fleetAddrs(opts.Prefix, opts.Devices)
	if err != nil {
		return nil, err
	}
	// A unit can carry a weak or empty credential only if its profile has a
	// login service (a Chromecast has none): such profiles are drawn for
	// strong units only.
	var all, anonOK, loginOK []*Profile
	for i := range profiles {
		p := &profiles[i]
		if p.Weight == 0 {
			continue
		}
		all = append(all, p)
		if p.service(model.ProtoFTP) != nil || p.service(model.ProtoMQTT) != nil {
			anonOK = append(anonOK, p)
		}
		if slices.ContainsFunc(p.Services, func(s ServiceProfile) bool { return loginProtocols[s.Protocol] }) {
			loginOK = append(loginOK, p)
		}
	}
	if len(all) == 0 {
		return nil, errors.New("no profile has a positive weight")
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x10717a7c4))
	// Exact counts per category, assigned in a seeded shuffle, so that the
	// shares in the truth match the flags as closely as integers allow.
	n := opts.Devices
	cats := make([]string, n)
	nw := int(opts.Weak*float64(n) + 0.5)
	ne := int(opts.Empty*float64(n) + 0.5)
	na := int(opts.Anonymous*float64(n) + 0.5)
	if len(anonOK) == 0 {
		nw, na = nw+na, 0
	}
	if nw+ne+na > n {
		na = max(0, n-nw-ne)
	}
	for i := range cats {
		switch {
		case i < nw:
			cats[i] = catWeak
		case i < nw+ne:
			cats[i] = catEmpty
		case i < nw+ne+na:
			cats[i] = catAnonymous
		default:
			cats[i] = catStrong
		}
	}
	rng.Shuffle(n, func(i, j int) { cats[i], cats[j] = cats[j], cats[i] })

	devs := make([]*device, n)
	for i, a := range addrs {
		cat := cats[i]
		pool := all
		switch cat {
		case catAnonymous:
			pool = anonOK
		case catWeak, catEmpty:
			pool = loginOK
		}
		p := pickWeighted(rng, pool)
		d := &device{addr: a, prof: p, category: cat}
		d.serial = fmt.Sprintf("%s%08d", serialPrefix(p), rng.IntN(100000000))
		d.mac = fmt.Sprintf("%s:%02x:%02x:%02x", ouiOf(p), a.As4()[1], a.As4()[2], a.As4()[3])
		d.hostname = strings.ToLower(strings.NewReplacer(" ", "-", "/", "-").Replace(p.Model)) + "-" + strings.ReplaceAll(d.mac[9:], ":", "")
		d.uuid = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, 0x4000|rng.Uint32()&0x0fff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
		for j := range p.Services {
			sp := &p.Services[j]
			s := &deviceService{dev: d, sp: sp, port: servicePort(sp, high), realm: sp.Realm}
			if web := webUI(d, sp); web != nil {
				// The same web UI behind TLS: the same account, and no draw
				// that would change the rest of the fleet.
				s.cred, s.kind, s.anon = web.cred, web.kind, web.anon
			} else {
				assignCredential(rng, s, cat)
			}
			if sp.Protocol == model.ProtoSSH {
				who := a.String()
				if sp.HardCodedHostKey {
					who = "profile " + p.ID
				}
				if s.hostKey, err = hostKey(opts.Seed, who); err != nil {
					return nil, err
				}
			}
			if sp.Protocol == model.ProtoHTTPS {
				c, err := tlsCertificate(opts.Seed, d, sp.HardCodedCert)
				if err != nil {
					return nil, err
				}
				s.cert = &c
			}
			d.services = append(d.services, s)
		}
		devs[i] = d
	}
	scheduleUpdates(opts.Seed, opts.Day, devs)
	return devs, nil
}

// webUI returns the device's HTTP service already planned when sp is its
// HTTPS service.
func webUI(d *device, sp *ServiceProfile) *deviceService {
	if sp.Protocol != model.ProtoHTTPS {
		return nil
	}
	for _, s := range d.services {
		if s.sp.Protocol == model.ProtoHTTP {
			return s
		}
	}
	return nil
}

// assignCredential sets the credential a service accepts for the device category.
func assignCredential(rng *rand.Rand, s *deviceService, cat string) {
	proto := s.sp.Protocol
	if !loginProtocols[proto] {
		return
	}
	if proto == model.ProtoSNMP {
		if cat == catStrong {
			s.cred = Credential{Password: strongSecret(rng, 12)}
			s.kind = "strong"
		} else {
			s.cred = Credential{Password: "public"}
			s.kind = model.KindSNMPCommunity
		}
		return
	}
	def := *s.sp.Default
	switch cat {
	case catWeak:
		s.cred = def
		s.kind = model.KindDefaultCredential
		if def.Password == "" {
			s.kind = model.KindEmptyPassword
		}
	case catEmpty:
		s.cred = Credential{Username: def.Username}
		s.kind = model.KindEmptyPassword
	case catAnonymous:
		if proto == model.ProtoFTP || proto == model.ProtoMQTT {
			s.anon = true
			s.kind = model.KindAnonymousAccess
			if proto == model.ProtoFTP {
				s.cred = Credential{Username: "anonymous"}
			}
			return
		}
		fallthrough
	default:
		s.cred = Credential{Username: def.Username, Password: strongSecret(rng, 16)}
		s.kind = "strong"
	}
}

const secretChars = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func strongSecret(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = secretChars[rng.IntN(len(secretChars))]
	}
	return string(b)
}

func pickWeighted(rng *rand.Rand, ps []*Profile) *Profile {
	total := 0
	for _, p := range ps {
		total += p.Weight
	}
	r := rng.IntN(total)
	for _, p := range ps {
		if r < p.Weight {
			return p
		}
		r -= p.Weight
	}
	return ps[len(ps)-1]
}

// servicePort is the port a service listens on: the profile's own port
// unless it is privileged and high ports are in use, else the protocol default.
func servicePort(sp *ServiceProfile, high bool) uint16 {
	if sp.Port != 0 && (sp.Port >= 1024 || !high) {
		return sp.Port
	}
	if high {
		return HighPorts[sp.Protocol]
	}
	return realPorts[sp.Protocol]
}

// fleetAddrs returns n IPv4 loopback addresses from prefix, skipping .0 and .255.
func fleetAddrs(prefix netip.Prefix, n int) ([]netip.Addr, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() || !prefix.Addr().IsLoopback() {
		return nil, fmt.Errorf("prefix %s: must be an IPv4 prefix inside 127.0.0.0/8", prefix)
	}
	prefix = prefix.Masked()
	out := make([]netip.Addr, 0, n)
	for a := prefix.Addr().Next(); prefix.Contains(a) && len(out) < n; a = a.Next() {
		last := a.As4()[3]
		if last == 0 || last == 255 {
			continue
		}
		out = append(out, a)
	}
	if len(out) < n {
		return nil, fmt.Errorf("prefix %s has room for %d devices, %d requested", prefix, len(out), n)
	}
	return out, nil
}

func serialPrefix(p *Profile) string {
	s := strings.ToUpper(strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p.Vendor))
	if len(s) > 3 {
		s = s[:3]
	}
	return s
}

// ouis are real IEEE OUIs of the vendors, for plausible MAC addresses.
var ouis = map[string]string{
	"Hikvision": "c0:56:e3", "Dahua": "3c:ef:8c", "Xiongmai": "00:12:41", "Uniview": "48:ea:63",
	"TP-Link": "50:c7:bf", "D-Link": "1c:7e:e5", "Huawei": "00:e0:fc", "NETGEAR": "a0:40:a0",
	"Tenda": "c8:3a:35", "Zyxel": "00:a0:c5", "Shelly": "c4:5b:be", "HP": "3c:d9:2b",
	"Brother": "00:80:77", "Western Digital": "00:90:a9", "Honeywell": "00:d0:2d", "Moxa": "00:90:e8",
	"Teltonika": "00:1e:42", "DASAN Networks": "00:d0:cb",
}

func ouiOf(p *Profile) string {
	if o, ok := ouis[p.Vendor]; ok {
		return o
	}
	return "02:00:00"
}

// hostKey derives an Ed25519 SSH host key from the fleet's seed and its
// owner (a device address, or a profile whose units share one), so that the
// same seed gives the same keys and the truth can name them.
func hostKey(seed int64, owner string) (ssh.Signer, error) {
	signer, err := ssh.NewSignerFromKey(hostKeyPrivate(seed, owner))
	if err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	return signer, nil
}

// hostKeyPrivate is the private key behind hostKey.
func hostKeyPrivate(seed int64, owner string) ed25519.PrivateKey {
	h := sha256.Sum256(fmt.Appendf(nil, "iotwatch simulated ssh host key\x00%d\x00%s", seed, owner))
	return ed25519.NewKeyFromSeed(h[:])
}

// ProfilePorts returns the sorted TCP and UDP ports the built-in profiles
// serve on under the port map (high: HighPorts): the ports a scan of any
// fleet of them needs. The demo scans these, and `jobs submit scan --ports
// demo` names the same list, so a sharded scan of a fleet gives the demo's
// report.
func ProfilePorts(high bool) (tcp, udp []uint16, err error) {
	profiles, err := BuiltinProfiles()
	if err != nil {
		return nil, nil, err
	}
	seen := map[uint16]bool{}
	seenU := map[uint16]bool{}
	for i := range profiles {
		for j := range profiles[i].Services {
			sp := &profiles[i].Services[j]
			p := servicePort(sp, high)
			if udpProtocols[sp.Protocol] {
				if !seenU[p] {
					seenU[p] = true
					udp = append(udp, p)
				}
			} else if !seen[p] {
				seen[p] = true
				tcp = append(tcp, p)
			}
		}
	}
	slices.Sort(tcp)
	slices.Sort(udp)
	return tcp, udp, nil
}

// HighPortMap reports whether a fleet started with Options.HighPorts set
// to force uses the high-port map: when forced, or without permission to
// bind ports below 1024.
func HighPortMap(force bool) bool { return force || !canBindPrivileged() }

// PortList is ProfilePorts as a port list for --ports ("21,22,…,161/udp,…").
func PortList(high bool) (string, error) {
	tcp, udp, err := ProfilePorts(high)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range tcp {
		fmt.Fprintf(&b, "%d,", p)
	}
	for _, p := range udp {
		fmt.Fprintf(&b, "%d/udp,", p)
	}
	return strings.TrimSuffix(b.String(), ","), nil
}
