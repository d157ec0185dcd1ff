package report

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoLoginImports checks that the report and the dashboard reach the
// audit's statistics through internal/stats, never by importing the audit
// or its login modules (which would link credential-guessing code into a
// read-only dashboard).
func TestNoLoginImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "iotwatch/internal/report", "iotwatch/internal/web").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages: %q", len(deps), out)
	}
	for _, d := range deps {
		if d == "iotwatch/internal/audit" || strings.HasPrefix(d, "iotwatch/internal/login") {
			t.Errorf("report or web depends on %s", d)
		}
	}
}
