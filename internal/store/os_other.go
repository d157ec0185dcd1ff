//go:build !unix

package store

import "context"

// lockFile is a no-op where flock is not available: migrations then rely on
// one process opening a new database first.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }

// processAlive cannot tell here; the heartbeat decides alone.
func processAlive(int) bool { return true }
