//go:build !amd64

package flow

import "unsafe"

// prefetch does nothing where no prefetch instruction is wired (see
// prefetch_amd64.go).
func prefetch(unsafe.Pointer) {}
