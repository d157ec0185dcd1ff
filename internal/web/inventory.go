package web

import (
	"cmp"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"iotwatch/internal/assess"
	"iotwatch/internal/auth"
	"iotwatch/internal/flow"
	"iotwatch/internal/hostkey"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/store"
	"iotwatch/internal/tlsinfo"
)

// The device inventory: every device the store knows (store.Device, one
// definition shared with the report's statistics), searchable and filtered
// on the server, paged by address (keyset: a page costs the same at any
// depth), and a page per device with everything known about it. The JSON
// API serves the same queries.

//go:embed templates/*.html
var inventoryFS embed.FS

var inventoryTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"join": strings.Join,
		"list": func(s ...string) []string { return s },
		"pct":  func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
		"redact": func(reveal bool, s string) string {
			if reveal {
				return s
			}
			return model.Redact(s)
		},
	}).ParseFS(inventoryFS, "templates/*.html"))
})

// inventoryLinks returns where the dashboard's numbers link for r: the
// inventory filtered by the number's query, or nil (no links) when r's
// principal may not see the inventory.
func (s *Server) inventoryLinks(r *http.Request) func(url.Values) string {
	if auth.From(r.Context()).Role < routeRoles["devices"] {
		return nil
	}
	return func(q url.Values) string { return "/devices?" + q.Encode() }
}

// handlerFunc is a dashboard handler: it returns an error that handle
// turns into a status code.
type handlerFunc = func(http.ResponseWriter, *http.Request) error

// registerInventory adds the inventory's routes. Each names the minimum role
// that may use it (viewer: aggregates; analyst: device evidence).
func (s *Server) registerInventory(route func(pattern, name string, h handlerFunc)) {
	route("GET /devices", "devices", s.devicesPage)             // analyst: lists device addresses
	route("GET /devices/{ip}", "device", s.devicePage)          // analyst: device evidence
	route("GET /api/devices", "api_devices", s.apiDevices)      // analyst: lists device addresses
	route("GET /api/devices/{ip}", "api_device", s.apiDevice)   // analyst: device evidence
	route("GET /api/openapi.json", "api_openapi", s.apiOpenAPI) // viewer: describes the API, holds no data
}

// revealSecrets reports whether the response to r may carry found secrets
// (passwords, communities) raw: with ShowSecrets, to an admin (or the local
// principal); the reveal is audited (see showSecrets, access.go).
func (s *Server) revealSecrets(r *http.Request) bool {
	show := s.showSecrets(r)
	if show {
		s.revealed(r)
	}
	return show
}

// inventoryQuery is a parsed inventory request.
type inventoryQuery struct {
	Filter store.DeviceFilter
	After  string
	Limit  int
	// Form holds the request's filter values, for the form and the links.
	Form url.Values
}

// filterParams are the query parameters of the inventory's filters.
var filterParams = []string{"q", "vendor", "product", "type", "protocol", "weak", "kev", "vulnerable", "scanned", "compromised", "tier"}

// parseInventory reads the filters, cursor and page size of r.
func parseInventory(r *http.Request) (inventoryQuery, error) {
	v := r.URL.Query()
	q := inventoryQuery{Form: url.Values{}, After: v.Get("after"), Limit: 50}
	for _, k := range filterParams {
		if x := strings.TrimSpace(v.Get(k)); x != "" {
			q.Form.Set(k, x)
		}
	}
	f := &q.Filter
	if text := q.Form.Get("q"); text != "" {
		if p, err := netip.ParsePrefix(text); err == nil {
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			f.Prefix = p.Masked()
		} else if a, err := netip.ParseAddr(text); err == nil {
			a = a.Unmap().WithZone("")
			f.Prefix = netip.PrefixFrom(a, a.BitLen())
		} else if strings.Contains(text, "/") {
			return q, badRequest("q %q: not an address or subnet", text)
		} else {
			f.Text = text
		}
	}
	f.Vendor, f.Product, f.DeviceType, f.Protocol = q.Form.Get("vendor"), q.Form.Get("product"), q.Form.Get("type"), q.Form.Get("protocol")
	f.CompromisedOn, f.Tier = q.Form.Get("compromised"), q.Form.Get("tier")
	for _, t := range []struct {
		name string
		dst  *store.Tri
	}{{"weak", &f.Weak}, {"kev", &f.KEV}, {"vulnerable", &f.Vulnerable}, {"scanned", &f.Scanned}} {
		x, err := store.ParseTri(q.Form.Get(t.name))
		if err != nil {
			return q, badRequest("%s %v", t.name, err)
		}
		*t.dst = x
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxPageSize {
			return q, badRequest("limit %q: want 1..%d", l, store.MaxPageSize)
		}
		q.Limit = n
	}
	return q, nil
}

// list runs the inventory query of r.
func (s *Server) list(r *http.Request) (inventoryQuery, store.DevicePage, error) {
	q, err := parseInventory(r)
	if err != nil {
		return q, store.DevicePage{}, err
	}
	page, err := s.st.ListDevices(r.Context(), q.Filter, q.After, q.Limit)
	if errors.Is(err, store.ErrBadFilter) || errors.Is(err, store.ErrBadCursor) {
		return q, page, badRequest("%v", err)
	}
	return q, page, err
}

// with returns the query string of the form with extra values set.
func (q inventoryQuery) with(kv ...string) string {
	v := url.Values{}
	for k, xs := range q.Form {
		v[k] = xs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	if q.Limit != 50 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if e := v.Encode(); e != "" {
		return "?" + e
	}
	return ""
}

// devicesPage renders the inventory.
func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request) error {
	q, page, err := s.list(r)
	if err != nil {
		return err
	}
	view := struct {
		Nav      []report.Link
		Q        inventoryQuery
		Page     store.DevicePage
		NextURL  string
		FirstURL string
		JSONURL  string
		Tiers    []string
		Tris     []string
	}{Nav: s.nav(r, 0), Q: q, Page: page, Tiers: []string{"A", "B", "C", "D", "E", "none"}, Tris: []string{"true", "false"}}
	if page.Next != "" {
		view.NextURL = "/devices" + q.with("after", page.Next)
	}
	if q.After != "" {
		view.FirstURL = "/devices" + q.with()
	}
	view.JSONURL = "/api/devices" + q.with()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return inventoryTemplates().ExecuteTemplate(w, "inventory.html", view)
}

// apiDevices serves one page of the inventory as JSON.
func (s *Server) apiDevices(w http.ResponseWriter, r *http.Request) error {
	_, page, err := s.list(r)
	if err != nil {
		return err
	}
	return writeJSON(w, page)
}

// DeviceDetail is everything known about one device, as the device page and
// /api/devices/{ip} serve it.
type DeviceDetail struct {
	*store.DeviceRecord
	// Alerts are the flow alerts about the device (its own, and inbound
	// ones aimed at it); Destinations where its traffic went.
	Alerts       []flow.StoredAlert `json:"flow_alerts"`
	Destinations []flow.Destination `json:"destinations"`
	// SecretsRevealed reports whether credentials carry raw passwords.
	SecretsRevealed bool `json:"secrets_revealed"`
	// Crypto is what the device's TLS and SSH services show of their
	// cryptography, read from their records.
	Crypto []Crypto `json:"crypto"`
}

// Crypto is one service's keys and algorithms (hostkey.Read): the key it
// presents, a TLS session with its certificate chain and weaknesses, or
// the SSH algorithms offered with the legacy ones flagged.
type Crypto struct {
	Port       uint16             `json:"port"`
	Protocol   string             `json:"protocol"`
	Key        hostkey.Key        `json:"key,omitzero"`
	TLS        *tlsinfo.Info      `json:"tls,omitempty"`
	Weaknesses []tlsinfo.Weakness `json:"weaknesses,omitempty"`
	SSH        *hostkey.SSH       `json:"ssh,omitempty"`
}

// cryptoOf reads the cryptography of the services that show it.
func cryptoOf(svcs []model.Service, now time.Time) []Crypto {
	out := []Crypto{}
	for _, s := range svcs {
		d, ok := hostkey.Read(s)
		if !ok {
			continue
		}
		c := Crypto{Port: s.Port, Protocol: s.Protocol, Key: d.Key, TLS: d.TLS, SSH: d.SSH}
		c.Weaknesses = d.TLS.Weaknesses(now)
		out = append(out, c)
	}
	return out
}

// deviceDetail reads the device named by the {ip} path value.
func (s *Server) deviceDetail(r *http.Request) (*DeviceDetail, error) {
	v := r.PathValue("ip")
	a, err := netip.ParseAddr(v)
	if err != nil {
		return nil, badRequest("device %q: want an IP address", v)
	}
	rec, err := s.st.DeviceRecord(r.Context(), a)
	if err != nil {
		return nil, err
	}
	d := &DeviceDetail{DeviceRecord: rec, SecretsRevealed: s.revealSecrets(r), Crypto: cryptoOf(rec.Services, time.Now())}
	if !d.SecretsRevealed {
		for i := range rec.Credentials {
			rec.Credentials[i].Password = model.Redact(rec.Credentials[i].Password)
		}
	}
	if d.Alerts, err = flow.DeviceAlerts(r.Context(), s.st, rec.IP); err != nil {
		return nil, err
	}
	if d.Destinations, err = flow.Destinations(r.Context(), s.st, rec.IP); err != nil {
		return nil, err
	}
	if d.Alerts == nil {
		d.Alerts = []flow.StoredAlert{}
	}
	if d.Destinations == nil {
		d.Destinations = []flow.Destination{}
	}
	return d, nil
}

func (s *Server) apiDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.deviceDetail(r)
	if err != nil {
		return err
	}
	return writeJSON(w, d)
}

// provisionView is one assessment baseline of a device for the page.
type provisionView struct {
	Baseline string
	Counts   assess.Counts
	Outcomes []outcome
}

type outcome struct{ ID, Outcome string }

// devicePage renders everything known about one device.
func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) error {
	d, err := s.deviceDetail(r)
	if err != nil {
		return err
	}
	view := struct {
		Nav           []report.Link
		D             *DeviceDetail
		Assessments   []provisionView
		TierReason    string
		Nonconformity []model.Finding
		Firmware      []model.Finding
		Other         []model.Finding
		WeakOn        map[string]bool
		Reveal        bool
	}{Nav: s.nav(r, 0), D: d, WeakOn: map[string]bool{}, Reveal: d.SecretsRevealed}
	for _, p := range d.WeakOn {
		view.WeakOn[p] = true
	}
	for _, f := range d.Findings {
		switch {
		case f.Kind == "nonconformity":
			view.Nonconformity = append(view.Nonconformity, f)
		case f.Kind == "assessment":
			if rec, ok := assess.ParseRecord(f); ok {
				pv := provisionView{Baseline: rec.Baseline, Counts: rec.Counts}
				for id, o := range rec.Outcomes {
					pv.Outcomes = append(pv.Outcomes, outcome{id, o})
				}
				slices.SortFunc(pv.Outcomes, func(a, b outcome) int { return cmp.Compare(a.ID, b.ID) })
				view.Assessments = append(view.Assessments, pv)
				view.TierReason = f.Evidence[0].Detail
			}
		case len(f.Evidence) > 0 && f.Evidence[0].Source == "firmware":
			view.Firmware = append(view.Firmware, f)
		default:
			view.Other = append(view.Other, f)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return inventoryTemplates().ExecuteTemplate(w, "device.html", view)
}
