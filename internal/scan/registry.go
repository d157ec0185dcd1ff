package scan

import (
	"fmt"

	"iotwatch/internal/probe"
	"iotwatch/internal/probe/bacnet"
	"iotwatch/internal/probe/coap"
	"iotwatch/internal/probe/cwmp"
	"iotwatch/internal/probe/dnp3"
	"iotwatch/internal/probe/dns"
	"iotwatch/internal/probe/dvrip"
	"iotwatch/internal/probe/enip"
	"iotwatch/internal/probe/fox"
	"iotwatch/internal/probe/ftp"
	"iotwatch/internal/probe/hiksdk"
	"iotwatch/internal/probe/http"
	"iotwatch/internal/probe/mdns"
	"iotwatch/internal/probe/modbus"
	"iotwatch/internal/probe/mqtt"
	"iotwatch/internal/probe/onvif"
	"iotwatch/internal/probe/rtsp"
	"iotwatch/internal/probe/s7"
	"iotwatch/internal/probe/snmp"
	"iotwatch/internal/probe/ssdp"
	"iotwatch/internal/probe/ssh"
	"iotwatch/internal/probe/telnet"
	"iotwatch/internal/probe/xmeye"
)

// probers returns the one explicit list of protocol handshakes, keyed by
// protocol name: one for every row of the protocol table (checked by
// TestProbersCoverTable). A duplicate name is a programming error.
func probers(cfg *Config) map[string]probe.Prober {
	list := []probe.Prober{
		telnet.Prober{},
		ssh.Prober{},
		http.Prober{},
		http.Prober{TLS: true},
		ftp.Prober{},
		mqtt.Prober{},
		mqtt.Prober{TLS: true},
		rtsp.Prober{},
		snmp.Prober{Communities: cfg.Communities, ShowSecrets: cfg.ShowSecrets},
		ssdp.Prober{},
		coap.Prober{},
		modbus.Prober{},
		dns.Prober{},
		cwmp.Prober{},
		xmeye.Prober{},
		dvrip.Prober{},
		enip.Prober{},
		bacnet.Prober{},
		s7.Prober{},
		dnp3.Prober{},
		fox.Prober{},
		onvif.Prober{},
		hiksdk.Prober{},
		mdns.Prober{},
	}
	m := make(map[string]probe.Prober, len(list))
	for _, p := range list {
		if _, dup := m[p.Name()]; dup {
			panic(fmt.Sprintf("scan: duplicate prober %q", p.Name()))
		}
		m[p.Name()] = p
	}
	return m
}
