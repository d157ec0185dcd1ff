package vuln

import (
	"bytes"
	"io"
)

func replace(b []byte, old, new string) []byte {
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
