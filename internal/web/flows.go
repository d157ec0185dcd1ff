package web

import (
	"net/http"
	"net/netip"
	"time"

	"iotwatch/internal/flow"
)

// The flow endpoints serve what `iotwatch flows detect` and `flows
// destinations` print: detector alerts, the daily count of devices under
// unauthorized control, and where each device's data goes.

// since parses the optional ?since=YYYY-MM-DD or RFC 3339 parameter.
func since(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequest("since %q: want YYYY-MM-DD or RFC 3339", v)
}

func (s *Server) apiFlowAlerts(w http.ResponseWriter, r *http.Request) error {
	t, err := since(r)
	if err != nil {
		return err
	}
	as, err := flow.Alerts(r.Context(), s.st, t)
	if err != nil {
		return err
	}
	if as == nil {
		as = []flow.StoredAlert{}
	}
	return writeJSON(w, as)
}

func (s *Server) apiFlowDaily(w http.ResponseWriter, r *http.Request) error {
	t, err := since(r)
	if err != nil {
		return err
	}
	days, err := flow.DailyCompromised(r.Context(), s.st, t)
	if err != nil {
		return err
	}
	if days == nil {
		days = []flow.DayCount{}
	}
	return writeJSON(w, days)
}

func (s *Server) apiFlowDestinations(w http.ResponseWriter, r *http.Request) error {
	var dev netip.Addr
	if v := r.URL.Query().Get("device"); v != "" {
		var err error
		if dev, err = netip.ParseAddr(v); err != nil {
			return badRequest("device %q: want an IP address", v)
		}
	}
	ds, err := flow.Destinations(r.Context(), s.st, dev)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []flow.Destination{}
	}
	return writeJSON(w, ds)
}
