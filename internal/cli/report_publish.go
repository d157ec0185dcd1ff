package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"iotwatch/internal/cryptopan"
	"iotwatch/internal/report"
	"iotwatch/internal/secret"
	"iotwatch/internal/store"
)

// publishFlags are report's flags for de-identified publication and
// per-network notification files.
type publishFlags struct {
	publish, devices bool
	minCell          int
	keyFile          string
	notify, networks string
}

func (p *publishFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&p.publish, "publish", false, "write a report fit for the public: no device address, small per-network cells suppressed, no secrets")
	f.IntVar(&p.minCell, "min-cell", report.DefaultMinCell, "with --publish: publish a per-network or per-region row only if it counts at least N devices")
	f.BoolVar(&p.devices, "publish-devices", false, "with --publish: keep per-device rows, addresses replaced by Crypto-PAn pseudonyms")
	f.StringVar(&p.keyFile, "pseudonym-key", "", "with --publish: Crypto-PAn key FILE, created 0600 if absent (default: DB.pseudonym.key beside the database)")
	f.StringVar(&p.notify, "notify", "", "write one Shadowserver-style CSV per network owner into DIR (needs --networks)")
	f.StringVar(&p.networks, "networks", "", "networks FILE for --notify: lines CIDR,owner[,ASN]")
}

// check validates the flag combination.
func (p *publishFlags) check(showSecrets bool) error {
	switch {
	case p.publish && showSecrets:
		return errors.New("--publish never shows secrets: drop --show-secrets")
	case (p.notify == "") != (p.networks == ""):
		return errors.New("--notify DIR and --networks FILE go together")
	case p.minCell < 1:
		return fmt.Errorf("--min-cell %d: want 1 or more", p.minCell)
	case !p.publish && (p.devices || p.keyFile != ""):
		return errors.New("--publish-devices and --pseudonym-key need --publish")
	}
	return nil
}

// pseudonymKeyPath is the default Crypto-PAn key file of a database.
func pseudonymKeyPath(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return filepath.Join(filepath.Dir(store.DefaultPath()), "pseudonym.key")
	}
	return dsn + ".pseudonym.key"
}

// loadPseudonymKey reads the Crypto-PAn key, creating it (0600) when absent:
// the same key every run keeps the pseudonymous networks comparable between
// published reports.
func loadPseudonymKey(path string) (*cryptopan.Anonymizer, bool, error) {
	keys, err := secret.ReadKeyFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		keys, err = secret.CreateKeyFile(path)
		created = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("pseudonym key: %w", err)
	}
	a, err := cryptopan.New(keys[0][:])
	return a, created, err
}

// notifyOwners writes the per-network notification files.
func (p *publishFlags) notifyOwners(g *globals, r *report.Report) error {
	f, err := os.Open(p.networks)
	if err != nil {
		return fmt.Errorf("--networks: %w", err)
	}
	defer f.Close()
	nets, err := report.ParseNetworks(f)
	if err != nil {
		return fmt.Errorf("--networks %s: %w", p.networks, err)
	}
	res, err := r.WriteNotifications(p.notify, nets)
	if err != nil {
		return err
	}
	rows := 0
	for _, n := range res.Rows {
		rows += n
	}
	fmt.Fprintf(g.errOut, "notifications: %d owners, %d rows in %s; %d devices with issues in no listed network\n",
		len(res.Files), rows, p.notify, res.Unassigned)
	for _, o := range slices.Sorted(maps.Keys(res.Files)) {
		fmt.Fprintf(g.errOut, "  %s: %d rows, %s\n", o, res.Rows[o], res.Files[o])
	}
	return nil
}

// publishReport turns r into its published form and returns a writer that
// renders a format and refuses to write any output that still names one of
// the devices' addresses.
func (p *publishFlags) publishReport(ctx context.Context, g *globals, st *store.Store, r *report.Report) (*report.Report, func(io.Writer, string) error, error) {
	addrs, err := report.CoveredAddrs(ctx, st, r)
	if err != nil {
		return nil, nil, err
	}
	path := p.keyFile
	if path == "" {
		path = pseudonymKeyPath(g.dbPath)
	}
	an, created, err := loadPseudonymKey(path)
	if err != nil {
		return nil, nil, err
	}
	if created {
		g.log.Info("created pseudonym key: keep it to keep pseudonymous networks comparable across reports", "path", path)
	}
	pub, err := report.Publish(r, report.PublishOptions{MinCell: p.minCell, Devices: p.devices,
		Pseudonym: an.Addr, PseudoPrefix: an.Prefix, Addresses: addrs})
	if err != nil {
		return nil, nil, err
	}
	write := func(w io.Writer, format string) error {
		var buf bytes.Buffer
		if err := pub.Write(&buf, format); err != nil {
			return err
		}
		if err := report.CheckPublished(buf.Bytes(), addrs); err != nil {
			return fmt.Errorf("refusing to write the published %s report: %w", format, err)
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	return pub, write, nil
}
