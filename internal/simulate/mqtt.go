package simulate

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// mqttBrokers holds one mochi-mqtt broker per emulated product version
// (so that $SYS/broker/version matches the profile), shared by all devices
// with that version. Connections are handed to the broker directly; the
// auth hook checks the credential of the device the client dialled.
type mqttBrokers struct {
	log *slog.Logger
	mu  sync.Mutex // guards byVer
	byV map[string]*mqtt.Server
}

func newMQTTBrokers(log *slog.Logger) (*mqttBrokers, error) {
	return &mqttBrokers{log: log, byV: map[string]*mqtt.Server{}}, nil
}

const mqttListenerID = "simulate"

func (m *mqttBrokers) broker(version string) (*mqtt.Server, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.byV[version]; ok {
		return b, nil
	}
	b := mqtt.New(&mqtt.Options{
		Logger:                 slog.New(slog.DiscardHandler),
		InlineClient:           false,
		SysTopicResendInterval: 0,
	})
	if version != "" {
		b.Info.Version = version
	}
	if err := b.AddHook(new(deviceAuthHook), nil); err != nil {
		return nil, fmt.Errorf("mqtt hook: %w", err)
	}
	if err := b.AddListener(&idleListener{done: make(chan struct{})}); err != nil {
		return nil, fmt.Errorf("mqtt listener: %w", err)
	}
	if err := b.Serve(); err != nil {
		return nil, fmt.Errorf("mqtt serve: %w", err)
	}
	m.byV[version] = b
	return b, nil
}

func (m *mqttBrokers) serve(c net.Conn, s *deviceService) {
	b, err := m.broker(s.banner())
	if err != nil {
		m.log.Error("simulate: mqtt broker", "err", err)
		return
	}
	_ = b.EstablishConnection(mqttListenerID, &deviceConn{Conn: c, svc: s, f: nil})
}

func (m *mqttBrokers) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.byV {
		b.Close()
	}
	m.byV = map[string]*mqtt.Server{}
}

// deviceAuthHook authenticates a client against the device it dialled.
type deviceAuthHook struct{ mqtt.HookBase }

func (h *deviceAuthHook) ID() string { return "simulate-device-auth" }

func (h *deviceAuthHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (h *deviceAuthHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	dc, ok := cl.Net.Conn.(*deviceConn)
	if !ok {
		return false
	}
	return dc.svc.accepts(string(pk.Connect.Username), string(pk.Connect.Password))
}

func (h *deviceAuthHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// idleListener satisfies mochi's listener interface; connections arrive
// through EstablishConnection instead.
type idleListener struct {
	done chan struct{}
	once sync.Once
}

func (l *idleListener) Init(*slog.Logger) error     { return nil }
func (l *idleListener) Serve(listeners.EstablishFn) { <-l.done }
func (l *idleListener) ID() string                  { return mqttListenerID }
func (l *idleListener) Address() string             { return "simulate" }
func (l *idleListener) Protocol() string            { return "tcp" }
func (l *idleListener) Close(listeners.CloseFn)     { l.once.Do(func() { close(l.done) }) }
