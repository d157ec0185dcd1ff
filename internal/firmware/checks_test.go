package firmware

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"iotwatch/internal/firmware/unpack"
)

// testView writes files (firmware path → content) and lists them as a view.
func testView(t *testing.T, files map[string]string) *view {
	t.Helper()
	root := t.TempDir()
	v := &view{byPath: map[string][]int{}}
	for p, body := range files {
		host := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(host), 0o755)
		if err := os.WriteFile(host, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		v.byPath[p] = append(v.byPath[p], len(v.files))
		v.files = append(v.files, File{Path: p, Host: host, Size: int64(len(body))})
	}
	return v
}

func TestCheckUpdate(t *testing.T) {
	rules, _ := defaultRules()
	tests := []struct {
		name       string
		files      map[string]string
		mechanisms []string
		weak       []string // weakness rule ids, sorted
		verified   bool
	}{
		{"rauc", map[string]string{"/usr/bin/rauc": "x", "/etc/rauc/system.conf": "[keyring]\npath=/etc/rauc/keyring.pem\n", "/etc/rauc/keyring.pem": "k"},
			[]string{"rauc"}, []string{"no-rollback-protection"}, true},
		{"swupdate-no-key", map[string]string{"/usr/bin/swupdate": "x"},
			[]string{"swupdate"}, []string{"no-rollback-protection", "no-update-key", "unsigned-updates"}, false},
		{"swupdate-key", map[string]string{"/usr/bin/swupdate": "x", "/etc/swupdate/public.pem": "k", "/etc/swupdate.cfg": "anti-rollback = true\n"},
			[]string{"swupdate"}, nil, true},
		{"mender-verify-key", map[string]string{"/usr/bin/mender": "x", "/etc/mender/mender.conf": `{"ArtifactVerifyKey": "/etc/mender/artifact-verify-key.pem"}`, "/etc/mender/artifact-verify-key.pem": "k"},
			[]string{"mender"}, []string{"no-rollback-protection"}, true},
		{"vendor-script-signed", map[string]string{"/sbin/fwupdate": "#!/bin/sh\ncurl -o /tmp/f https://u.example/f.bin\nusign -V -m /tmp/f -P /etc/keys\n[ \"$new\" -lt \"$min_version\" ] && exit 1\nmtd write /tmp/f firmware\n", "/etc/keys/k": "k"},
			[]string{"vendor-script"}, nil, true},
		{"vendor-script-unsigned", map[string]string{"/sbin/fwupdate": "#!/bin/sh\ncurl -o /tmp/f https://u.example/f.bin\nmtd write /tmp/f firmware\n"},
			[]string{"vendor-script"}, []string{"no-rollback-protection", "unsigned-updates", "update-no-signature"}, false},
		{"nothing", map[string]string{"/etc/banner": "hello"}, nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := testView(t, tc.files)
			u := checkUpdate(v, &unpack.Report{}, applyRules(v, rules))
			var weak []string
			for _, w := range u.Weaknesses {
				weak = append(weak, w.Rule)
			}
			slices.Sort(weak)
			if !slices.Equal(u.Mechanisms, tc.mechanisms) || !slices.Equal(weak, tc.weak) || (len(u.Verification) > 0) != tc.verified {
				t.Errorf("got mechanisms %v weaknesses %v verification %v; want %v %v verified=%v",
					u.Mechanisms, weak, u.Verification, tc.mechanisms, tc.weak, tc.verified)
			}
		})
	}
}
