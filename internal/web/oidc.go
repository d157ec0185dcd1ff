package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"iotwatch/internal/auth"
)

// OIDC is single sign-on through an OpenID Connect issuer (authorization
// code flow with PKCE, state and nonce). A user logs in as the console user
// an admin linked to their subject (`iotwatch users link NAME SUBJECT`); the
// issuer never creates users or grants roles.
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
}

// NewOIDC discovers issuer and returns its log-in for clientID, which the
// issuer sends back to redirectURL (this console's /login/oidc/callback).
func NewOIDC(ctx context.Context, issuer, clientID, clientSecret, redirectURL string) (*OIDC, error) {
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("openid connect issuer %s: %w", issuer, err)
	}
	return &OIDC{
		verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
		conf: oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: p.Endpoint(),
			RedirectURL: redirectURL, Scopes: []string{oidc.ScopeOpenID}},
	}, nil
}

// oidcCookie carries state, nonce and PKCE verifier across the issuer's
// round trip. SameSite=Lax: the callback is a navigation from the issuer's
// site, which a Strict cookie would not follow.
const oidcCookie = "iotwatch_oidc"

func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) error {
	o := s.opts.OIDC
	if o == nil || s.opts.Auth == nil {
		return httpError{http.StatusNotFound, "single sign-on is not configured"}
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state + "." + nonce + "." + verifier, Path: "/login/oidc",
		HttpOnly: true, Secure: s.opts.TLS, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, o.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	return nil
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	o := s.opts.OIDC
	if o == nil || s.opts.Auth == nil {
		return httpError{http.StatusNotFound, "single sign-on is not configured"}
	}
	ctx := r.Context()
	fail := func(code int, detail string) error {
		s.audit(r, auth.Entry{Actor: "oidc", Action: "login", Outcome: "failed", Detail: detail})
		return s.renderLogin(w, r, code, loginPage{Next: "/", Error: "Single sign-on failed: " + detail + ". Try again."})
	}
	c, err := r.Cookie(oidcCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, ".")
	}
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(r.URL.Query().Get("state"))) != 1 {
		return fail(http.StatusForbidden, "state missing or wrong")
	}
	if e := r.URL.Query().Get("error"); e != "" {
		return fail(http.StatusUnauthorized, "the issuer answered "+e)
	}
	tok, err := o.conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		return fail(http.StatusUnauthorized, "code exchange refused")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return fail(http.StatusUnauthorized, "ID token not valid")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		return fail(http.StatusForbidden, "nonce wrong")
	}
	secret, _, err := s.opts.Auth.LoginSubject(ctx, idt.Subject, remote(r))
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		return s.renderLogin(w, r, http.StatusForbidden, loginPage{Next: "/", Error: "No console user is linked to your single sign-on account; ask an admin (iotwatch users link NAME " + idt.Subject + ")."})
	case errors.Is(err, auth.ErrLocked), errors.Is(err, auth.ErrDisabled):
		return s.renderLogin(w, r, http.StatusForbidden, loginPage{Next: "/", Error: "This account is " + map[bool]string{true: "locked", false: "disabled"}[errors.Is(err, auth.ErrLocked)] + "."})
	case err != nil:
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/login/oidc", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: secret, Path: "/", HttpOnly: true, Secure: s.opts.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.opts.Auth.SessionTTL / time.Second)})
	// A page of our own, not a redirect: the browser sends the Strict
	// session cookie only on a navigation that starts on this site.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return accessTemplates().ExecuteTemplate(w, "signed-in", nil)
}
