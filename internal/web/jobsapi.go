package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/auth"
	"iotwatch/internal/jobs/spec"
)

// The JSON API of the console's job actions (openapi.json describes it):
// the same operations as the /jobs pages, for scripts with an operator's
// token. Submissions, cancellations and schedule changes go through the same
// scope check (auth.AuthorizeTargets: a refusal is a 403 with the reason,
// and in the audit log) and are recorded as the pages record them.

func (s *Server) registerJobsAPI(route func(pattern, name string, h handlerFunc)) {
	route("GET /api/jobs", "api_jobs", s.apiJobs)
	route("POST /api/jobs", "api_job_submit", s.apiJobSubmit)
	route("GET /api/jobs/{id}", "api_job", s.apiJob)
	route("POST /api/jobs/{id}/cancel", "api_job_cancel", s.apiJobCancel)
	route("GET /api/schedules", "api_schedules", s.apiSchedules)
	route("POST /api/schedules", "api_schedule_add", s.apiScheduleAdd)
	route("DELETE /api/schedules/{name}", "api_schedule_remove", s.apiScheduleRemove)
}

// jobStates are River's job states, for the state filter.
var jobStates = []string{"available", "cancelled", "completed", "discarded", "pending", "retryable", "running", "scheduled"}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) error {
	c, err := s.jobsClient()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	o := spec.ListOptions{Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return badRequest("limit %q: want 1 to 10000", v)
		}
		o.Limit = n
	}
	for _, k := range q["kind"] {
		if !slices.Contains([]string{spec.KindScan, spec.KindAudit, spec.KindVulns, spec.KindFirmware, spec.KindReport, spec.KindSchedule}, k) {
			return badRequest("kind %q: want scan, audit, vulns, firmware, report or schedule", k)
		}
		o.Kinds = append(o.Kinds, k)
	}
	for _, st := range q["state"] {
		if !slices.Contains(jobStates, st) {
			return badRequest("state %q: want one of %s", st, strings.Join(jobStates, ", "))
		}
		o.States = append(o.States, st)
	}
	list, err := c.List(r.Context(), o)
	if err != nil {
		return err
	}
	if list == nil {
		list = []spec.Job{}
	}
	return writeJSON(w, list)
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	return writeJSON(w, j)
}

// decodeBody decodes a JSON request body into v, refusing unknown members
// and anything after the value.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	if dec.More() {
		return badRequest("request body: more than one JSON value")
	}
	return nil
}

// checkAPIScan completes and limits a scan request from the API: the lists
// it could name are files on the workers, which a client of the console
// does not choose.
func checkAPIScan(req *spec.ScanRequest) error {
	if len(req.Targets) == 0 {
		return badRequest("no targets: list addresses, CIDRs or ranges")
	}
	if len(req.Blocklist) > 0 || len(req.Allowlist) > 0 {
		return badRequest("blocklist and allowlist name files on the workers: not taken from the API")
	}
	if req.Shards == 0 {
		req.Shards = 1
	}
	if req.Shards < 1 || req.Shards > 256 {
		return badRequest("shards %d: want 1 to 256", req.Shards)
	}
	return nil
}

// apiRefusal maps an authorization or request error to its status, as
// refusal does for the pages.
func apiRefusal(err error) error {
	if code, msg, ok := refusal(err); ok {
		return httpError{code, msg}
	}
	if errors.Is(err, spec.ErrNotFound) {
		return httpError{http.StatusNotFound, err.Error()}
	}
	return err
}

func (s *Server) apiJobSubmit(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.jobsClient(); err != nil {
		return err
	}
	var req spec.ScanRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := checkAPIScan(&req); err != nil {
		return err
	}
	sub, err := s.submitScan(r, req, " (API)")
	if err != nil {
		return apiRefusal(err)
	}
	w.Header().Set("Location", "/api/jobs/"+strconv.FormatInt(sub.Jobs[0], 10))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	return json.NewEncoder(w).Encode(sub)
}

func (s *Server) apiJobCancel(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	if j, err = s.cancelJob(r, j, " (API)"); err != nil {
		return apiRefusal(err)
	}
	return writeJSON(w, j)
}

// apiSchedule is a schedule as the API shows and takes it: the period as a
// Go duration ("24h0m0s") and in seconds.
type apiSchedule struct {
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	Every        string            `json:"every"`
	EverySeconds int64             `json:"every_seconds"`
	Scan         *spec.ScanRequest `json:"scan,omitempty"`
	Vulns        bool              `json:"vulns,omitempty"`
	Report       *spec.ReportArgs  `json:"report,omitempty"`
	Created      time.Time         `json:"created"`
}

func (s *Server) apiSchedules(w http.ResponseWriter, r *http.Request) error {
	c, err := s.jobsClient()
	if err != nil {
		return err
	}
	list, err := c.ListSchedules(r.Context())
	if err != nil {
		return err
	}
	out := make([]apiSchedule, 0, len(list))
	for _, sc := range list {
		out = append(out, apiSchedule{Name: sc.Name, Kind: sc.Kind(), Every: sc.Every.String(), EverySeconds: int64(sc.Every / time.Second),
			Scan: sc.Scan, Vulns: sc.Vulns, Report: sc.Report, Created: sc.Created})
	}
	return writeJSON(w, out)
}

// scheduleRequest is the body of a schedule added through the API: a scan
// every period.
type scheduleRequest struct {
	Name  string           `json:"name"`
	Every string           `json:"every"`
	Scan  spec.ScanRequest `json:"scan"`
}

func (s *Server) apiScheduleAdd(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.jobsClient(); err != nil {
		return err
	}
	var req scheduleRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	every, err := time.ParseDuration(strings.TrimSpace(req.Every))
	if err != nil || every < time.Minute {
		return badRequest("every %q: want a period such as 24h (at least 1m)", req.Every)
	}
	if strings.TrimSpace(req.Name) == "" {
		return badRequest("a schedule needs a name")
	}
	if err := checkAPIScan(&req.Scan); err != nil {
		return err
	}
	sc := spec.Schedule{Name: strings.TrimSpace(req.Name), Every: every, Scan: &req.Scan}
	if err := s.addSchedule(r, sc, " (API)"); err != nil {
		if errors.Is(err, spec.ErrExists) {
			return httpError{http.StatusConflict, err.Error()}
		}
		return apiRefusal(err)
	}
	w.Header().Set("Location", "/api/schedules")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// apiScheduleRemove removes a schedule; one that scans needs its targets
// inside the remover's scopes, as adding it did.
func (s *Server) apiScheduleRemove(w http.ResponseWriter, r *http.Request) error {
	c, err := s.jobsClient()
	if err != nil {
		return err
	}
	ctx := r.Context()
	name := r.PathValue("name")
	list, err := c.ListSchedules(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(sc spec.Schedule) bool { return sc.Name == name })
	if i < 0 {
		return httpError{http.StatusNotFound, "schedule " + name + ": not found"}
	}
	p := auth.From(ctx)
	switch sc := list[i]; {
	case sc.Scan != nil:
		if err := s.opts.Auth.AuthorizeTargets(ctx, p, "schedule.remove", sc.Scan.Targets, remote(r)); err != nil {
			return apiRefusal(err)
		}
	case p.Role < auth.Admin:
		// Report and matching schedules have no targets: an admin's.
		s.audit(r, auth.Entry{Action: "schedule.remove", Target: name, Outcome: "refused", Detail: "a " + sc.Kind() + " schedule: admins only"})
		return httpError{http.StatusForbidden, "schedule " + name + " runs " + sc.Kind() + ": only an admin removes it"}
	}
	if err := c.RemoveSchedule(ctx, name); err != nil {
		return apiRefusal(err)
	}
	s.audit(r, auth.Entry{Action: "schedule.remove", Target: name, Outcome: "ok", Detail: "(API)"})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
