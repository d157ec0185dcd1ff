package simulate

import (
	"strings"

	"iotwatch/internal/wire/mdns"
)

// answerMDNS answers unicast mDNS/DNS-SD queries as the device's responder
// would (legacy unicast: id and question echoed): the meta-query lists the
// service types of the profile's announcements, a type's PTR its instances
// with SRV, TXT and A as additional records, SRV, TXT and A questions their
// record. A question about anything else gets no reply, as a responder
// stays silent about names it does not own. The codec is the prober's.
func answerMDNS(s *deviceService, req []byte) []byte {
	b, err := mdns.Answer(req, mdnsZone(s))
	if err != nil {
		return nil
	}
	return b
}

// mdnsZone is what the device announces, placeholders filled in.
func mdnsZone(s *deviceService) mdns.Zone {
	r := strings.NewReplacer("{serial}", s.dev.serial, "{FW}", s.dev.prof.Firmware, "{host}", s.dev.hostname)
	z := mdns.Zone{Host: s.dev.hostname, Addr: s.dev.addr}
	for _, a := range s.sp.Announce {
		txt := make([]string, len(a.TXT))
		for i, t := range a.TXT {
			txt[i] = r.Replace(t)
		}
		z.Services = append(z.Services, mdns.Service{Instance: r.Replace(a.Instance), Type: a.Type, Port: a.Port, TXT: txt})
	}
	return z
}
