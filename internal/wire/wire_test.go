package wire

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("USER root\r\nPASS x\n" + strings.Repeat("a", 11) + "\nlast"))
	for _, want := range []string{"USER root", "PASS x"} {
		if got, err := ReadLine(r, 10); got != want || err != nil {
			t.Errorf("ReadLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadLine(r, 10); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("11-byte line with a 10-byte limit: %v, want ErrLineTooLong", err)
	}
	r = bufio.NewReader(strings.NewReader("no newline"))
	if _, err := ReadLine(r, 100); !errors.Is(err, io.EOF) {
		t.Errorf("unterminated line: %v, want EOF", err)
	}
}

func TestExcerpt(t *testing.T) {
	if got, want := Excerpt("SSH-2.0\r\n\x00\xff tail", 9), "SSH-2.0.."; got != want {
		t.Errorf("Excerpt = %q, want %q", got, want)
	}
}
