//go:build !linux

package ingest

import "os"

// mapInput maps nothing here: the file is read.
func mapInput(*os.File, int64) (*mappedInput, error) { return nil, errNotMapped }

func (m *mappedInput) release(int) {}

func unmap([]byte) error { return nil }
