package simulate

import dnswire "iotwatch/internal/wire/dns"

// answerDNS answers the CHAOS TXT version.bind query with the service's
// banner ("dnsmasq-2.78") and refuses everything else, as a router's
// forwarder with no upstream would. The codec is the prober's.
func answerDNS(s *deviceService, req []byte) []byte {
	b, err := dnswire.Answer(req, map[string]string{dnswire.VersionBind: s.banner()})
	if err != nil {
		return nil
	}
	return b
}
