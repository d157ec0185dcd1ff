package onvif

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/wire/onvif"
	"iotwatch/internal/wire/onvif/onviftest"
)

var info = onvif.DeviceInformation{Manufacturer: "HIKVISION", Model: "DS-2CD2046G2-IU/SL",
	FirmwareVersion: "V5.5.800 build 210628", SerialNumber: "DS-2CD2046G2-IU/SL20210628AAWRG12345678", HardwareID: "88"}

var scopes = []string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
	"onvif://www.onvif.org/hardware/DS-2CD2046G2-IU%2FSL", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2046G2-IU%2FSL"}

func run(t *testing.T, d *onviftest.Device) (*Record, probe.Result, *onviftest.Server) {
	t.Helper()
	srv := onviftest.Serve(t, d)
	conn, err := net.DialUDP("udp", nil, srv.UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: 3 * time.Second})
	rec, _ := res.Data.(*Record)
	if res.Status != model.StatusSuccess || rec == nil {
		t.Fatalf("status %v err %v", res.Status, res.Err)
	}
	return rec, res, srv
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name  string
		d     *onviftest.Device
		check func(r *Record, srv *onviftest.Server) bool
	}{
		{"auth required", &onviftest.Device{Info: info, Scopes: scopes, Username: "admin", Password: "12345", Skew: -3 * time.Hour},
			func(r *Record, _ *onviftest.Server) bool {
				return r.Auth == AuthRequired && r.Manufacturer == "" && r.Hardware == "DS-2CD2046G2-IU/SL" &&
					r.Name == "HIKVISION DS-2CD2046G2-IU/SL" && r.ClockOffset > -3*3600-5 && r.ClockOffset < -3*3600+5 &&
					slices.Contains(r.Types, "dn:NetworkVideoTransmitter") && r.Server == "onviftest" && r.DeviceError == ""
			}},
		{"anonymous", &onviftest.Device{Info: info, Scopes: scopes, Anonymous: true},
			func(r *Record, _ *onviftest.Server) bool {
				f := r.Fields()
				return r.Auth == AuthNone && f["onvif.manufacturer"] == "HIKVISION" && f["onvif.model"] == "DS-2CD2046G2-IU/SL" &&
					f["onvif.firmware"] == "V5.5.800 build 210628" && f["onvif.serial"] == info.SerialNumber && f["onvif.hardware_id"] == "88"
			}},
		{"xaddr elsewhere", &onviftest.Device{Info: info, Scopes: scopes, Anonymous: true, XAddr: "http://192.0.2.1/onvif/device_service"},
			func(r *Record, srv *onviftest.Server) bool {
				// The device service is not called at all: its address was not named.
				return r.DeviceURL == "" && r.DeviceError != "" && r.Manufacturer == "" && r.Hardware != "" &&
					srv.Calls("GetSystemDateAndTime") == 0
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, res, srv := run(t, tt.d)
			if !tt.check(rec, srv) {
				t.Errorf("record %+v (banner %q)", rec, res.Banner)
			}
		})
	}
}

// TestNotONVIF: a UDP service answering something else is a protocol error.
func TestNotONVIF(t *testing.T) {
	addr := probetest.UDPServer(t, func([]byte) [][]byte {
		return [][]byte{[]byte("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n")}
	})
	res := probetest.Probe(t, Prober{}, "udp", addr, &probe.Env{Timeout: 2 * time.Second})
	if res.Status != model.StatusProtocolError {
		t.Errorf("status %v err %v, want protocol error", res.Status, res.Err)
	}
}
