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

// sshRecord is the part of the SSH probe's record (internal/probe/ssh)
// that names the host key.
type sshRecord struct {
	HostKeyType   string `json:"host_key_type"`
	HostKeySHA256 string `json:"host_key_sha256"`
}

// tlsRecord is the part of a TLS service's record (internal/tlsinfo.Info
// under "tls", in the HTTPS and MQTTS records) that names the leaf
// certificate and its key.
type tlsRecord struct {
	TLS json.RawMessage `json:"tls"`
}

type tlsChain struct {
	Chain []struct {
		SHA256     string `json:"sha256"`
		SPKISHA256 string `json:"spki_sha256"`
		KeyType    string `json:"key_type"`
		KeyBits    int    `json:"key_bits"`
	} `json:"chain"`
}

// Of returns the key s presents, if its record names one. Data may be the
// probe's own record or, read back from the store, its JSON.
func Of(s model.Service) (Key, bool) {
	switch {
	case s.Protocol == model.ProtoSSH:
		var r sshRecord
		if !decode(s.Data, &r) || r.HostKeySHA256 == "" {
			return Key{}, false
		}
		return Key{Kind: KindSSH, Type: r.HostKeyType, Fingerprint: r.HostKeySHA256}, true
	case protocol.Lookup(s.Protocol).TLS:
		var r tlsRecord
		var c tlsChain
		if !decode(s.Data, &r) || len(r.TLS) == 0 || r.TLS[0] != '{' || json.Unmarshal(r.TLS, &c) != nil ||
			len(c.Chain) == 0 || c.Chain[0].SPKISHA256 == "" {
			return Key{}, false
		}
		leaf := c.Chain[0]
		typ := leaf.KeyType
		if leaf.KeyBits > 0 {
			typ = fmt.Sprintf("%s-%d", leaf.KeyType, leaf.KeyBits)
		}
		return Key{Kind: KindTLS, Type: typ, Fingerprint: leaf.SPKISHA256, Cert: leaf.SHA256}, true
	}
	return Key{}, false
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
