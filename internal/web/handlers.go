package web

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"iotwatch/internal/auth"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/store"
)

// nav is the dashboard's navigation, above every page: the links the
// request's principal may follow.
func (s *Server) nav(r *http.Request, runID int64) []report.Link {
	q := ""
	if runID > 0 {
		q = "?run=" + strconv.FormatInt(runID, 10)
	}
	p := auth.From(r.Context())
	var out []report.Link
	for _, l := range []struct {
		report.Link
		route string
	}{
		{report.Link{Href: "/" + q, Text: "Dashboard"}, "dashboard"},
		{report.Link{Href: "/runs", Text: "Runs"}, "runs"},
		{report.Link{Href: "/devices", Text: "Devices"}, "devices"},
		{report.Link{Href: "/report.json" + q, Text: "JSON"}, "report_json"},
		{report.Link{Href: "/report.csv" + q, Text: "CSV"}, "report_csv"},
		{report.Link{Href: "/report.md" + q, Text: "Markdown"}, "report_md"},
		{report.Link{Href: "/api/runs", Text: "API"}, "api_runs"},
		{report.Link{Href: "/metrics", Text: "Metrics"}, "metrics"},
		{report.Link{Href: "/jobs", Text: "Jobs"}, "jobs"},
		{report.Link{Href: "/admin/users", Text: "Users"}, "admin_users"},
		{report.Link{Href: "/admin/audit", Text: "Audit log"}, "admin_audit"},
		{report.Link{Href: RiverUIPath, Text: "River"}, "admin_river"},
	} {
		needs := map[string]bool{"admin_audit": s.opts.Auth != nil, "admin_users": s.opts.Auth != nil, "jobs": s.opts.Auth != nil && s.opts.Jobs != nil,
			"admin_river": s.opts.Auth != nil && s.opts.RiverUI != nil}
		if ok, special := needs[l.route]; special && !ok {
			continue
		}
		if min := routeRoles[l.route]; p.Role >= min {
			out = append(out, l.Link)
		}
	}
	if p.Via == "session" {
		out = append(out, report.Link{Href: "/logout", Text: "Log out " + p.Name})
	}
	return out
}

// dashboard renders the report of the newest run, or of ?run=ID.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	rep, addrs, err := s.viewReport(r, id)
	if err != nil {
		return err
	}
	s.revealed(r)
	return s.sendChecked(w, "text/html; charset=utf-8", addrs, func(w io.Writer) error {
		return rep.RenderHTML(w, report.HTMLOptions{Nav: s.nav(r, id), Devices: s.inventoryLinks(r)})
	})
}

// runsPage lists the runs with links to their reports.
func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) error {
	runs, err := s.st.Runs(r.Context(), 200)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return pageTemplate().Execute(w, struct {
		Nav  []report.Link
		Runs []model.Run
	}{s.nav(r, 0), runs})
}

var contentTypes = map[string]string{
	"html": "text/html; charset=utf-8",
	"md":   "text/markdown; charset=utf-8",
	"json": "application/json",
	"csv":  "text/csv; charset=utf-8",
}

// reportFile serves the report in one format: /report.{html,md,json,csv}?run=ID.
func (s *Server) reportFile(format string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error { return s.writeReport(w, r, format) }
}

func (s *Server) writeReport(w http.ResponseWriter, r *http.Request, format string) error {
	ct, ok := contentTypes[format]
	if !ok {
		return httpError{http.StatusNotFound, fmt.Sprintf("no report format %q: want html, md, json or csv", format)}
	}
	id, err := runID(r)
	if err != nil {
		return err
	}
	rep, addrs, err := s.viewReport(r, id)
	if err != nil {
		return err
	}
	s.revealed(r)
	if format != "html" {
		w.Header().Set("Content-Disposition", `attachment; filename="report.`+format+`"`)
	}
	return s.sendChecked(w, ct, addrs, func(w io.Writer) error { return rep.Write(w, format) })
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 10000 {
			return badRequest("limit %q: want 1..10000", v)
		}
		limit = n
	}
	runs, err := s.st.Runs(r.Context(), limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []model.Run{}
	}
	return writeJSON(w, runs)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	run, err := s.resolveRun(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, run)
}

func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	rep, err := s.report(r.Context(), id, s.showSecrets(r))
	if err != nil {
		return err
	}
	s.revealed(r)
	w.Header().Set("Content-Type", "application/json")
	return rep.WriteJSON(w)
}

// evidenceOf lists one kind of evidence of a run as a JSON array: of the
// logical run, that is the run with the runs joined to it by resumption,
// read through the store's evidence loader (each item once, newest record).
func evidenceOf[T any](s *Server, w http.ResponseWriter, r *http.Request, pick func(*store.Evidence) []T) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	run, err := s.resolveRun(r.Context(), id)
	if err != nil {
		return err
	}
	ev, err := s.st.LoadEvidence(r.Context(), []int64{run.ID})
	if err != nil {
		return err
	}
	items := pick(ev)
	if items == nil {
		items = []T{}
	}
	return writeJSON(w, items)
}

func (s *Server) apiServices(w http.ResponseWriter, r *http.Request) error {
	return evidenceOf(s, w, r, func(ev *store.Evidence) []model.Service { return ev.Services })
}

// apiCredentials lists credential results with passwords redacted unless the
// server shows secrets.
func (s *Server) apiCredentials(w http.ResponseWriter, r *http.Request) error {
	return evidenceOf(s, w, r, func(ev *store.Evidence) []model.CredentialResult {
		cs := ev.Credentials
		if s.showSecrets(r) {
			s.revealed(r)
		} else {
			for i := range cs {
				cs[i].Password = model.Redact(cs[i].Password)
			}
		}
		return cs
	})
}

func (s *Server) apiVulns(w http.ResponseWriter, r *http.Request) error {
	// Ranked for work: KEV, then EPSS, then CVSS.
	return evidenceOf(s, w, r, func(ev *store.Evidence) []model.VulnMatch {
		slices.SortStableFunc(ev.Vulns, model.CompareVulnMatches)
		return ev.Vulns
	})
}

func (s *Server) apiFindings(w http.ResponseWriter, r *http.Request) error {
	return evidenceOf(s, w, r, func(ev *store.Evidence) []model.Finding { return ev.Findings })
}

func (s *Server) apiAssets(w http.ResponseWriter, r *http.Request) error {
	assets, err := s.st.Assets(r.Context())
	if err != nil {
		return err
	}
	if assets == nil {
		assets = []model.Asset{}
	}
	return writeJSON(w, assets)
}
