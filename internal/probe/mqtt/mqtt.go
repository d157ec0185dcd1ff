// Package mqtt probes MQTT brokers: a CONNECT without credentials (MQTT
// 3.1.1) and the CONNACK return code, and when the broker lets us in, the
// broker version from $SYS/broker/version. The codec is wire/mqtt's (paho
// packets with a size-capped framing), the login module's too.
package mqtt

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/tlsinfo"
	wiremqtt "iotwatch/internal/wire/mqtt"
)

// Record is the MQTT handshake data.
type Record struct {
	ConnackCode   byte   `json:"connack_code"`
	ConnackText   string `json:"connack_text"`
	Anonymous     bool   `json:"anonymous"` // CONNECT without credentials accepted
	BrokerVersion string `json:"broker_version,omitempty"`
	// TLS describes the session and certificate chain (MQTT over TLS).
	TLS *tlsinfo.Info `json:"tls,omitempty"`
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
	var info *tlsinfo.Info
	if p.TLS {
		tc, ti, err := tlsinfo.Handshake(ctx, c, tlsinfo.Config(env.Host))
		if err != nil {
			return probe.Fail(p.Name(), fmt.Errorf("mqtt: %w", err))
		}
		c, info = tc, ti
	}
	clientID := fmt.Sprintf("iotwatch-%d", time.Now().UnixNano()%1e9)
	if _, err := c.Write(wiremqtt.Connect(wiremqtt.Level311, clientID, "", "", false)); err != nil {
		return probe.Fail(p.Name(), fmt.Errorf("mqtt connect: %w", err))
	}
	code, err := wiremqtt.ReadConnack(c)
	if err != nil {
		return probe.Fail(p.Name(), fmt.Errorf("mqtt connack: %w", err))
	}
	rec := &Record{ConnackCode: code, ConnackText: wiremqtt.ConnackText(code), TLS: info}
	res := probe.Result{Protocol: p.Name(), Status: model.StatusSuccess, Banner: rec.ConnackText, Data: rec}
	if code != packets.Accepted {
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
		pk, err := wiremqtt.ReadPacket(c, env.Limit())
		if err != nil {
			break
		}
		if pub, ok := pk.(*packets.PublishPacket); ok && pub.TopicName == "$SYS/broker/version" {
			rec.BrokerVersion = probe.Printable(pub.Payload, 128)
			res.Banner = rec.BrokerVersion
			break
		}
	}
	_, _ = c.Write(wiremqtt.Disconnect)
	return res
}
