package stage

import (
	"context"
	"errors"

	"iotwatch/internal/firmware"
	"iotwatch/internal/secret"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln"
)

// FirmwareStages are the stages a firmware run records.
var FirmwareStages = []string{"unpack", "components", "credentials", "services", "update", "vulnerabilities"}

// FirmwareOptions describe a firmware stage.
type FirmwareOptions struct {
	Analyze firmware.Options
	// Vulns matches the components against the vulnerability database
	// (the embedded seed when it holds none); it needs a store.
	Vulns bool
}

// Firmware analyzes the image at path and stores its findings (with keys
// shared with images analyzed before) and vulnerability matches as run's.
// What an interrupted or failed analysis found is stored too.
func Firmware(ctx context.Context, st *store.Store, run *Run, path string, opts FirmwareOptions) (*firmware.Result, error) {
	if opts.Vulns && st != nil && opts.Analyze.Matcher == nil {
		if d, err := vuln.Open(ctx, st); err != nil {
			logOf(opts.Analyze.Log).Warn("vulnerability database unavailable", "err", err)
		} else if err := d.EnsureSeed(ctx); err != nil {
			logOf(opts.Analyze.Log).Warn("vulnerability database seed failed", "err", err)
		} else {
			opts.Analyze.Matcher = d
		}
	}
	res, err := firmware.Analyze(ctx, path, opts.Analyze)
	if res == nil || !run.Recorded() {
		return res, err
	}
	keep := context.WithoutCancel(ctx)
	if prev, perr := st.Findings(keep, 0); perr == nil {
		res.Findings = append(res.Findings, firmware.SharedKeys(res.Findings, prev)...)
	}
	run.Count("components", int64(len(res.Components)))
	run.Count("findings", int64(len(res.Findings)))
	run.Count("vulnerabilities", int64(len(res.Matches)))
	run.Count("files", int64(res.Unpack.Files))
	serr := st.SaveFindings(keep, run.ID, res.Findings)
	verr := st.SaveVulnMatches(keep, run.ID, res.Matches)
	cerr := st.SaveComponents(keep, run.ID, res.Matchable)
	// Proven accounts become audit credentials for the image's product;
	// without a sealing key they are not kept (never stored raw).
	aerr := st.SaveFirmwareAccounts(keep, run.ID, res.Logins)
	if errors.Is(aerr, secret.ErrNoKey) {
		logOf(opts.Analyze.Log).Warn("firmware accounts not kept for the audit: no secret key", "err", aerr)
		aerr = nil
	}
	return res, errors.Join(err, serr, verr, cerr, aerr)
}
