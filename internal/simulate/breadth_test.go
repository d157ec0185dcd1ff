package simulate

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/login"
	logincwmp "iotwatch/internal/login/cwmp"
	logindvrip "iotwatch/internal/login/dvrip"
	loginonvif "iotwatch/internal/login/onvif"
	loginxmeye "iotwatch/internal/login/xmeye"
	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	probebacnet "iotwatch/internal/probe/bacnet"
	probecwmp "iotwatch/internal/probe/cwmp"
	probednp3 "iotwatch/internal/probe/dnp3"
	probedvrip "iotwatch/internal/probe/dvrip"
	probeenip "iotwatch/internal/probe/enip"
	probefox "iotwatch/internal/probe/fox"
	probehiksdk "iotwatch/internal/probe/hiksdk"
	probemdns "iotwatch/internal/probe/mdns"
	probeonvif "iotwatch/internal/probe/onvif"
	probes7 "iotwatch/internal/probe/s7"
	probexmeye "iotwatch/internal/probe/xmeye"
)

// breadthCase is one protocol added by issue 20: the scanner's prober must
// read what the profile says from the simulated device, and its login module
// (when it has one) must accept exactly the credential the device accepts.
type breadthCase struct {
	proto  string
	prober probe.Prober
	// check reports what the record got wrong about s ("" when right).
	check func(s *deviceService, r probe.Record) string
	mod   login.Module
	// evidence, when set, is what an accepted login's evidence must contain.
	evidence func(s *deviceService) string
}

func breadthCases() []breadthCase {
	return []breadthCase{
		{model.ProtoCWMP, probecwmp.Prober{}, func(s *deviceService, r probe.Record) string {
			rec := r.(*probecwmp.Record)
			if rec.Server != s.banner() || rec.Realm != s.realm || !strings.EqualFold(rec.AuthScheme, s.sp.Auth) {
				return "record " + rec.Server + " " + rec.Realm + " " + rec.AuthScheme
			}
			return ""
		}, logincwmp.Module{}, nil},
		{model.ProtoXMeye, probexmeye.Prober{}, func(s *deviceService, r probe.Record) string {
			if rec := r.(*probexmeye.Record); rec.Ret != 205 || rec.RetText != "no such user" {
				return fmt.Sprintf("record %+v, want Ret 205", rec)
			}
			return ""
		}, loginxmeye.Module{}, func(s *deviceService) string {
			return "SoftWareVersion=" + s.dev.prof.Firmware + " BuildTime=2019-04-13 10:31:05 SerialNo=" + s.dev.serial
		}},
		{model.ProtoDVRIP, probedvrip.Prober{}, func(s *deviceService, r probe.Record) string {
			if rec := r.(*probedvrip.Record); !strings.HasPrefix(rec.Header, "b1000058") {
				return "header " + rec.Header
			}
			return ""
		}, logindvrip.Module{}, func(s *deviceService) string { return "DVRIP login accepted (Login to " + s.dev.serial + ")" }},
		{model.ProtoENIP, probeenip.Prober{}, func(s *deviceService, r probe.Record) string {
			if rec := r.(*probeenip.Record); rec.ProductName != s.banner() || rec.Revision != s.dev.prof.Firmware || rec.VendorID != 1 {
				return fmt.Sprintf("record %+v", rec)
			}
			return ""
		}, nil, nil},
		{model.ProtoBACnet, probebacnet.Prober{}, func(s *deviceService, r probe.Record) string {
			rec := r.(*probebacnet.Record)
			p := s.dev.prof
			if rec.VendorName != p.Vendor || rec.VendorID != "5" || rec.ModelName != p.Model || rec.FirmwareRev != p.Firmware ||
				rec.SoftwareVersion != s.sp.Version || rec.ObjectName != s.dev.hostname || rec.Errors["28"] != "error class 2 code 32" ||
				rec.ObjectID != fmt.Sprintf("8:%d", int(s.dev.addr.As4()[2])<<8|int(s.dev.addr.As4()[3])) {
				return fmt.Sprintf("record %+v", rec)
			}
			return ""
		}, nil, nil},
		{model.ProtoS7, probes7.Prober{}, func(s *deviceService, r probe.Record) string {
			rec := r.(*probes7.Record)
			if rec.OrderNumber != s.banner() || rec.Firmware != s.dev.prof.Firmware || rec.SerialNumber != s.dev.serial ||
				rec.ModuleType != s.dev.prof.Model || rec.ModuleName != "PLC_1" || rec.Slot != 2 {
				return fmt.Sprintf("record %+v", rec)
			}
			return ""
		}, nil, nil},
		{model.ProtoDNP3, probednp3.Prober{}, func(s *deviceService, r probe.Record) string {
			if rec := r.(*probednp3.Record); rec.Address != dnp3Address || rec.MasterSeen != probednp3.Master || rec.Function != 11 {
				return fmt.Sprintf("record %+v", rec)
			}
			return ""
		}, nil, nil},
		{model.ProtoHikSDK, probehiksdk.Prober{}, func(s *deviceService, r probe.Record) string {
			if rec := r.(*probehiksdk.Record); rec.Reply != "000000100000001e0000001e00000000" || rec.Status != 0x1e {
				return fmt.Sprintf("record %+v", rec)
			}
			return ""
		}, nil, nil},
		{model.ProtoMDNS, probemdns.Prober{}, func(s *deviceService, r probe.Record) string {
			rec := r.(*probemdns.Record)
			p := s.dev.prof
			var types []string
			for _, a := range s.sp.Announce {
				if !slices.Contains(types, a.Type) {
					types = append(types, a.Type)
				}
			}
			slices.Sort(types)
			if !slices.Equal(rec.Types, types) || len(rec.Services) != len(s.sp.Announce) || rec.Hostname != s.dev.hostname ||
				!slices.Equal(rec.Addresses, []string{s.dev.addr.String()}) || !strings.Contains(p.Model, strings.TrimSuffix(rec.Model, " series")) ||
				(rec.Vendor != "" && rec.Vendor != p.Vendor) {
				return fmt.Sprintf("record %+v, want types %v on %s", rec, types, s.dev.hostname)
			}
			for i, svc := range rec.Services {
				if svc.Port == 0 || svc.Instance == "" || len(svc.TXT) == 0 || strings.Contains(svc.Instance, "{") {
					return fmt.Sprintf("service %d: %+v", i, svc)
				}
			}
			return ""
		}, nil, nil},
		{model.ProtoFox, probefox.Prober{}, func(s *deviceService, r probe.Record) string {
			if h := r.(*probefox.Record).Hello; h["app.version"] != s.sp.Version || h["hostName"] != s.dev.hostname {
				return fmt.Sprintf("hello %v", h)
			}
			return ""
		}, nil, nil},
		{model.ProtoONVIF, probeonvif.Prober{}, func(s *deviceService, r probe.Record) string {
			rec := r.(*probeonvif.Record)
			p := s.dev.prof
			web := s.dev.serviceOf(model.ProtoHTTP)
			want := fmt.Sprintf("http://%s:%d/onvif/device_service", s.dev.addr, web.port)
			if rec.Hardware != p.Model || rec.Name != p.Vendor || rec.Auth != probeonvif.AuthRequired || rec.DeviceURL != want ||
				rec.Endpoint != "urn:uuid:"+s.dev.uuid || rec.Manufacturer != "" || rec.DeviceError != "" {
				return fmt.Sprintf("record %+v", rec)
			}
			if skew := int64(onvifSkew(s.dev) / time.Second); rec.ClockOffset < skew-5 || rec.ClockOffset > skew+5 {
				return fmt.Sprintf("clock offset %d s, want %d", rec.ClockOffset, skew)
			}
			return ""
		}, loginonvif.Module{}, func(s *deviceService) string {
			return "Model=" + s.dev.prof.Model + " FirmwareVersion="
		}},
	}
}

func TestBreadthProtocols(t *testing.T) {
	f := protoFleet(t)
	for _, tc := range breadthCases() {
		t.Run(tc.proto, func(t *testing.T) {
			s := findService(t, f, tc.proto, "", nil)
			network := "tcp"
			if udpProtocols[tc.proto] {
				network = "udp"
			}
			conn, err := net.DialTimeout(network, addrOf(s), 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ap := netip.AddrPortFrom(s.dev.addr, s.port)
			env := &probe.Env{Timeout: 3 * time.Second, Dial: func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, ap.String())
			}}
			res := tc.prober.Probe(context.Background(), conn, env)
			if res.Status != model.StatusSuccess || res.Data == nil {
				t.Fatalf("probe: %v (%v)", res.Status, res.Err)
			}
			if msg := tc.check(s, res.Data); msg != "" {
				t.Errorf("%s: %s (profile %s)", tc.proto, msg, s.dev.prof.ID)
			}
			if tc.mod == nil {
				return
			}
			for _, weak := range []bool{true, false} {
				s := findService(t, f, tc.proto, "", func(s *deviceService) bool { return s.kind != "" && (s.kind != KindStrong) == weak })
				kind := s.kind
				tgt := login.Target{Addr: netip.AddrPortFrom(s.dev.addr, s.port), Protocol: tc.proto, Timeout: 3 * time.Second}
				sess, err := tc.mod.Open(context.Background(), tgt)
				if err != nil {
					t.Fatalf("open %s: %v", kind, err)
				}
				def := *s.sp.Default
				if weak {
					def = s.cred // the default, or its empty-password variant
				}
				r := sess.Try(context.Background(), login.Credential{Username: def.Username, Password: def.Password})
				if r.Success() != weak {
					t.Errorf("%s device: default credential success=%v (%v %v), want %v", kind, r.Success(), r.Status, r.Evidence, weak)
				}
				if weak && tc.evidence != nil && !strings.Contains(r.Evidence, tc.evidence(s)) {
					t.Errorf("evidence %q does not contain %q", r.Evidence, tc.evidence(s))
				}
				if r := sess.Try(context.Background(), login.Credential{Username: def.Username, Password: "wrong-" + def.Password}); r.Status != model.StatusAuthFailed {
					t.Errorf("%s device: wrong password gave %v %v", kind, r.Status, r.Err)
				}
				sess.Close()
			}
		})
	}
}

// TestONVIFClockSkew logs in to every weak ONVIF camera of the fleet, those
// whose clock runs eight hours off included: the module must stamp its
// tokens with the device's clock (a token stamped with ours is refused).
func TestONVIFClockSkew(t *testing.T) {
	f := protoFleet(t)
	skewed, tried := 0, 0
	for _, d := range f.devices {
		s := d.serviceOf(model.ProtoONVIF)
		if s == nil || s.kind == KindStrong {
			continue
		}
		if onvifSkew(d) != 0 {
			skewed++
		}
		tried++
		tgt := login.Target{Addr: netip.AddrPortFrom(d.addr, s.port), Protocol: model.ProtoONVIF, Timeout: 3 * time.Second}
		sess, err := loginonvif.Module{}.Open(context.Background(), tgt)
		if err != nil {
			t.Fatalf("open %s: %v", tgt.Addr, err)
		}
		r := sess.Try(context.Background(), login.Credential{Username: s.cred.Username, Password: s.cred.Password})
		if !r.Success() || !strings.Contains(r.Evidence, "SerialNumber="+d.serial) {
			t.Errorf("%s (skew %v): %v %q %v", tgt.Addr, onvifSkew(d), r.Status, r.Evidence, r.Err)
		}
		sess.Close()
	}
	if skewed == 0 || skewed == tried {
		t.Fatalf("%d of %d weak ONVIF cameras skewed: the test needs both kinds", skewed, tried)
	}
}
