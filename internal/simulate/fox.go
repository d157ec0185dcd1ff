package simulate

import (
	"bufio"
	"net"

	"iotwatch/internal/wire/fox"
)

// serveFox answers the Niagara Fox hello as a JACE station: station and
// host names, the Niagara version (the service's), VM and OS. The codec is
// the prober's.
func serveFox(c net.Conn, s *deviceService) {
	if _, err := fox.ReadHello(bufio.NewReader(c)); err != nil {
		return
	}
	_, _ = c.Write(fox.Answer("fox.version", "s", "1.0.1", "id", "i", "1", "hostName", "s", s.dev.hostname,
		"hostAddress", "s", s.dev.addr.String(), "app.name", "s", "Station", "app.version", "s", s.sp.Version,
		"vm.name", "s", "Java HotSpot(TM) Embedded Client VM", "os.name", "s", "QNX", "station.name", "s", "JACE_"+s.dev.serial,
		"brandId", "s", "Tridium"))
}
