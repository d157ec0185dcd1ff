package simulate

import (
	"net"

	"iotwatch/internal/wire/dnp3"
)

// dnp3Address is the simulated outstations' link address.
const dnp3Address = 10

// serveDNP3 answers REQUEST_LINK_STATUS addressed to the outstation with
// LINK_STATUS and ignores frames to other addresses, as an outstation on a
// shared link does; any frame that is not a header-only link status
// request ends the connection (the simulator serves no application layer).
func serveDNP3(c net.Conn, _ *deviceService) {
	for {
		f, err := dnp3.ReadFrame(c)
		if err != nil || !f.Primary() || f.Function() != 9 {
			return
		}
		if f.Dest != dnp3Address {
			continue
		}
		if _, err := c.Write(dnp3.LinkStatus(f.Src, dnp3Address)); err != nil {
			return
		}
	}
}
