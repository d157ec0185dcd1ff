package flow

import (
	"syscall"
	"unsafe"
)

// hugePages asks the system to back the 2 MiB-aligned part of b with huge
// pages (where transparent huge pages are left to madvise): a table that is
// written all over soon faults once per 2 MiB instead of once per 4 KiB.
func hugePages(b []byte) {
	const huge = 2 << 20
	if len(b) < 2*huge {
		return
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := int((start+huge-1)&^(huge-1) - start)
	hi := lo + (len(b)-lo)&^(huge-1)
	_ = syscall.Madvise(b[lo:hi], 14) // MADV_HUGEPAGE; an error leaves small pages
}
