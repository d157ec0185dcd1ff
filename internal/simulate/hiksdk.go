package simulate

import (
	"net"

	"iotwatch/internal/wire/hiksdk"
)

// hikRefusal is the status word of the simulated refusal: the value nmap's
// "Hikvision IPCam control port" match expects.
const hikRefusal = 0x1e

// serveHikSDK answers Hikvision's SDK port (8000) as a device that is not
// logged in: whatever arrives (the 32-byte identification request, nmap's
// probes) is refused with the 16-byte reply, twice at most, then the
// connection is closed. No log-in is emulated: iotwatch does not attempt
// one on this port.
func serveHikSDK(c net.Conn, _ *deviceService) {
	buf := make([]byte, 512)
	for range 2 {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(hiksdk.Refusal(hikRefusal)); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
