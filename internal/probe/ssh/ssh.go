// Package ssh probes SSH servers: the version exchange, the server's
// KEXINIT algorithm lists with legacy ones flagged as ssh-audit flags them,
// and the host key (type and SHA-256 fingerprint)
// through a golang.org/x/crypto/ssh handshake with legacy algorithms enabled
// for old devices. It never authenticates.
package ssh

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	xssh "golang.org/x/crypto/ssh"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Record is the SSH handshake data.
type Record struct {
	Banner        string   `json:"banner"`        // full identification line, e.g. SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3
	ProtoVersion  string   `json:"proto_version"` // "2.0", "1.99"
	Software      string   `json:"software"`      // text after "SSH-2.0-" (what Recog matches)
	PreBanner     string   `json:"pre_banner,omitempty"`
	KexAlgorithms []string `json:"kex_algorithms,omitempty"`
	HostKeyAlgs   []string `json:"host_key_algorithms,omitempty"`
	Ciphers       []string `json:"ciphers,omitempty"`
	MACs          []string `json:"macs,omitempty"`
	Compression   []string `json:"compression,omitempty"`
	HostKeyType   string   `json:"host_key_type,omitempty"`
	HostKeySHA256 string   `json:"host_key_sha256,omitempty"`
	// Flagged are the offered algorithms below current practice (legacy.go).
	Flagged []Flag `json:"flagged_algorithms,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"ssh.banner": r.Banner, "ssh.software": r.Software}
}

// Prober is the SSH prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoSSH }

var errStop = errors.New("host key seen")

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	rec := &Record{}
	tap := &tapConn{Conn: &probe.LimitConn{Conn: conn, N: env.Limit()}}
	var mu sync.Mutex
	cfg := &xssh.ClientConfig{
		User: "iotwatch",
		HostKeyCallback: func(_ string, _ net.Addr, key xssh.PublicKey) error {
			mu.Lock()
			rec.HostKeyType = key.Type()
			rec.HostKeySHA256 = xssh.FingerprintSHA256(key)
			mu.Unlock()
			return errStop
		},
		Timeout: env.Timeout,
	}
	all := xssh.SupportedAlgorithms()
	legacy := xssh.InsecureAlgorithms()
	cfg.KeyExchanges = append(all.KeyExchanges, legacy.KeyExchanges...)
	cfg.Ciphers = append(all.Ciphers, legacy.Ciphers...)
	cfg.MACs = append(all.MACs, legacy.MACs...)
	cfg.HostKeyAlgorithms = append(all.HostKeys, legacy.HostKeys...)
	_, _, _, err := xssh.NewClientConn(tap, conn.RemoteAddr().String(), cfg)
	if perr := Parse(tap.buf.Bytes(), rec); perr != nil {
		if err == nil || errors.Is(err, errStop) {
			err = perr
		}
		return probe.Result{Protocol: model.ProtoSSH, Status: probe.Classify(err), Err: err, Banner: rec.Banner, Data: rec}
	}
	res := probe.Result{Protocol: model.ProtoSSH, Status: model.StatusSuccess, Banner: rec.Banner, Data: rec}
	if rec.HostKeyType == "" && err != nil && !errors.Is(err, errStop) {
		// Version and algorithms are known; the key exchange failed (no common
		// algorithm, or the server hung up). Still a success for identification.
		res.Err = nil
	}
	return res
}

// tapConn records the first bytes the server sends (identification and KEXINIT).
type tapConn struct {
	net.Conn
	buf bytes.Buffer
}

const tapMax = 64 * 1024

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.buf.Len() < tapMax {
		c.buf.Write(p[:min(n, tapMax-c.buf.Len())])
	}
	return n, err
}

// Parse reads the server's identification lines and, when present, its
// cleartext KEXINIT packet from the start of the byte stream into rec.
func Parse(b []byte, rec *Record) error {
	var pre []string
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(b) > 0 && bytes.HasPrefix(b, []byte("SSH-")) {
				rec.Banner = strings.TrimRight(string(b), "\r")
				break
			}
			return fmt.Errorf("ssh: no identification line: %w", probe.ErrProtocol)
		}
		line := strings.TrimRight(string(b[:i]), "\r")
		b = b[i+1:]
		if strings.HasPrefix(line, "SSH-") {
			rec.Banner = line
			break
		}
		if len(pre) > 20 {
			return fmt.Errorf("ssh: too many lines before identification: %w", probe.ErrProtocol)
		}
		pre = append(pre, line)
	}
	rec.PreBanner = probe.Printable([]byte(strings.Join(pre, "\n")), 1024)
	rec.Banner = probe.Printable([]byte(rec.Banner), 255)
	rest := strings.TrimPrefix(rec.Banner, "SSH-")
	ver, sw, ok := strings.Cut(rest, "-")
	if !ok {
		return fmt.Errorf("ssh: malformed identification %q: %w", rec.Banner, probe.ErrProtocol)
	}
	rec.ProtoVersion, rec.Software = ver, sw
	parseKexInit(b, rec)
	rec.Flagged = Flags(rec)
	return nil
}

// parseKexInit decodes an unencrypted binary packet holding SSH_MSG_KEXINIT.
func parseKexInit(b []byte, rec *Record) {
	if len(b) < 6 {
		return
	}
	plen := binary.BigEndian.Uint32(b)
	pad := int(b[4])
	if plen < 1+16+1 || int(plen) > len(b)-4 || pad >= int(plen) {
		return
	}
	payload := b[5 : 4+int(plen)-pad]
	if len(payload) < 17 || payload[0] != 20 { // SSH_MSG_KEXINIT
		return
	}
	r := bytes.NewReader(payload[17:])
	var lists [10][]string
	for i := range lists {
		var n uint32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil || int(n) > r.Len() {
			return
		}
		s := make([]byte, n)
		if _, err := io.ReadFull(r, s); err != nil {
			return
		}
		if n > 0 {
			lists[i] = strings.Split(probe.Printable(s, int(n)), ",")
		}
	}
	rec.KexAlgorithms, rec.HostKeyAlgs = lists[0], lists[1]
	rec.Ciphers, rec.MACs, rec.Compression = lists[2], lists[4], lists[6]
}
