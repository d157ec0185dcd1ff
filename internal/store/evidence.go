package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/model"
)

// SaveServices stores one batch of services of a run in one transaction and
// updates the asset inventory from their fingerprints. Saving the same
// service twice (a resumed or repeated run) updates it; it never duplicates.
func (s *Store) SaveServices(ctx context.Context, runID int64, svcs []model.Service) error {
	if len(svcs) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *sql.Tx) error { return s.SaveServicesTx(ctx, tx, runID, svcs) })
}

// SaveServicesTx is SaveServices inside the caller's transaction tx (so that,
// say, a scan checkpoint commits with the services it covers).
func (s *Store) SaveServicesTx(ctx context.Context, tx *sql.Tx, runID int64, svcs []model.Service) error {
	day, dayCol, dayVal, err := s.DayKey(ctx, tx, runID)
	if err != nil {
		return fmt.Errorf("save services: %w", err)
	}
	svcStmt, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO services
		(run_id, ip, port, transport, protocol, status, banner, data, fingerprint, error, seen_at`+dayCol+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`+dayVal+`)
		ON CONFLICT (run_id, ip, port, transport`+dayCol+`) DO UPDATE SET
		protocol = excluded.protocol, status = excluded.status, banner = excluded.banner,
		data = excluded.data, fingerprint = excluded.fingerprint, error = excluded.error,
		seen_at = excluded.seen_at`))
	if err != nil {
		return fmt.Errorf("save services: %w", err)
	}
	defer svcStmt.Close()
	// A server-software fingerprint (model.Fingerprint.SoftwareOnly:
	// OpenSSH, vsftpd…) never replaces an entry that identifies the
	// device. The placeholder is 1 for such a fingerprint; it is bound
	// once per column (see softArgs).
	keep := `? = 1 AND assets.vendor <> '' AND NOT (assets.cpe LIKE 'cpe:2.3:a:%' AND LOWER(assets.device_type) IN (` + genericTypesSQL + `))`
	assetStmt, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO assets
		(ip, vendor, product, version, device_type, cpe, first_seen, last_seen)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ip) DO UPDATE SET
		vendor = CASE WHEN excluded.vendor <> '' AND NOT (`+keep+`) THEN excluded.vendor ELSE assets.vendor END,
		product = CASE WHEN excluded.product <> '' AND NOT (`+keep+`) THEN excluded.product ELSE assets.product END,
		version = CASE WHEN excluded.version <> '' AND NOT (`+keep+`) THEN excluded.version ELSE assets.version END,
		device_type = CASE WHEN excluded.device_type <> '' AND NOT (`+keep+`) THEN excluded.device_type ELSE assets.device_type END,
		cpe = CASE WHEN excluded.cpe <> '' AND NOT (`+keep+`) THEN excluded.cpe ELSE assets.cpe END,
		last_seen = excluded.last_seen`))
	if err != nil {
		return fmt.Errorf("save assets: %w", err)
	}
	defer assetStmt.Close()
	// Rows are written in address order: concurrent writers (scan shards on
	// several workers share addresses in assets) then take their row locks
	// in one order and cannot deadlock (PostgreSQL answered 40P01).
	svcs = slices.Clone(svcs)
	slices.SortStableFunc(svcs, func(a, b model.Service) int { return a.IP.Compare(b.IP) })
	for _, sv := range svcs {
		if sv.Time.IsZero() {
			sv.Time = time.Now()
		}
		data := ""
		if sv.Data != nil {
			b, err := json.Marshal(sv.Data)
			if err != nil {
				return fmt.Errorf("save service %s:%d: encode data: %w", sv.IP, sv.Port, err)
			}
			if data, err = s.sealServiceData(string(b)); err != nil {
				return fmt.Errorf("save service %s:%d: %w", sv.IP, sv.Port, err)
			}
		}
		fp := ""
		if sv.Fingerprint != nil {
			b, _ := json.Marshal(sv.Fingerprint)
			fp = string(b)
		}
		if _, err := svcStmt.ExecContext(ctx, day(runID, sv.IP.String(), int(sv.Port), sv.Transport,
			sv.Protocol, string(sv.Status), sv.Banner, data, fp, sv.Error, Time(sv.Time))...); err != nil {
			return fmt.Errorf("save service %s:%d: %w", sv.IP, sv.Port, err)
		}
		if sv.Status != model.StatusSuccess && sv.Fingerprint.Empty() {
			continue
		}
		var f model.Fingerprint
		if sv.Fingerprint != nil {
			f = *sv.Fingerprint
		}
		soft := 0
		if f.SoftwareOnly() {
			soft = 1
		}
		if _, err := assetStmt.ExecContext(ctx, sv.IP.String(), f.Vendor, f.Product, f.Version,
			f.DeviceType, f.CPE, Time(sv.Time), Time(sv.Time), soft, soft, soft, soft, soft); err != nil {
			return fmt.Errorf("save asset %s: %w", sv.IP, err)
		}
	}
	return nil
}

// Services returns the services a run stored, ordered by address and port.
// Data is returned as json.RawMessage.
func (s *Store) Services(ctx context.Context, runID int64) ([]model.Service, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT `+serviceCols+` FROM services WHERE run_id = ? ORDER BY ip, port, transport`), runID)
	if err != nil {
		return nil, fmt.Errorf("read services: %w", err)
	}
	return s.scanServices(rows)
}

// serviceCols are the columns scanServices reads.
const serviceCols = `ip, port, transport, protocol, status, banner, data, fingerprint, error, seen_at`

// scanServices reads rows of serviceCols and closes rows.
func (s *Store) scanServices(rows *sql.Rows) ([]model.Service, error) {
	defer rows.Close()
	var out []model.Service
	for rows.Next() {
		var sv model.Service
		var ip, status, data, fp, seen string
		var port int
		var err error
		if err := rows.Scan(&ip, &port, &sv.Transport, &sv.Protocol, &status, &sv.Banner, &data, &fp, &sv.Error, &seen); err != nil {
			return nil, fmt.Errorf("read services: %w", err)
		}
		sv.IP, _ = netip.ParseAddr(ip)
		sv.Port, sv.Status, sv.Time = uint16(port), model.Status(status), ParseTime(seen)
		if data != "" {
			if data, err = s.openJSON(data); err != nil {
				return nil, fmt.Errorf("read services: data of %s:%d: %w", sv.IP, sv.Port, err)
			}
			sv.Data = json.RawMessage(data)
		}
		if fp != "" {
			sv.Fingerprint = new(model.Fingerprint)
			if err := json.Unmarshal([]byte(fp), sv.Fingerprint); err != nil {
				return nil, fmt.Errorf("read services: fingerprint of %s:%d: %w", sv.IP, sv.Port, err)
			}
		}
		out = append(out, sv)
	}
	return out, rows.Err()
}

// Assets returns the inventory, ordered by address.
func (s *Store) Assets(ctx context.Context) ([]model.Asset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ip, hostname, vendor, product, version, device_type, cpe,
		first_seen, last_seen FROM assets ORDER BY ip`)
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	defer rows.Close()
	var out []model.Asset
	for rows.Next() {
		var a model.Asset
		var ip, first, last string
		if err := rows.Scan(&ip, &a.Hostname, &a.Vendor, &a.Product, &a.Version, &a.DeviceType, &a.CPE, &first, &last); err != nil {
			return nil, fmt.Errorf("read assets: %w", err)
		}
		a.IP, _ = netip.ParseAddr(ip)
		a.FirstSeen, a.LastSeen = ParseTime(first), ParseTime(last)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveCredentials stores a batch of credential results in one transaction.
func (s *Store) SaveCredentials(ctx context.Context, runID int64, creds []model.CredentialResult) error {
	if len(creds) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *sql.Tx) error { return s.SaveCredentialsTx(ctx, tx, runID, creds) })
}

// SaveCredentialsTx is SaveCredentials inside the caller's transaction tx.
func (s *Store) SaveCredentialsTx(ctx context.Context, tx *sql.Tx, runID int64, creds []model.CredentialResult) error {
	day, dayCol, dayVal, err := s.DayKey(ctx, tx, runID)
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	st, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO credentials
		(run_id, ip, port, protocol, username, password, kind, source, attempts, lockout_suspected, seen_at, evidence`+dayCol+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`+dayVal+`)
		ON CONFLICT (run_id, ip, port, protocol, username, password`+dayCol+`) DO UPDATE SET
		kind = excluded.kind, source = excluded.source, attempts = excluded.attempts,
		lockout_suspected = excluded.lockout_suspected, seen_at = excluded.seen_at, evidence = excluded.evidence`))
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer st.Close()
	for _, c := range creds {
		if c.Time.IsZero() {
			c.Time = time.Now()
		}
		lock := 0
		if c.LockoutSuspected {
			lock = 1
		}
		pw, err := s.sealPassword(c.Password)
		if err != nil {
			return fmt.Errorf("save credential %s:%d: %w", c.IP, c.Port, err)
		}
		if _, err := st.ExecContext(ctx, day(runID, c.IP.String(), int(c.Port), c.Protocol, c.Username,
			pw, c.Kind, c.Source, c.Attempts, lock, Time(c.Time), c.Evidence)...); err != nil {
			return fmt.Errorf("save credential %s:%d: %w", c.IP, c.Port, err)
		}
	}
	return nil
}

// Credentials returns the credential results of a run.
func (s *Store) Credentials(ctx context.Context, runID int64) ([]model.CredentialResult, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT ip, port, protocol, username, password, kind, source,
		attempts, lockout_suspected, seen_at, evidence FROM credentials WHERE run_id = ? ORDER BY ip, port, protocol, username`), runID)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	defer rows.Close()
	var out []model.CredentialResult
	for rows.Next() {
		var c model.CredentialResult
		var ip, seen string
		var port, lock int
		if err := rows.Scan(&ip, &port, &c.Protocol, &c.Username, &c.Password, &c.Kind, &c.Source, &c.Attempts, &lock, &seen, &c.Evidence); err != nil {
			return nil, fmt.Errorf("read credentials: %w", err)
		}
		c.IP, _ = netip.ParseAddr(ip)
		c.Port, c.LockoutSuspected, c.Time = uint16(port), lock != 0, ParseTime(seen)
		c.Password = s.secrets.OpenOrPlaceholder(c.Password)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SaveVulnMatches stores a batch of vulnerability matches in one transaction.
func (s *Store) SaveVulnMatches(ctx context.Context, runID int64, ms []model.VulnMatch) error {
	if len(ms) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO vuln_matches (run_id, subject, port, cve, cpe, data)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, subject, port, cve, cpe) DO UPDATE SET data = excluded.data`))
		if err != nil {
			return fmt.Errorf("save vulnerability matches: %w", err)
		}
		defer st.Close()
		for _, m := range ms {
			subj := m.Subject
			if subj == "" && m.IP.IsValid() {
				subj = m.IP.String()
			}
			b, err := json.Marshal(m)
			if err != nil {
				return fmt.Errorf("save match %s: %w", m.CVE, err)
			}
			if _, err := st.ExecContext(ctx, runID, subj, int(m.Port), m.CVE, m.CPE, string(b)); err != nil {
				return fmt.Errorf("save match %s: %w", m.CVE, err)
			}
		}
		return nil
	})
}

// VulnMatches returns the vulnerability matches of a run.
func (s *Store) VulnMatches(ctx context.Context, runID int64) ([]model.VulnMatch, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT data FROM vuln_matches WHERE run_id = ? ORDER BY subject, port, cve`), runID)
	if err != nil {
		return nil, fmt.Errorf("read vulnerability matches: %w", err)
	}
	defer rows.Close()
	var out []model.VulnMatch
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("read vulnerability matches: %w", err)
		}
		var m model.VulnMatch
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			return nil, fmt.Errorf("read vulnerability match: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SaveFindings stores a batch of findings in one transaction.
func (s *Store) SaveFindings(ctx context.Context, runID int64, fs []model.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		args, col, val, err := s.DayKey(ctx, tx, runID)
		if err != nil {
			return fmt.Errorf("save findings: %w", err)
		}
		st, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO findings (run_id, kind, subject, title, severity, data, seen_at`+col+`)
			VALUES (?, ?, ?, ?, ?, ?, ?`+val+`)
			ON CONFLICT (run_id, kind, subject, title`+col+`) DO UPDATE SET
			severity = excluded.severity, data = excluded.data, seen_at = excluded.seen_at`))
		if err != nil {
			return fmt.Errorf("save findings: %w", err)
		}
		defer st.Close()
		for _, f := range fs {
			if f.Time.IsZero() {
				f.Time = time.Now()
			}
			b, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("save finding %s: %w", f.Kind, err)
			}
			if b, err = s.secrets.SealJSON(b, f.Secrets); err != nil {
				return fmt.Errorf("save finding %s (key %s): %w", f.Kind, s.KeySource(), err)
			}
			// The key columns are not sealed: a title must not quote a secret.
			if _, err := st.ExecContext(ctx, args(runID, f.Kind, f.Subject, f.Title, f.Severity.String(), string(b), Time(f.Time))...); err != nil {
				return fmt.Errorf("save finding %s: %w", f.Kind, err)
			}
		}
		return nil
	})
}

// Findings returns the findings of a run (runID 0: of all runs).
func (s *Store) Findings(ctx context.Context, runID int64) ([]model.Finding, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT data FROM findings WHERE (? = 0 OR run_id = ?) ORDER BY run_id, subject, kind`), runID, runID)
	if err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	var out []model.Finding
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("read findings: %w", err)
		}
		data, err := s.openJSON(data)
		if err != nil {
			return nil, fmt.Errorf("read finding: %w", err)
		}
		var f model.Finding
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			return nil, fmt.Errorf("read finding: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// genericTypesSQL is model.GenericDeviceTypes as a SQL list of literals.
var genericTypesSQL = func() string {
	var b strings.Builder
	for i, t := range model.GenericDeviceTypes() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + strings.ReplaceAll(t, "'", "''") + "'")
	}
	return b.String()
}()
