package scan

import (
	"context"
	"net"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/protocol"
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

// Classify names the protocol whose server greeting (protocol table) starts
// b. A silent server is asked in HTTP; a text banner without a known
// greeting is treated as a telnet-like console.
func Classify(b []byte) string {
	if len(b) == 0 {
		return model.ProtoHTTP
	}
	if p := protocol.Greeted(b); p != "" {
		return p
	}
	return model.ProtoTelnet
}
