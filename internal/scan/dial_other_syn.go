//go:build !linux

package scan

import (
	"errors"
	"net/netip"
	"sync/atomic"
)

// ErrNoRaw reports that SYN mode is unavailable.
var ErrNoRaw = errors.New("SYN mode is only implemented on Linux")

type synProber struct{ Batch int }

type synReply struct {
	addr netip.Addr
	port uint16
	open bool
}

func newSYNProber(_, _ netip.Addr) (*synProber, error)  { return nil, ErrNoRaw }
func (*synProber) handles(netip.Addr) bool              { return false }
func (*synProber) send(netip.Addr, uint16) error        { return ErrNoRaw }
func (*synProber) receive(*atomic.Bool, func(synReply)) {}
func (*synProber) Close()                               {}

const synBatch = 64

func (*synProber) flush() error { return nil }
