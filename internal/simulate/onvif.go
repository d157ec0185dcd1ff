package simulate

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/wire/onvif"
)

// onvifWindow is how far a WS-Security token's Created may be from the
// device clock (replay protection, as cameras enforce it).
const onvifWindow = 60 * time.Second

// onvifSkew is the device's clock error: every third unit runs its clock
// eight hours off (local time set as UTC, as installers often leave it), so
// that a login must stamp tokens with the device's clock to pass.
func onvifSkew(d *device) time.Duration {
	if d.addr.As4()[3]%3 == 0 {
		return -8 * time.Hour
	}
	return 0
}

// serviceOf returns the device's service of proto, or nil.
func (d *device) serviceOf(proto string) *deviceService {
	for _, s := range d.services {
		if s.sp.Protocol == proto {
			return s
		}
	}
	return nil
}

// answerONVIF answers a WS-Discovery Probe for video transmitters (or for
// any type) with one ProbeMatch: the device's types, its scopes (hardware
// and name from the profile) and the device service on its web port.
func answerONVIF(s *deviceService, req []byte) []byte {
	m, err := onvif.Parse(req)
	if err != nil || m.Action != onvif.ActionProbe || m.ProbeTypes == nil {
		return nil
	}
	for _, t := range m.ProbeTypes {
		if !onvif.HasType([]string{t}, "NetworkVideoTransmitter") && !onvif.HasType([]string{t}, "Device") {
			return nil // a probe for other types: no match, no answer
		}
	}
	d := s.dev
	web := d.serviceOf(model.ProtoHTTP)
	if web == nil {
		return nil
	}
	p := d.prof
	return onvif.ProbeMatchesReply("uuid:"+d.uuid, m.MessageID, onvif.ProbeMatch{
		Address: "urn:uuid:" + d.uuid,
		Types:   []string{"dn:NetworkVideoTransmitter", "tds:Device"},
		Scopes: []string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
			"onvif://www.onvif.org/Profile/T", "onvif://www.onvif.org/hardware/" + url.PathEscape(p.Model),
			"onvif://www.onvif.org/name/" + url.PathEscape(p.Vendor), "onvif://www.onvif.org/location/"},
		XAddrs:          []string{"http://" + d.addr.String() + ":" + strconv.Itoa(int(web.port)) + onvif.DevicePath},
		MetadataVersion: "1",
	})
}

// serveONVIF answers the device service on the web port: the clock to
// anyone, the device information to a WS-Security token that proves the
// onvif service's credential within onvifWindow of the device clock, and
// ter:NotAuthorized to everything else. Other operations get a fault.
func serveONVIF(w http.ResponseWriter, r *http.Request, s *deviceService) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	m, err := onvif.Read(http.MaxBytesReader(w, r.Body, onvif.MaxMessage))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	now := time.Now().Add(onvifSkew(s.dev))
	switch m.Operation {
	case string(onvif.GetSystemDateAndTime):
		_, _ = w.Write(onvif.SystemDateAndTimeReply(onvif.SystemDateAndTime{DateTimeType: "NTP", TZ: "CST-8", UTC: now}))
	case string(onvif.GetDeviceInformation):
		tok := m.Token
		ok := tok != nil && tok.Username == s.cred.Username && tok.Verify(s.cred.Password)
		if ok {
			c, err := tok.CreatedTime()
			ok = err == nil && c.Sub(now).Abs() <= onvifWindow
		}
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(onvif.NotAuthorizedReply())
			return
		}
		p := s.dev.prof
		manufacturer, fw := s.banner(), s.sp.Version
		if manufacturer == "" {
			manufacturer = p.Vendor
		}
		if fw == "" {
			fw = p.Firmware
		}
		_, _ = w.Write(onvif.DeviceInformationReply(onvif.DeviceInformation{Manufacturer: manufacturer, Model: p.Model,
			FirmwareVersion: fw, SerialNumber: s.dev.serial, HardwareID: "1.00"}))
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(onvif.NotAuthorizedReply())
	}
}
