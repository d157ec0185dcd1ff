package simulate

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
)

//go:embed profiles/*.yaml
var builtinProfiles embed.FS

// Profile is one kind of device the simulator can emulate, loaded from YAML.
type Profile struct {
	ID         string           `yaml:"id"`
	Vendor     string           `yaml:"vendor"`
	Model      string           `yaml:"model"`
	Firmware   string           `yaml:"firmware"`
	DeviceType string           `yaml:"device_type"`
	CPE        string           `yaml:"cpe"`
	Weight     int              `yaml:"weight"`
	Services   []ServiceProfile `yaml:"services"`
	// Updates are firmware releases its units install over the simulated
	// days (see days.go).
	Updates []Update `yaml:"updates"`

	source string   // file:line of the profile, for messages
	base   *Profile // the declared profile of a unit running an update
}

// ServiceProfile is one service a profile offers.
type ServiceProfile struct {
	Protocol string `yaml:"protocol"`
	// Port overrides the protocol's default port (and is kept in the high-port map when >= 1024).
	Port    uint16 `yaml:"port"`
	Product string `yaml:"product"`
	Version string `yaml:"version"`
	CPE     string `yaml:"cpe"`
	// Banner is what the service announces: the telnet shell banner, the SSH
	// version line, the FTP greeting, the HTTP/RTSP Server header, the SNMP
	// sysDescr, the SSDP SERVER header, the MQTT $SYS/broker/version, the
	// DNS server's version.bind, the ONVIF Manufacturer (Version is then
	// the ONVIF FirmwareVersion, the profile's firmware when empty).
	// {serial} and {FW} are replaced per device.
	Banner      string      `yaml:"banner"`
	Auth        string      `yaml:"auth"`  // http: basic, digest, form; rtsp: basic, digest
	Realm       string      `yaml:"realm"` // http/rtsp auth realm
	Default     *Credential `yaml:"default"`
	SysObjectID string      `yaml:"sys_object_id"` // snmp
	// HardCodedHostKey (ssh): every unit of the profile serves the same
	// host key, baked into its firmware image, as many real devices do;
	// otherwise each unit has its own.
	HardCodedHostKey bool `yaml:"hard_coded_host_key"`
	// HardCodedCert (https): every unit serves the same certificate and
	// key, baked into its firmware image; otherwise each unit has its own.
	HardCodedCert bool `yaml:"hard_coded_cert"`
	// Announce (mdns) lists the DNS-SD service instances the device
	// announces; {serial}, {FW} and {host} are replaced per device in
	// instance names and TXT strings.
	Announce []Announcement `yaml:"announce"`
}

// Announcement is one DNS-SD service instance.
type Announcement struct {
	Type     string   `yaml:"type"`     // "_ipp._tcp"
	Instance string   `yaml:"instance"` // "HP LaserJet Pro M404dn ({serial})"
	Port     uint16   `yaml:"port"`
	TXT      []string `yaml:"txt"`
}

// Credential is a username and password.
type Credential struct {
	Username string `yaml:"username" json:"username"`
	Password string `yaml:"password" json:"password"`
}

// loginProtocols are the protocols that take a credential (the protocol
// table's rows with Login).
var loginProtocols = protocol.Set(func(s protocol.Spec) bool { return s.Login })

// knownProtocols are the protocols the simulator can serve.
var knownProtocols = map[string]bool{
	model.ProtoTelnet: true, model.ProtoSSH: true, model.ProtoHTTP: true, model.ProtoHTTPS: true, model.ProtoFTP: true,
	model.ProtoMQTT: true, model.ProtoRTSP: true, model.ProtoSNMP: true, model.ProtoSSDP: true,
	model.ProtoCoAP: true, model.ProtoModbus: true, model.ProtoDNS: true, model.ProtoCWMP: true, model.ProtoXMeye: true, model.ProtoDVRIP: true, model.ProtoENIP: true, model.ProtoBACnet: true, model.ProtoS7: true, model.ProtoDNP3: true, model.ProtoFox: true,
	model.ProtoONVIF:  true,
	model.ProtoHikSDK: true, model.ProtoMDNS: true,
}

var cpeRE = regexp.MustCompile(`^cpe:2\.3:[aho](:[^:]+){10}$`)

// ProfileError is a problem in one profile file, with the line it was found on.
type ProfileError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *ProfileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)`)

// ParseProfiles parses one YAML profile file. name is used in errors, which
// name the file and line.
func ParseProfiles(name string, data []byte) ([]Profile, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, &ProfileError{File: name, Msg: "empty profile file"}
	}
	doc := root.Content[0]
	var file struct {
		Profiles []yaml.Node `yaml:"profiles"`
	}
	if err := doc.Decode(&file); err != nil {
		return nil, yamlError(name, err)
	}
	if len(file.Profiles) == 0 {
		return nil, &ProfileError{File: name, Line: doc.Line, Msg: "no profiles (want a top-level \"profiles:\" list)"}
	}
	out := make([]Profile, 0, len(file.Profiles))
	for i := range file.Profiles {
		n := &file.Profiles[i]
		var p Profile
		if err := decodeStrict(n, &p); err != nil {
			return nil, yamlError(name, err)
		}
		p.source = fmt.Sprintf("%s:%d", name, n.Line)
		if err := p.validate(); err != nil {
			line := n.Line
			var le lineErr
			if errors.As(err, &le) {
				line = le.line(n)
			}
			return nil, &ProfileError{File: name, Line: line, Msg: fmt.Sprintf("profile %q: %v", p.ID, err)}
		}
		out = append(out, p)
	}
	return out, nil
}

// decodeStrict decodes n into v, rejecting unknown fields.
func decodeStrict(n *yaml.Node, v any) error {
	if err := checkFields(n); err != nil {
		return err
	}
	return n.Decode(v)
}

// checkFields reports the first mapping key in n that is not a field of the profile schema.
func checkFields(n *yaml.Node) error {
	profileKeys, serviceKeys, credKeys := yamlKeys(Profile{}), yamlKeys(ServiceProfile{}), yamlKeys(Credential{})
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("yaml: line %d: a profile must be a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !profileKeys[k.Value] {
			return fmt.Errorf("yaml: line %d: unknown field %q in profile", k.Line, k.Value)
		}
		if k.Value != "services" || v.Kind != yaml.SequenceNode {
			continue
		}
		for _, s := range v.Content {
			if s.Kind != yaml.MappingNode {
				return fmt.Errorf("yaml: line %d: a service must be a mapping", s.Line)
			}
			for j := 0; j+1 < len(s.Content); j += 2 {
				sk, sv := s.Content[j], s.Content[j+1]
				if !serviceKeys[sk.Value] {
					return fmt.Errorf("yaml: line %d: unknown field %q in service", sk.Line, sk.Value)
				}
				if sk.Value == "default" && sv.Kind == yaml.MappingNode {
					for m := 0; m+1 < len(sv.Content); m += 2 {
						if !credKeys[sv.Content[m].Value] {
							return fmt.Errorf("yaml: line %d: unknown field %q in default credential", sv.Content[m].Line, sv.Content[m].Value)
						}
					}
				}
			}
		}
	}
	return nil
}

// yamlError turns a yaml.v3 error into a ProfileError with a line number.
func yamlError(name string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return &ProfileError{File: name, Line: line, Msg: strings.TrimSpace(m[2])}
	}
	return &ProfileError{File: name, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// lineErr is a validation error that knows which service it concerns.
type lineErr struct {
	service int // index into services, -1 for the profile itself
	err     error
}

func (e lineErr) Error() string { return e.err.Error() }

func (e lineErr) line(n *yaml.Node) int {
	if e.service < 0 {
		return n.Line
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "services" && e.service < len(n.Content[i+1].Content) {
			return n.Content[i+1].Content[e.service].Line
		}
	}
	return n.Line
}

func (p *Profile) validate() error {
	switch {
	case p.ID == "":
		return lineErr{-1, errors.New("missing id")}
	case p.Vendor == "" || p.Model == "" || p.Firmware == "" || p.DeviceType == "":
		return lineErr{-1, errors.New("vendor, model, firmware and device_type are required")}
	case !cpeRE.MatchString(p.CPE):
		return lineErr{-1, fmt.Errorf("cpe %q is not a CPE 2.3 formatted string", p.CPE)}
	case p.Weight < 0:
		return lineErr{-1, errors.New("weight must not be negative")}
	case len(p.Services) == 0:
		return lineErr{-1, errors.New("no services")}
	}
	seen := map[string]bool{}
	for i, s := range p.Services {
		if !knownProtocols[s.Protocol] {
			return lineErr{i, fmt.Errorf("service %d: unknown protocol %q", i, s.Protocol)}
		}
		if seen[s.Protocol] {
			return lineErr{i, fmt.Errorf("service %d: protocol %q listed twice", i, s.Protocol)}
		}
		seen[s.Protocol] = true
		if s.CPE != "" && !cpeRE.MatchString(s.CPE) {
			return lineErr{i, fmt.Errorf("service %s: cpe %q is not a CPE 2.3 formatted string", s.Protocol, s.CPE)}
		}
		switch s.Protocol {
		case model.ProtoHTTP, model.ProtoHTTPS:
			if s.Auth != "basic" && s.Auth != "digest" && s.Auth != "form" {
				return lineErr{i, fmt.Errorf("service %s: auth %q: want basic, digest or form", s.Protocol, s.Auth)}
			}
		case model.ProtoMDNS:
			if len(s.Announce) == 0 {
				return lineErr{i, errors.New("service mdns: announces nothing (want announce: [{type, instance, port, txt}])")}
			}
			for _, a := range s.Announce {
				if !strings.HasPrefix(a.Type, "_") || a.Instance == "" {
					return lineErr{i, fmt.Errorf("service mdns: announcement %+v: want a type like _ipp._tcp and an instance", a)}
				}
			}
		case model.ProtoRTSP, model.ProtoCWMP:
			if s.Auth != "basic" && s.Auth != "digest" {
				return lineErr{i, fmt.Errorf("service %s: auth %q: want basic or digest", s.Protocol, s.Auth)}
			}
		}
		if s.HardCodedCert && s.Protocol != model.ProtoHTTPS {
			return lineErr{i, fmt.Errorf("service %s: hard_coded_cert is for https", s.Protocol)}
		}
		if loginProtocols[s.Protocol] && s.Protocol != model.ProtoSNMP && s.Default == nil {
			return lineErr{i, fmt.Errorf("service %s: login service needs a default credential", s.Protocol)}
		}
	}
	if seen[model.ProtoSSDP] && !seen[model.ProtoHTTP] {
		return lineErr{-1, errors.New("ssdp needs an http service for the device description")}
	}
	for i, u := range p.Updates {
		prev := 0
		if i > 0 {
			prev = p.Updates[i-1].Day
		}
		if err := u.validate(prev); err != nil {
			return lineErr{-1, err}
		}
	}
	return nil
}

// LoadProfiles parses every *.yaml file in fsys (sorted by name).
func LoadProfiles(fsys fs.FS) ([]Profile, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	sort.Strings(names)
	var all []Profile
	ids := map[string]string{}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read profile %s: %w", n, err)
		}
		ps, err := ParseProfiles(n, data)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if prev, ok := ids[p.ID]; ok {
				return nil, &ProfileError{File: n, Msg: fmt.Sprintf("profile %q already defined at %s", p.ID, prev)}
			}
			ids[p.ID] = p.source
		}
		all = append(all, ps...)
	}
	if len(all) == 0 {
		return nil, errors.New("no profiles found")
	}
	return all, nil
}

// BuiltinProfiles returns the embedded device profiles.
func BuiltinProfiles() ([]Profile, error) {
	sub, err := fs.Sub(builtinProfiles, "profiles")
	if err != nil {
		return nil, err
	}
	return LoadProfiles(sub)
}

// service returns the profile's service for proto, or nil.
func (p *Profile) service(proto string) *ServiceProfile {
	for i := range p.Services {
		if p.Services[i].Protocol == proto {
			return &p.Services[i]
		}
	}
	return nil
}

// yamlKeys returns the YAML field names of a struct's exported fields, the
// keys a profile may use.
func yamlKeys(v any) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name != "-" {
			out[name] = true
		}
	}
	return out
}
