// Package declare reads and validates maker declarations: what only the maker
// of a consumer IoT product can state (identity, support period, update and
// disclosure policy, components, data practices, affiliations). A
// declaration is YAML or JSON checked against the embedded JSON Schema
// schema/declaration.schema.json; its fields map to ETSI EN 303 645
// provisions and to US Cyber Trust Mark registry fields (see mapping.go).
package declare

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// SchemaJSON is the JSON Schema (draft 2020-12) of a declaration.
//
//go:embed schema/declaration.schema.json
var SchemaJSON []byte

// Example is a complete example declaration in YAML.
//
//go:embed example.yaml
var Example []byte

const schemaURL = "https://iotwatch.invalid/schema/declaration-v1.json"

// MaxSize is the largest declaration accepted, in bytes.
const MaxSize = 1 << 20

// Declaration is a maker's statement about one product model.
type Declaration struct {
	SchemaVersion string          `json:"schema_version"`
	Product       Product         `json:"product"`
	Manufacturer  Entity          `json:"manufacturer"`
	ParentCompany *Entity         `json:"parent_company,omitempty"`
	Support       *Support        `json:"support,omitempty"`
	Updates       *Updates        `json:"updates,omitempty"`
	Disclosure    *Disclosure     `json:"vulnerability_disclosure,omitempty"`
	Credentials   *Credentials    `json:"credentials,omitempty"`
	SBOM          *SBOM           `json:"sbom,omitempty"`
	MUDURL        string          `json:"mud_url,omitempty"`
	MUDFile       string          `json:"mud_file,omitempty"` // local copy of the MUD file, relative to Dir
	Heartbeats    []Heartbeat     `json:"heartbeats,omitempty"`
	Sensors       *[]string       `json:"sensors,omitempty"` // nil: not stated; empty: none
	Resilience    *Resilience     `json:"resilience,omitempty"`
	Data          *Data           `json:"data,omitempty"`
	Statements    map[string]Stmt `json:"statements,omitempty"`
	Source        string          `json:"-"` // file the declaration came from
	Dir           string          `json:"-"` // its directory (Load), for mud_file
}

// Heartbeat is a periodic connection the device makes on its own.
type Heartbeat struct {
	Host            string `json:"host"`
	Port            int    `json:"port,omitempty"`
	Protocol        string `json:"protocol,omitempty"` // tcp, udp; "" = either
	IntervalSeconds int    `json:"interval_seconds,omitempty"`
}

// Product identifies the declared model.
type Product struct {
	Model              string   `json:"model"`
	Name               string   `json:"name,omitempty"`
	DeviceType         string   `json:"device_type,omitempty"`
	HardwareVersion    string   `json:"hardware_version,omitempty"`
	FirmwareVersion    string   `json:"firmware_version,omitempty"`
	FirmwareImages     []string `json:"firmware_images,omitempty"`
	ModelLabelLocation string   `json:"model_label_location,omitempty"`
	Constrained        bool     `json:"constrained,omitempty"`
}

// Entity is a company with its country and who owns or controls it.
type Entity struct {
	Name         string   `json:"name"`
	Aliases      []string `json:"aliases,omitempty"`
	Country      string   `json:"country"`
	Affiliations []string `json:"affiliations,omitempty"`
}

// Support is the defined support period.
type Support struct {
	EndDate   string `json:"end_date"`
	PolicyURL string `json:"policy_url,omitempty"`
}

// End returns the last day of support.
func (s *Support) End() (time.Time, error) {
	return time.Parse(time.DateOnly, s.EndDate)
}

// Updates is the update policy. Pointers distinguish "not stated" from false.
type Updates struct {
	Mechanism           string `json:"mechanism,omitempty"`
	Automatic           *bool  `json:"automatic,omitempty"`
	AutomaticDefaultOn  *bool  `json:"automatic_default_on,omitempty"`
	Signed              *bool  `json:"signed,omitempty"`
	VerifiedOnDevice    *bool  `json:"verified_on_device,omitempty"`
	CheckIntervalDays   *int   `json:"check_interval_days,omitempty"`
	NotifyUser          *bool  `json:"notify_user,omitempty"`
	SecurityUpdatesFree *bool  `json:"security_updates_free,omitempty"`
	PolicyURL           string `json:"policy_url,omitempty"`
}

// Disclosure is the vulnerability-disclosure policy.
type Disclosure struct {
	Contact        string `json:"contact,omitempty"`
	SecurityTxtURL string `json:"security_txt_url,omitempty"`
	PolicyURL      string `json:"policy_url,omitempty"`
	ResponseDays   *int   `json:"response_days,omitempty"`
}

// Credentials describes how the product's passwords are set.
type Credentials struct {
	Scheme                string `json:"scheme,omitempty"` // unique-per-device, user-defined, none, universal
	Generation            string `json:"generation,omitempty"`
	ChangeInstructionsURL string `json:"change_instructions_url,omitempty"`
	BruteForceProtection  *bool  `json:"brute_force_protection,omitempty"`
}

// SBOM points at the software bill of materials.
type SBOM struct {
	URL       string   `json:"url"`
	Format    string   `json:"format,omitempty"`
	Suppliers []Entity `json:"suppliers,omitempty"`
}

// Resilience is what the device does when networks or power fail.
type Resilience struct {
	WorksOffline           *bool  `json:"works_offline,omitempty"`
	RecoversAfterPowerLoss *bool  `json:"recovers_after_power_loss,omitempty"`
	FailSafe               string `json:"fail_safe,omitempty"`
}

// Data is the declared data practice.
type Data struct {
	Collected         []DataItem  `json:"collected,omitempty"`
	Recipients        []Recipient `json:"recipients,omitempty"`
	PrivacyPolicyURL  string      `json:"privacy_policy_url,omitempty"`
	Deletion          *Deletion   `json:"deletion,omitempty"`
	ConsentWithdrawal *bool       `json:"consent_withdrawal,omitempty"`
}

// DataItem is one kind of data collected.
type DataItem struct {
	Type             string   `json:"type"`
	Personal         bool     `json:"personal,omitempty"`
	Telemetry        bool     `json:"telemetry,omitempty"`
	Purposes         []string `json:"purposes"`
	RetentionDays    *int     `json:"retention_days,omitempty"`
	Deidentification string   `json:"deidentification,omitempty"`
	Consent          *bool    `json:"consent,omitempty"`
}

// Recipient is who receives data, from where.
type Recipient struct {
	Name         string   `json:"name"`
	Country      string   `json:"country"`
	Hosts        []string `json:"hosts,omitempty"`
	Purposes     []string `json:"purposes,omitempty"`
	Affiliations []string `json:"affiliations,omitempty"`
}

// Deletion is how user data can be erased.
type Deletion struct {
	OnDeviceReset   *bool  `json:"on_device_reset,omitempty"`
	FromServices    *bool  `json:"from_services,omitempty"`
	InstructionsURL string `json:"instructions_url,omitempty"`
	Confirmation    *bool  `json:"confirmation,omitempty"`
}

// Statement values.
const (
	Met           = "met"
	NotMet        = "not-met"
	NotApplicable = "not-applicable"
)

// Stmt is the maker's own statement about one provision.
type Stmt struct {
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

// FieldError is one violation, located by a JSON pointer into the document.
type FieldError struct {
	Path    string `json:"path"` // JSON pointer, "/" for the document itself
	Message string `json:"message"`
}

// ValidationError lists every violation found in a declaration.
type ValidationError struct {
	Source string       `json:"source,omitempty"`
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	name := e.Source
	if name == "" {
		name = "declaration"
	}
	fmt.Fprintf(&b, "%s: invalid declaration:", name)
	for _, fe := range e.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", fe.Path, fe.Message)
	}
	return b.String()
}

// ErrInvalid is wrapped by every error about the content of a declaration.
var ErrInvalid = errors.New("invalid declaration")

// Is reports ErrInvalid for a ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func compiled() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("declaration schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("declaration schema: %w", err)
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
	})
	return schema, schemaErr
}

// Load reads and validates the declaration in file path.
func Load(path string) (*Declaration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read declaration: %w", err)
	}
	d, err := Parse(b, filepath.Base(path))
	if d != nil {
		d.Dir = filepath.Dir(path)
	}
	return d, err
}

// Parse decodes a YAML or JSON declaration, validates it against the schema
// and returns it. source names the input in errors. A document that breaks
// the schema returns a *ValidationError naming each offending field.
func Parse(b []byte, source string) (*Declaration, error) {
	if len(b) > MaxSize {
		return nil, &ValidationError{Source: source, Errors: []FieldError{{"/", fmt.Sprintf("document is %d bytes, more than %d", len(b), MaxSize)}}}
	}
	var raw any
	if err := yaml.Unmarshal(b, &raw); err != nil { // YAML 1.2 is a superset of JSON
		return nil, &ValidationError{Source: source, Errors: []FieldError{{"/", "not YAML or JSON: " + err.Error()}}}
	}
	norm, err := normalize(raw, "")
	if err != nil {
		return nil, &ValidationError{Source: source, Errors: []FieldError{{"/", err.Error()}}}
	}
	js, err := json.Marshal(norm)
	if err != nil {
		return nil, &ValidationError{Source: source, Errors: []FieldError{{"/", err.Error()}}}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, &ValidationError{Source: source, Errors: []FieldError{{"/", err.Error()}}}
	}
	sch, err := compiled()
	if err != nil {
		return nil, err
	}
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("validate declaration %s: %w", source, err)
		}
		return nil, &ValidationError{Source: source, Errors: fieldErrors(ve)}
	}
	var d Declaration
	if err := json.Unmarshal(js, &d); err != nil {
		return nil, &ValidationError{Source: source, Errors: []FieldError{{"/", err.Error()}}}
	}
	if errs := d.check(); len(errs) > 0 {
		return nil, &ValidationError{Source: source, Errors: errs}
	}
	d.Source = source
	return &d, nil
}

// check applies rules the schema cannot express.
func (d *Declaration) check() []FieldError {
	var errs []FieldError
	if d.Support != nil {
		if _, err := d.Support.End(); err != nil {
			errs = append(errs, FieldError{"/support/end_date", fmt.Sprintf("%q is not a calendar date", d.Support.EndDate)})
		}
	}
	return errs
}

// fieldErrors flattens the library's error tree into leaf errors, one per
// instance location, sorted.
func fieldErrors(ve *jsonschema.ValidationError) []FieldError {
	printer := message.NewPrinter(language.English)
	var out []FieldError
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := "/" + strings.Join(escapePointer(e.InstanceLocation), "/")
		msg := friendly(e.ErrorKind.LocalizedString(printer))
		if k := path + "\x00" + msg; !seen[k] {
			seen[k] = true
			out = append(out, FieldError{Path: path, Message: msg})
		}
	}
	walk(ve)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// patternHints turn the schema's patterns into words.
var patternHints = []struct{ pattern, want string }{
	{"'^[A-Z]{2}$'", "an ISO 3166-1 alpha-2 country code such as DE"},
	{"'^[0-9]{4}-[0-9]{2}-[0-9]{2}$'", "a date YYYY-MM-DD"},
	{`'^(https?|mailto):[^\\s]+$'`, "an http(s) or mailto URL"},
}

// friendly rewrites "'x' does not match pattern 'p'" for the known patterns.
func friendly(msg string) string {
	for _, h := range patternHints {
		if before, ok := strings.CutSuffix(msg, " does not match pattern "+h.pattern); ok {
			return before + " is not " + h.want
		}
	}
	return msg
}

func escapePointer(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return out
}

// normalize turns YAML-decoded values into JSON-compatible ones: string map
// keys, dates as YYYY-MM-DD strings.
func normalize(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, path+"/"+k)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: key %v is not a string", orRoot(path), k)
			}
			n, err := normalize(e, path+"/"+ks)
			if err != nil {
				return nil, err
			}
			out[ks] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, fmt.Sprintf("%s/%d", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly), nil
		}
		return x.Format(time.RFC3339), nil
	case float64:
		if x != x || x > 1e300 || x < -1e300 { // NaN, Inf
			return nil, fmt.Errorf("%s: number %v is not valid JSON", orRoot(path), x)
		}
		return x, nil
	default:
		return v, nil
	}
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
