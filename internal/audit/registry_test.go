package audit

import (
	"slices"
	"testing"

	"iotwatch/internal/protocol"
)

// TestModulesCoverTable checks that the login modules claim exactly the
// protocol table's rows with Login: every list of login surfaces (cli's
// auditable services, assess's login services) is derived from those rows.
func TestModulesCoverTable(t *testing.T) {
	var got []string
	for name := range registry(Modules()) {
		got = append(got, name)
	}
	want := protocol.Names(func(s protocol.Spec) bool { return s.Login })
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("login modules claim %v, table rows with Login %v", got, want)
	}
}
