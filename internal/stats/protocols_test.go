package stats

import (
	"slices"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
)

// TestDeviceProtocols checks that the protocols whose answers name the
// device (the protocol table's Identifies) rank a fingerprint above the same
// fingerprint from other protocols, pinned to the protocols always named.
func TestDeviceProtocols(t *testing.T) {
	fp := &model.Fingerprint{Vendor: "Acme", Product: "Cam", Confidence: 0.5}
	base := rank("", fp)
	var device []string
	for _, s := range protocol.All() {
		if rank(s.Name, fp) > base {
			device = append(device, s.Name)
		}
	}
	slices.Sort(device)
	if want := []string{"bacnet", "dvrip", "enip", "fox", "mdns", "modbus", "onvif", "rtsp", "s7", "snmp", "ssdp", "xmeye"}; !slices.Equal(device, want) {
		t.Errorf("device-identity protocols %v, want %v", device, want)
	}
}
