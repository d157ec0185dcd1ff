package simulate

import (
	"encoding/binary"
	"net"
	"strconv"
	"strings"

	"iotwatch/internal/wire/enip"
)

// serveENIP answers EtherNet/IP ListIdentity with the profile's identity
// (product name from the banner, revision from the firmware "11.002", vendor
// 1 for Rockwell); any other encapsulation command ends the connection, as
// the device would refuse a client without a session.
func serveENIP(c net.Conn, s *deviceService) {
	for {
		b, err := enip.Read(c)
		if err != nil || enip.Command(b) != enip.CmdListIdentity {
			return
		}
		ctx := binary.LittleEndian.Uint64(b[12:])
		if _, err := c.Write(enip.Reply(ctx, enipIdentity(s), s.dev.addr.As4())); err != nil {
			return
		}
	}
}

func enipIdentity(s *deviceService) enip.Identity {
	p := s.dev.prof
	maj, mnr, _ := strings.Cut(p.Firmware, ".")
	ma, _ := strconv.Atoi(maj)
	mi, _ := strconv.Atoi(mnr)
	id := enip.Identity{ProtocolVersion: 1, DeviceType: 0x0c, ProductCode: 166, RevisionMajor: byte(ma), RevisionMinor: byte(mi),
		Status: 0x0030, State: 3, ProductName: s.banner()}
	if strings.HasPrefix(p.Vendor, "Rockwell") {
		id.VendorID = 1
	}
	for _, c := range s.dev.serial {
		id.Serial = id.Serial*31 + uint32(c)
	}
	return id
}
