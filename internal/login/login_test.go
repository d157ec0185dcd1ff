package login

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/model"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want model.Status
	}{
		{nil, model.StatusSuccess},
		{context.DeadlineExceeded, model.StatusTimeout},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), model.StatusTimeout},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, model.StatusRefused},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), model.StatusIOError},
		{fmt.Errorf("x: %w", ErrProtocol), model.StatusProtocolError},
		{errors.New("mystery"), model.StatusUnknownError},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestTargetDefaults(t *testing.T) {
	if got := (Target{}).AttemptTimeout(); got != DefaultTimeout {
		t.Errorf("zero timeout → %v, want %v", got, DefaultTimeout)
	}
	if got := (Target{Timeout: time.Second}).AttemptTimeout(); got != time.Second {
		t.Errorf("timeout %v", got)
	}
	if got := Truncate("  abcdef  ", 3); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
}
