package audit

import (
	"errors"
	"os"
	"strings"
	"testing"

	"iotwatch/internal/model"
)

func TestBuiltin(t *testing.T) {
	d := Builtin()
	mirai, err := ParseUserPass(strings.NewReader(miraiTxt), SourceMirai)
	if err != nil {
		t.Fatal(err)
	}
	if len(mirai) != 62 {
		t.Errorf("Mirai list has %d pairs, want 62", len(mirai))
	}
	if got := len(d.For(model.ProtoTelnet, nil)); got != 61 {
		t.Errorf("telnet candidates without a vendor: %d, want the 61 distinct Mirai pairs", got)
	}
	rows := 0
	for _, l := range d.Vendors {
		rows += len(l)
	}
	if rows < 3700 || len(d.Vendors) < 1000 {
		t.Errorf("DefaultCreds: %d rows in %d vendors, want ~3,766 in ~1,400", rows, len(d.Vendors))
	}
	if c := d.For(model.ProtoSNMP, nil); len(c) == 0 || c[0].Password != "public" {
		t.Errorf("SNMP candidates %v, want public first", c)
	}
	if c := d.For(model.ProtoFTP, nil); c[0].Source != SourceAnonymous || c[0].Username != "anonymous" {
		t.Errorf("FTP first candidate %+v, want anonymous", c[0])
	}
	if c := d.For(model.ProtoMQTT, nil); c[0].Source != SourceAnonymous || c[0].Username != "" {
		t.Errorf("MQTT first candidate %+v, want anonymous (no credentials)", c[0])
	}
}

func TestVendorMatching(t *testing.T) {
	d := Builtin()
	tests := []struct {
		vendor, product string
		want            string // a vendor's default expected among the first candidates
	}{
		{"D-Link", "", "admin:"},
		{"Hangzhou Hikvision", "", "admin:12345"},
		{"dahua", "", "admin:admin"},
	}
	for _, tt := range tests {
		c := d.For(model.ProtoHTTP, &model.Fingerprint{Vendor: tt.vendor, Product: tt.product})
		found := false
		for _, e := range c[:20] {
			if e.Username+":"+e.Password == tt.want && strings.HasPrefix(e.Source, SourceDefaultCreds) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s not among the first candidates %v", tt.vendor, tt.want, c[:5])
		}
	}
	if c := d.For(model.ProtoHTTP, &model.Fingerprint{Vendor: "NoSuchVendorXYZ"}); c[0].Source != SourceMirai {
		t.Errorf("unknown vendor starts with %+v, want the generic list", c[0])
	}
}

func TestParseUserPass(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"root:root\n# c\n\nadmin:\r\nuser:pa:ss\n", []string{"root:root", "admin:", "user:pa:ss"}, false},
		{"admin:<blank>\n", []string{"admin:"}, false},
		{"nocolon\n", nil, true},
	}
	for _, tt := range tests {
		es, err := ParseUserPass(strings.NewReader(tt.in), "t")
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if err != nil && !errors.Is(err, ErrDictionary) {
			t.Errorf("%q: error %v is not ErrDictionary", tt.in, err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Username+":"+e.Password)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseDefaultCredsFixture(t *testing.T) {
	f, err := os.Open("../../../shared/data/creds/defaultcreds.csv")
	if err != nil {
		t.Skip("shared fixture not present")
	}
	defer f.Close()
	d, err := ParseDefaultCreds(f, SourceDefaultCreds)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, l := range d.Vendors {
		rows += len(l)
	}
	if rows != 3766 {
		t.Errorf("rows %d, want 3766", rows)
	}
	// The embedded copy must equal the fixture.
	b, _ := os.ReadFile("../../../shared/data/creds/defaultcreds.csv")
	if string(b) != defaultCredsCSV {
		t.Errorf("embedded defaultcreds.csv differs from the fixture")
	}
}

func FuzzParseUserPass(f *testing.F) {
	f.Add("root:root\nadmin:\n")
	f.Add("a\n")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ParseUserPass(strings.NewReader(s), "fuzz")
		for _, e := range es {
			if err == nil && strings.ContainsAny(e.Username+e.Password, "\r\n") {
				t.Fatalf("control characters passed: %+v", e)
			}
		}
	})
}

func FuzzParseDefaultCreds(f *testing.F) {
	f.Add("productvendor,username,password\nACME,admin,<blank>\n")
	f.Add("\"a,b\",c")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDefaultCreds(strings.NewReader(s), "fuzz")
		if err == nil {
			_ = d.For(model.ProtoSSH, &model.Fingerprint{Vendor: "ACME"})
		}
	})
}
