// Package firmware analyses firmware images in one pass and in pure Go:
// recursive unpacking (package unpack), component identification with CPE
// and purl (package component), credentials, keys and secrets (package
// secrets), debug services and update security (line rules in rules.yaml
// and structural checks), a CycloneDX SBOM and known vulnerabilities of the
// components through a Matcher. Analyze is the entry point.
package firmware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"iotwatch/internal/firmware/component"
	"iotwatch/internal/firmware/secrets"
	"iotwatch/internal/firmware/unpack"
	"iotwatch/internal/model"
)

// Matcher finds known vulnerabilities for a CPE (internal/vuln's *DB).
type Matcher interface {
	MatchCPE(ctx context.Context, cpe string) ([]model.VulnMatch, error)
}

// PackageMatcher is a Matcher that also applies distribution advisories
// (internal/vuln's *DB): a package of the firmware's dpkg, opkg or apk
// database on a system whose os-release names its distribution is matched
// with its distribution package, so that a fix the distribution backported
// is reported fixed, with the advisory, rather than affected.
type PackageMatcher interface {
	MatchPackage(ctx context.Context, cpe string, pkg model.Distro) ([]model.VulnMatch, error)
}

// Options tune one analysis.
type Options struct {
	Limits      unpack.Limits
	ExtractDir  string        // keep the extracted tree here (created, must be empty); "" = private temp dir, removed
	TempDir     string        // where the private temp dir goes; "" = os.TempDir()
	ShowSecrets bool          // keep raw passwords and tokens in the result and findings
	CrackBudget time.Duration // time for cracking password hashes; 0 = 10 s, <0 = skip
	Matcher     Matcher       // nil = no vulnerability matching
	Log         *slog.Logger  // nil = discard
	Stage       func(name string)
}

// Result is everything one analysis found.
type Result struct {
	Image      string                `json:"image"`
	SHA256     string                `json:"sha256"`
	Size       int64                 `json:"size"`
	Unpack     *unpack.Report        `json:"unpack"`
	Components []component.Component `json:"components"`
	Secrets    *secrets.Result       `json:"credentials"`
	Services   []Hit                 `json:"debug_services,omitempty"`
	Update     UpdateInfo            `json:"update"`
	Findings   []model.Finding       `json:"findings"`
	Matches    []model.VulnMatch     `json:"vulnerabilities,omitempty"`
	// Fixed are the matches of upstream versions that a distribution
	// advisory or a VEX statement shows fixed or not affected in the
	// installed package, with the advisory as evidence.
	Fixed []model.VulnMatch `json:"fixed_vulnerabilities,omitempty"`
	// Matchable are the components matching asks about (Matchable), stored
	// with the run so that a re-match asks about them again.
	Matchable []model.Component `json:"-"`
	// Logins are the accounts whose password the analysis knows (cracked or
	// empty), with raw passwords even when the result is redacted: the stage
	// stores them sealed for the credential audit. Never serialised.
	Logins  []model.FirmwareAccount `json:"-"`
	SBOM    *cdx.BOM                `json:"-"`
	Timings map[string]string       `json:"timings"`
}

// Analyze unpacks and analyses the image at path.
func Analyze(ctx context.Context, path string, opts Options) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	stage := func(s string) {
		log.Debug("firmware stage", "stage", s, "image", path)
		if opts.Stage != nil {
			opts.Stage(s)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("firmware %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("firmware %s: not a regular file", path)
	}
	res := &Result{Image: path, Size: st.Size(), Timings: map[string]string{}}
	t0 := time.Now()
	lap := func(name string, since time.Time) {
		res.Timings[name] = time.Since(since).Round(time.Millisecond).String()
	}

	stage("hash")
	if res.SHA256, err = fileSHA256(path); err != nil {
		return nil, fmt.Errorf("firmware %s: %w", path, err)
	}

	dir := opts.ExtractDir
	if dir == "" {
		removeStaleWorkDirs(opts.TempDir, log)
		wd, err := newWorkDir(opts.TempDir)
		if err != nil {
			return nil, fmt.Errorf("firmware %s: temp dir: %w", path, err)
		}
		defer func() {
			if err := wd.remove(); err != nil {
				log.Warn("firmware: temporary directory not removed (the next analysis removes it)", "dir", wd.extract, "err", err)
			}
		}()
		dir = wd.extract
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("firmware %s: extract dir: %w", path, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			return nil, fmt.Errorf("firmware %s: extract dir %s is not empty", path, dir)
		}
	}

	stage("unpack")
	t := time.Now()
	rep, err := unpack.Unpack(ctx, path, dir, opts.Limits)
	if err != nil {
		return nil, err
	}
	res.Unpack = rep
	lap("unpack", t)
	log.Info("firmware unpacked", "image", path, "containers", len(rep.Extracted), "files", rep.Files, "bytes", rep.Bytes,
		"failed", len(rep.Failed), "unsupported", len(rep.Unsupported))

	v, err := buildView(rep)
	if err != nil {
		return nil, fmt.Errorf("firmware %s: list files: %w", path, err)
	}

	stage("components")
	t = time.Now()
	cat, err := component.Default()
	if err != nil {
		return nil, err
	}
	var cfiles, cblobs []component.File
	for _, f := range v.files {
		cfiles = append(cfiles, component.File{Path: f.Path, Host: f.Host, Size: f.Size, Link: f.Link})
	}
	cblobs = append(cblobs, component.File{Path: "(image)", Host: path, Size: st.Size()})
	for _, b := range v.blobs {
		cblobs = append(cblobs, component.File{Path: b.Rel, Host: b.Host, Size: b.Size})
	}
	if res.Components, err = cat.Identify(ctx, cfiles, cblobs); err != nil {
		return nil, err
	}
	lap("components", t)

	stage("credentials")
	t = time.Now()
	var sfiles []secrets.File
	for _, f := range v.files {
		if f.Link == "" {
			sfiles = append(sfiles, secrets.File{Path: f.Path, Host: f.Host, Size: f.Size})
		}
	}
	if res.Secrets, err = secrets.Scan(ctx, sfiles, secrets.Options{CrackBudget: opts.CrackBudget}); err != nil {
		return nil, err
	}
	lap("credentials", t)

	stage("services")
	t = time.Now()
	rules, err := defaultRules()
	if err != nil {
		return nil, err
	}
	hits := applyRules(v, rules)
	for _, h := range hits {
		if h.Kind == "debug-service" {
			res.Services = append(res.Services, h)
		}
	}
	res.Update = checkUpdate(v, rep, hits)
	lap("services+update", t)

	_, packages := opts.Matcher.(PackageMatcher)
	res.Matchable = Matchable(path, res.Components, packages || opts.Matcher == nil)
	if opts.Matcher != nil {
		stage("vulnerabilities")
		t = time.Now()
		if res.Matches, res.Fixed, err = matchComponents(ctx, opts.Matcher, res.Matchable); err != nil {
			log.Warn("vulnerability matching failed", "err", err)
		}
		lap("vulnerabilities", t)
	}

	stage("report")
	res.Logins = logins(res)
	if !opts.ShowSecrets {
		redactResult(res)
	}
	res.Findings = findings(res)
	if opts.ShowSecrets {
		// Raw values go to the store sealed: every finding lists them.
		raw := rawSecrets(res)
		for i := range res.Findings {
			res.Findings[i].Secrets = raw
		}
	}
	res.SBOM = BuildSBOM(res)
	res.Timings["total"] = time.Since(t0).Round(time.Millisecond).String()
	return res, ctx.Err()
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Matchable returns the components vulnerability matching asks about: one
// per distinct CPE name and distribution package, with its subject
// (image:path). withDistro keeps the distribution packages (a matcher that
// applies their advisories); then a file a signature identified as the
// same CPE as a distribution package is that package's binary, and the
// package's verdict (backports included) stands for it.
func Matchable(image string, comps []component.Component, withDistro bool) []model.Component {
	packaged := map[string]bool{}
	if withDistro {
		for _, c := range comps {
			if c.CPE != "" && c.Distro.Name != "" {
				packaged[c.CPE] = true
			}
		}
	}
	type key struct {
		cpe string
		pkg model.Distro
	}
	seen := map[key]bool{}
	var out []model.Component
	for _, c := range comps {
		k := key{c.CPE, c.Distro}
		if !withDistro {
			k.pkg = model.Distro{}
		}
		if c.CPE == "" || c.Version == "" || seen[k] || (k.pkg.Name == "" && packaged[c.CPE]) {
			continue
		}
		seen[k] = true
		out = append(out, model.Component{Subject: image + ":" + firstPath(c), Name: c.Name, Version: c.Version, CPE: c.CPE, Distro: k.pkg})
	}
	return out
}

// matchComponents asks the matcher about each matchable component and
// splits what it found into affecting and fixed matches.
func matchComponents(ctx context.Context, m Matcher, comps []model.Component) (affected, fixed []model.VulnMatch, err error) {
	pm, _ := m.(PackageMatcher)
	for _, c := range comps {
		var ms []model.VulnMatch
		if c.Distro.Name != "" && pm != nil {
			ms, err = pm.MatchPackage(ctx, c.CPE, c.Distro)
		} else {
			ms, err = m.MatchCPE(ctx, c.CPE)
		}
		if err != nil {
			return affected, fixed, fmt.Errorf("match %s: %w", c.CPE, err)
		}
		for _, vm := range ms {
			if vm.Subject == "" {
				vm.Subject = c.Subject
			}
			if vm.Product == "" {
				vm.Product = c.Name
			}
			if vm.Version == "" {
				vm.Version = c.Version
			}
			if vm.CPE == "" {
				vm.CPE = c.CPE
			}
			if vm.Affects() {
				affected = append(affected, vm)
			} else {
				fixed = append(fixed, vm)
			}
		}
	}
	return affected, fixed, nil
}

func firstPath(c component.Component) string {
	if len(c.Paths) > 0 {
		return c.Paths[0]
	}
	return c.Name
}

// logins returns the accounts of r whose password is known, raw.
func logins(r *Result) []model.FirmwareAccount {
	if r.Secrets == nil {
		return nil
	}
	var out []model.FirmwareAccount
	for _, a := range r.Secrets.Accounts {
		if !a.Cracked && !(a.Empty && a.CanLogin()) {
			continue
		}
		out = append(out, model.FirmwareAccount{Image: r.Image, SHA256: r.SHA256, Username: a.User, Password: a.Password,
			Empty: a.Empty, File: a.Source, HashType: a.HashType})
	}
	return out
}

// rawSecrets lists the secret values of the result: cracked passwords,
// password hashes and token values.
func rawSecrets(r *Result) []string {
	if r.Secrets == nil {
		return nil
	}
	var out []string
	for _, a := range r.Secrets.Accounts {
		out = append(out, a.Password, a.Hash)
	}
	for _, sc := range r.Secrets.Secrets {
		out = append(out, sc.Value)
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// redactResult hides raw secrets in place.
func redactResult(r *Result) {
	if r.Secrets == nil {
		return
	}
	for i := range r.Secrets.Accounts {
		a := &r.Secrets.Accounts[i]
		a.Password = model.Redact(a.Password)
		a.Hash = model.Redact(a.Hash)
	}
	for i := range r.Secrets.Secrets {
		r.Secrets.Secrets[i].Value = model.Redact(r.Secrets.Secrets[i].Value)
	}
}
