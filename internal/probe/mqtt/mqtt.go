// Package mqtt probes MQTT brokers: a CONNECT without credentials (MQTT
// 3.1.1) and the CONNACK return code, and when the broker lets us in, the
// broker version from $SYS/broker/version. Packets are encoded and decoded
// with github.com/eclipse/paho.mqtt.golang/packets; only the framing that
// bounds a reply's size is ours.
package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Record is the MQTT handshake data.
type Record struct {
	ConnackCode   byte   `json:"connack_code"`
	ConnackText   string `json:"connack_text"`
	Anonymous     bool   `json:"anonymous"` // CONNECT without credentials accepted
	BrokerVersion string `json:"broker_version,omitempty"`
	TLS           bool   `json:"tls,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"mqtt.broker_version": r.BrokerVersion}
}

// Prober is the MQTT prober; TLS selects MQTT over TLS (8883).
type Prober struct {
	TLS bool
	// Wait bounds how long to wait for $SYS messages after subscribing (0: 1 s).
	Wait time.Duration
}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (p Prober) Name() string {
	if p.TLS {
		return model.ProtoMQTTS
	}
	return model.ProtoMQTT
}

// Probe implements probe.Prober.
func (p Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	c := net.Conn(&probe.LimitConn{Conn: conn, N: env.Limit()})
	if p.TLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // inspection only
		if err := tc.HandshakeContext(ctx); err != nil {
			return probe.Fail(p.Name(), fmt.Errorf("mqtt tls: %w", err))
		}
		c = tc
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.CleanSession, cp.Keepalive = true, 30
	cp.ClientIdentifier = fmt.Sprintf("iotwatch-%d", time.Now().UnixNano()%1e9)
	if err := cp.Write(c); err != nil {
		return probe.Fail(p.Name(), fmt.Errorf("mqtt connect: %w", err))
	}
	pk, err := ReadPacket(c, env.Limit())
	if err != nil {
		return probe.Fail(p.Name(), fmt.Errorf("mqtt connack: %w", err))
	}
	ca, ok := pk.(*packets.ConnackPacket)
	if !ok {
		return probe.Fail(p.Name(), fmt.Errorf("mqtt: got %T, want CONNACK: %w", pk, probe.ErrProtocol))
	}
	rec := &Record{ConnackCode: ca.ReturnCode, ConnackText: packets.ConnackReturnCodes[ca.ReturnCode], TLS: p.TLS}
	res := probe.Result{Protocol: p.Name(), Status: model.StatusSuccess, Banner: rec.ConnackText, Data: rec}
	if ca.ReturnCode != packets.Accepted {
		return res
	}
	rec.Anonymous = true
	sp := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sp.MessageID = 1
	sp.Topics, sp.Qoss = []string{"$SYS/broker/version"}, []byte{0}
	if err := sp.Write(c); err != nil {
		return res
	}
	wait := p.Wait
	if wait == 0 {
		wait = time.Second
	}
	if d := time.Now().Add(wait); d.Before(deadline) {
		_ = conn.SetReadDeadline(d)
	}
	for i := 0; i < 16; i++ {
		pk, err := ReadPacket(c, env.Limit())
		if err != nil {
			break
		}
		if pub, ok := pk.(*packets.PublishPacket); ok && pub.TopicName == "$SYS/broker/version" {
			rec.BrokerVersion = probe.Printable(pub.Payload, 128)
			res.Banner = rec.BrokerVersion
			break
		}
	}
	_ = packets.NewControlPacket(packets.Disconnect).Write(c)
	return res
}

// ReadPacket reads one MQTT control packet, refusing any whose remaining
// length exceeds limit before allocating for it.
func ReadPacket(r io.Reader, limit int) (packets.ControlPacket, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, err
	}
	n, length, mult := 1, 0, 1
	for {
		if n == 5 {
			return nil, fmt.Errorf("mqtt: bad remaining length: %w", probe.ErrProtocol)
		}
		if _, err := io.ReadFull(r, hdr[n:n+1]); err != nil {
			return nil, err
		}
		length += int(hdr[n]&0x7f) * mult
		mult *= 128
		n++
		if hdr[n-1]&0x80 == 0 {
			break
		}
	}
	if length > limit {
		return nil, fmt.Errorf("mqtt: packet of %d bytes: %w", length, probe.ErrTooLong)
	}
	buf := make([]byte, n+length)
	copy(buf, hdr[:n])
	if _, err := io.ReadFull(r, buf[n:]); err != nil {
		return nil, err
	}
	pk, err := packets.ReadPacket(bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w: %w", probe.ErrProtocol, err)
	}
	return pk, nil
}
