// Package hostkey reads the keys a service presents to every client — SSH
// host keys and the public keys of TLS certificates — from the
// scan's stored records, so that devices sharing one key, or serving a key
// found in a firmware image, can be recognised ("Mining your Ps and Qs",
// Heninger et al., 2012).
package hostkey

import (
	"encoding/json"
	"fmt"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/tlsinfo"
)

// Key is one key a service presents.
type Key struct {
	// Kind is KindSSH or KindTLS.
	Kind string `json:"kind"`
	// Type is the key's algorithm: ssh-ed25519, ssh-rsa, ... for SSH;
	// rsa-2048, ecdsa-256, ... for TLS.
	Type string `json:"type,omitempty"`
	// Fingerprint is, for SSH, the SHA-256 fingerprint in the form
	// ssh-keygen -l prints ("SHA256:…"); for TLS, the hex SHA-256 of the
	// SubjectPublicKeyInfo (the fingerprint firmware/secrets gives a
	// private key found in an image).
	Fingerprint string `json:"fingerprint"`
	// Cert is the hex SHA-256 of the certificate carrying a TLS key.
	Cert string `json:"cert,omitempty"`
}

// Kinds of keys.
const (
	KindSSH = "ssh-host-key"
	KindTLS = "tls-public-key"
)

// SSH is what an SSH service's record (internal/probe/ssh) says about
// its cryptography.
type SSH struct {
	HostKeyType   string   `json:"host_key_type"`
	HostKeySHA256 string   `json:"host_key_sha256"`
	Kex           []string `json:"kex_algorithms"`
	HostKeyAlgs   []string `json:"host_key_algorithms"`
	Ciphers       []string `json:"ciphers"`
	MACs          []string `json:"macs"`
	Flagged       []Flag   `json:"flagged_algorithms"`
}

// Flag is one offered algorithm below practice (probe/ssh.Flag).
type Flag struct {
	List  string `json:"list"`
	Name  string `json:"name"`
	Level string `json:"level"` // fail or warn
	Why   string `json:"why"`
}

// Broken returns the names of the fail-level flags.
func (s *SSH) Broken() []string {
	var out []string
	for _, f := range s.Flagged {
		if f.Level == "fail" {
			out = append(out, f.Name)
		}
	}
	return out
}

// Details is what a service's record says about its cryptography: the
// key it presents, and its TLS session or SSH algorithms.
type Details struct {
	Key Key
	TLS *tlsinfo.Info
	SSH *SSH
}

// tlsRecord is the part of a TLS service's record (HTTPS, MQTTS) that
// holds its tlsinfo.Info. Records of old MQTTS scans have a boolean there.
type tlsRecord struct {
	TLS json.RawMessage `json:"tls"`
}

// Read returns what s's record says about its cryptography, if it says
// anything. Data may be the probe's own record or, read back from the
// store, its JSON.
func Read(s model.Service) (Details, bool) {
	switch {
	case s.Protocol == model.ProtoSSH:
		var r SSH
		if !decode(s.Data, &r) || (r.HostKeySHA256 == "" && len(r.Kex) == 0) {
			return Details{}, false
		}
		d := Details{SSH: &r}
		if r.HostKeySHA256 != "" {
			d.Key = Key{Kind: KindSSH, Type: r.HostKeyType, Fingerprint: r.HostKeySHA256}
		}
		return d, true
	case protocol.Lookup(s.Protocol).TLS:
		var r tlsRecord
		var info tlsinfo.Info
		if !decode(s.Data, &r) || len(r.TLS) == 0 || r.TLS[0] != '{' || json.Unmarshal(r.TLS, &info) != nil || info.Version == "" && len(info.Chain) == 0 {
			return Details{}, false
		}
		d := Details{TLS: &info}
		if leaf, ok := info.Leaf(); ok && leaf.SPKISHA256 != "" {
			typ := leaf.KeyType
			if leaf.KeyBits > 0 {
				typ = fmt.Sprintf("%s-%d", leaf.KeyType, leaf.KeyBits)
			}
			d.Key = Key{Kind: KindTLS, Type: typ, Fingerprint: leaf.SPKISHA256, Cert: leaf.SHA256}
		}
		return d, true
	}
	return Details{}, false
}

// Of returns the key s presents, if its record names one.
func Of(s model.Service) (Key, bool) {
	d, ok := Read(s)
	return d.Key, ok && d.Key.Fingerprint != ""
}

// decode reads a service's data into v.
func decode(data any, v any) bool {
	if data == nil {
		return false
	}
	var raw []byte
	switch d := data.(type) {
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return false
		}
		raw = b
	}
	return json.Unmarshal(raw, v) == nil
}
