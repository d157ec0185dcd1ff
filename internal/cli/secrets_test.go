package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/firmware/fwtest"
	"iotwatch/internal/model"
	"iotwatch/internal/secret"
	"iotwatch/internal/simulate"
	"iotwatch/internal/store"
)

// TestSecretsAtRestFleet audits a simulated fleet and checks what issue 16
// asks of secrets at rest: the database file and its WAL hold no found
// password in clear, the files are their owner's alone, report
// --show-secrets shows raw values with the key (in 0600 files), and a copy of
// the database without its key reports everything redacted and refuses
// --show-secrets.
func TestSecretsAtRestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated fleet")
	}
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	fleet, err := simulate.Start(ctx, simulate.Options{Prefix: netip.MustParsePrefix("127.86.0.0/24"), Devices: 16, Seed: 3,
		Weak: 0.7, HighPorts: true})
	if err != nil {
		t.Skipf("simulator: %v", err)
	}
	defer fleet.Close()
	var ports []string
	for _, p := range fleet.TCPPorts() {
		ports = append(ports, strconv.Itoa(int(p)))
	}
	for _, p := range fleet.UDPPorts() {
		ports = append(ports, strconv.Itoa(int(p))+"/udp")
	}
	dir := filepath.Join(t.TempDir(), "state")
	db := filepath.Join(dir, "iw.db")
	out, errOut, err := runAuditCmd(t, db, "127.86.0.1-16", "--ports", strings.Join(ports, ","), "--json", "--show-secrets")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, errOut)
	}
	// The passwords the fleet accepted, raw (--show-secrets): those that
	// are not also a user name or a dictionary word stored elsewhere.
	found := map[string]bool{}
	users := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r model.CredentialResult
		if json.Unmarshal([]byte(l), &r) == nil && r.Weak() {
			users[r.Username] = true
			if len(r.Password) >= 4 {
				found[r.Password] = true
			}
		}
	}
	for u := range users {
		delete(found, u)
	}
	if len(found) < 2 {
		t.Fatalf("the audit found %d distinct passwords, want some to look for:\n%s", len(found), out)
	}

	// A dictionary word may also be stored where it is no secret (an RTSP
	// "public" method list, a vulnerability description): look only for the
	// passwords no other column holds.
	elsewhere := otherText(t, db)
	for pw := range found {
		if strings.Contains(elsewhere, pw) {
			delete(found, pw)
		}
	}
	if len(found) == 0 {
		t.Fatal("every found password is also stored as other text: nothing left to look for")
	}
	t.Logf("looking for %d found passwords in the database files", len(found))
	for _, f := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for pw := range found {
			if bytes.Contains(b, []byte(pw)) {
				t.Errorf("%s holds the found password %q in clear", filepath.Base(f), pw)
			}
		}
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, db: 0o600, db + ".key": 0o600, db + ".lock": 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v (%v), want %04o", filepath.Base(path), fi.Mode().Perm(), err, want)
		}
	}

	// With the key: raw values, in files only the owner reads.
	rep := filepath.Join(t.TempDir(), "raw")
	if _, errOut, err := runReportCmd(t, db, "--show-secrets", "--format", "json,csv", "--output", rep); err != nil {
		t.Fatalf("report --show-secrets: %v\n%s", err, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(rep, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for pw := range found {
		if bytes.Contains(raw, []byte(`:`+pw+`"`)) || bytes.Contains(raw, []byte(`"`+pw+`"`)) {
			shown++
		}
	}
	if shown == 0 {
		t.Errorf("report --show-secrets shows none of the found passwords %v", found)
	}
	for _, p := range []string{rep, filepath.Join(rep, "report.json"), filepath.Join(rep, "report.csv")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v (%v): a report with secrets must be the owner's alone", p, fi.Mode().Perm(), err)
		}
	}

	// A copy without its key.
	cp := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil {
			continue
		}
		if err := os.WriteFile(cp+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	red, errOut, err := runReportCmd(t, cp, "--format", "json")
	if err != nil {
		t.Fatalf("report of a copy without its key: %v\n%s", err, errOut)
	}
	for pw := range found {
		if strings.Contains(red, pw) {
			t.Errorf("the copy's report shows %q", pw)
		}
	}
	if !strings.Contains(red, "[sealed:") {
		t.Error("the copy's report shows no sealed placeholder for the passwords")
	}
	if _, _, err := runReportCmd(t, cp, "--format", "json", "--show-secrets"); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("report --show-secrets of a copy without its key: %v, want a refusal naming the key", err)
	}
}

// otherText is every text value of the database outside credential rows.
func otherText(t *testing.T, db string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenReadOnly(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var tables []string
	rows, err := st.DB().QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'credentials'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tb := range tables {
		rows, err := st.DB().QueryContext(ctx, `SELECT * FROM "`+tb+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case string:
					b.WriteString(x + "\n")
				case []byte:
					b.Write(x)
					b.WriteString("\n")
				}
			}
		}
		rows.Close()
	}
	// The schema's own words (column names such as "password").
	rows, err = st.DB().QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		b.WriteString(s + "\n")
	}
	rows.Close()
	return b.String()
}

// TestFirmwareSecretsSealed analyzes an image with --show-secrets: the raw
// token reaches the store only sealed (not in the database file), and reads
// back raw with the key.
func TestFirmwareSecretsSealed(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	const token = "AKIAQ4XK7PLM2NB5ZR3T" // the AWS key fwtest plants
	img := fwtest.Image(t, true, "gzip")
	t.Cleanup(fwtest.Cleanup)
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	sarif := filepath.Join(t.TempDir(), "fw.sarif")
	out, err := runFirmware(t, db, true, "analyze", img, "--show-secrets", "--no-vulns", "--crack-budget", "5s", "--sarif", sarif)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sarif); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("SARIF with raw secrets: mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if !strings.Contains(out, token) {
		t.Fatalf("--show-secrets output lacks the planted token %s", token)
	}
	for _, f := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(token)) {
			t.Errorf("%s holds the firmware token in clear", filepath.Base(f))
		}
	}
	st, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs, err := st.Findings(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := false
	for _, f := range fs {
		b, _ := json.Marshal(f)
		raw = raw || bytes.Contains(b, []byte(token))
	}
	if !raw {
		t.Error("the stored findings do not open to the raw token with the key")
	}
}
