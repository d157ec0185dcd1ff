// Package rtsp is the RTSP/1.0 message codec (RFC 2326) shared by the
// prober, the login module and the simulator: responses (status line,
// headers, a capped body) for the clients, requests for the simulated
// cameras. What a status means is the callers' business.
package rtsp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"

	"iotwatch/internal/netx"
	"iotwatch/internal/wire"
)

// Response is a parsed RTSP response.
type Response struct {
	Code   int
	Reason string
	Header textproto.MIMEHeader
	Body   []byte // at most the maxBody given to ReadResponse
}

// ReadResponse reads one response: the status line, the headers and, when
// maxBody > 0, up to maxBody bytes of a Content-Length body (a body cut short
// is kept as read: the head is what matters). A status line that is not RTSP
// is a netx.ErrProtocol. It never panics on arbitrary bytes.
func ReadResponse(br *bufio.Reader, maxBody int) (*Response, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("rtsp read: %w", err)
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "RTSP/") {
		return nil, fmt.Errorf("rtsp status line %q: %w", wire.Excerpt(line, 60), netx.ErrProtocol)
	}
	codeText, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil || code < 100 || code > 999 {
		return nil, fmt.Errorf("rtsp status %q: %w", wire.Excerpt(codeText, 20), netx.ErrProtocol)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil && len(h) == 0 && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("rtsp headers: %w: %w", netx.ErrProtocol, err)
	}
	r := &Response{Code: code, Reason: reason, Header: h}
	if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil && n > 0 && maxBody > 0 {
		r.Body = make([]byte, min(n, maxBody))
		k, _ := io.ReadFull(br, r.Body)
		r.Body = r.Body[:k]
	}
	return r, nil
}

// Request is a parsed RTSP request.
type Request struct {
	Method, URI, Proto string
	Header             map[string]string // lower-case keys
}

// ErrBadRequest marks a request that is not RTSP (a server answers 400).
var ErrBadRequest = fmt.Errorf("malformed request: %w", netx.ErrProtocol)

// Limits of one request.
const (
	MaxLine    = 1024
	MaxHeaders = 64
	MaxBody    = 64 << 10
)

// ReadRequest reads one request (request line, headers, a body it skips),
// tolerating blank lines between requests.
func ReadRequest(r *bufio.Reader) (*Request, error) {
	var line string
	var err error
	for line == "" {
		if line, err = readLine(r); err != nil {
			return nil, err
		}
	}
	parts := strings.Fields(line)
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "RTSP/") {
		return nil, fmt.Errorf("%w: request line %q", ErrBadRequest, wire.Excerpt(line, 60))
	}
	req := &Request{Method: parts[0], URI: parts[1], Proto: parts[2], Header: map[string]string{}}
	for n := 0; ; n++ {
		h, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if h == "" {
			break
		}
		if n >= MaxHeaders {
			return nil, fmt.Errorf("%w: over %d headers", ErrBadRequest, MaxHeaders)
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("%w: header %q", ErrBadRequest, wire.Excerpt(h, 60))
		}
		req.Header[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if cl := req.Header["content-length"]; cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > MaxBody {
			return nil, fmt.Errorf("%w: content-length %q", ErrBadRequest, wire.Excerpt(cl, 20))
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// readLine reads one line of at most MaxLine bytes; a longer one is a bad request.
func readLine(r *bufio.Reader) (string, error) {
	l, err := wire.ReadLine(r, MaxLine)
	if errors.Is(err, wire.ErrLineTooLong) {
		return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return l, err
}
