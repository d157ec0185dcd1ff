package vuln

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the importer's
// writer, HTTP clients of Update).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
