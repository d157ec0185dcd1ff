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

	"iotwatch/internal/distro"
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

// packageDBs reads dpkg, opkg and apk package databases, OpenWrt release
// files and kernel module directories. Packages of a system whose
// os-release names a distribution carry it (Component.Distro), so that the
// distribution's advisories decide what its backports fixed.
func (c *Catalog) packageDBs(files []File) []Component {
	osID, rel := systemOf(files)
	var out []Component
	for _, f := range files {
		switch {
		case f.Path == "/var/lib/dpkg/status":
			out = append(out, c.readPackages(f, "dpkg", osID, rel)...)
		case f.Path == "/usr/lib/opkg/status" || f.Path == "/var/lib/opkg/status":
			out = append(out, c.readPackages(f, "opkg", osID, rel)...)
		case strings.HasPrefix(f.Path, "/usr/lib/opkg/info/") && strings.HasSuffix(f.Path, ".control"):
			out = append(out, c.readPackages(f, "opkg", osID, rel)...)
		case f.Path == "/lib/apk/db/installed":
			out = append(out, c.readPackages(f, "apk", osID, rel)...)
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

// systemOf returns the os-release ID and VERSION_ID of the firmware's root
// filesystem (/etc/os-release, else /usr/lib/os-release), falling back to
// the distributions' own release files (/etc/openwrt_release,
// /etc/alpine-release, /etc/debian_version). Both are "" when none says.
func systemOf(files []File) (id, rel string) {
	byPath := map[string]File{}
	for _, f := range files {
		switch f.Path {
		case "/etc/os-release", "/usr/lib/os-release", "/etc/openwrt_release", "/etc/alpine-release", "/etc/debian_version":
			byPath[f.Path] = f
		}
	}
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f, ok := byPath[p]
		if !ok || f.Host == "" {
			continue
		}
		fh, err := os.Open(f.Host)
		if err != nil {
			continue
		}
		id, rel, err = distro.OSRelease(io.LimitReader(fh, 64<<10))
		fh.Close()
		if err == nil && id != "" {
			return id, rel
		}
	}
	if f, ok := byPath["/etc/openwrt_release"]; ok {
		return distro.OpenWrt, shellVar(f.Host, "DISTRIB_RELEASE")
	}
	if f, ok := byPath["/etc/alpine-release"]; ok {
		return distro.Alpine, firstLine(f.Host)
	}
	if f, ok := byPath["/etc/debian_version"]; ok {
		if v := firstLine(f.Host); v != "" && v[0] >= '0' && v[0] <= '9' {
			return distro.Debian, v // "12.5"; Ubuntu's says "bookworm/sid" and has an os-release
		}
	}
	return "", ""
}

// firstLine returns the trimmed first line of a small file.
func firstLine(host string) string {
	if host == "" {
		return ""
	}
	fh, err := os.Open(host)
	if err != nil {
		return ""
	}
	defer fh.Close()
	sc := bufio.NewScanner(io.LimitReader(fh, 4096))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text())
	}
	return ""
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

// readPackages reads a dpkg/opkg status or control file, or an apk
// database, as components of the system osID release rel.
func (c *Catalog) readPackages(f File, kind, osID, rel string) []Component {
	fh, err := os.Open(f.Host)
	if err != nil {
		return nil
	}
	defer fh.Close()
	r := io.LimitReader(fh, 32<<20)
	var pkgs []distro.Package
	if kind == "apk" {
		pkgs, _ = distro.ParseAPKInstalled(r) // what was read before an error still counts
	} else {
		pkgs, _ = distro.ParseStatus(r)
	}
	typ, ns := "deb", "debian"
	switch kind {
	case "opkg":
		typ, ns = "opkg", "openwrt"
	case "apk":
		typ, ns = "apk", "alpine"
		if osID == distro.OpenWrt {
			ns = "openwrt"
		}
	}
	if kind == "dpkg" && osID == distro.Ubuntu {
		ns = "ubuntu"
	}
	out := make([]Component, 0, len(pkgs))
	for _, p := range pkgs {
		var q packageurl.Qualifiers
		if p.Architecture != "" {
			q = packageurl.QualifiersFromMap(map[string]string{"arch": p.Architecture})
		}
		comp := Component{Name: p.Name, Version: p.Version, Type: "library", Source: kind, Paths: []string{f.Path},
			PURL: packageurl.NewPackageURL(typ, ns, p.Name, p.Version, q, "").ToString(), Distro: distro.Installed(osID, rel, p)}
		if s, ok := c.byPkg[p.Name]; ok {
			comp.Vendor = s.Vendor
			up := p.Version
			if kind == "apk" {
				up = apkUpstream(up)
			}
			comp.CPE = CPE23(s.Part, s.Vendor, s.Product, upstreamVersion(up))
			comp.Type = s.Type
		}
		out = append(out, comp)
	}
	return out
}

// apkUpstream turns an apk version into the upstream one: the -rN revision
// goes, a _p patch level is OpenSSH's "p" (9.7_p1 is 9.7p1), pre-releases
// keep their word (1.2_rc1 is 1.2rc1, which version.Compare orders before
// 1.2), and VCS snapshot suffixes go.
func apkUpstream(v string) string {
	if m := apkRev.FindStringIndex(v); m != nil {
		v = v[:m[0]]
	}
	if i := strings.IndexByte(v, '_'); i > 0 {
		rest := v[i+1:]
		switch {
		case strings.HasPrefix(rest, "p") && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9',
			strings.HasPrefix(rest, "rc"), strings.HasPrefix(rest, "alpha"), strings.HasPrefix(rest, "beta"), strings.HasPrefix(rest, "pre"):
			v = v[:i] + rest
		default: // _git20240101, _svn, _cvs, _hg, _cN
			v = v[:i]
		}
	}
	return v
}

var apkRev = regexp.MustCompile(`-r[0-9]+$`)
