package simulate

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// parseMSearch parses an SSDP M-SEARCH request and returns its ST header.
func parseMSearch(req []byte) (st string, ok bool) {
	if len(req) > 8192 {
		return "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(req))
	sc.Buffer(make([]byte, 0, 1024), 8192)
	if !sc.Scan() || !strings.EqualFold(strings.TrimSpace(sc.Text()), "M-SEARCH * HTTP/1.1") {
		return "", false
	}
	man := false
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "ST":
			st = strings.TrimSpace(v)
		case "MAN":
			man = strings.Trim(strings.TrimSpace(v), `"`) == "ssdp:discover"
		}
	}
	return st, man && st != ""
}

// answerSSDP answers an M-SEARCH for ssdp:all, upnp:rootdevice, the
// device's type or UUID with the location of its device description.
func answerSSDP(s *deviceService, req []byte) []byte {
	st, ok := parseMSearch(req)
	if !ok {
		return nil
	}
	d := s.dev
	uuid := "uuid:" + d.uuid
	devType := "urn:schemas-upnp-org:device:Basic:1"
	if d.prof.DeviceType == "router" || d.prof.DeviceType == "firewall" {
		devType = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
	}
	usn := uuid + "::" + st
	switch st {
	case "ssdp:all", "upnp:rootdevice":
		st, usn = "upnp:rootdevice", uuid+"::upnp:rootdevice"
	case devType:
	case uuid:
		usn = uuid
	default:
		return nil
	}
	httpPort := uint16(0)
	for _, o := range d.services {
		if o.sp.Protocol == "http" {
			httpPort = o.port
		}
	}
	return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: \r\nEXT:\r\n"+
		"LOCATION: http://%s:%d/rootDesc.xml\r\nSERVER: %s\r\nST: %s\r\nUSN: %s\r\nBOOTID.UPNP.ORG: 1\r\n\r\n",
		d.addr, httpPort, s.banner(), st, usn)
}
