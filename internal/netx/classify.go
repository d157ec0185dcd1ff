package netx

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"iotwatch/internal/model"
)

// ErrProtocol marks replies that are not the protocol expected. Probes,
// login modules and the wire codecs wrap it; probe.ErrProtocol and
// login.ErrProtocol are this error.
var ErrProtocol = errors.New("protocol error")

// Class is what kind of failure an I/O error is.
type Class int

// Classes of I/O errors.
const (
	ClassNone     Class = iota // no error
	ClassProtocol              // the peer spoke, but not the protocol (ErrProtocol)
	ClassTimeout               // a deadline passed
	ClassRefused               // nothing listens (ECONNREFUSED)
	ClassReset                 // the peer reset or aborted the connection (ECONNRESET, EPIPE, ECONNABORTED)
	ClassEOF                   // the peer closed the connection (io.EOF, io.ErrUnexpectedEOF)
	ClassClosed                // our side had already closed it (net.ErrClosed)
	ClassOther                 // anything else
)

var classNames = [...]string{"none", "protocol", "timeout", "refused", "reset", "eof", "closed", "other"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "other"
}

// ClassOf classifies err by what it wraps (errors.Is and errors.As, never
// its text). A protocol error wins over the I/O error it may wrap.
func ClassOf(err error) Class {
	var ne net.Error
	switch {
	case err == nil:
		return ClassNone
	case errors.Is(err, ErrProtocol):
		return ClassProtocol
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ClassReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassEOF
	case errors.Is(err, net.ErrClosed):
		return ClassClosed
	}
	return ClassOther
}

// Status maps err to the outcome class that scans and audits record.
func Status(err error) model.Status {
	switch ClassOf(err) {
	case ClassNone:
		return model.StatusSuccess
	case ClassProtocol:
		return model.StatusProtocolError
	case ClassTimeout:
		return model.StatusTimeout
	case ClassRefused:
		return model.StatusRefused
	case ClassReset, ClassEOF, ClassClosed:
		return model.StatusIOError
	}
	return model.StatusUnknownError
}
