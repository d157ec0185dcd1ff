// Package mqtt is the MQTT 3.1/3.1.1 codec shared by the prober and the login
// module: the CONNECT they send (anonymous or with credentials), reading one
// control packet with a size cap, and the CONNACK verdict. Packets are
// encoded and decoded by github.com/eclipse/paho.mqtt.golang/packets; only
// the framing that bounds a reply's size before allocating is ours. (The
// simulator's brokers are mochi-mqtt, a broker of its own.)
package mqtt

import (
	"bytes"
	"fmt"
	"io"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"iotwatch/internal/netx"
)

// Protocol levels.
const (
	Level31  = 3 // MQTT 3.1, protocol name "MQIsdp"
	Level311 = 4 // MQTT 3.1.1, "MQTT"
)

// KeepAlive is the keep-alive the CONNECT announces, in seconds.
const KeepAlive = 30

// Connect encodes a clean-session CONNECT at level (Level31 or Level311).
// withCreds adds the user name and, when pass is not empty, the password
// (an empty password is sent as none, as clients do); without it the
// CONNECT is anonymous.
func Connect(level byte, clientID, user, pass string, withCreds bool) []byte {
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", level
	if level == Level31 {
		cp.ProtocolName = "MQIsdp"
	}
	cp.CleanSession, cp.Keepalive, cp.ClientIdentifier = true, KeepAlive, clientID
	if withCreds {
		cp.UsernameFlag, cp.Username = true, user
		if pass != "" {
			cp.PasswordFlag, cp.Password = true, []byte(pass)
		}
	}
	var b bytes.Buffer
	_ = cp.Write(&b) // writing to a buffer does not fail
	return b.Bytes()
}

// Disconnect is the DISCONNECT packet.
var Disconnect = []byte{0xe0, 0x00}

// ReadPacket reads one control packet, refusing any whose remaining length
// exceeds limit before allocating for it. A malformed packet is a
// netx.ErrProtocol. It never panics on arbitrary bytes.
func ReadPacket(r io.Reader, limit int) (packets.ControlPacket, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return nil, err
	}
	n, length, mult := 1, 0, 1
	for {
		if n == 5 {
			return nil, fmt.Errorf("mqtt: bad remaining length: %w", netx.ErrProtocol)
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
		return nil, fmt.Errorf("mqtt: packet of %d bytes over %d: %w", length, limit, netx.ErrProtocol)
	}
	buf := make([]byte, n+length)
	copy(buf, hdr[:n])
	if _, err := io.ReadFull(r, buf[n:]); err != nil {
		return nil, err
	}
	pk, err := packets.ReadPacket(bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w: %w", netx.ErrProtocol, err)
	}
	return pk, nil
}

// ReadConnack reads the reply to a CONNECT and returns its return code
// (0 accepted, 1 unacceptable protocol version, 4 bad user name or password,
// 5 not authorised). Anything but a CONNACK is a netx.ErrProtocol.
func ReadConnack(r io.Reader) (byte, error) {
	pk, err := ReadPacket(r, 64)
	if err != nil {
		return 0, err
	}
	ca, ok := pk.(*packets.ConnackPacket)
	if !ok {
		return 0, fmt.Errorf("mqtt: got %T, want CONNACK: %w", pk, netx.ErrProtocol)
	}
	return ca.ReturnCode, nil
}

// ConnackText names a CONNACK return code.
func ConnackText(code byte) string {
	if s, ok := packets.ConnackReturnCodes[code]; ok {
		return s
	}
	return fmt.Sprintf("return code %d", code)
}
