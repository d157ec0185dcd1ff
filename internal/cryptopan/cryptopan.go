// Package cryptopan pseudonymises IP addresses with Crypto-PAn, the keyed
// prefix-preserving scheme of Xu, Fan, Ammar and Moon ("Prefix-Preserving IP
// Address Anonymization", ICNP 2002) that CAIDA and others apply to traces:
// two addresses that share a k-bit prefix map to two pseudonyms that share a
// k-bit prefix, and nothing else about the originals can be learned without
// the key. Subnets stay comparable (two devices in one /24 stay in one
// pseudonymous /24) while hosts are hidden.
//
// The 32-byte key is the reference implementation's: the first 16 bytes are
// the AES-128 key of the pseudorandom function, the last 16 encrypted under
// it give the pad. IPv4 results match the reference distribution's sample
// trace; IPv6 addresses use the same construction over 128 bits.
//
// No Go module for Crypto-PAn downloads here (github.com/Yawning/cryptopan
// is refused by the module proxy), hence this small implementation on
// crypto/aes.
package cryptopan

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"net/netip"
)

// KeySize is the length of a Crypto-PAn key.
const KeySize = 32

// Anonymizer maps addresses to their pseudonyms under one key. It is safe
// for concurrent use.
type Anonymizer struct {
	block cipher.Block
	pad   [aes.BlockSize]byte
}

// New returns an Anonymizer for a 32-byte key.
func New(key []byte) (*Anonymizer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("cryptopan: key is %d bytes, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("cryptopan: %w", err)
	}
	a := &Anonymizer{block: b}
	b.Encrypt(a.pad[:], key[16:])
	return a, nil
}

// Addr returns the pseudonym of addr: an IPv4 address for an IPv4 (or
// IPv4-mapped) address, an IPv6 address for an IPv6 one; zones are dropped.
// The invalid address stays invalid.
func (a *Anonymizer) Addr(addr netip.Addr) netip.Addr {
	if !addr.IsValid() {
		return addr
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		v := addr.As4()
		a.anonymize(v[:])
		return netip.AddrFrom4(v)
	}
	v := addr.As16()
	a.anonymize(v[:])
	return netip.AddrFrom16(v)
}

// Prefix returns the pseudonymous network of p: the pseudonym of its network
// address, masked to the same length. Every address inside p maps inside it.
func (a *Anonymizer) Prefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	addr := p.Masked().Addr()
	bits := p.Bits()
	if addr.Is4In6() {
		addr, bits = addr.Unmap(), max(bits-96, 0)
	}
	out, err := a.Addr(addr).Prefix(bits)
	if err != nil {
		return p
	}
	return out
}

// anonymize replaces the address in b (4 or 16 bytes, most significant
// first) by its pseudonym. Bit i of the pseudonym is bit i of the address
// XOR the first bit of AES(key, the address's first i bits followed by the
// pad's remaining bits): a bit depends only on the bits before it, which is
// what preserves prefixes.
func (a *Anonymizer) anonymize(b []byte) {
	n := len(b) * 8
	var in, out [aes.BlockSize]byte
	otp := make([]byte, len(b))
	for pos := range n {
		in = a.pad
		// The first pos bits come from the address, the rest from the pad.
		full := pos / 8
		copy(in[:full], b[:full])
		if rem := pos % 8; rem > 0 {
			mask := byte(0xff) << (8 - rem)
			in[full] = b[full]&mask | a.pad[full]&^mask
		}
		a.block.Encrypt(out[:], in[:])
		otp[pos/8] |= (out[0] >> 7) << (7 - pos%8)
	}
	for i := range b {
		b[i] ^= otp[i]
	}
}
