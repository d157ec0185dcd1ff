// Package secrets finds credentials and key material in an unpacked
// firmware: accounts in passwd/shadow with empty or default passwords
// (crypt(3) hashes cracked against an embedded default-password list with a
// time budget), private keys and certificates, API tokens and cloud keys by
// pattern with an entropy check, and passwords in vendor configuration files.
// Results carry raw values; callers redact them for display.
package secrets

import (
	"bytes"
	"context"
	"os"
	"strings"
	"time"
)

// File is one file of the unpacked firmware.
type File struct {
	Path string // path inside the firmware filesystem
	Host string // where its bytes are on disk
	Size int64
}

// Options tune a scan.
type Options struct {
	CrackBudget time.Duration // total time for cracking hashes; 0 = 10 s; <0 = do not crack
	Words       []string      // extra candidate passwords, tried after user-specific ones
	MaxFileSize int64         // larger files are not searched; 0 = 8 MiB
}

// Result is everything Scan found.
type Result struct {
	Accounts []Account `json:"accounts,omitempty"`
	Keys     []Key     `json:"keys,omitempty"`
	Certs    []Cert    `json:"certificates,omitempty"`
	Secrets  []Secret  `json:"secrets,omitempty"`
	Cracking CrackStat `json:"cracking"`
}

// Scan searches files for credentials and keys.
func Scan(ctx context.Context, files []File, opts Options) (*Result, error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = 8 << 20
	}
	if opts.CrackBudget == 0 {
		opts.CrackBudget = 10 * time.Second
	}
	res := &Result{}
	var passwd, shadow, smb []File
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		switch {
		case f.Path == "/etc/passwd" || strings.HasSuffix(f.Path, "/etc/passwd"):
			passwd = append(passwd, f)
		case f.Path == "/etc/shadow" || strings.HasSuffix(f.Path, "/etc/shadow"):
			shadow = append(shadow, f)
		case strings.HasSuffix(f.Path, "/smbpasswd"):
			smb = append(smb, f)
		}
		if f.Size == 0 || f.Size > opts.MaxFileSize {
			continue
		}
		data, err := os.ReadFile(f.Host)
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte("-----BEGIN ")) {
			k, c := pemObjects(f.Path, data)
			res.Keys = append(res.Keys, k...)
			res.Certs = append(res.Certs, c...)
		}
		if k, ok := dropbearKey(f.Path, data); ok {
			res.Keys = append(res.Keys, k)
		}
		if isText(data) {
			res.Secrets = append(res.Secrets, tokens(f.Path, data)...)
			res.Secrets = append(res.Secrets, configPasswords(f.Path, data)...)
			res.Secrets = append(res.Secrets, pppSecrets(f.Path, data)...)
		}
	}
	res.Accounts = accounts(passwd, shadow)
	for _, f := range smb {
		res.Accounts = append(res.Accounts, smbAccounts(f, readLines(f))...)
	}
	if opts.CrackBudget > 0 {
		res.Cracking = crack(ctx, res.Accounts, opts)
	}
	return res, ctx.Err()
}

// isText reports whether data looks like text (no NUL in its first 8 KiB).
func isText(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8192)], 0) < 0
}
