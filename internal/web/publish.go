package web

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"

	"iotwatch/internal/auth"
	"iotwatch/internal/report"
)

// The published view: with Options.Publish set, a viewer sees the report as
// `iotwatch report --publish` writes it (no device address, networks as
// Crypto-PAn pseudonyms, per-network rows only above the minimum cell size)
// on every page they may open, and each rendering is checked for the
// devices' addresses before it is sent (report.CheckPublished): one that
// still names one is refused, not served.

// publishes reports whether r gets the published view.
func (s *Server) publishes(r *http.Request) bool {
	return s.opts.Publish != nil && auth.From(r.Context()).Role == auth.Viewer
}

// viewReport returns the report of run id (0: the default runs) that r may
// see, and the addresses its rendering must not name (nil: no check, the
// full report).
func (s *Server) viewReport(r *http.Request, id int64) (*report.Report, []netip.Addr, error) {
	rep, err := s.report(r.Context(), id, s.showSecrets(r))
	if err != nil || !s.publishes(r) {
		return rep, nil, err
	}
	s.mu.Lock()
	pub, ok := s.published[rep]
	s.mu.Unlock()
	if !ok {
		addrs, err := report.CoveredAddrs(r.Context(), s.st, rep)
		if err != nil {
			return nil, nil, err
		}
		opts := *s.opts.Publish
		opts.Addresses = append(append([]netip.Addr(nil), opts.Addresses...), addrs...)
		p, err := report.Publish(rep, opts)
		if err != nil {
			return nil, nil, err
		}
		pub = publishedReport{p, addrs}
		s.mu.Lock()
		for k := range s.published { // one built report at a time is enough
			delete(s.published, k)
		}
		s.published[rep] = pub
		s.mu.Unlock()
	}
	return pub.r, pub.addrs, nil
}

// publishedReport is a built report's published form and the addresses it
// must not name.
type publishedReport struct {
	r     *report.Report
	addrs []netip.Addr
}

// sendChecked renders with render and sends it with content type ct,
// after checking that it names none of addrs (when addrs is not nil).
func (s *Server) sendChecked(w http.ResponseWriter, ct string, addrs []netip.Addr, render func(io.Writer) error) error {
	if addrs == nil {
		w.Header().Set("Content-Type", ct)
		return render(w)
	}
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	if err := report.CheckPublished(buf.Bytes(), addrs); err != nil {
		s.log.Error("published view withheld", "err", err)
		return httpError{http.StatusInternalServerError, "the published view is withheld: it would name a device address"}
	}
	w.Header().Set("Content-Type", ct)
	_, err := w.Write(buf.Bytes())
	return err
}
