package stats

import (
	"slices"
	"testing"

	"iotwatch/internal/model"
)

func TestIdentify(t *testing.T) {
	fp := func(vendor, product, typ string, conf float64) *model.Fingerprint {
		return &model.Fingerprint{Vendor: vendor, Product: product, DeviceType: typ, Confidence: conf}
	}
	sw := func(vendor, product, typ, cpe string) *model.Fingerprint {
		return &model.Fingerprint{Vendor: vendor, Product: product, DeviceType: typ, CPE: cpe, Confidence: 0.95}
	}
	const openssh = "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"
	svc := func(proto string, f *model.Fingerprint) model.Service {
		return model.Service{Protocol: proto, Fingerprint: f}
	}
	tests := []struct {
		name string
		svcs []model.Service
		want Identity
	}{
		{"device type beats server software",
			[]model.Service{svc("http", fp("lighttpd", "lighttpd", "", 0.95)), svc("rtsp", fp("Dahua", "IP camera", "ip-camera", 0.6))},
			Identity{"Dahua", "IP camera", "ip-camera"}},
		{"generic type does not count",
			[]model.Service{svc("ssh", fp("Dropbear SSH Project", "Dropbear SSH", "embedded", 0.95)), svc("http", fp("OpenWrt", "uhttpd", "router", 0.85))},
			Identity{"OpenWrt", "uhttpd", "router"}},
		{"device protocol breaks the tie",
			[]model.Service{svc("http", fp("Teltonika", "RUT955", "industrial-gateway", 0.8)), svc("modbus", fp("Teltonika", "RUT955 Modbus", "industrial-gateway", 0.8))},
			Identity{"Teltonika", "RUT955 Modbus", "industrial-gateway"}},
		{"type from another fingerprint",
			[]model.Service{svc("ssdp", fp("Huawei", "HG532e", "", 0.6)), svc("http", fp("", "", "router", 0.5))},
			Identity{"Huawei", "HG532e", "router"}},
		{"server software names no device",
			[]model.Service{svc("ssh", sw("OpenBSD", "OpenSSH", "", openssh)), svc("ftp", sw("vsftpd Project", "vsftpd", "", "cpe:2.3:a:vsftpd_project:vsftpd:3.0.3:*:*:*:*:*:*:*"))},
			Identity{}},
		{"the device named beside server software",
			[]model.Service{svc("http", &model.Fingerprint{Vendor: "lighttpd", Product: "lighttpd", CPE: "cpe:2.3:a:lighttpd:lighttpd:1.4.59:*:*:*:*:*:*:*",
				Confidence: 0.95, Device: fp("Western Digital", "My Cloud EX2 Ultra", "nas", 0.92)})},
			Identity{"Western Digital", "My Cloud EX2 Ultra", "nas"}},
		// An SNMP agent answers only a community it knows, an MQTT broker
		// names its version only to a client it accepted: their fingerprints
		// exist only for weak devices and must not identify anything.
		{"credentialed answers do not identify",
			[]model.Service{svc("snmp", fp("Zyxel", "USG FLEX 100W", "firewall", 0.8)), svc("mqtt", fp("Acme", "Broker", "thermostat", 0.9)),
				svc("http", fp("Zyxel", "USG FLEX 100W", "", 0.92))},
			Identity{"Zyxel", "USG FLEX 100W", ""}},
		// Equal ranks: the lower port decides, whatever order the services
		// were stored in (sharded scans store them in different orders).
		{"a tie is decided by port, not by storage order",
			[]model.Service{{Protocol: "xmeye", Port: 34567, Fingerprint: fp("Xiongmai", "NBD8008R-F", "dvr", 0.9)},
				{Protocol: "rtsp", Port: 554, Fingerprint: fp("Xiongmai", "IPC", "ip-camera", 0.9)}},
			Identity{"Xiongmai", "IPC", "ip-camera"}},
		{"nothing known", nil, Identity{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Identify(tc.svcs); got != tc.want {
				t.Errorf("Identify = %+v, want %+v", got, tc.want)
			}
			rev := slices.Clone(tc.svcs)
			slices.Reverse(rev)
			if got := Identify(rev); got != tc.want {
				t.Errorf("Identify(services in reverse) = %+v, want %+v", got, tc.want)
			}
		})
	}
}
