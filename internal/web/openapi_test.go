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

// openAPIOp is one operation of the document.
type openAPIOp struct {
	OperationID string `json:"operationId"`
	MinimumRole string `json:"x-minimum-role"`
	RequestBody struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// openAPIDoc is the served document, decoded.
type openAPIDoc struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

// success is an operation's success status: 200, 201 or 204.
func (op openAPIOp) success() string {
	for _, code := range []string{"201", "204"} {
		if _, ok := op.Responses[code]; ok {
			return code
		}
	}
	return "200"
}

func decodeOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}

// responseSchemas compiles the schema of every success response (and, under
// "request METHOD path", every request body) of the document with
// jsonschema (OpenAPI 3.1 schemas are JSON Schema 2020-12), by "METHOD
// path": the document's components become $defs of one schema resource per
// schema.
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
	compile := func(key, id string, schema map[string]any) {
		sb, err := json.Marshal(schema)
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
		url := "https://iotwatch.invalid/openapi/" + id + ".json"
		if err := c.AddResource(url, m); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("schema of %s: %v", key, err)
		}
		out[key] = sch
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			for _, content := range op.Responses[op.success()].Content {
				compile(key, op.OperationID, content.Schema)
			}
			for _, content := range op.RequestBody.Content {
				compile("request "+key, op.OperationID+"-request", content.Schema)
			}
		}
	}
	return out
}

// TestOpenAPIDescribesEveryRoute checks that every /api route the server
// registers is an operation of the document and every operation of the
// document is a route, each with an operation id and the route's minimum
// role.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := decodeOpenAPI(t)
	srv := New(openStore(t), Options{})
	routes := map[string]bool{}  // "METHOD path"
	roles := map[string]string{} // "METHOD path" → least role of its route
	for p, name := range srv.routes {
		_, path, _ := strings.Cut(p, " ")
		if strings.HasPrefix(path, "/api/") {
			routes[p] = true
			if r, ok := RouteRole(name); ok {
				roles[p] = r.String()
			}
		}
	}
	if len(routes) < 20 {
		t.Fatalf("%d /api routes registered: pattern recording broken?", len(routes))
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", key)
			}
			if got, want := op.MinimumRole, roles[key]; routes[key] && got != want {
				t.Errorf("%s: x-minimum-role %q, the route table says %q", key, got, want)
			}
			if _, ok := op.Responses[op.success()]; !ok {
				t.Errorf("%s: no success response", key)
			}
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

// jobsAPIPath reports whether path is of the job actions, which need a
// console with users and a job queue (TestJobsAPI validates them).
func jobsAPIPath(path string) bool {
	return strings.HasPrefix(path, "/api/jobs") || strings.HasPrefix(path, "/api/schedules")
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
	tried, paths := 0, 0
	for path := range doc.Paths {
		if jobsAPIPath(path) {
			continue
		}
		paths++
		sch := schemas["GET "+path]
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
		if len(ctypes) == 0 {
			t.Errorf("%s: no content type", path)
		}
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
	if tried < paths {
		t.Errorf("validated %d responses for %d paths", tried, paths)
	}
	// The schemas reject what they should: a device page without devices.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"total": 1}`))
	if err := schemas["GET /api/devices"].Validate(bad); err == nil {
		t.Error("a page without devices validates: the schema checks nothing")
	}
}
