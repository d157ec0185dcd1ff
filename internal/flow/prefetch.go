package flow

import "unsafe"

// Prefetch asks the processor to bring the cache line at p into its caches
// and returns at once (see prefetch): for the observers, which read their
// state of the records of a batch a few records ahead (never dereferenced:
// any address may be given).
func Prefetch(p unsafe.Pointer) { prefetch(p) }
