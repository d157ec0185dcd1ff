package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runDemoCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(context.Background(), append([]string{"--log-level", "warn"}, args...), &out, &errOut)
	return out.String(), err
}

func TestDemoCommand(t *testing.T) {
	dir := t.TempDir()
	out, err := runDemoCmd(t, "--db", filepath.Join(dir, "iw.db"), "--json", "demo",
		"--devices", "40", "--seed", "3", "--prefix", "127.32.0.0/16", "--out", dir)
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	var sum struct {
		Devices         int     `json:"devices"`
		TruthDevices    int     `json:"truth_devices"`
		WeakShare       float64 `json:"weak_password_share"`
		TruthWeakShare  float64 `json:"truth_weak_password_share"`
		DevicesWithWeak int     `json:"devices_with_weak_credentials"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	if sum.Devices != 40 || sum.TruthDevices != 40 || sum.DevicesWithWeak == 0 || sum.WeakShare != sum.TruthWeakShare {
		t.Errorf("summary = %+v, want 40 devices and the truth's weak share", sum)
	}
	for _, f := range []string{"report.html", "report.json", "truth.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
}

func TestDemoBadInput(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"demo", "--prefix", "10.0.0.0/8"}, "loopback prefix", 2},
		{[]string{"demo", "--prefix", "127.33.0.0/30", "--devices", "9"}, "--devices 9", 2},
		{[]string{"demo", "--weak", "0.9", "--empty", "0.2"}, "must not exceed 1", 2},
		{[]string{"demo", "--devices", "x"}, "invalid argument", 2},
		{[]string{"--db", filepath.Join(notDir, "iw.db"), "demo", "--devices", "2", "--prefix", "127.33.0.0/24"}, "iw.db", 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := tt.args
			if args[0] != "--db" {
				args = append([]string{"--db", filepath.Join(dir, "ok.db")}, args...)
			}
			_, err := runDemoCmd(t, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit code = %d, want %d", got, tt.code)
			}
		})
	}
}
