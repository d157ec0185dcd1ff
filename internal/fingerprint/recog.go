package fingerprint

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	recog "github.com/RumbleDiscovery/recog-go"
)

// loadRecog reads the Recog databases our fields use from fsys. It replaces
// recog-go's loader, whose Normalize round-trips every pattern through
// regexp/syntax's String (about 6 s of CPU for the set); here the PCRE flags
// become inline Go flags and each pattern compiles directly (tens of ms).
func loadRecog(fsys http.FileSystem) (*recog.FingerprintSet, error) {
	set := recog.NewFingerprintSet()
	seen := map[string]bool{}
	for _, name := range recogDBs {
		if seen[name] {
			continue
		}
		seen[name] = true
		f, err := fsys.Open("/" + name)
		if err != nil {
			continue // older sets lack some databases
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var db recog.FingerprintDB
		if err := xml.Unmarshal(b, &db); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		db.Name = name
		kept := db.Fingerprints[:0]
		for _, fp := range db.Fingerprints {
			if err := compileRecog(fp); err == nil {
				kept = append(kept, fp)
			} // patterns Go's RE2 cannot express (back-references) are skipped
		}
		db.Fingerprints = kept
		set.Databases[name] = &db
	}
	if len(set.Databases) == 0 {
		return nil, fmt.Errorf("no Recog databases found")
	}
	return set, nil
}

// compileRecog compiles a Recog pattern with its flags as recog-go would.
func compileRecog(fp *recog.Fingerprint) error {
	flags := ""
	for _, f := range strings.FieldsFunc(fp.Flags, func(r rune) bool { return r == '|' || r == ',' }) {
		switch f {
		case "REG_ICASE", "IGNORECASE":
			flags += "i"
		case "REG_DOT_NEWLINE", "REG_MULTILINE", "REG_LINE_ANY_CRLF":
			flags += "s"
		}
	}
	pat := strings.ReplaceAll(fp.Pattern, `\u0000`, `\x00`)
	if strings.HasPrefix(pat, "(?m)") {
		flags += "s"
	}
	if flags != "" {
		pat = "(?" + flags + ")" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return fmt.Errorf("recog pattern %q: %w", fp.Pattern, err)
	}
	fp.PatternCompiled = re
	if fp.Certainty == "" {
		fp.Certainty = "0.85"
	}
	return nil
}
