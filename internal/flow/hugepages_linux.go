package flow

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// thp reports whether the system gives transparent huge pages to memory
// that asks for them (its setting is "always" or "madvise", not "never").
var thp = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && !bytes.Contains(b, []byte("[never]"))
})

// hugePages asks the system to back the 2 MiB-aligned part of b with huge
// pages (where transparent huge pages are left to madvise): a table that is
// written all over soon faults once per 2 MiB instead of once per 4 KiB.
// It reports whether it did (then a read before the first write of a page
// costs no second fault worth avoiding).
func hugePages(b []byte) bool {
	const huge = 2 << 20
	if len(b) < 2*huge || !thp() {
		return false
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := int((start+huge-1)&^(huge-1) - start)
	hi := lo + (len(b)-lo)&^(huge-1)
	return syscall.Madvise(b[lo:hi], 14) == nil // MADV_HUGEPAGE
}
