package declare

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGood(t *testing.T) {
	for _, name := range []string{"camera.yaml", "minimal.json"} {
		t.Run(name, func(t *testing.T) {
			d, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if d.Product.Model == "" || d.Manufacturer.Name == "" {
				t.Errorf("got %+v, want model and manufacturer", d)
			}
			if d.Source != name {
				t.Errorf("Source = %q, want %q", d.Source, name)
			}
		})
	}
}

func TestParseCameraFields(t *testing.T) {
	d, err := Load("testdata/camera.yaml")
	if err != nil {
		t.Fatal(err)
	}
	end, err := d.Support.End()
	if err != nil || end.Year() != 2030 {
		t.Errorf("support end = %v, %v; want 2030-12-31", end, err)
	}
	if d.Updates.Signed == nil || !*d.Updates.Signed {
		t.Errorf("updates.signed = %v, want true", d.Updates.Signed)
	}
	if got := len(d.Data.Collected); got != 2 {
		t.Errorf("collected = %d items, want 2", got)
	}
	if r := *d.Data.Collected[0].RetentionDays; r != 30 {
		t.Errorf("retention = %d, want 30", r)
	}
	if s := d.Statements["5.6-8"]; s.Status != NotApplicable {
		t.Errorf("statement 5.6-8 = %+v, want not-applicable", s)
	}
	tm := d.TrustMark()
	if tm.SupportPeriodEnd != "2030-12-31" || tm.Manufacturer != "Example Cameras Ltd." || tm.SBOM == "" {
		t.Errorf("TrustMark = %+v", tm)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		src       string
		wantPaths []string
	}{
		{name: "country and date", file: "bad-country.yaml", wantPaths: []string{"/manufacturer/country", "/support/end_date"}},
		{name: "unknown field and bad items", file: "bad-unknown-field.yaml", wantPaths: []string{"/product", "/data/collected/0/purposes", "/data/collected/0/retention_days"}},
		{name: "missing required", src: `{"schema_version":"1","product":{}}`, wantPaths: []string{"/", "/product"}},
		{name: "wrong version", src: `{"schema_version":"2","product":{"model":"a"},"manufacturer":{"name":"m","country":"DE"}}`, wantPaths: []string{"/schema_version"}},
		{name: "not yaml", src: "product: [unclosed", wantPaths: []string{"/"}},
		{name: "scalar", src: "42", wantPaths: []string{"/"}},
		{name: "alias bomb", src: aliasBomb(), wantPaths: []string{"/"}},
		{name: "too large", src: strings.Repeat(" ", MaxSize+1), wantPaths: []string{"/"}},
		{name: "impossible date", src: `{"schema_version":"1","product":{"model":"a"},"manufacturer":{"name":"m","country":"DE"},"support":{"end_date":"2030-02-31"}}`, wantPaths: []string{"/support/end_date"}},
		{name: "bad statement", src: `{"schema_version":"1","product":{"model":"a"},"manufacturer":{"name":"m","country":"DE"},"statements":{"5.1-1":{"status":"maybe"}}}`, wantPaths: []string{"/statements/5.1-1/status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.src)
			source := "inline"
			if tt.file != "" {
				var err error
				b, err = os.ReadFile(filepath.Join("testdata", tt.file))
				if err != nil {
					t.Fatal(err)
				}
				source = tt.file
			}
			_, err := Parse(b, source)
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not *ValidationError", err)
			}
			got := map[string]bool{}
			for _, fe := range ve.Errors {
				got[fe.Path] = true
			}
			for _, p := range tt.wantPaths {
				if !got[p] {
					t.Errorf("errors %v do not name %s", ve.Errors, p)
				}
			}
			if !strings.HasPrefix(err.Error(), source+": ") {
				t.Errorf("error %q does not start with source %q", err, source)
			}
		})
	}
}

func TestMappingsPointAtSchemaFields(t *testing.T) {
	schema := string(SchemaJSON)
	for _, m := range Mappings() {
		last := m.Field[strings.LastIndex(m.Field, "/")+1:]
		if !strings.Contains(schema, `"`+last+`"`) {
			t.Errorf("mapping %s: field %q not in schema", m.Field, last)
		}
		if len(m.Provisions)+len(m.Other) == 0 {
			t.Errorf("mapping %s maps to nothing", m.Field)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"camera.yaml", "minimal.json", "bad-country.yaml", "bad-unknown-field.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("{1: 2}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b, "fuzz")
		if err == nil && (d.Product.Model == "" || d.Manufacturer.Name == "") {
			t.Fatalf("valid declaration without model or manufacturer: %+v", d)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}

func TestExampleIsValid(t *testing.T) {
	d, err := Parse(Example, "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Support == nil || d.Data == nil || len(d.Statements) == 0 {
		t.Errorf("example lacks sections: %+v", d)
	}
}

func TestDestinations(t *testing.T) {
	d, err := Load("testdata/camera.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cs, rs := d.Destinations()
	if strings.Join(cs, ",") != "GB" || strings.Join(rs, ",") != "Example Cloud Ltd.,cloud.example.invalid" {
		t.Errorf("Destinations = %q, %q", cs, rs)
	}
}

func TestFriendlyMessages(t *testing.T) {
	_, err := Load("testdata/bad-country.yaml")
	for _, want := range []string{"'Germany' is not an ISO 3166-1 alpha-2 country code", "'next year' is not a date YYYY-MM-DD"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, err = Parse([]byte(`{"schema_version":"1","product":{"model":"a"},"manufacturer":{"name":"m","country":"DE"},"mud_url":"ftp://x"}`), "x")
	if err == nil || !strings.Contains(err.Error(), "/mud_url: 'ftp://x' is not an http(s) or mailto URL") {
		t.Errorf("error %v", err)
	}
}

// aliasBomb returns YAML whose aliases expand to 9^10 strings.
func aliasBomb() string {
	b := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 9 {
		n := string(rune('b' + i))
		b += n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 9), ", ") + "]\n"
		prev = n
	}
	return b
}
