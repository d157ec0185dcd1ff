package detect

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"net/netip"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var defaultRules []byte

// Duration is a time.Duration written as "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	if v <= 0 {
		return fmt.Errorf("line %d: duration must be positive", n.Line)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// Rules are the detectors' thresholds. Defaults are in rules.yaml.
type Rules struct {
	Scan struct {
		Ports           []uint16 `yaml:"ports"`
		Window          Duration `yaml:"window"`
		MinDestinations int      `yaml:"min_destinations"`

		HorizontalMinDestinations int      `yaml:"horizontal_min_destinations"`
		VerticalMinPorts          int      `yaml:"vertical_min_ports"`
		ProbeMaxPackets           uint64   `yaml:"probe_max_packets"`
		IgnorePorts               []uint16 `yaml:"ignore_ports"`
		SampledMin                int      `yaml:"sampled_min"`
		MiraiMinSYNs              int      `yaml:"mirai_min_syns"`
		DHTMinPeers               int      `yaml:"dht_min_peers"`
	} `yaml:"scan"`
	BruteForce struct {
		Ports           []uint16 `yaml:"ports"`
		Apps            []string `yaml:"apps"`
		Window          Duration `yaml:"window"`
		MinAttempts     int      `yaml:"min_attempts"`
		LongWindow      Duration `yaml:"long_window"`
		LongMinAttempts int      `yaml:"long_min_attempts"`
	} `yaml:"bruteforce"`
	Beacon struct {
		MinConnections int      `yaml:"min_connections"`
		MinPeriod      Duration `yaml:"min_period"`
		MaxPeriod      Duration `yaml:"max_period"`
		Threshold      float64  `yaml:"threshold"`
		MADScale       float64  `yaml:"mad_scale"`
		MaxAvgBytes    uint64   `yaml:"max_avg_bytes"`
		IgnorePorts    []uint16 `yaml:"ignore_ports"`
		AllowNetworks  []string `yaml:"allow_networks"`
		AllowDomains   []string `yaml:"allow_domains"`
		AllowOwners    []string `yaml:"allow_owners"`
		MaxPairs       int      `yaml:"max_pairs"`
		Carry          Duration `yaml:"carry"`
		Heartbeat      struct {
			MinPeriod   Duration `yaml:"min_period"`
			MaxSpread   float64  `yaml:"max_spread"`
			MaxSizeCV   float64  `yaml:"max_size_cv"`
			MaxAvgBytes uint64   `yaml:"max_avg_bytes"`
		} `yaml:"heartbeat"`
	} `yaml:"beacon"`
	DDoS struct {
		Window            Duration `yaml:"window"`
		MinPackets        uint64   `yaml:"min_packets"`
		MaxAvgPacketBytes uint64   `yaml:"max_avg_packet_bytes"`
		MinFlows          int      `yaml:"min_flows"`
	} `yaml:"ddos"`
	LongConnection struct {
		MinDuration Duration `yaml:"min_duration"`
		MaxGap      Duration `yaml:"max_gap"`
		AllowPorts  []uint16 `yaml:"allow_ports"`
	} `yaml:"long_connection"`
	KnownBad struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"known_bad"`
}

// DefaultRules returns the embedded defaults.
func DefaultRules() Rules {
	r, err := ParseRules(nil)
	if err != nil {
		panic("detect: embedded rules.yaml: " + err.Error())
	}
	return r
}

// ParseRules reads overrides from r (nil = none) on top of the defaults.
func ParseRules(r io.Reader) (Rules, error) {
	var rules Rules
	dec := yaml.NewDecoder(bytes.NewReader(defaultRules))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		return Rules{}, fmt.Errorf("default rules: %w", err)
	}
	if r != nil {
		dec := yaml.NewDecoder(r)
		dec.KnownFields(true)
		if err := dec.Decode(&rules); err != nil && err != io.EOF {
			return Rules{}, fmt.Errorf("rules: %w", err)
		}
	}
	return rules, rules.validate()
}

func (r Rules) validate() error {
	for _, n := range r.Beacon.AllowNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			return fmt.Errorf("rules: beacon.allow_networks: %w", err)
		}
	}
	switch {
	case r.Scan.MinDestinations < 1 || r.Scan.HorizontalMinDestinations < 2 || r.Scan.VerticalMinPorts < 2:
		return fmt.Errorf("rules: scan.min_destinations must be ≥ 1, horizontal_min_destinations and vertical_min_ports ≥ 2")
	case r.Scan.MiraiMinSYNs < 1 || r.Scan.DHTMinPeers < 2:
		return fmt.Errorf("rules: scan.mirai_min_syns must be ≥ 1, dht_min_peers ≥ 2")
	case r.Scan.SampledMin < 2:
		return fmt.Errorf("rules: scan.sampled_min must be ≥ 2")
	case r.BruteForce.MinAttempts < 1:
		return fmt.Errorf("rules: bruteforce.min_attempts must be ≥ 1")
	case r.Beacon.Heartbeat.MinPeriod < 0 || r.Beacon.Heartbeat.MaxSpread < 0 || r.Beacon.Heartbeat.MaxSizeCV < 0:
		return fmt.Errorf("rules: beacon.heartbeat values must be ≥ 0")
	case r.LongConnection.MaxGap < 0:
		return fmt.Errorf("rules: long_connection.max_gap must be ≥ 0")
	case r.Beacon.Carry < 0:
		return fmt.Errorf("rules: beacon.carry must be ≥ 0")
	case r.Beacon.MinConnections < 3:
		return fmt.Errorf("rules: beacon.min_connections must be ≥ 3")
	case r.Beacon.Threshold <= 0 || r.Beacon.Threshold > 1:
		return fmt.Errorf("rules: beacon.threshold must be in (0, 1]")
	case r.Beacon.MADScale <= 0 || r.Beacon.MADScale > 2:
		return fmt.Errorf("rules: beacon.mad_scale must be in (0, 2]")
	case r.Beacon.MinPeriod <= 0 || r.Beacon.MaxPeriod < r.Beacon.MinPeriod:
		return fmt.Errorf("rules: beacon.min_period must be positive and not above max_period")
	case r.DDoS.MinPackets < 1:
		return fmt.Errorf("rules: ddos.min_packets must be ≥ 1")
	case r.BruteForce.LongMinAttempts < r.BruteForce.MinAttempts || r.BruteForce.LongWindow < r.BruteForce.Window:
		return fmt.Errorf("rules: bruteforce long_window/long_min_attempts must not be below window/min_attempts")
	case r.Scan.Window <= 0 || r.BruteForce.Window <= 0 || r.DDoS.Window <= 0:
		return fmt.Errorf("rules: windows must be positive")
	}
	return nil
}
