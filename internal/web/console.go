package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"iotwatch/internal/auth"
	"iotwatch/internal/jobs/spec"
)

// The console's job actions for operators: submit a scan (and its audit)
// within the user's scopes, watch it (server-sent events, or a page that
// reloads itself without JavaScript), cancel it, add a schedule. Every
// action is checked against the user's scopes (auth.AuthorizeTargets) and
// recorded in the audit log, refusals included.

//go:embed static/console.js
var staticFS embed.FS

// finalStates are River's states of a job that will not run again.
var finalStates = []string{"completed", "cancelled", "discarded"}

func (s *Server) registerConsole(route func(pattern, name string, h handlerFunc)) {
	route("GET /jobs", "jobs", s.jobsPage)
	route("POST /jobs", "job_submit", s.jobSubmit)
	route("GET /jobs/{id}", "job", s.jobPage)
	route("GET /jobs/{id}/events", "job_events", s.jobEvents)
	route("POST /jobs/{id}/cancel", "job_cancel", s.jobCancel)
	route("POST /schedules", "schedule_add", s.scheduleAdd)
	route("GET /static/console.js", "static", func(w http.ResponseWriter, r *http.Request) error {
		b, err := staticFS.ReadFile("static/console.js")
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, err = w.Write(b)
		return err
	})
}

func (s *Server) jobsClient() (JobQueue, error) {
	if s.opts.Jobs == nil {
		return nil, httpError{http.StatusNotFound, "job actions are off: this console has no job queue"}
	}
	if s.opts.Auth == nil {
		return nil, httpError{http.StatusNotFound, "job actions need users: iotwatch users add NAME --role operator"}
	}
	return s.opts.Jobs, nil
}

// JobQueue is what the console asks of the job queue (package jobs'
// Client): it submits, lists and cancels jobs and adds schedules, in the
// types of package spec, so the dashboard links none of the code that runs
// jobs.
type JobQueue interface {
	SubmitScan(ctx context.Context, req spec.ScanRequest) (spec.Submitted, error)
	List(ctx context.Context, o spec.ListOptions) ([]spec.Job, error)
	Get(ctx context.Context, id int64) (spec.Job, error)
	Cancel(ctx context.Context, id int64) (spec.Job, error)
	ListSchedules(ctx context.Context) ([]spec.Schedule, error)
	AddSchedule(ctx context.Context, s spec.Schedule) error
	RemoveSchedule(ctx context.Context, name string) error
}

type jobsView struct {
	Nav       any
	User      string
	CSRF      string
	Scopes    []string
	Jobs      []spec.Job
	Schedules []spec.Schedule
	Error     string
	Form      map[string]string
}

func (s *Server) renderJobs(w http.ResponseWriter, r *http.Request, code int, errMsg string) error {
	c, err := s.jobsClient()
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := auth.From(ctx)
	list, err := c.List(ctx, spec.ListOptions{Limit: 50})
	if err != nil {
		return err
	}
	scheds, err := c.ListSchedules(ctx)
	if err != nil {
		return err
	}
	scopes, err := s.opts.Auth.Scopes(ctx, p.UserID)
	if err != nil {
		return err
	}
	v := jobsView{Nav: s.nav(r, 0), User: p.Name, CSRF: p.CSRF, Jobs: list, Schedules: scheds, Error: errMsg, Form: map[string]string{}}
	for _, sc := range scopes {
		v.Scopes = append(v.Scopes, sc.String())
	}
	if r.Method == http.MethodPost {
		for _, k := range []string{"targets", "ports", "shards", "name", "every"} {
			v.Form[k] = r.PostFormValue(k)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	return consoleTemplates().ExecuteTemplate(w, "jobs", v)
}

func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderJobs(w, r, http.StatusOK, "")
}

// scanRequest reads the scan form: targets (space, comma or line separated),
// ports, shards, audit.
func scanRequest(r *http.Request) (spec.ScanRequest, error) {
	req := spec.ScanRequest{Targets: strings.FieldsFunc(r.PostFormValue("targets"), func(c rune) bool {
		return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t'
	}), Ports: strings.TrimSpace(r.PostFormValue("ports")), Shards: 1}
	if len(req.Targets) == 0 {
		return req, errors.New("no targets: list addresses, CIDRs or ranges")
	}
	if v := strings.TrimSpace(r.PostFormValue("shards")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			return req, fmt.Errorf("shards %q: want 1 to 256", v)
		}
		req.Shards = n
	}
	if r.PostFormValue("audit") != "" {
		req.Audit = &spec.AuditRequest{}
	}
	return req, nil
}

// refusal turns an authorization or request error into the page's message
// and status, or returns the error for handle.
func refusal(err error) (int, string, bool) {
	switch {
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, err.Error(), true
	case errors.Is(err, spec.ErrBadRequest), errors.Is(err, spec.ErrExists):
		return http.StatusBadRequest, err.Error(), true
	}
	return 0, "", false
}

func (s *Server) jobSubmit(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.jobsClient(); err != nil {
		return err
	}
	req, err := scanRequest(r)
	if err != nil {
		return s.renderJobs(w, r, http.StatusBadRequest, err.Error())
	}
	sub, err := s.submitScan(r, req, "")
	if err != nil {
		if code, msg, ok := refusal(err); ok {
			return s.renderJobs(w, r, code, msg)
		}
		return err
	}
	http.Redirect(w, r, "/jobs/"+strconv.FormatInt(sub.Jobs[0], 10), http.StatusSeeOther)
	return nil
}

// job returns the job of the {id} path value.
func (s *Server) job(r *http.Request) (spec.Job, error) {
	c, err := s.jobsClient()
	if err != nil {
		return spec.Job{}, err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return spec.Job{}, badRequest("job id %q: want a positive integer", r.PathValue("id"))
	}
	j, err := c.Get(r.Context(), id)
	if errors.Is(err, spec.ErrNotFound) {
		return j, httpError{http.StatusNotFound, err.Error()}
	}
	return j, err
}

// jobTargets returns the network targets a job touches (none for matches,
// firmware analyses and reports).
func jobTargets(j spec.Job) []string {
	switch j.Kind {
	case spec.KindScan:
		var a spec.ScanArgs
		if json.Unmarshal(j.Args, &a) == nil {
			return a.Request.Targets
		}
	case spec.KindAudit:
		var a spec.AuditArgs
		if json.Unmarshal(j.Args, &a) == nil {
			return a.Targets
		}
	}
	return nil
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	p := auth.From(r.Context())
	// This page alone runs a script: its own, from this origin.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return consoleTemplates().ExecuteTemplate(w, "job", struct {
		Nav     any
		CSRF    string
		J       spec.Job
		Targets []string
		Final   bool
	}{s.nav(r, 0), p.CSRF, j, jobTargets(j), slices.Contains(finalStates, j.State)})
}

// jobEvents streams the job as server-sent events ("event: job", its JSON)
// every PollEvery until it reaches a final state.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout; not every writer supports deadlines
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	tick := time.NewTicker(s.opts.PollEvery)
	defer tick.Stop()
	last := ""
	for {
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if string(b) != last {
			if _, err := fmt.Fprintf(w, "event: job\ndata: %s\n\n", b); err != nil {
				return nil // the client went away
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
			last = string(b)
		}
		if slices.Contains(finalStates, j.State) {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
		}
		if j, err = s.job(r); err != nil {
			return err
		}
	}
}

func (s *Server) jobCancel(w http.ResponseWriter, r *http.Request) error {
	j, err := s.job(r)
	if err != nil {
		return err
	}
	if _, err := s.cancelJob(r, j, ""); err != nil {
		if code, msg, ok := refusal(err); ok {
			return httpError{code, msg}
		}
		return err
	}
	http.Redirect(w, r, "/jobs/"+strconv.FormatInt(j.ID, 10), http.StatusSeeOther)
	return nil
}

func (s *Server) scheduleAdd(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.jobsClient(); err != nil {
		return err
	}
	req, err := scanRequest(r)
	if err != nil {
		return s.renderJobs(w, r, http.StatusBadRequest, err.Error())
	}
	every, err := time.ParseDuration(strings.TrimSpace(r.PostFormValue("every")))
	if err != nil || every < time.Minute {
		return s.renderJobs(w, r, http.StatusBadRequest, fmt.Sprintf("every %q: want a period such as 24h (at least 1m)", r.PostFormValue("every")))
	}
	sc := spec.Schedule{Name: strings.TrimSpace(r.PostFormValue("name")), Every: every, Scan: &req}
	if err := s.addSchedule(r, sc, ""); err != nil {
		if code, msg, ok := refusal(err); ok {
			return s.renderJobs(w, r, code, msg)
		}
		return err
	}
	http.Redirect(w, r, "/jobs", http.StatusSeeOther)
	return nil
}

// The actions, shared by the pages and the API (via names the API in the
// audit entry): each checks the principal's scopes (a refusal is audit-logged
// by auth and wraps auth.ErrForbidden), acts, and records what it did.

// submitScan submits req as the request's principal.
func (s *Server) submitScan(r *http.Request, req spec.ScanRequest, via string) (spec.Submitted, error) {
	ctx := r.Context()
	if err := s.opts.Auth.AuthorizeTargets(ctx, auth.From(ctx), "job.submit", req.Targets, remote(r)); err != nil {
		return spec.Submitted{}, err
	}
	sub, err := s.opts.Jobs.SubmitScan(ctx, req)
	if err != nil {
		return sub, err
	}
	s.audit(r, auth.Entry{Action: "job.submit", Target: strings.Join(req.Targets, " "), Outcome: "ok",
		Detail: fmt.Sprintf("scan run %d, jobs %v, ports %q, audit %v%s", sub.Group, sub.Jobs, req.Ports, req.Audit != nil, via)})
	return sub, nil
}

// cancelJob cancels j as the request's principal: a scan's or audit's
// targets must be inside their scopes.
func (s *Server) cancelJob(r *http.Request, j spec.Job, via string) (spec.Job, error) {
	ctx := r.Context()
	if ts := jobTargets(j); len(ts) > 0 {
		if err := s.opts.Auth.AuthorizeTargets(ctx, auth.From(ctx), "job.cancel", ts, remote(r)); err != nil {
			return j, err
		}
	}
	j2, err := s.opts.Jobs.Cancel(ctx, j.ID)
	if err != nil {
		return j, err
	}
	s.audit(r, auth.Entry{Action: "job.cancel", Target: "job " + strconv.FormatInt(j.ID, 10), Outcome: "ok",
		Detail: j.Kind + " " + strings.Join(jobTargets(j), " ") + via})
	return j2, nil
}

// addSchedule adds the scan schedule sc as the request's principal.
func (s *Server) addSchedule(r *http.Request, sc spec.Schedule, via string) error {
	ctx := r.Context()
	if err := s.opts.Auth.AuthorizeTargets(ctx, auth.From(ctx), "schedule.add", sc.Scan.Targets, remote(r)); err != nil {
		return err
	}
	if err := s.opts.Jobs.AddSchedule(ctx, sc); err != nil {
		return err
	}
	s.audit(r, auth.Entry{Action: "schedule.add", Target: strings.Join(sc.Scan.Targets, " "), Outcome: "ok",
		Detail: fmt.Sprintf("schedule %s every %s%s", sc.Name, sc.Every, via)})
	return nil
}

var consoleTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(parseAccessTemplates().Parse(`
{{define "jobs"}}{{template "head"}}{{template "nav" .Nav}}
<h1>Jobs</h1>
{{with .Error}}<p class="error" id="job-error">{{.}}</p>{{end}}
<p>Your target scopes: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}<code>{{$s}}</code>{{else}}<em>none — ask an admin (iotwatch users scope add {{$.User}} CIDR)</em>{{end}}</p>
<h2>Submit a scan</h2>
<form method="post" action="/jobs" id="submit-form"><input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="targets">Targets (addresses, CIDRs, ranges)</label><input type="text" id="targets" name="targets" value="{{index .Form "targets"}}" required>
<label for="ports">Ports (empty: the built-in IoT list)</label><input type="text" id="ports" name="ports" value="{{index .Form "ports"}}">
<label for="shards">Shards</label><input type="text" id="shards" name="shards" value="{{or (index .Form "shards") "1"}}">
<label><input type="checkbox" name="audit" value="1"> audit the login surfaces found</label>
<button type="submit" id="submit">Submit</button></form>
<h2>Recent jobs</h2>
<table id="jobs"><tr><th>job</th><th>kind</th><th>state</th><th>progress</th><th>run</th><th>created</th></tr>
{{range .Jobs}}<tr><td><a href="/jobs/{{.ID}}">#{{.ID}}</a></td><td>{{.Kind}}</td><td>{{.State}}</td><td>{{with .Progress}}{{.Done}} / {{.Total}}{{end}}</td><td>{{if .Run}}<a href="/?run={{.Run}}">#{{.Run}}</a>{{end}}</td><td>{{.CreatedAt.UTC.Format "2006-01-02 15:04:05"}}</td></tr>
{{end}}</table>
<h2>Schedules</h2>
<table><tr><th>name</th><th>runs</th><th>every</th><th>targets</th></tr>
{{range .Schedules}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Every}}</td><td>{{with .Scan}}{{range .Targets}}{{.}} {{end}}{{end}}</td></tr>{{end}}</table>
<h3>Add a scan schedule</h3>
<form method="post" action="/schedules" id="schedule-form"><input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="s-name">Name</label><input type="text" id="s-name" name="name" value="{{index .Form "name"}}" required>
<label for="s-every">Every (e.g. 24h)</label><input type="text" id="s-every" name="every" value="{{index .Form "every"}}" required>
<label for="s-targets">Targets</label><input type="text" id="s-targets" name="targets" value="{{index .Form "targets"}}" required>
<label for="s-ports">Ports</label><input type="text" id="s-ports" name="ports" value="{{index .Form "ports"}}">
<label><input type="checkbox" name="audit" value="1"> audit</label>
<button type="submit">Add schedule</button></form>
</body></html>{{end}}
{{define "job"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>iotwatch job {{.J.ID}}</title>
{{if not .Final}}<noscript><meta http-equiv="refresh" content="3"></noscript>{{end}}
<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:0 auto;padding:1rem 1.5rem}nav a{margin-right:1rem}dt{font-weight:bold}button{margin-top:1rem;padding:.4rem 1.2rem}</style>
<script src="/static/console.js" defer></script></head><body>{{template "nav" .Nav}}
<h1>Job #{{.J.ID}}: {{.J.Kind}}</h1>
<dl id="job" data-id="{{.J.ID}}"{{if .Final}} data-final="1"{{end}}>
<dt>state</dt><dd id="state">{{.J.State}}</dd>
<dt>progress</dt><dd id="progress">{{with .J.Progress}}{{.Done}} / {{.Total}}{{else}}-{{end}}</dd>
<dt>targets</dt><dd>{{range .Targets}}<code>{{.}}</code> {{end}}</dd>
<dt>run</dt><dd>{{if .J.Run}}<a href="/?run={{.J.Run}}">#{{.J.Run}}</a>{{else}}-{{end}}</dd>
<dt>attempt</dt><dd>{{.J.Attempt}} of {{.J.MaxAttempts}}</dd>
{{range .J.Lost}}<dt>lost shard</dt><dd>{{.Shard}} (<a href="/jobs/{{.Job}}">#{{.Job}}</a>, {{.State}}): the scan's audit and run cover the other shards</dd>{{end}}
{{range .J.Errors}}<dt>error</dt><dd>{{.}}</dd>{{end}}
</dl>
{{if not .Final}}<form method="post" action="/jobs/{{.J.ID}}/cancel"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit" id="cancel">Cancel</button></form>{{end}}
<p><a href="/jobs">All jobs</a></p>
</body></html>{{end}}
`))
})
