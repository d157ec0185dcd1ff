package flow

import (
	"bytes"
	"os"
	"runtime/debug"
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

// HugeHeapSize is the address space a file ingest readies for huge pages
// (HugeHeap): more than the heap of an ingest of 3M new relations.
const HugeHeapSize = 512 << 20

// HugeHeap readies the Go heap of a process about to build large tables
// (a file ingest) for huge pages: it takes size bytes of fresh address
// space into the heap as one object, asks for huge pages on them
// (hugePages), and lets them go again (a collection frees the object and
// returns its pages, never written, to the system). The heap's later
// allocations are made there first (the runtime takes the lowest free
// addresses), and the runtime need not clear them (it knows returned pages
// are zero): a table, a batch or a buffer then faults once per 2 MiB, not
// once per 4 KiB, and the process's exit frees a few hundred huge pages
// instead of tens of thousands of small ones. (CLI ingest of the 1M-flow
// capture, alternating runs at load 10-15: 35,000 page faults → 7,000-
// 12,000; exit, from exit_group to the parent's wait, 32-82 → 4-40 ms; max
// RSS 222 → 199 MiB, medians of 5; CPU the same within the noise. The 1M
// NetFlow capture: max RSS 201 → 210 MiB, what huge pages hold of buffers
// and grown slices not written all through.)
//
// The space asked for is address space only: the resident memory is what
// the heap uses. HugeHeap does nothing where the system gives no huge pages
// or accounts address space strictly (vm.overcommit_memory 2: the space
// would count against the process's limit though never written), and only
// its first call in a process does anything.
func HugeHeap(size int) {
	hugeHeapOnce.Do(func() {
		if unsafe.Sizeof(uintptr(0)) < 8 || size < 4<<20 || !thp() || !overcommit() {
			return
		}
		reserveHuge(size)
		go debug.FreeOSMemory()
	})
}

var hugeHeapOnce sync.Once

// reserveHuge allocates size fresh bytes, asks for huge pages on them and
// drops them; it returns their range.
//
//go:noinline
func reserveHuge(size int) (lo, hi uintptr) {
	b := make([]byte, size) // fresh from the system: neither cleared nor written
	hugePages(b)
	lo = uintptr(unsafe.Pointer(&b[0]))
	return lo, lo + uintptr(size)
}

// overcommit reports whether the system lets address space be taken that
// is not backed (vm.overcommit_memory 0 or 1, not 2) and the process's
// address space is not limited (ulimit -v: an allocation past the limit
// ends the process, it returns no error).
var overcommit = sync.OnceValue(func() bool {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &lim); err != nil || lim.Cur != ^uint64(0) {
		return false
	}
	b, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	return err == nil && !bytes.HasPrefix(b, []byte("2"))
})
