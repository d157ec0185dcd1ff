package component

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"io"
	"os"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/package-url/packageurl-go"
)

// File is one file of the unpacked firmware.
type File struct {
	Path string // path inside the firmware filesystem, e.g. /usr/sbin/dropbear
	Host string // where its bytes are on disk; "" for links
	Size int64
	Link string // link target, for symbolic links
}

// maxScan is the largest file read whole for signature matching.
const maxScan = 64 << 20

// Identify finds components in files (the unpacked filesystems) and blobs
// (the raw image and decompressed streams). Files are scanned in parallel.
func (c *Catalog) Identify(ctx context.Context, files, blobs []File) ([]Component, error) {
	var (
		mu  sync.Mutex
		out = map[string]*Component{}
	)
	add := func(cs ...Component) {
		mu.Lock()
		defer mu.Unlock()
		for _, comp := range cs {
			k := comp.Key()
			if have, ok := out[k]; ok {
				if len(have.Paths) < 20 && !slices.Contains(have.Paths, comp.Paths[0]) {
					have.Paths = append(have.Paths, comp.Paths...)
				}
				continue
			}
			cp := comp
			out[k] = &cp
		}
	}
	work := make(chan File)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				add(c.identifyFile(f)...)
			}
		}()
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		if f.Link != "" {
			add(c.identifyName(f)...)
			continue
		}
		work <- f
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, b := range blobs {
		add(c.identifyBlob(b)...)
	}
	add(c.packageDBs(files)...)
	res := make([]Component, 0, len(out))
	for _, v := range out {
		res = append(res, *v)
	}
	slices.SortFunc(res, func(a, b Component) int {
		return strings.Compare(a.Name+"\x00"+a.Version+a.Source, b.Name+"\x00"+b.Version+b.Source)
	})
	return res, nil
}

// identifyName applies file_version rules to a file or link name.
func (c *Catalog) identifyName(f File) []Component {
	base := path.Base(f.Path)
	var out []Component
	for _, s := range c.sigs {
		if s.fileRe == nil || !s.matchesFile(base) {
			continue
		}
		if m := s.fileRe.FindStringSubmatch(base); m != nil {
			out = append(out, s.component(m[1], "signature:"+s.Name, f.Path, base))
		}
	}
	return out
}

func (c *Catalog) identifyFile(f File) []Component {
	out := c.identifyName(f)
	if len(out) > 0 {
		return out
	}
	base := path.Base(f.Path)
	var sigs []*Signature
	for _, s := range c.sigs {
		if s.re != nil && s.matchesFile(base) {
			sigs = append(sigs, s)
		}
	}
	goCandidate := f.Size >= 256<<10
	if len(sigs) == 0 && !goCandidate {
		return nil
	}
	if len(sigs) > 0 && f.Size <= maxScan {
		data, err := os.ReadFile(f.Host)
		if err != nil {
			return nil
		}
		for _, s := range sigs {
			if v, ev, err := s.Match(data); err == nil {
				out = append(out, s.component(v, "signature:"+s.Name, f.Path, ev))
			}
		}
	}
	if goCandidate && isELF(f.Host) {
		out = append(out, goComponents(f)...)
	}
	return out
}

func isELF(p string) bool {
	fh, err := os.Open(p)
	if err != nil {
		return false
	}
	defer fh.Close()
	var m [4]byte
	_, err = io.ReadFull(fh, m[:])
	return err == nil && string(m[:]) == "\x7fELF"
}

// goComponents reads Go build info: the main module, its dependencies and the
// Go toolchain (standard library) version.
func goComponents(f File) []Component {
	bi, err := buildinfo.ReadFile(f.Host)
	if err != nil {
		return nil
	}
	var out []Component
	gov := strings.TrimPrefix(bi.GoVersion, "go")
	if i := strings.IndexAny(gov, " -"); i > 0 {
		gov = gov[:i]
	}
	out = append(out, Component{Name: "go-stdlib", Version: gov, Vendor: "golang", Type: "library",
		CPE: CPE23("a", "golang", "go", gov), PURL: "pkg:golang/stdlib@v" + gov,
		Source: "go-buildinfo", Paths: []string{f.Path}, Evidence: bi.GoVersion})
	main := &debugModule{bi.Main.Path, bi.Main.Version}
	if main.path == "" {
		main.path = bi.Path // built outside module mode (as Debian does)
	}
	mods := []*debugModule{main}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		mods = append(mods, &debugModule{d.Path, d.Version})
	}
	for i, m := range mods {
		if m == nil || m.path == "" || m.path == "command-line-arguments" {
			continue
		}
		typ := "library"
		if i == 0 {
			typ = "application"
		}
		ver := m.version
		if ver == "(devel)" {
			ver = ""
		}
		out = append(out, Component{Name: m.path, Version: ver, Type: typ,
			PURL:   packageurl.NewPackageURL("golang", path.Dir(m.path), path.Base(m.path), ver, nil, "").ToString(),
			Source: "go-buildinfo", Paths: []string{f.Path}})
	}
	return out
}

type debugModule struct{ path, version string }

// blobWindow is how far after a needle the version regex may reach.
const blobWindow = 256

// identifyBlob streams a large blob looking for blob signatures (kernel, U-Boot).
func (c *Catalog) identifyBlob(b File) []Component {
	var sigs []*Signature
	for _, s := range c.sigs {
		if s.Blob && s.re != nil {
			sigs = append(sigs, s)
		}
	}
	fh, err := os.Open(b.Host)
	if err != nil {
		return nil
	}
	defer fh.Close()
	const chunk = 4 << 20
	buf := make([]byte, chunk+blobWindow)
	var out []Component
	found := map[string]bool{}
	carry := 0
	for {
		n, err := io.ReadFull(fh, buf[carry:])
		data := buf[:carry+n]
		for _, s := range sigs {
			if found[s.Name] {
				continue
			}
			for off := 0; ; {
				i := bytes.Index(data[off:], []byte(s.Needle))
				if i < 0 {
					break
				}
				i += off
				win := data[i:min(len(data), i+blobWindow)]
				if m := s.re.FindSubmatch(win); m != nil {
					out = append(out, s.component(string(m[1]), "signature:"+s.Name, b.Path, printable(m[0])))
					found[s.Name] = true
					break
				}
				off = i + 1
			}
		}
		if err != nil {
			break
		}
		carry = min(blobWindow, len(data))
		copy(buf, data[len(data)-carry:])
	}
	return out
}

var kmodRe = regexp.MustCompile(`^/lib/modules/(\d+\.\d+(?:\.\d+)?)[^/]*$`)

// packageDBs reads dpkg and opkg status files, OpenWrt release files and
// kernel module directories.
func (c *Catalog) packageDBs(files []File) []Component {
	var out []Component
	for _, f := range files {
		switch {
		case f.Path == "/var/lib/dpkg/status":
			out = append(out, c.readStatus(f, "dpkg")...)
		case f.Path == "/usr/lib/opkg/status" || f.Path == "/var/lib/opkg/status":
			out = append(out, c.readStatus(f, "opkg")...)
		case strings.HasPrefix(f.Path, "/usr/lib/opkg/info/") && strings.HasSuffix(f.Path, ".control"):
			out = append(out, c.readStatus(f, "opkg")...)
		case f.Path == "/etc/openwrt_release":
			if v := shellVar(f.Host, "DISTRIB_RELEASE"); v != "" {
				out = append(out, Component{Name: "openwrt", Version: v, Vendor: "openwrt", Type: "operating-system",
					CPE: CPE23("o", "openwrt", "openwrt", v), PURL: "pkg:generic/openwrt/openwrt@" + v,
					Source: "openwrt_release", Paths: []string{f.Path}})
			}
		}
		if m := kmodRe.FindStringSubmatch(path.Dir(f.Path)); m != nil {
			out = append(out, Component{Name: "linux", Version: m[1], Vendor: "linux", Type: "operating-system",
				CPE: CPE23("o", "linux", "linux_kernel", m[1]), PURL: "pkg:generic/linux/linux@" + m[1],
				Source: "kernel-modules", Paths: []string{path.Dir(f.Path)}})
		}
	}
	return out
}

func shellVar(host, name string) string {
	data, err := os.ReadFile(host)
	if err != nil || len(data) > 1<<20 {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+"="); ok {
			return strings.Trim(v, `'"`)
		}
	}
	return ""
}

// readStatus parses a dpkg/opkg status or control file (RFC 822 paragraphs).
func (c *Catalog) readStatus(f File, kind string) []Component {
	fh, err := os.Open(f.Host)
	if err != nil {
		return nil
	}
	defer fh.Close()
	var out []Component
	fields := map[string]string{}
	flush := func() {
		name, ver := fields["Package"], fields["Version"]
		st := fields["Status"]
		if name != "" && ver != "" && (st == "" || strings.Contains(st, "installed") && !strings.Contains(st, "not-installed")) {
			ns := "debian"
			if kind == "opkg" {
				ns = "openwrt"
			}
			var q packageurl.Qualifiers
			if a := fields["Architecture"]; a != "" {
				q = packageurl.QualifiersFromMap(map[string]string{"arch": a})
			}
			typ := "deb"
			if kind == "opkg" {
				typ = "opkg"
			}
			comp := Component{Name: name, Version: ver, Type: "library", Source: kind, Paths: []string{f.Path},
				PURL: packageurl.NewPackageURL(typ, ns, name, ver, q, "").ToString()}
			if s, ok := c.byPkg[name]; ok {
				comp.Vendor = s.Vendor
				comp.CPE = CPE23(s.Part, s.Vendor, s.Product, upstreamVersion(ver))
				comp.Type = s.Type
			}
			out = append(out, comp)
		}
		clear(fields)
	}
	sc := bufio.NewScanner(io.LimitReader(fh, 32<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}
