// Package target turns what a user names (addresses, CIDRs, ranges,
// hostnames, @files, zmap/masscan output lines) into a scan space of
// (address, port) pairs, applies block and allow lists in zmap's format, and
// walks the space in a random order over a cyclic multiplicative group as
// zmap does, so that no network sees a burst, with disjoint shards and a
// resumable position.
package target
