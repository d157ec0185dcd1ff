package audit

import (
	"strings"
	"testing"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/stats"
)

var hikImage = model.FirmwareAccount{RunID: 4, Image: "/fw/Hikvision DS-2CD2046G2-IU_SL V5.5.800.squashfs", SHA256: "ab12",
	Username: "admin", Password: "GM8182", File: "/etc/shadow"}

func TestForDeviceFirmwareFirst(t *testing.T) {
	d := Builtin().WithFirmware([]model.FirmwareAccount{hikImage,
		{Image: "/fw/other.bin", Username: "root", Password: "[sealed:0011aabb]"}, // not opened: left out
		{Image: "/fw/empty.bin", Username: "admin"},                               // no password and not an empty account: left out
	})
	if len(d.Firmware) != 1 || len(Builtin().Firmware) != 0 {
		t.Fatalf("WithFirmware kept %d accounts (builtin %d), want 1 and the builtin untouched", len(d.Firmware), len(Builtin().Firmware))
	}
	hik := stats.Identity{Vendor: "Hikvision", Product: "DS-2CD2046G2-IU/SL"}
	tests := []struct {
		name    string
		proto   string
		id      stats.Identity
		first   string // Source of the first entry
		firstPw string
	}{
		{"product of the image", model.ProtoHTTP, hik, "firmware:Hikvision DS-2CD2046G2-IU_SL V5.5.800.squashfs", "GM8182"},
		{"ftp keeps the anonymous check first", model.ProtoFTP, hik, SourceAnonymous, "iotwatch@example.invalid"},
		{"another product", model.ProtoHTTP, stats.Identity{Vendor: "Hikvision", Product: "DS-7608NI"}, "", ""},
		{"same model, another maker", model.ProtoHTTP, stats.Identity{Vendor: "Acme", Product: "DS-2CD2046G2-IU/SL"}, "", ""},
		{"unidentified", model.ProtoHTTP, stats.Identity{}, "", ""},
		{"snmp never", model.ProtoSNMP, hik, SourceCommunities, "public"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := d.ForDevice(tc.proto, nil, tc.id)
			if len(es) == 0 {
				t.Fatal("no entries")
			}
			fw := 0
			for _, e := range es {
				if _, ok := FirmwareImage(e.Source); ok {
					fw++
				}
			}
			if tc.first == "" {
				if fw != 0 {
					t.Errorf("%d firmware entries for %+v, want none", fw, tc.id)
				}
				return
			}
			if es[0].Source != tc.first || es[0].Password != tc.firstPw {
				t.Errorf("first entry %+v, want %s %s", es[0], tc.first, tc.firstPw)
			}
			if tc.proto != model.ProtoSNMP && fw != 1 {
				t.Errorf("%d firmware entries, want 1", fw)
			}
		})
	}
}

// TestRunFirmwareAccount: an account proven by the product's firmware and
// in no list is found, first, after the control, with the image in its
// source and evidence; the attempt cap still holds.
func TestRunFirmwareAccount(t *testing.T) {
	if InBuiltin("admin", "GM8182") || !InBuiltin("admin", "12345") {
		t.Fatal("InBuiltin disagrees with the embedded lists")
	}
	m := newFake(model.ProtoHTTP)
	dev := &fakeDevice{accept: map[login.Credential]bool{cred("admin", "GM8182"): true}}
	svc := m.add("127.0.0.1:80", dev)
	svc.Fingerprint = &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2046G2-IU/SL", DeviceType: "ip-camera"}
	dict := Builtin().WithFirmware([]model.FirmwareAccount{hikImage})
	got, st := collect(t, Config{Modules: []login.Module{m}, Dict: dict}, []model.Service{svc})
	if len(got) != 1 {
		t.Fatalf("results %+v, want one", got)
	}
	r := got[0]
	if img, ok := FirmwareImage(r.Source); !ok || !strings.HasPrefix(img, "Hikvision DS-2CD2046G2") || r.Kind != model.KindDefaultCredential {
		t.Errorf("result source %q kind %s, want the firmware image and a default credential", r.Source, r.Kind)
	}
	if r.Attempts != 1 || st.Attempts != 2 {
		t.Errorf("found at attempt %d after %d attempts, want the first after the control", r.Attempts, st.Attempts)
	}
	for _, want := range []string{"sha256 ab12", "/etc/shadow", "firmware run 4", "a wrong password got"} {
		if !strings.Contains(r.Evidence, want) {
			t.Errorf("evidence %q lacks %q", r.Evidence, want)
		}
	}
	// Without the firmware account, the builtin lists cannot find it.
	m2 := newFake(model.ProtoHTTP)
	svc2 := m2.add("127.0.0.1:80", &fakeDevice{accept: map[login.Credential]bool{cred("admin", "GM8182"): true}})
	svc2.Fingerprint = svc.Fingerprint
	if got, _ := collect(t, Config{Modules: []login.Module{m2}, MaxAttempts: 30}, []model.Service{svc2}); len(got) != 0 {
		t.Errorf("builtin lists found %+v", got)
	}
	// The cap counts the firmware entries: one attempt is the control.
	m3 := newFake(model.ProtoHTTP)
	d3 := &fakeDevice{accept: map[login.Credential]bool{cred("admin", "never"): true}}
	svc3 := m3.add("127.0.0.1:80", d3)
	svc3.Fingerprint = svc.Fingerprint
	if _, st := collect(t, Config{Modules: []login.Module{m3}, Dict: dict, MaxAttempts: 3}, []model.Service{svc3}); st.Attempts != 3 || d3.attempts != 3 {
		t.Errorf("%d attempts (device saw %d), want the cap of 3", st.Attempts, d3.attempts)
	}
}
