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

// device parses the optional ?device=ADDRESS parameter; the zero address
// means every device.
func device(r *http.Request) (netip.Addr, error) {
	v := r.URL.Query().Get("device")
	if v == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, badRequest("device %q: want an IP address", v)
	}
	return a.Unmap(), nil
}

// alerts returns the stored alerts since ?since=, of ?device= when given.
func (s *Server) alerts(r *http.Request) ([]flow.StoredAlert, error) {
	t, err := since(r)
	if err != nil {
		return nil, err
	}
	dev, err := device(r)
	if err != nil {
		return nil, err
	}
	as, err := flow.Alerts(r.Context(), s.st, t)
	if err != nil {
		return nil, err
	}
	out := []flow.StoredAlert{}
	for _, a := range as {
		if !dev.IsValid() || a.Device.Unmap() == dev {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Server) apiFlowAlerts(w http.ResponseWriter, r *http.Request) error {
	as, err := s.alerts(r)
	if err != nil {
		return err
	}
	return writeJSON(w, as)
}

// apiFlowDaily serves the devices under unauthorized control per day; with
// ?device= the days on which that device was (1) among them.
func (s *Server) apiFlowDaily(w http.ResponseWriter, r *http.Request) error {
	dev, err := device(r)
	if err != nil {
		return err
	}
	if dev.IsValid() {
		as, err := s.alerts(r)
		if err != nil {
			return err
		}
		days := []flow.DayCount{}
		for _, a := range as { // oldest first; outbound alerts count, as in flow.DailyCompromised
			if !a.Inbound && (len(days) == 0 || days[len(days)-1].Day != a.Day) {
				days = append(days, flow.DayCount{Day: a.Day, Devices: 1})
			}
		}
		return writeJSON(w, days)
	}
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
	dev, err := device(r)
	if err != nil {
		return err
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
