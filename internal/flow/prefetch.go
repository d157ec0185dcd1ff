package flow

import "unsafe"

// Prefetch asks the processor to bring the cache line at p into its caches
// and returns at once (see prefetch): for the observers, which read their
// state of the records of a batch a few records ahead (never dereferenced:
// any address may be given).
func Prefetch(p unsafe.Pointer) { prefetch(p) }

// HugePages asks the system to back the 2 MiB-aligned part of b with huge
// pages where transparent huge pages are left to madvise (see hugePages):
// for the observers' large stores, written all over soon after allocation.
// It reports whether it did.
func HugePages(b []byte) bool { return hugePages(b) }
