package mdns

import "testing"

// TestDescribe reads the device's identity from TXT keys as AirPlay, Google
// Cast, HomeKit and IPP printers announce them (records written for the
// test, no capture).
func TestDescribe(t *testing.T) {
	tests := []struct {
		name                          string
		svcs                          []Service
		vendor, model, version, fname string
	}{
		{"airplay", []Service{
			{Type: "_airplay._tcp", Instance: "Living Room", TXT: map[string]string{"model": "AppleTV6,2", "osvers": "17.1", "srcvers": "720.5.2"}},
			{Type: "_raop._tcp", Instance: "A1B2C3D4E5F6@Living Room", TXT: map[string]string{"am": "AppleTV6,2", "vs": "720.5.2"}},
		}, "", "AppleTV6,2", "17.1", "Living Room"},
		{"google cast", []Service{
			{Type: "_googlecast._tcp", Instance: "Chromecast-Ultra-1f", TXT: map[string]string{"md": "Chromecast Ultra", "fn": "Kitchen", "ve": "05"}},
		}, "", "Chromecast Ultra", "", "Kitchen"},
		{"homekit", []Service{
			{Type: "_hap._tcp", Instance: "Eve Energy 50FF", TXT: map[string]string{"md": "Eve Energy 20EBO8301", "ci": "7", "c#": "3"}},
		}, "", "Eve Energy 20EBO8301", "", "Eve Energy 50FF"},
		{"ipp printer", []Service{
			{Type: "_ipp._tcp", Instance: "Brother HL-L2350DW series", TXT: map[string]string{"ty": "Brother HL-L2350DW series",
				"product": "(Brother HL-L2350DW series)", "usb_mfg": "Brother", "usb_mdl": "HL-L2350DW series"}},
		}, "Brother", "HL-L2350DW series", "", "Brother HL-L2350DW series"},
		{"ty only, maker stripped", []Service{
			{Type: "_printer._tcp", Instance: "x", TXT: map[string]string{"ty": "HP LaserJet Pro M404dn", "mfg": "HP"}},
		}, "HP", "LaserJet Pro M404dn", "", "x"},
		{"product in parentheses", []Service{
			{Type: "_ipp._tcp", Instance: "x", TXT: map[string]string{"product": "(EPSON ET-2750 Series)"}},
		}, "", "EPSON ET-2750 Series", "", "x"},
		{"nothing", []Service{{Type: "_http._tcp", Instance: "web", TXT: map[string]string{"path": "/"}}}, "", "", "", "web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Record{Services: tt.svcs}
			describe(r)
			if r.Vendor != tt.vendor || r.Model != tt.model || r.Version != tt.version || r.Name != tt.fname {
				t.Errorf("got vendor %q model %q version %q name %q, want %q %q %q %q",
					r.Vendor, r.Model, r.Version, r.Name, tt.vendor, tt.model, tt.version, tt.fname)
			}
			f := r.Fields()
			if f["mdns.model"] != tt.model {
				t.Errorf("fields %v", f)
			}
		})
	}
}
