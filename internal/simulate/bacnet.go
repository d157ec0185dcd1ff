package simulate

import (
	"strings"

	"iotwatch/internal/wire/bacnet"
)

// bacnetVendorIDs are ASHRAE vendor identifiers of the profiles' makers.
var bacnetVendorIDs = map[string]uint32{"Tridium": 5, "Siemens": 7, "Honeywell": 17}

// answerBACnet answers ReadProperty of the device object's identifying
// properties: vendor name and identifier, model name, firmware revision
// (the profile's), application software version (the service's version),
// object name (the host name); other properties get Error
// property/unknown-property. Every other request is dropped, as a device
// ignores what it does not serve. The codec is the prober's.
func answerBACnet(s *deviceService, req []byte) []byte {
	r, err := bacnet.ParseRequest(req)
	if err != nil {
		return nil
	}
	p := s.dev.prof
	inst := uint32(s.dev.addr.As4()[2])<<8 | uint32(s.dev.addr.As4()[3])
	text := func(v string) []byte { return bacnet.ACK(r.Invoke, inst, r.Property, v, 0, false) }
	switch r.Property {
	case bacnet.PropObjectIdentifier:
		return bacnet.ObjectIDACK(r.Invoke, inst)
	case bacnet.PropVendorName:
		return text(p.Vendor)
	case bacnet.PropVendorIdentifier:
		for name, id := range bacnetVendorIDs {
			if strings.HasPrefix(p.Vendor, name) {
				return bacnet.ACK(r.Invoke, inst, r.Property, "", id, true)
			}
		}
		return bacnet.ACK(r.Invoke, inst, r.Property, "", 0, true)
	case bacnet.PropModelName:
		return text(p.Model)
	case bacnet.PropFirmwareRevision:
		return text(p.Firmware)
	case bacnet.PropApplicationSoftwareVersion:
		return text(s.sp.Version)
	case bacnet.PropObjectName:
		return text(s.dev.hostname)
	}
	return bacnet.ErrorPDU(r.Invoke, 2, 32)
}
