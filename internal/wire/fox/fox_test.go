package fox

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

func TestHello(t *testing.T) {
	f, err := ReadHello(bufio.NewReader(bytes.NewReader(Answer("fox.version", "s", "1.0.1", "hostName", "s", "jace", "app.version", "s", "4.10.1.36", "brandId", "s", "vykon"))))
	if err != nil || f["app.version"] != "4.10.1.36" || f["hostName"] != "jace" || f["brandId"] != "vykon" {
		t.Fatalf("%v %v", f, err)
	}
	if _, err := ReadHello(bufio.NewReader(bytes.NewReader([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")))); !errors.Is(err, ErrNotFox) {
		t.Errorf("http: %v", err)
	}
	if f, err := ReadHello(bufio.NewReader(bytes.NewReader(Hello()))); err != nil || f["fox.version"] != "1.0" {
		t.Errorf("own hello: %v %v", f, err)
	}
}

func FuzzReadHello(f *testing.F) {
	f.Add(Answer("app.name", "s", "Station", "app.version", "s", "3.8.38"))
	f.Add(Hello())
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := ReadHello(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && len(fs) > maxLines {
			t.Fatalf("%d fields", len(fs))
		}
	})
}
