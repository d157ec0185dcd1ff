//go:build !linux

package store

import (
	"errors"
	"os"
)

const writebackSupported = false

func startWrite(*os.File) error { return errors.ErrUnsupported }
