package secret

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testBox(t *testing.T) *Box {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return NewBox(k)
}

func TestSealOpen(t *testing.T) {
	b := testBox(t)
	other := testBox(t)
	for _, plain := range []string{"xc3511", "a", `qu"ote\`, "ünïcode 🔑", strings.Repeat("long", 500)} {
		s, err := b.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !IsSealed(s) || len(plain) > 3 && strings.Contains(s, plain) {
			t.Errorf("Seal(%q) = %q: not sealed", plain, s)
		}
		if got, err := b.Open(s); err != nil || got != plain {
			t.Errorf("Open(Seal(%q)) = %q, %v", plain, got, err)
		}
		if s2, _ := b.Seal(plain); s2 == s {
			t.Errorf("Seal(%q) twice gave the same value: nonce reused", plain)
		}
		if _, err := other.Open(s); !errors.Is(err, ErrNoKey) {
			t.Errorf("another key opened %q: %v", plain, err)
		}
		var none *Box
		if got := none.OpenOrPlaceholder(s); !IsPlaceholder(got) || got != Placeholder(s) {
			t.Errorf("no key: %q, want the placeholder", got)
		}
	}
	if s, err := b.Seal(""); err != nil || s != "" {
		t.Errorf("Seal(\"\") = %q, %v; the empty password stays empty", s, err)
	}
	if _, err := (&Box{}).Seal("x"); !errors.Is(err, ErrNoKey) {
		t.Errorf("Seal without a key: %v, want ErrNoKey", err)
	}
	if got, err := b.Open("plain"); err != nil || got != "plain" {
		t.Errorf("Open of a plain value = %q, %v", got, err)
	}
}

func TestSealTampered(t *testing.T) {
	b := testBox(t)
	s, _ := b.Seal("secret-value")
	raw := []byte(s)
	raw[len(raw)-3] ^= 1
	if raw[len(raw)-3] == '-' || raw[len(raw)-3] == '_' { // keep it base64url
		raw[len(raw)-3] = 'A'
	}
	if _, err := b.Open(string(raw)); err == nil || errors.Is(err, ErrNoKey) {
		t.Errorf("tampered value opened: %v", err)
	}
	if _, err := b.Open(Prefix + "!!"); err == nil {
		t.Error("malformed value opened")
	}
}

func TestSealDeterministic(t *testing.T) {
	b := testBox(t)
	x1, _ := b.SealDeterministic("c", "admin")
	x2, _ := b.SealDeterministic("c", "admin")
	y, _ := b.SealDeterministic("c", "admin1")
	z, _ := b.SealDeterministic("other", "admin")
	if x1 != x2 {
		t.Errorf("same plain text sealed twice: %q ≠ %q", x1, x2)
	}
	if x1 == y || x1 == z {
		t.Error("different plain text or context gave the same sealed value")
	}
	if p, err := b.Open(x1); err != nil || p != "admin" {
		t.Errorf("Open = %q, %v", p, err)
	}
	if Placeholder(x1) != Placeholder(x2) || Placeholder(x1) == Placeholder(y) {
		t.Error("placeholders must follow the sealed values")
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, _ := NewKey()
	newKey, _ := NewKey()
	s, _ := NewBox(oldKey).Seal("old")
	ring := NewBox(newKey, oldKey)
	if p, err := ring.Open(s); err != nil || p != "old" {
		t.Errorf("ring opens the old key's value: %q, %v", p, err)
	}
	n, _ := ring.Seal("new")
	if _, err := NewBox(oldKey).Open(n); !errors.Is(err, ErrNoKey) {
		t.Error("the ring must seal with its first key")
	}
	if ring.Current(s) || !ring.Current(n) {
		t.Error("Current must tell the sealing key's values from older ones")
	}
	text := `{"a":"x ` + s + ` y","b":"` + n + `"}`
	out, err := ring.ResealIn(text)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, s) || !strings.Contains(out, n) {
		t.Errorf("ResealIn left the old value or changed the current one: %s", out)
	}
	if got := NewBox(newKey).OpenIn(out); got != `{"a":"x old y","b":"new"}` {
		t.Errorf("after re-sealing the new key alone opens %s", got)
	}
}

func TestSealJSON(t *testing.T) {
	b := testBox(t)
	doc := `{"kind":"firmware-secret","detail":"etc/app.conf:12: tok_3Xq\"9","line":12,` +
		`"evidence":[{"data":{"value":"tok_3Xq\"9","community":"priv8","other":"pu***"}}]}`
	out, err := b.SealJSON([]byte(doc), []string{`tok_3Xq"9`}, "community")
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{`tok_3Xq`, "priv8"} {
		if strings.Contains(string(out), leak) {
			t.Errorf("sealed document still holds %q: %s", leak, out)
		}
	}
	if !strings.Contains(string(out), `"line":12`) || !strings.Contains(string(out), `"pu***"`) {
		t.Errorf("sealing changed what is not secret: %s", out)
	}
	opened, err := b.OpenJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	_ = json.Unmarshal([]byte(doc), &want)
	if err := json.Unmarshal(opened, &got); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Errorf("round trip:\n got %s\nwant %s", gb, wb)
	}
	redacted, err := (&Box{}).OpenJSON(out)
	if err != nil || !strings.Contains(string(redacted), "[sealed:") || strings.Contains(string(redacted), "priv8") {
		t.Errorf("without the key: %s, %v", redacted, err)
	}
}

func TestKeyFile(t *testing.T) {
	t.Setenv(EnvKey, "")
	t.Setenv(EnvKeyFile, "")
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "iotwatch.db.key")
	b, src, err := Resolve(path, false)
	if err != nil || b.HasKey() || src.Path != path {
		t.Fatalf("no file, no create: %v %v %v", b.HasKey(), src, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a read-only resolve created the key file")
	}
	b, _, err = Resolve(path, true)
	if err != nil || !b.HasKey() {
		t.Fatalf("create: %v", err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", p, fi.Mode().Perm(), err, want)
		}
	}
	again, _, err := Resolve(path, true)
	if err != nil || again.KeyID() != b.KeyID() {
		t.Errorf("second resolve: key %s (%v), want the same %s", again.KeyID(), err, b.KeyID())
	}
	s, _ := b.Seal("v")

	// Environment: the key itself, or another file.
	text, _ := os.ReadFile(path)
	keys, _ := ParseKeys(string(text))
	t.Setenv(EnvKey, FormatKey(keys[0]))
	if e, src, err := Resolve("/nonexistent/x.key", false); err != nil || e.KeyID() != b.KeyID() || src.Path != "" {
		t.Errorf("$%s: %v %v", EnvKey, src, err)
	} else if p, _ := e.Open(s); p != "v" {
		t.Error("the key from the environment does not open the value")
	}
	t.Setenv(EnvKey, "not base64!")
	if _, _, err := Resolve(path, false); err == nil {
		t.Error("a bad key in the environment was accepted")
	}
	t.Setenv(EnvKey, "")
	other := filepath.Join(t.TempDir(), "server.key")
	t.Setenv(EnvKeyFile, other)
	if e, src, err := Resolve(path, true); err != nil || src.Path != other || e.KeyID() == b.KeyID() {
		t.Errorf("$%s: %v %v", EnvKeyFile, src, err)
	}

	// A key file others may read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvKeyFile, "")
	if _, _, err := Resolve(path, false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a 0644 key file: %v, want a refusal", err)
	}
}
