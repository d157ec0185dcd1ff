package http

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"fmt"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
)

//go:embed forms.yaml
var formsYAML []byte

// FormTemplate is one form-login recipe (see forms.yaml).
type FormTemplate struct {
	Name    string `yaml:"name"`
	Match   string `yaml:"match"`
	Generic bool   `yaml:"generic"`
	Method  string `yaml:"method"`
	Action  string `yaml:"action"`
	Body    string `yaml:"body"`
	Header  string `yaml:"header"`
	Success string `yaml:"success"`
	Failure string `yaml:"failure"`

	match, success, failure *regexp.Regexp
}

// ParseTemplates parses and compiles form templates.
func ParseTemplates(b []byte) ([]*FormTemplate, error) {
	var doc struct {
		Templates []*FormTemplate `yaml:"templates"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("form templates: %w", err)
	}
	for _, t := range doc.Templates {
		var err error
		if t.Name == "" || t.Match == "" {
			return nil, fmt.Errorf("form template %q: name and match are required", t.Name)
		}
		if !t.Generic && (t.Action == "" || t.Success == "") {
			return nil, fmt.Errorf("form template %q: action and success are required", t.Name)
		}
		if t.match, err = regexp.Compile(t.Match); err != nil {
			return nil, fmt.Errorf("form template %q match: %w", t.Name, err)
		}
		if t.Success != "" {
			if t.success, err = regexp.Compile(t.Success); err != nil {
				return nil, fmt.Errorf("form template %q success: %w", t.Name, err)
			}
		}
		if t.Failure != "" {
			if t.failure, err = regexp.Compile(t.Failure); err != nil {
				return nil, fmt.Errorf("form template %q failure: %w", t.Name, err)
			}
		}
		if t.Method == "" {
			t.Method = nethttp.MethodPost
		}
	}
	return doc.Templates, nil
}

var templates = sync.OnceValue(func() []*FormTemplate {
	ts, err := ParseTemplates(formsYAML)
	if err != nil {
		panic(err) // embedded data is tested
	}
	return ts
})

// formPlan is how to submit credentials on one login page.
type formPlan struct {
	tmpl      *FormTemplate
	page      *url.URL // the login page (final URL after redirects)
	action    string
	method    string
	userField string
	passField string
	hidden    url.Values
}

// planForm picks the template for a login page, or nil.
func planForm(resp *nethttp.Response, body []byte) *formPlan {
	for _, t := range templates() {
		if !t.match.Match(body) {
			continue
		}
		p := &formPlan{tmpl: t, page: resp.Request.URL, method: t.Method, action: t.Action}
		if t.Generic {
			f, ok := ParseLoginForm(body)
			if !ok {
				continue
			}
			p.action, p.method, p.userField, p.passField, p.hidden = f.Action, f.Method, f.UserField, f.PassField, f.Hidden
			if p.action == "" {
				p.action = resp.Request.URL.Path
			}
		}
		return p
	}
	return nil
}

// LoginForm is what ParseLoginForm finds in a page.
type LoginForm struct {
	Action, Method       string
	UserField, PassField string
	Hidden               url.Values
}

// ParseLoginForm finds the first form with exactly one password input and
// returns its action, method, user and password field names and hidden
// inputs. It never panics on arbitrary bytes.
func ParseLoginForm(page []byte) (LoginForm, bool) {
	z := html.NewTokenizer(bytes.NewReader(page))
	var f LoginForm
	in, passwords := false, 0
	var lastText string
	for {
		switch z.Next() {
		case html.ErrorToken:
			return f, in && passwords == 1 && f.UserField != ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attr := func(k string) string {
				for _, a := range tok.Attr {
					if strings.EqualFold(a.Key, k) {
						return a.Val
					}
				}
				return ""
			}
			switch tok.Data {
			case "form":
				if in && passwords == 1 && f.UserField != "" {
					return f, true
				}
				f = LoginForm{Action: attr("action"), Method: strings.ToUpper(attr("method")), Hidden: url.Values{}}
				if f.Method == "" {
					f.Method = nethttp.MethodGet
				}
				in, passwords, lastText = true, 0, ""
			case "input":
				if !in {
					continue
				}
				name := attr("name")
				switch strings.ToLower(attr("type")) {
				case "password":
					passwords++
					f.PassField = name
					if f.UserField == "" {
						f.UserField = lastText
					}
				case "hidden":
					if name != "" {
						f.Hidden.Set(name, attr("value"))
					}
				case "", "text", "email":
					if passwords == 0 && name != "" {
						lastText = name
						if looksLikeUser(name) {
							f.UserField = name
						}
					}
				}
			}
		case html.EndTagToken:
			if tok := z.Token(); tok.Data == "form" && in {
				if passwords == 1 && f.UserField != "" && f.PassField != "" {
					return f, true
				}
				in = false
			}
		}
	}
}

var reUserField = regexp.MustCompile(`(?i)user|login|name|account|email|uid`)

func looksLikeUser(name string) bool { return reUserField.MatchString(name) }

// tryForm submits one credential through the planned form with a fresh
// cookie jar, then judges the reply.
func (s *session) tryForm(ctx context.Context, c login.Credential) login.Result {
	jar, _ := cookiejar.New(nil)
	s.client.Jar = jar
	p := s.form
	action, err := p.page.Parse(p.action)
	if err != nil || action.Host != s.base.Host {
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("http %s: form action %q off target", s.t.Addr, p.action)}
	}
	var req *nethttp.Request
	if p.tmpl.Generic {
		v := url.Values{}
		for k, vs := range p.hidden {
			v[k] = vs
		}
		v.Set(p.userField, c.Username)
		v.Set(p.passField, c.Password)
		req, err = s.newFormRequest(ctx, p.method, action, v.Encode())
	} else {
		r := strings.NewReplacer("{{user}}", url.QueryEscape(c.Username), "{{pass}}", url.QueryEscape(c.Password),
			"{{basic}}", base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
		req, err = s.newFormRequest(ctx, p.method, action, r.Replace(p.tmpl.Body))
		if err == nil && p.tmpl.Header != "" {
			if k, v, ok := strings.Cut(r.Replace(p.tmpl.Header), ":"); ok {
				req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
	}
	if err != nil {
		return login.Result{Status: model.StatusProtocolError, Err: err}
	}
	resp, body, err := s.do(req)
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode == nethttp.StatusTooManyRequests {
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: "HTTP " + resp.Status}
	}
	dump := dumpResponse(resp, body)
	if p.tmpl.failure != nil && p.tmpl.failure.Match(dump) {
		return login.Denied("form failure text")
	}
	if !p.tmpl.Generic {
		if p.tmpl.success.Match(dump) {
			return login.Accepted("form " + p.tmpl.Name + ": " + login.Truncate(redactValues(string(p.tmpl.success.Find(dump))), 60))
		}
		return login.Denied("form " + p.tmpl.Name + ": no success marker")
	}
	// Generic: the login page itself, fetched again with the session's
	// cookies, must no longer ask for a password.
	if resp.StatusCode >= 400 {
		return login.Denied("HTTP " + resp.Status)
	}
	if _, still := ParseLoginForm(body); still {
		return login.Denied("login form shown again")
	}
	again, page, err := s.get(ctx, p.page.String(), "")
	if err != nil {
		return fail(err)
	}
	if _, still := ParseLoginForm(page); still || again.StatusCode >= 400 {
		return login.Denied("login page still asks for a password")
	}
	return login.Accepted("form login: session reaches " + again.Request.URL.Path + " without a password form")
}

func (s *session) newFormRequest(ctx context.Context, method string, action *url.URL, body string) (*nethttp.Request, error) {
	if method == nethttp.MethodGet {
		u := *action
		if body != "" {
			if u.RawQuery != "" {
				u.RawQuery += "&"
			}
			u.RawQuery += body
		}
		return nethttp.NewRequestWithContext(ctx, method, u.String(), nil)
	}
	req, err := nethttp.NewRequestWithContext(ctx, method, action.String(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func dumpResponse(resp *nethttp.Response, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP %s\r\n", resp.Status)
	_ = resp.Header.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// tokenValue is the value of a "name=value" pair (a session cookie, a token).
var tokenValue = regexp.MustCompile(`=([^;\s"&]+)`)

// redactValues redacts every "=value" in evidence: a success marker may be
// a session cookie (sysauth=..., stok=...), which is a secret.
func redactValues(s string) string {
	return tokenValue.ReplaceAllStringFunc(s, func(m string) string { return "=" + model.Redact(m[1:]) })
}
