//go:build !linux

package flow

// hugePages does nothing where huge pages are not asked for (see
// hugepages_linux.go).
func hugePages([]byte) bool { return false }
