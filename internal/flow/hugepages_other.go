//go:build !linux

package flow

// hugePages does nothing where huge pages are not asked for (see
// hugepages_linux.go).
func hugePages([]byte) bool { return false }

// HugeHeapSize is the address space a file ingest readies for huge pages
// where the system has them (hugepages_linux.go).
const HugeHeapSize = 512 << 20

// HugeHeap does nothing where huge pages are not asked for (see
// hugepages_linux.go).
func HugeHeap(int) {}
