// Package xmeye probes XMeye/NetSurveillance (port 34567), the DVR protocol
// of Xiongmai boards whose default credentials fed Mirai variants. The probe
// logs in as the empty user name with the empty password's Sofia hash, which
// names no account (so it locks none out) and which every such device
// refuses; the refusal's framing and return code identify the protocol, and
// whatever fields the device adds (DeviceType, ChannelNum) are kept. Reading
// the serial number and firmware needs a login: the audit's login module
// does that (SystemInfo) when a credential works. The codec is
// internal/wire/xmeye.
package xmeye

import (
	"context"
	"fmt"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/xmeye"
)

// Record is the XMeye handshake data.
type Record struct {
	// Ret is the login reply's return code and RetText its meaning.
	Ret     int    `json:"ret"`
	RetText string `json:"ret_text"`
	// DeviceType, Channels, ExtraChannels and AliveInterval are the reply's
	// fields when the device sends them.
	DeviceType    string `json:"device_type,omitempty"`
	Channels      string `json:"channels,omitempty"`
	ExtraChannels string `json:"extra_channels,omitempty"`
	AliveInterval string `json:"alive_interval,omitempty"`
	// Version is the header's protocol version byte.
	Version byte `json:"version"`
	// Reply is the reply's JSON body as received (evidence).
	Reply string `json:"reply"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"xmeye.ret": fmt.Sprint(r.Ret), "xmeye.device_type": r.DeviceType,
		"xmeye.channels": r.Channels, "xmeye.reply": r.Reply}
}

// Prober is the XMeye prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoXMeye }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	if _, err := conn.Write(xmeye.LoginRequest(0, "", "")); err != nil {
		return probe.Fail(model.ProtoXMeye, fmt.Errorf("xmeye send: %w", err))
	}
	m, err := xmeye.Read(&probe.LimitConn{Conn: conn, N: env.Limit()})
	if err != nil {
		return probe.Fail(model.ProtoXMeye, fmt.Errorf("xmeye read: %w", err))
	}
	if m.ID != xmeye.LoginRsp {
		return probe.Fail(model.ProtoXMeye, fmt.Errorf("xmeye: message %d to a login: %w", m.ID, probe.ErrProtocol))
	}
	r, err := xmeye.ParseReply(m.Payload)
	if err != nil {
		return probe.Fail(model.ProtoXMeye, err)
	}
	rec := &Record{Ret: r.Ret, RetText: xmeye.RetText(r.Ret), DeviceType: r.String("DeviceType"),
		Channels: r.String("ChannelNum"), ExtraChannels: r.String("ExtraChannel"),
		AliveInterval: r.String("AliveInterval"), Version: m.Version, Reply: probe.Printable(m.Payload, 1024)}
	banner := fmt.Sprintf("XMeye login %d (%s)", r.Ret, rec.RetText)
	if rec.DeviceType != "" {
		banner += " " + rec.DeviceType
	}
	return probe.Result{Protocol: model.ProtoXMeye, Status: model.StatusSuccess, Banner: banner, Data: rec}
}
