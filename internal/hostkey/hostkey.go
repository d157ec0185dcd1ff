// Package hostkey reads the keys a service presents to every client — SSH
// host keys (and, where the scan records them, TLS server keys) — from the
// scan's stored records, so that devices sharing one key, or serving a key
// found in a firmware image, can be recognised ("Mining your Ps and Qs",
// Heninger et al., 2012).
package hostkey

import (
	"encoding/json"

	"iotwatch/internal/model"
)

// Key is one key a service presents.
type Key struct {
	// Kind is "ssh-host-key".
	Kind string `json:"kind"`
	// Type is the key's algorithm (ssh-ed25519, ssh-rsa, ...).
	Type string `json:"type,omitempty"`
	// Fingerprint is the SHA-256 fingerprint in the form ssh-keygen -l
	// prints ("SHA256:…").
	Fingerprint string `json:"fingerprint"`
}

// KindSSH names SSH host keys.
const KindSSH = "ssh-host-key"

// sshRecord is the part of the SSH probe's record (internal/probe/ssh)
// that names the host key.
type sshRecord struct {
	HostKeyType   string `json:"host_key_type"`
	HostKeySHA256 string `json:"host_key_sha256"`
}

// Of returns the key s presents, if its record names one. Data may be the
// probe's own record or, read back from the store, its JSON.
func Of(s model.Service) (Key, bool) {
	if s.Protocol != model.ProtoSSH || s.Data == nil {
		return Key{}, false
	}
	var raw []byte
	switch d := s.Data.(type) {
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return Key{}, false
		}
		raw = b
	}
	var r sshRecord
	if json.Unmarshal(raw, &r) != nil || r.HostKeySHA256 == "" {
		return Key{}, false
	}
	return Key{Kind: KindSSH, Type: r.HostKeyType, Fingerprint: r.HostKeySHA256}, true
}
