package scan

import (
	"bytes"
	"context"
	"net"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// detectWait is how long a silent server gets to speak first.
const detectWait = 800 * time.Millisecond

// detect guesses the protocol on a port with no known protocol: servers that
// speak first (SSH, FTP, telnet, ...) by their first bytes, otherwise HTTP.
// The peeked bytes are replayed to the prober through the returned conn.
func detect(ctx context.Context, conn net.Conn, timeout time.Duration) (string, net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(min(detectWait, timeout)))
	buf := make([]byte, 512)
	n, _ := conn.Read(buf)
	_ = conn.SetReadDeadline(time.Time{})
	b := buf[:n]
	pc := &probe.PrefixConn{Conn: conn, Prefix: b}
	return Classify(b), pc
}

// Classify names the protocol whose server greeting starts b ("" data: HTTP).
func Classify(b []byte) string {
	switch {
	case len(b) == 0:
		return model.ProtoHTTP
	case bytes.HasPrefix(b, []byte("SSH-")):
		return model.ProtoSSH
	case b[0] == 0xff: // IAC
		return model.ProtoTelnet
	case len(b) >= 4 && (bytes.HasPrefix(b, []byte("220 ")) || bytes.HasPrefix(b, []byte("220-"))) && !bytes.Contains(b, []byte("SMTP")):
		return model.ProtoFTP
	case bytes.HasPrefix(b, []byte("RTSP/")):
		return model.ProtoRTSP
	case bytes.HasPrefix(b, []byte("HTTP/")):
		return model.ProtoHTTP
	}
	return model.ProtoTelnet // a text banner without negotiation: treat as a telnet-like console
}
