package testpeer

import (
	"bufio"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fleetLine finds a loopback prefix a test binds a simulated fleet or its
// listeners on: simulate.Options{Prefix: …}, --prefix, startFleet,
// testInventory and the like. Scopes and run targets are data, not
// listeners, and are left out.
var (
	fleetLine  = regexp.MustCompile(`Prefix|--prefix|[Ff]leet\(|testInventory\(`)
	dataLine   = regexp.MustCompile(`Targets:|AddScope|Scope`)
	loopPrefix = regexp.MustCompile(`127\.\d+\.\d+\.\d+/\d+`)
)

// TestFleetPrefixesDisjoint checks that no two packages' tests bind
// simulated fleets on overlapping loopback prefixes: `go test -p 2 ./...`
// runs two packages at once, and a shared address fails one of them with
// "address already in use" only when their tests happen to overlap in time.
// Tests of one package may share a prefix (they run one after another
// unless they call t.Parallel).
func TestFleetPrefixesDisjoint(t *testing.T) {
	root := filepath.Join("..", "..")
	type use struct {
		pkg, where string
		p          netip.Prefix
	}
	var uses []use
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") || d.Name() == "prefixes_test.go" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if !fleetLine.MatchString(line) || dataLine.MatchString(line) {
				continue
			}
			for _, s := range loopPrefix.FindAllString(line, -1) {
				p, err := netip.ParsePrefix(s)
				if err != nil || p.Bits() < 12 { // a refusal case, never bound
					continue
				}
				uses = append(uses, use{filepath.Dir(path), path + ":" + strconv.Itoa(n), p.Masked()})
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) < 10 {
		t.Fatalf("found %d fleet prefixes in the tests; the pattern no longer finds them", len(uses))
	}
	for i, a := range uses {
		for _, b := range uses[i+1:] {
			if a.pkg != b.pkg && a.p.Overlaps(b.p) {
				t.Errorf("%s (%s) and %s (%s) bind overlapping fleets in two packages that may run at once", a.where, a.p, b.where, b.p)
			}
		}
	}
}
