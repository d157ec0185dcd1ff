//go:build !linux

package store

import (
	"errors"
	"os"
)

const writebackSupported = false

func startWrite(*os.File) error { return errors.ErrUnsupported }

func startWriteFD(int) error { return errors.ErrUnsupported }

func openFD(string) int { return -1 }
