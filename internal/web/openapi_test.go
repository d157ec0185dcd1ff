package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"mime"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openAPIDoc is the served document, decoded.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		OperationID string `json:"operationId"`
		MinimumRole string `json:"x-minimum-role"`
		Responses   map[string]struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

func decodeOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}

// responseSchemas compiles the schema of every 200 response of the document
// with jsonschema (OpenAPI 3.1 schemas are JSON Schema 2020-12): the
// document's components become $defs of one schema resource per response.
func responseSchemas(t *testing.T, doc openAPIDoc) map[string]*jsonschema.Schema {
	t.Helper()
	// "#/components/schemas/X" → "#/$defs/X", throughout.
	raw, err := json.Marshal(doc.Components.Schemas)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte(`"#/components/schemas/`), []byte(`"#/$defs/`))
	defs, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for path, ops := range doc.Paths {
		op := ops["get"]
		for ctype, content := range op.Responses["200"].Content {
			sb, err := json.Marshal(content.Schema)
			if err != nil {
				t.Fatal(err)
			}
			sb = bytes.ReplaceAll(sb, []byte(`"#/components/schemas/`), []byte(`"#/$defs/`))
			s, err := jsonschema.UnmarshalJSON(bytes.NewReader(sb))
			if err != nil {
				t.Fatal(err)
			}
			m := s.(map[string]any)
			m["$schema"] = "https://json-schema.org/draft/2020-12/schema"
			m["$defs"] = defs
			url := "https://iotwatch.invalid/openapi/" + op.OperationID + ".json"
			if err := c.AddResource(url, m); err != nil {
				t.Fatalf("%s %s: %v", path, ctype, err)
			}
			sch, err := c.Compile(url)
			if err != nil {
				t.Fatalf("schema of %s: %v", path, err)
			}
			out[path] = sch
		}
	}
	return out
}

// TestOpenAPIDescribesEveryRoute checks that every /api route the server
// registers is in the document and every path of the document is a route,
// each with one GET operation, an operation id and a minimum role.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := decodeOpenAPI(t)
	srv := New(openStore(t), Options{})
	routes := map[string]bool{}
	roles := map[string]string{} // path → least role of its route
	for p, name := range srv.routes {
		method, path, _ := strings.Cut(p, " ")
		if strings.HasPrefix(path, "/api/") {
			if method != "GET" {
				t.Errorf("route %s: the document describes GET routes only", p)
			}
			routes[path] = true
			if r, ok := RouteRole(name); ok {
				roles[path] = r.String()
			}
		}
	}
	if len(routes) < 10 {
		t.Fatalf("%d /api routes registered: pattern recording broken?", len(routes))
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		documented[path] = true
		if len(ops) != 1 || ops["get"].OperationID == "" {
			t.Errorf("%s: want exactly one GET operation with an operationId, have %v", path, slices.Collect(maps.Keys(ops)))
		}
		if got, want := ops["get"].MinimumRole, roles[path]; routes[path] && got != want {
			t.Errorf("%s: x-minimum-role %q, the route table says %q", path, got, want)
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("openapi.json describes %s, which is no route", d)
		}
	}
}

// TestOpenAPIResponsesValidate requests every documented path from a server
// over a measured fleet and validates each answer against the document.
func TestOpenAPIResponsesValidate(t *testing.T) {
	st, f := fleetStore(t, "sqlite")
	doc := decodeOpenAPI(t)
	schemas := responseSchemas(t, doc)
	srv := New(st, Options{})
	weak, _ := apiPages(t, srv, "weak=true&kev=true")
	if len(weak) == 0 {
		t.Fatal("no weak device with a KEV match in the fleet")
	}
	var comp string
	for ip := range f.Telemetry.Compromised {
		comp = ip
		break
	}
	// Concrete requests for every path; several for the richer ones.
	requests := map[string][]string{
		"/api/devices":            {"", "?weak=true&limit=3", "?q=" + weak[0].IP.String(), "?compromised=any&tier=E"},
		"/api/devices/{ip}":       {weak[0].IP.String(), comp},
		"/api/flows/alerts":       {"", "?device=" + comp},
		"/api/flows/daily":        {"", "?device=" + comp},
		"/api/flows/destinations": {"", "?device=" + comp},
	}
	tried := 0
	for path := range doc.Paths {
		sch := schemas[path]
		if sch == nil {
			t.Errorf("%s: no 200 response schema", path)
			continue
		}
		var targets []string
		switch {
		case strings.Contains(path, "{id}"):
			targets = []string{strings.ReplaceAll(path, "{id}", "latest"), strings.ReplaceAll(path, "{id}", "1")}
		case strings.Contains(path, "{ip}"):
			for _, ip := range requests[path] {
				targets = append(targets, strings.ReplaceAll(path, "{ip}", ip))
			}
		default:
			targets = []string{path}
			for _, q := range requests[path] {
				if q != "" {
					targets = append(targets, path+q)
				}
			}
		}
		ctypes := slices.Collect(maps.Keys(doc.Paths[path]["get"].Responses["200"].Content))
		for _, target := range targets {
			res, body := get(t, srv, "GET", target)
			if res.StatusCode != 200 {
				t.Errorf("GET %s: %d %.200s", target, res.StatusCode, body)
				continue
			}
			mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
			if !slices.Contains(ctypes, mt) {
				t.Errorf("GET %s: content type %s, documented %v", target, mt, ctypes)
			}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
			if err != nil {
				t.Errorf("GET %s: %v", target, err)
				continue
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("GET %s does not match the document:\n%v", target, err)
			}
			tried++
		}
	}
	if tried < len(doc.Paths) {
		t.Errorf("validated %d responses for %d paths", tried, len(doc.Paths))
	}
	// The schemas reject what they should: a device page without devices.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"total": 1}`))
	if err := schemas["/api/devices"].Validate(bad); err == nil {
		t.Error("a page without devices validates: the schema checks nothing")
	}
}
