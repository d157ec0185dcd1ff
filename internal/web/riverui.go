package web

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"riverqueue.com/riverui"

	"iotwatch/internal/auth"
	"iotwatch/internal/store"
)

// RiverUIPath is where River's own job UI (riverqueue.com/riverui) is
// mounted for admins: its single-page application, and its API under
// RiverUIPath + "api/".
const RiverUIPath = "/admin/river/"

// riverCSP is the Content-Security-Policy of River's UI: its application is
// a script and a stylesheet of its own (no inline script; its settings are a
// JSON block the script reads) calling its API on the same origin.
const riverCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// RiverUI returns River's job UI over the job queue in st's database (the
// tables jobs.New migrates), its background services running until ctx
// ends, for Options.RiverUI. It reads River's tables through the store's
// own connection pool: riversqlite on SQLite, riverdatabasesql (pgx's
// stdlib) on PostgreSQL, as package jobs does.
func RiverUI(ctx context.Context, st *store.Store, log *slog.Logger) (http.Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var drv riverdriver.Driver[*sql.Tx]
	if st.Dialect() == store.SQLite {
		drv = riversqlite.New(st.DB())
	} else {
		drv = riverdatabasesql.New(st.DB())
	}
	// Warnings and errors only: River logs routine work at info.
	rlog := slog.New(warnOnly{log.Handler()})
	client, err := river.NewClient(drv, &river.Config{Logger: rlog}) // insert-only: no queues, no work
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    rlog,
		Prefix:    strings.TrimSuffix(RiverUIPath, "/"),
		// Job arguments name targets: shown on request, not in lists.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	return h, nil
}

type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

// registerRiverUI mounts Options.RiverUI for admins: its pages and API reads
// as route admin_river, its actions (cancel, retry, delete jobs; pause,
// resume, change queues) as admin_river_action, each in the audit log with
// its outcome. Both go through require like every route: an admin's session
// or token, and for a session's actions the CSRF token (X-CSRF-Token) or,
// since River's application cannot send it, the browser's own word that the
// request came from this origin (sameOrigin: Sec-Fetch-Site or Origin).
func (s *Server) registerRiverUI(route func(pattern, name string, h handlerFunc)) {
	ui := s.opts.RiverUI
	if ui == nil {
		return
	}
	serve := func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Security-Policy", riverCSP)
		ui.ServeHTTP(w, r)
		return nil
	}
	route("GET "+RiverUIPath, "admin_river", serve)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		route(m+" "+RiverUIPath+"api/", "admin_river_action", func(w http.ResponseWriter, r *http.Request) error {
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			err := serve(sw, r)
			outcome := "ok"
			if sw.code >= 400 {
				outcome = "failed"
			}
			s.audit(r, auth.Entry{Action: "river.action", Target: r.Method + " " + r.URL.Path, Outcome: outcome,
				Detail: fmt.Sprintf("River UI: HTTP %d", sw.code)})
			return err
		})
	}
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
