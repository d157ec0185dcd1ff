package web

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"iotwatch/internal/auth"
	"iotwatch/internal/jobs"
	"iotwatch/internal/jobs/spec"
)

// TestJobsAPI drives the job actions' JSON API with an operator's token:
// every request body and success response is validated against
// openapi.json; targets outside the operator's scopes, host names, files on
// the workers and unknown members are refused with the reason; a schedule
// without targets is an admin's to remove; and the audit log records both
// the actions and the refusals.
func TestJobsAPI(t *testing.T) {
	c := newConsole(t, Options{})
	ctx := context.Background()
	doc := decodeOpenAPI(t)
	schemas := responseSchemas(t, doc)
	op := bearer(c.tokens["operator"])
	validated := map[string]bool{}
	// call sends a request and, when it answers want, validates the body
	// sent and the answer against the document.
	call := func(method, target, key, body string, want int, as func(*http.Request)) string {
		t.Helper()
		if body != "" {
			if sch := schemas["request "+key]; sch == nil {
				t.Errorf("%s: no request schema", key)
			} else if v, err := jsonschema.UnmarshalJSON(strings.NewReader(body)); err != nil || (want < 300 && sch.Validate(v) != nil) {
				t.Errorf("%s: the request body %s does not match the document: %v", key, body, sch.Validate(v))
			}
		}
		res, got := c.doJSON(t, method, target, body, as)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %q, want %d", method, target, res.StatusCode, got, want)
		}
		if want >= 300 {
			return got
		}
		validated[key] = true
		if sch := schemas[key]; sch != nil {
			if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
				t.Errorf("%s %s: content type %q", method, target, mt)
			}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(got))
			if err != nil {
				t.Fatalf("%s %s: %v", method, target, err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s %s does not match the document:\n%v", method, target, err)
			}
		}
		return got
	}

	body := call("POST", "/api/jobs", "POST /api/jobs", `{"targets": ["127.20.0.1", "127.20.0.2"], "ports": "23,80", "shards": 2, "audit": {"max_attempts": 3}}`, http.StatusCreated, op)
	var sub jobs.Submitted
	must(t, json.Unmarshal([]byte(body), &sub))
	if len(sub.Jobs) != 2 || sub.Group == 0 {
		t.Fatalf("submitted %+v, want 2 shards", sub)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	body = call("GET", "/api/jobs/"+id(sub.Jobs[1]), "GET /api/jobs/{id}", "", 200, op)
	var j jobs.Job
	must(t, json.Unmarshal([]byte(body), &j))
	if j.ID != sub.Jobs[1] || j.Kind != spec.KindScan {
		t.Errorf("job %+v", j)
	}
	var list []jobs.Job
	must(t, json.Unmarshal([]byte(call("GET", "/api/jobs?kind=scan&state=available&limit=10", "GET /api/jobs", "", 200, op)), &list))
	if len(list) != 2 || list[0].ID != sub.Jobs[1] {
		t.Errorf("available scan jobs: %d, want the 2 submitted, newest first", len(list))
	}
	must(t, json.Unmarshal([]byte(call("GET", "/api/jobs?state=cancelled", "GET /api/jobs", "", 200, op)), &list))
	if len(list) != 1 || list[0].ID != 1 {
		t.Errorf("cancelled jobs: %+v, want job 1", list)
	}
	body = call("POST", "/api/jobs/"+id(sub.Jobs[0])+"/cancel", "POST /api/jobs/{id}/cancel", "", 200, op)
	must(t, json.Unmarshal([]byte(body), &j))
	if j.State != "cancelled" {
		t.Errorf("cancelled job state %q", j.State)
	}
	call("POST", "/api/schedules", "POST /api/schedules", `{"name": "nightly", "every": "24h", "scan": {"targets": ["127.20.0.0/30"], "ports": "23"}}`, http.StatusCreated, op)
	var scheds []apiSchedule
	must(t, json.Unmarshal([]byte(call("GET", "/api/schedules", "GET /api/schedules", "", 200, op)), &scheds))
	if len(scheds) != 1 || scheds[0].Name != "nightly" || scheds[0].EverySeconds != 86400 || scheds[0].Kind != "scan" {
		t.Errorf("schedules %+v", scheds)
	}
	call("POST", "/api/schedules", "POST /api/schedules", `{"name": "nightly", "every": "12h", "scan": {"targets": ["127.20.0.1"]}}`, http.StatusConflict, op)
	call("DELETE", "/api/schedules/nightly", "DELETE /api/schedules/{name}", "", http.StatusNoContent, op)
	call("DELETE", "/api/schedules/nightly", "DELETE /api/schedules/{name}", "", http.StatusNotFound, op)

	// Refusals, each with its reason.
	for _, tt := range []struct {
		method, target, body string
		want                 int
		reason               string
	}{
		{"POST", "/api/jobs", `{"targets": ["127.21.0.1"]}`, 403, "outside"},
		{"POST", "/api/jobs", `{"targets": ["127.20.0.0/24"]}`, 403, "outside"},
		{"POST", "/api/jobs", `{"targets": ["localhost"]}`, 403, "host name"},
		{"POST", "/api/jobs", `{"targets": ["127.20.0.1"], "blocklist": ["/etc/shadow"]}`, 400, "files on the workers"},
		{"POST", "/api/jobs", `{"targets": ["127.20.0.1"], "shell": "x"}`, 400, "unknown field"},
		{"POST", "/api/jobs", `{"targets": []}`, 400, "no targets"},
		{"POST", "/api/jobs", `{"targets": ["127.20.0.1"]} {}`, 400, "more than one"},
		{"POST", "/api/schedules", `{"name": "x", "every": "1s", "scan": {"targets": ["127.20.0.1"]}}`, 400, "at least 1m"},
		{"POST", "/api/schedules", `{"name": "x", "every": "1h", "scan": {"targets": ["10.0.0.0/8"]}}`, 403, "outside"},
		{"GET", "/api/jobs?state=lost", "", 400, "state"},
		{"GET", "/api/jobs/99999", "", 404, "not found"},
	} {
		res, got := c.doJSON(t, tt.method, tt.target, tt.body, op)
		if res.StatusCode != tt.want || !strings.Contains(got, tt.reason) {
			t.Errorf("%s %s %s: %d %q, want %d saying %q", tt.method, tt.target, tt.body, res.StatusCode, got, tt.want, tt.reason)
		}
	}
	// A job outside the operator's scopes cannot be cancelled by them.
	outside, err := c.jobs.SubmitScan(ctx, jobs.ScanRequest{Targets: []string{"127.30.0.1"}, Ports: "23"})
	must(t, err)
	if res, got := c.doJSON(t, "POST", "/api/jobs/"+id(outside.Jobs[0])+"/cancel", "", op); res.StatusCode != 403 || !strings.Contains(got, "outside") {
		t.Errorf("cancel outside the scopes: %d %q", res.StatusCode, got)
	}
	// A schedule without targets is an admin's.
	must(t, c.jobs.AddSchedule(ctx, jobs.Schedule{Name: "match", Every: time.Hour, Vulns: true}))
	if res, _ := c.doJSON(t, "DELETE", "/api/schedules/match", "", op); res.StatusCode != 403 {
		t.Errorf("an operator removing a vulns schedule: %d, want 403", res.StatusCode)
	}
	if res, _ := c.doJSON(t, "DELETE", "/api/schedules/match", "", bearer(c.tokens["admin"])); res.StatusCode != 204 {
		t.Errorf("an admin removing a vulns schedule: %d, want 204", res.StatusCode)
	}
	// An analyst may not even list.
	if res, _ := c.doJSON(t, "GET", "/api/jobs", "", bearer(c.tokens["analyst"])); res.StatusCode != 403 {
		t.Errorf("an analyst listing jobs: %d, want 403", res.StatusCode)
	}
	for path, ops := range doc.Paths {
		if !jobsAPIPath(path) {
			continue
		}
		for method := range ops {
			if key := strings.ToUpper(method) + " " + path; !validated[key] {
				t.Errorf("%s: no successful request validated", key)
			}
		}
	}

	got := map[string]int{}
	must(t, c.a.Audit(ctx, auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Actor == "operator" {
			got[e.Action+" "+e.Outcome]++
		}
		return nil
	}))
	for action, n := range map[string]int{"job.submit ok": 1, "job.submit refused": 3, "job.cancel ok": 1, "job.cancel refused": 1,
		"schedule.add ok": 1, "schedule.add refused": 1, "schedule.remove ok": 1, "schedule.remove refused": 1, "access.denied refused": 0} {
		if got[action] != n {
			t.Errorf("audit log: %d × %q by the operator, want %d (all: %v)", got[action], action, n, got)
		}
	}
}
