package fingerprint

import "testing"

// TestIdentifyDeviceType checks that records naming a maker and model but
// no kind of device take the type from devicetypes.yaml, and that a device
// named beside server software is kept in Device.
func TestIdentifyDeviceType(t *testing.T) {
	e := newEngine(t, Options{NoRecog: true})
	tests := []struct {
		name         string
		proto        string
		fields       map[string]string
		product      string // of the fingerprint itself
		deviceType   string // of the fingerprint, or of its Device
		deviceVendor string // Device's vendor; "" when Device must be nil
	}{
		{"firewall title", "http", map[string]string{"http.title": "Zyxel USG FLEX 100W - Login"}, "USG FLEX 100W", "firewall", ""},
		{"gateway modbus", "modbus", map[string]string{"modbus.vendor_name": "Teltonika", "modbus.product_code": "RUT955"}, "RUT955", "industrial-gateway", ""},
		{"router upnp", "ssdp", map[string]string{"upnp.manufacturer": "DASAN Networks", "upnp.model_name": "H640GR", "ssdp.server": "Linux/2.6.30, UPnP/1.0, Portable SDK for UPnP devices/1.6.6"}, "H640GR", "router", ""},
		{"nas behind lighttpd", "http", map[string]string{"http.server": "lighttpd/1.4.59", "http.title": "Western Digital My Cloud EX2 Ultra - Login"}, "lighttpd", "nas", "Western Digital"},
		{"unknown model keeps no type", "http", map[string]string{"http.title": "Zyxel NAS326 - Login"}, "NAS326", "", ""},
		{"software alone", "http", map[string]string{"http.server": "lighttpd/1.4.59"}, "lighttpd", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := e.Identify(tt.proto, tt.fields)
			if fp == nil {
				t.Fatal("no fingerprint")
			}
			if fp.Product != tt.product {
				t.Errorf("product = %q (%s), want %q", fp.Product, fp.Rule, tt.product)
			}
			typ := fp.DeviceType
			if tt.deviceVendor != "" {
				if fp.Device == nil {
					t.Fatalf("no Device beside %s", fp.Rule)
				}
				if fp.Device.Vendor != tt.deviceVendor {
					t.Errorf("device vendor = %q, want %q", fp.Device.Vendor, tt.deviceVendor)
				}
				typ = fp.Device.DeviceType
			} else if fp.Device != nil {
				t.Errorf("unexpected Device %+v", fp.Device)
			}
			if typ != tt.deviceType && !(tt.deviceType == "" && typ == "embedded") {
				t.Errorf("device type = %q, want %q", typ, tt.deviceType)
			}
		})
	}
}
