package firmware

import (
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"iotwatch/internal/firmware/unpack"
)

// File is one file of the unpacked image, seen from inside its filesystem.
type File struct {
	Path string // firmware path, e.g. /etc/shadow
	Rel  string // sandbox-relative path
	Host string // path on disk ("" for links)
	Size int64
	Link string // target, for links
	Root string // sandbox-relative filesystem root it belongs to
}

// view lists the files of every extracted filesystem and the loose blobs
// (decompressed streams) that belong to no filesystem.
type view struct {
	files  []File
	blobs  []File
	byPath map[string][]int // firmware path → indexes in files
}

// buildView walks the extraction directory once.
func buildView(rep *unpack.Report) (*view, error) {
	var roots []string
	for _, e := range rep.Extracted {
		if e.Filesystem && e.Path != "" {
			roots = append(roots, e.Path)
		}
	}
	// Longest first, so the deepest filesystem claims its files.
	slices.SortFunc(roots, func(a, b string) int { return len(b) - len(a) })
	rootOf := func(rel string) (string, bool) {
		for _, r := range roots {
			if rel == r || strings.HasPrefix(rel, r+"/") {
				return r, true
			}
		}
		return "", false
	}
	v := &view{byPath: map[string][]int{}}
	add := func(f File) {
		v.byPath[f.Path] = append(v.byPath[f.Path], len(v.files))
		v.files = append(v.files, f)
	}
	err := filepath.WalkDir(rep.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(rep.Dir, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if root, ok := rootOf(rel); ok {
			add(File{Path: "/" + strings.TrimPrefix(rel, root+"/"), Rel: rel, Host: p, Size: info.Size(), Root: root})
		} else {
			v.blobs = append(v.blobs, File{Path: rel, Rel: rel, Host: p, Size: info.Size()})
		}
		return nil
	})
	for rel, target := range rep.Links {
		if root, ok := rootOf(rel); ok {
			add(File{Path: "/" + strings.TrimPrefix(rel, root+"/"), Rel: rel, Link: target, Root: root})
		}
	}
	return v, err
}

// lookup returns the regular files with a firmware path.
func (v *view) lookup(p string) []File {
	var out []File
	for _, i := range v.byPath[p] {
		if v.files[i].Link == "" {
			out = append(out, v.files[i])
		}
	}
	return out
}

// exists reports whether a firmware path exists as a file or link.
func (v *view) exists(p string) bool { return len(v.byPath[p]) > 0 }

// glob returns files whose firmware path matches pattern.
func (v *view) glob(pattern string) []File {
	var out []File
	for _, f := range v.files {
		if ok, _ := path.Match(pattern, f.Path); ok {
			out = append(out, f)
		}
	}
	return out
}
