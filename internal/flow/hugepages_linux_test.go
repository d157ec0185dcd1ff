package flow

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestHugeHeap checks that the space HugeHeap readies asks for huge pages:
// its 2 MiB-aligned part lies in a mapping whose flags (smaps' VmFlags)
// have "hg" (MADV_HUGEPAGE); and that the heap is usable after HugeHeap.
func TestHugeHeap(t *testing.T) {
	if !thp() || !overcommit() {
		t.Skip("no transparent huge pages to ask for here")
	}
	const huge = 2 << 20
	lo, hi := reserveHuge(32 << 20)
	alo, ahi := (lo+huge-1)&^(huge-1), hi&^(huge-1)
	flags := func(p uintptr) string {
		t.Helper()
		f, err := os.Open("/proc/self/smaps")
		if err != nil {
			t.Skip(err)
		}
		defer f.Close()
		in := false
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if r, _, ok := strings.Cut(line, " "); ok && strings.Contains(r, "-") && !strings.HasSuffix(r, ":") {
				a, b, _ := strings.Cut(r, "-")
				x, err1 := strconv.ParseUint(a, 16, 64)
				y, err2 := strconv.ParseUint(b, 16, 64)
				in = err1 == nil && err2 == nil && uintptr(x) <= p && p < uintptr(y)
				continue
			}
			if v, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
				return v
			}
		}
		t.Fatalf("no mapping holds %#x", p)
		return ""
	}
	for _, p := range []uintptr{alo, (alo + ahi) / 2, ahi - 1} {
		if f := flags(p); !strings.Contains(f, " hg") {
			t.Errorf("%#x (of %#x-%#x): flags %q, want hg", p, lo, hi, f)
		}
	}
	HugeHeap(8 << 20) // and the whole call neither fails nor leaves the heap unusable
	b := make([]byte, 16<<20)
	for i := range b {
		b[i] = byte(i)
	}
	if b[len(b)-1] != byte(len(b)-1) {
		t.Fatal("heap not writable after HugeHeap")
	}
}
