package simulate

import (
	"io"
	"net"

	"iotwatch/internal/wire/dvrip"
)

// serveDVRIP answers Dahua DVRIP (port 37777) identification: the 0xa1
// query gets an 0xb1 header; any other command ends the connection, as a
// recorder drops a client that has not logged in.
func serveDVRIP(c net.Conn, _ *deviceService) {
	for {
		var h [dvrip.HeaderLen]byte
		if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != dvrip.CmdQuery {
			return
		}
		if _, err := c.Write(dvrip.Answer(nil)); err != nil {
			return
		}
	}
}
