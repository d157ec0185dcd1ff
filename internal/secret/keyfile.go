package secret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Environment variables that name the key for servers (several workers
// sharing one PostgreSQL database must share one key):
// IOTWATCH_SECRET_KEY holds the key itself, IOTWATCH_SECRET_KEY_FILE the path
// of a key file (created on first use like the default one).
const (
	EnvKey     = "IOTWATCH_SECRET_KEY"
	EnvKeyFile = "IOTWATCH_SECRET_KEY_FILE"
)

// ParseKeys reads keys in key-file form: one base64 key (32 bytes) per line,
// the first one sealing; empty lines and lines starting with # are ignored.
// Commas separate keys too, for an environment variable.
func ParseKeys(text string) ([]*Key, error) {
	var keys []*Key
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(b) != keySize {
			return nil, fmt.Errorf("secret key: want base64 of %d bytes per line", keySize)
		}
		k := new(Key)
		copy(k[:], b)
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("secret key: no key")
	}
	return keys, nil
}

// FormatKey is k in key-file form.
func FormatKey(k *Key) string { return base64.StdEncoding.EncodeToString(k[:]) }

// Source says where a Box's key came from, for messages and documentation.
type Source struct {
	Env  string // the variable that held the key or named the file, "" for the default
	Path string // the key file, "" when the key came from EnvKey
}

func (s Source) String() string {
	switch {
	case s.Path == "":
		return "$" + s.Env
	case s.Env != "":
		return s.Path + " ($" + s.Env + ")"
	default:
		return s.Path
	}
}

// Resolve finds the key: $IOTWATCH_SECRET_KEY, else the file named by
// $IOTWATCH_SECRET_KEY_FILE, else defaultPath. When create is set a missing
// key file is created (mode 0600, a new random key); otherwise a missing file
// gives a Box without a key (everything opens redacted) and no error.
func Resolve(defaultPath string, create bool) (*Box, Source, error) {
	if v := os.Getenv(EnvKey); v != "" {
		keys, err := ParseKeys(v)
		if err != nil {
			return nil, Source{Env: EnvKey}, fmt.Errorf("$%s: %w", EnvKey, err)
		}
		return NewBox(keys...), Source{Env: EnvKey}, nil
	}
	src := Source{Path: defaultPath}
	if p := os.Getenv(EnvKeyFile); p != "" {
		src = Source{Env: EnvKeyFile, Path: p}
	}
	if src.Path == "" {
		return &Box{}, src, nil
	}
	keys, err := ReadKeyFile(src.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		keys, err = CreateKeyFile(src.Path)
	case errors.Is(err, fs.ErrNotExist):
		return &Box{}, src, nil
	}
	if err != nil {
		return nil, src, err
	}
	return NewBox(keys...), src, nil
}

// ReadKeyFile reads a key file. A key file that others than its owner may
// read is refused, as ssh refuses such a private key.
func ReadKeyFile(path string) ([]*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s: mode %04o lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	keys, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// CreateKeyFile writes a new random key to path, mode 0600, its directory
// 0700 if it must be made. The file appears whole or not at all (written
// beside it, then linked into place), and when another process created it
// first, that process's key is read and returned.
func CreateKeyFile(path string) ([]*Key, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".iotwatch-key-*")
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // the link below is the file that matters; the temporary name goes either way
	body := "# iotwatch secret key: keep it apart from copies of the database; the first key seals.\n" + FormatKey(k) + "\n"
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if _, err := tmp.WriteString(body); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ReadKeyFile(path)
		}
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	return []*Key{k}, nil
}
