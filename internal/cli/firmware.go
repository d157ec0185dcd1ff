package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/firmware"
	"iotwatch/internal/firmware/component"
	"iotwatch/internal/fsutil"
	"iotwatch/internal/model"
	"iotwatch/internal/stage"
)

func newFirmwareCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "firmware",
		Short:   "Analyse firmware images: unpack, SBOM, credentials, keys, debug services, update security",
		Example: `  iotwatch firmware analyze router.bin --sbom router.cdx.json`,
	}
	cmd.AddCommand(newFirmwareAnalyzeCmd(g))
	return cmd
}

func newFirmwareAnalyzeCmd(g *globals) *cobra.Command {
	var (
		sbomPath, sarifPath, extract  string
		showSecrets, noVulns, noStore bool
		maxSize                       int64
		crackBudget                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "analyze IMAGE",
		Short: "Unpack a firmware image and report components, vulnerabilities, credentials, keys and weaknesses",
		Example: `  iotwatch firmware analyze router.bin --sbom router.cdx.json --sarif router.sarif
  iotwatch firmware analyze camera.img --extract ./rootfs --no-store`,
		Long: `Unpacks IMAGE recursively in pure Go (uImage, TRX, FIT, gzip, xz, lzma, bzip2, zstd, lz4, zip,
tar, cpio, UBI, SquashFS 4, ext2/3/4, JFFS2) into a private temporary directory (removed afterwards unless
--extract), identifies components (CycloneDX SBOM with CPE and purl), cracks password hashes
against default-credential lists, finds private keys, certificates, tokens, debug services and
update-mechanism weaknesses, matches components against the vulnerability database, and stores
the findings as a run of kind "firmware". Secrets are redacted unless --show-secrets.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if maxSize < 0 {
				return usageError{fmt.Errorf("--max-size must be positive")}
			}
			opts := firmware.Options{ExtractDir: extract, ShowSecrets: showSecrets, CrackBudget: crackBudget, Log: g.log}
			opts.Limits.MaxBytes = maxSize
			bar := stage.NewBar(g.errOut, isTerminal(g.errOut), "firmware", "", -1)
			if bar != nil {
				opts.Stage = func(s string) { bar.Set(0, 0, s); bar.Add(1) }
			}
			st, err := g.openStore(ctx)
			if err != nil && !noStore {
				return err
			}
			if st != nil {
				defer st.Close()
			}
			rec := st // where the run is recorded
			if noStore {
				rec = nil
			}
			run, err := stage.Start(ctx, rec, "firmware", []string{args[0]}, stage.FirmwareStages)
			if err != nil {
				return err
			}
			res, err := stage.Firmware(ctx, st, run, args[0], stage.FirmwareOptions{Analyze: opts, Vulns: !noVulns})
			bar.Finish()
			err = run.Finish(ctx, err)
			if err != nil {
				return err
			}
			if res.NotRecognised() {
				fmt.Fprintf(g.errOut, "warning: %s: no firmware container recognised (not firmware, encrypted, or an unsupported format); only the file itself was analysed (finding %s)\n",
					args[0], firmware.KindNotFirmware)
			}
			if sbomPath != "" {
				if err := fsutil.WriteFileAtomic(sbomPath, 0o644, func(w io.Writer) error { return firmware.WriteSBOM(w, res.SBOM) }); err != nil {
					return err
				}
			}
			if sarifPath != "" {
				mode := os.FileMode(0o644)
				if showSecrets { // raw passwords and tokens: the owner's alone
					mode = 0o600
				}
				if err := fsutil.WriteFileAtomic(sarifPath, mode, func(w io.Writer) error { return firmware.WriteSARIF(w, res) }); err != nil {
					return err
				}
			}
			if g.json {
				return json.NewEncoder(g.out).Encode(res)
			}
			var recorded *model.Run
			if run.Recorded() {
				recorded = &run.Run
			}
			return printFirmware(g, res, recorded)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sbomPath, "sbom", "", "write a CycloneDX 1.6 JSON SBOM to this file")
	f.StringVar(&sarifPath, "sarif", "", "write the findings as SARIF 2.1.0 to this file")
	f.StringVar(&extract, "extract", "", "keep the extracted tree in this (new or empty) directory")
	f.BoolVar(&showSecrets, "show-secrets", false, "show cracked passwords and tokens in clear")
	f.Int64Var(&maxSize, "max-size", 0, "cap on bytes extracted in total (default 1 GiB)")
	f.DurationVar(&crackBudget, "crack-budget", 0, "time for cracking password hashes (default 10s; negative disables)")
	f.BoolVar(&noVulns, "no-vulns", false, "skip vulnerability matching")
	f.BoolVar(&noStore, "no-store", false, "do not record the run in the evidence database")
	return cmd
}

func printFirmware(g *globals, r *firmware.Result, run *model.Run) error {
	w := newTable(g.out)
	u := r.Unpack
	fmt.Fprintf(w, "Image %s (%d bytes, sha256 %s)\n", r.Image, r.Size, r.SHA256)
	if run != nil {
		fmt.Fprintf(w, "Run %d\n", run.ID)
	}
	fmt.Fprintf(w, "Unpacked %d containers, %d files, %d bytes in %s", len(u.Extracted), u.Files, u.Bytes, r.Timings["total"])
	if u.LimitHit != "" {
		fmt.Fprintf(w, " (stopped: %s)", u.LimitHit)
	}
	fmt.Fprintln(w)
	for _, e := range u.Extracted {
		fmt.Fprintf(w, "  %s\tat %d\tin %s\t%d files\t%s\n", e.Format, e.Offset, orImage(e.Parent), e.Files, e.Error)
	}
	for _, e := range u.Unsupported {
		fmt.Fprintf(w, "  not unpacked: %s at %d in %s: %s\n", e.Format, e.Offset, orImage(e.Parent), e.Error)
	}
	for _, e := range u.Failed {
		fmt.Fprintf(w, "  failed: %s at %d in %s: %s\n", e.Format, e.Offset, orImage(e.Parent), e.Error)
	}
	var listed []component.Component
	for _, c := range r.Components {
		if c.Source == "go-buildinfo" && c.Type == "library" && c.Name != "go-stdlib" {
			continue // listed in the SBOM
		}
		listed = append(listed, c)
	}
	if len(listed) == 0 { // a header over nothing read as a failure
		fmt.Fprintf(w, "\nNo software component identified (signatures, dpkg/opkg/apk databases, Go build information).\n")
	} else {
		fmt.Fprintf(w, "\nCOMPONENT\tVERSION\tSOURCE\tCPE\n")
	}
	for _, c := range listed {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, c.Version, c.Source, c.CPE)
	}
	if len(r.Matches) > 0 {
		fmt.Fprintf(w, "\nCVE\tCVSS\tKEV\tPRODUCT\tVERSION\n")
		for _, m := range r.Matches {
			fmt.Fprintf(w, "%s\t%.1f\t%v\t%s\t%s\n", m.CVE, m.CVSS, m.KEV, m.Product, m.Version)
		}
	}
	if len(r.Fixed) > 0 {
		fmt.Fprintf(w, "\nFIXED CVE\tSTATUS\tADVISORY\tFIXED IN\tPACKAGE\n")
		for _, m := range r.Fixed {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s %s\n", m.CVE, m.Status, m.Advisory, m.FixedIn, m.Distro.Package, m.Distro.Version)
		}
	}
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "\nNo findings.\n")
	} else {
		fmt.Fprintf(w, "\nSEVERITY\tKIND\tTITLE\tDETAIL\n")
	}
	for _, f := range r.Findings {
		d := f.Detail
		if len(d) > 100 {
			d = d[:100] + "…"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", f.Severity, strings.TrimPrefix(f.Kind, "firmware-"), f.Title, d)
	}
	return w.Flush()
}

func orImage(p string) string {
	if p == "" {
		return "image"
	}
	return p
}
