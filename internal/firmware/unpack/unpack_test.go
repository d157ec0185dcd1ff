package unpack

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %v: %v\n%s", name, args, err, ee.Stderr)
		}
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

const marker = "root:x:0:0:marker:/root:/bin/sh\n"

// sampleTree writes a small root filesystem and returns its directory.
func sampleTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte(marker), 0o644)
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	os.WriteFile(filepath.Join(dir, "bin", "tool"), big, 0o755)
	os.Symlink("tool", filepath.Join(dir, "bin", "alias"))
	return dir
}

func tarOf(t *testing.T, root string) []byte {
	return run(t, root, "tar", "-cf", "-", "etc", "bin")
}

func unpackBytes(t *testing.T, data []byte, lim Limits) (*Report, string) {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "image.bin")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	rep, err := Unpack(context.Background(), img, out, lim)
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	return rep, out
}

// findMarker reports whether some extracted etc/passwd holds the marker.
func findMarker(t *testing.T, out string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, "/etc/passwd") {
			if b, _ := os.ReadFile(p); string(b) == marker {
				found = true
			}
		}
		return nil
	})
	return found
}

func garbage(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	// Avoid accidental magics in the filler.
	for i := range b {
		if b[i] == 0x1f || b[i] == 0x5d || b[i] == 'B' || b[i] == 'P' || b[i] == 0x28 || b[i] == 0xfd || b[i] == 0x04 || b[i] == '0' || b[i] == 'h' || b[i] == 'u' || b[i] == 0x27 || b[i] == 'H' || b[i] == 0x85 || b[i] == 0x19 || b[i] == 0x53 || b[i] == 0xd0 {
			b[i] = 0x11
		}
	}
	return b
}

// TestFormats builds each container with the real tool, hides it at an odd
// offset between garbage, and expects the marker file back.
func TestFormats(t *testing.T) {
	requireTools(t, "tar", "gzip", "xz", "lzma", "bzip2", "zstd", "lz4", "cpio", "mksquashfs", "mkimage")
	root := sampleTree(t)
	tmp := t.TempDir()
	tarball := tarOf(t, root)
	tarPath := filepath.Join(tmp, "r.tar")
	os.WriteFile(tarPath, tarball, 0o644)
	compress := func(tool string, args ...string) []byte {
		return run(t, tmp, tool, append(args, tarPath)...)
	}
	cpio := func(format string) []byte {
		cmd := exec.Command("sh", "-c", "find etc bin | cpio -o --quiet -H "+format)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio: %v", err)
		}
		return out
	}
	squash := func(comp string) []byte {
		p := filepath.Join(tmp, "r-"+comp+".sqfs")
		run(t, tmp, "mksquashfs", root, p, "-comp", comp, "-noappend", "-quiet", "-no-progress", "-all-root", "-processors", "1")
		b, _ := os.ReadFile(p)
		return b
	}
	zipped := func() []byte {
		// zip(1) is not among the CI packages: write the archive with
		// archive/zip, symlink included (mode bits + target as content).
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, name := range []string{"etc/passwd", "bin/tool"} {
			data, _ := os.ReadFile(filepath.Join(root, name))
			w, _ := zw.Create(name)
			w.Write(data)
		}
		h := &zip.FileHeader{Name: "bin/alias"}
		h.SetMode(os.ModeSymlink | 0o777)
		w, _ := zw.CreateHeader(h)
		w.Write([]byte("tool"))
		zw.Close()
		return b.Bytes()
	}
	uimage := func() []byte {
		sq := filepath.Join(tmp, "u.sqfs")
		os.WriteFile(sq, squash("gzip"), 0o644)
		p := filepath.Join(tmp, "u.img")
		run(t, tmp, "mkimage", "-A", "arm", "-O", "linux", "-T", "filesystem", "-C", "none", "-n", "rootfs", "-d", sq, p)
		b, _ := os.ReadFile(p)
		return b
	}
	tests := []struct {
		name   string
		data   func() []byte
		format string
	}{
		{"tar", func() []byte { return tarball }, "tar"},
		{"gzip", func() []byte { return compress("gzip", "-c") }, "gzip"},
		{"xz", func() []byte { return compress("xz", "-c") }, "xz"},
		{"lzma", func() []byte { return compress("lzma", "-c") }, "lzma"},
		{"bzip2", func() []byte { return compress("bzip2", "-c") }, "bzip2"},
		{"zstd", func() []byte { return compress("zstd", "-q", "-c") }, "zstd"},
		{"lz4", func() []byte { return compress("lz4", "-q", "-c") }, "lz4"},
		{"cpio-newc", func() []byte { return cpio("newc") }, "cpio"},
		{"cpio-crc", func() []byte { return cpio("crc") }, "cpio"},
		{"cpio-odc", func() []byte { return cpio("odc") }, "cpio"},
		{"zip", zipped, "zip"},
		{"squashfs-gzip", func() []byte { return squash("gzip") }, "squashfs"},
		{"squashfs-xz", func() []byte { return squash("xz") }, "squashfs"},
		{"squashfs-zstd", func() []byte { return squash("zstd") }, "squashfs"},
		{"squashfs-lzo", func() []byte { return squash("lzo") }, "squashfs"},
		{"squashfs-lzma", func() []byte { return squash("lzma") }, "squashfs"},
		{"uimage", uimage, "uimage"},
		{"trx", func() []byte { return trxOf(squash("gzip")) }, "trx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.data()
			img := append(append(garbage(777), payload...), garbage(1000)...)
			rep, out := unpackBytes(t, img, Limits{})
			if !findMarker(t, out) {
				t.Errorf("marker not extracted; report: extracted=%+v failed=%+v unsupported=%+v", rep.Extracted, rep.Failed, rep.Unsupported)
			}
			found := false
			for _, e := range rep.Extracted {
				if e.Format == tc.format && (e.Offset == 777 || e.Parent != "") {
					found = true
				}
				// Trailing bytes after a complete container are not an error.
				// (go-diskfs v1.9.4's LZO path fails on some data blocks: "lzo: output overrun".)
				if e.Offset == 777 && e.Parent == "" && e.Error != "" && tc.name != "squashfs-lzo" {
					t.Errorf("%s at 777: error %q", e.Format, e.Error)
				}
			}
			if !found {
				t.Errorf("no %s entry at offset 777: %+v", tc.format, rep.Extracted)
			}
			// The symlink is recorded, never created.
			if tc.format != "tar" && !strings.HasPrefix(tc.name, "cpio") && tc.format != "zip" && !strings.HasPrefix(tc.name, "squashfs") && tc.format != "uimage" && tc.format != "trx" {
				return
			}
			linked := false
			for p, target := range rep.Links {
				if strings.HasSuffix(p, "bin/alias") && target == "tool" {
					linked = true
				}
			}
			if !linked {
				t.Errorf("symlink bin/alias → tool not recorded: %v", rep.Links)
			}
		})
	}
	// SquashFS with lz4 is recognised and reported, not silently dropped.
	t.Run("squashfs-lz4", func(t *testing.T) {
		rep, _ := unpackBytes(t, squash("lz4"), Limits{})
		if len(rep.Unsupported) != 1 || !strings.Contains(rep.Unsupported[0].Error, "lz4") {
			t.Errorf("want one unsupported lz4 squashfs, got %+v / %+v", rep.Unsupported, rep.Extracted)
		}
	})
}

func trxOf(payload []byte) []byte {
	hdr := make([]byte, 28)
	copy(hdr, "HDR0")
	binary.LittleEndian.PutUint32(hdr[4:], uint32(28+len(payload)))
	binary.LittleEndian.PutUint16(hdr[14:], 1)
	binary.LittleEndian.PutUint32(hdr[16:], 28)
	body := append(hdr, payload...)
	binary.LittleEndian.PutUint32(body[8:], crc32.ChecksumIEEE(body[12:]))
	return body
}

func TestExt4(t *testing.T) {
	requireTools(t, "mkfs.ext4")
	root := sampleTree(t)
	p := filepath.Join(t.TempDir(), "fs.ext4")
	run(t, "", "mkfs.ext4", "-q", "-F", "-d", root, p, "4M")
	data, _ := os.ReadFile(p)
	rep, out := unpackBytes(t, data, Limits{})
	if !findMarker(t, out) {
		t.Errorf("ext4: marker not extracted: extracted=%+v failed=%+v", rep.Extracted, rep.Failed)
	}
}

// outsideClean asserts nothing was written next to the extraction dir.
func outsideClean(t *testing.T, out string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range ents {
		if e.Name() != "out" && e.Name() != "image.bin" {
			t.Errorf("file %q written outside the extraction directory", e.Name())
		}
	}
}

func TestZipSlip(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"../../evil.txt", "ok/../../evil2.txt", "/abs/ok.txt", "good/file.txt", "..\\..\\evil3.txt"} {
		w, _ := zw.Create(name)
		w.Write([]byte("x"))
	}
	zw.Close()
	rep, out := unpackBytes(t, b.Bytes(), Limits{})
	outsideClean(t, out)
	if len(rep.Rejected) != 3 {
		t.Errorf("rejected %d entries, want 3: %v", len(rep.Rejected), rep.Rejected)
	}
	for _, want := range []string{"abs/ok.txt", "good/file.txt"} {
		matches, _ := filepath.Glob(filepath.Join(out, "*", "*", want))
		if len(matches) != 1 {
			t.Errorf("%s not extracted inside the sandbox", want)
		}
	}
}

func TestSymlinkEscape(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../tmp"})
	tw.WriteHeader(&tar.Header{Name: "etcdir", Typeflag: tar.TypeSymlink, Linkname: "/etc"})
	for _, n := range []string{"escape/pwned.txt", "etcdir/pwned.txt"} {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Size: 5, Mode: 0o644})
		tw.Write([]byte("pwned"))
	}
	tw.Close()
	rep, out := unpackBytes(t, b.Bytes(), Limits{})
	outsideClean(t, out)
	for _, p := range []string{"/tmp/pwned.txt", "/etc/pwned.txt"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s written outside the sandbox", p)
		}
	}
	if len(rep.Links) != 2 {
		t.Errorf("links = %v, want the two symlinks recorded", rep.Links)
	}
	// No symlink exists anywhere in the sandbox.
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSymlink != 0 {
			t.Errorf("symlink %s created in the sandbox", p)
		}
		return nil
	})
}

// zstdRLEBomb crafts a zstd frame of RLE blocks inflating to n bytes.
func zstdRLEBomb(n int64) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // magic, descriptor, window 128 KiB
	const blk = 128 << 10
	for n > 0 {
		size := min(n, blk)
		n -= size
		h := uint32(1<<1) | uint32(size)<<3
		if n == 0 {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return b
}

func TestBombs(t *testing.T) {
	t.Run("zstd-10GB", func(t *testing.T) {
		bomb := zstdRLEBomb(10 << 30)
		rep, _ := unpackBytes(t, bomb, Limits{MaxBytes: 32 << 20})
		if rep.LimitHit == "" || rep.Bytes > 32<<20 {
			t.Errorf("bomb not stopped: limit %q, %d bytes written", rep.LimitHit, rep.Bytes)
		}
	})
	t.Run("gzip-per-file", func(t *testing.T) {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		zw.Write(make([]byte, 64<<20))
		zw.Close()
		rep, _ := unpackBytes(t, b.Bytes(), Limits{MaxFileSize: 4 << 20})
		if rep.LimitHit == "" || rep.Bytes > 4<<20 {
			t.Errorf("per-file cap not enforced: limit %q, %d bytes", rep.LimitHit, rep.Bytes)
		}
	})
	t.Run("nesting", func(t *testing.T) {
		data := []byte(marker)
		for range 12 {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(append(data, bytes.Repeat([]byte("pad"), 200)...))
			zw.Close()
			data = b.Bytes()
		}
		rep, _ := unpackBytes(t, data, Limits{MaxDepth: 4})
		if !strings.Contains(rep.LimitHit, "nesting") {
			t.Errorf("nesting limit not hit: %q", rep.LimitHit)
		}
	})
	t.Run("file-count", func(t *testing.T) {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for i := range 500 {
			tw.WriteHeader(&tar.Header{Name: "f" + string(rune('a'+i%26)) + "/" + strings.Repeat("x", i%50+1), Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
			tw.Write([]byte("x"))
		}
		tw.Close()
		rep, _ := unpackBytes(t, b.Bytes(), Limits{MaxFiles: 100})
		if rep.LimitHit == "" || rep.Files > 101 {
			t.Errorf("file cap not enforced: limit %q, %d files", rep.LimitHit, rep.Files)
		}
	})
}

func TestTruncatedAndGarbage(t *testing.T) {
	requireTools(t, "mksquashfs")
	root := sampleTree(t)
	p := filepath.Join(t.TempDir(), "r.sqfs")
	run(t, "", "mksquashfs", root, p, "-comp", "gzip", "-noappend", "-quiet", "-no-progress", "-processors", "1")
	sq, _ := os.ReadFile(p)
	t.Run("truncated-squashfs", func(t *testing.T) {
		rep, _ := unpackBytes(t, sq[:len(sq)/2], Limits{})
		bad := append(rep.Failed, rep.Extracted...)
		ok := false
		for _, e := range bad {
			if e.Format == "squashfs" && e.Error != "" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("truncated squashfs: want an entry with an error, got extracted=%+v failed=%+v", rep.Extracted, rep.Failed)
		}
	})
	t.Run("corrupt-squashfs", func(t *testing.T) {
		c := bytes.Clone(sq)
		copy(c[200:], garbage(len(c)-400))
		unpackBytes(t, c, Limits{}) // must not panic or hang
	})
	t.Run("garbage", func(t *testing.T) {
		rep, _ := unpackBytes(t, garbage(1<<20), Limits{})
		if len(rep.Extracted) != 0 {
			t.Errorf("garbage extracted %+v", rep.Extracted)
		}
	})
	t.Run("magic-flood", func(t *testing.T) {
		rep, _ := unpackBytes(t, bytes.Repeat([]byte("\x1f\x8b\x08\x00\x5d\x00\x00\x80\x00hsqsBZh9"), 1<<16), Limits{MaxAttempts: 200})
		if len(rep.Extracted) != 0 {
			t.Errorf("flood extracted %+v", rep.Extracted)
		}
	})
	t.Run("empty", func(t *testing.T) {
		rep, _ := unpackBytes(t, nil, Limits{})
		if len(rep.Extracted) != 0 {
			t.Errorf("empty extracted %+v", rep.Extracted)
		}
	})
}

func TestSafeJoin(t *testing.T) {
	tests := []struct {
		name, want string
		bad        bool
	}{
		{"etc/passwd", "base/etc/passwd", false},
		{"/etc/passwd", "base/etc/passwd", false},
		{"./a//b/", "base/a/b", false},
		{"../x", "", true},
		{"a/../../x", "", true},
		{"a\\..\\x", "", true},
		{"a\x00b", "", true},
	}
	for _, tc := range tests {
		got, err := safeJoin("base", tc.name)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("safeJoin(%q) = %q, %v; want %q, bad=%v", tc.name, got, err, tc.want, tc.bad)
		}
	}
}

func TestFIT(t *testing.T) {
	requireTools(t, "mkimage")
	dir := t.TempDir()
	k := filepath.Join(dir, "k.bin")
	os.WriteFile(k, garbage(20000), 0o644)
	run(t, dir, "mkimage", "-f", "auto", "-A", "arm", "-O", "linux", "-T", "kernel", "-C", "none", "-a", "0x8000", "-e", "0x8000", "-d", k, "plain.itb")
	os.Mkdir(filepath.Join(dir, "keys"), 0o700)
	gen := exec.Command("sh", "-c", "openssl genrsa -out keys/dev.key 2048 && openssl req -batch -new -x509 -key keys/dev.key -out keys/dev.crt -subj /CN=dev")
	gen.Dir = dir
	signedOK := gen.Run() == nil && exec.Command("mkimage", "-f", "auto", "-A", "arm", "-O", "linux", "-T", "kernel", "-C", "none", "-a", "0x8000", "-e", "0x8000",
		"-d", k, "-k", filepath.Join(dir, "keys"), "-g", "dev", "-o", "sha256,rsa2048", filepath.Join(dir, "signed.itb")).Run() == nil
	for _, tc := range []struct {
		file   string
		signed bool
	}{{"plain.itb", false}, {"signed.itb", true}} {
		if tc.signed && !signedOK {
			t.Log("mkimage cannot sign FIT images here; signed case skipped")
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, tc.file))
		rep, _ := unpackBytes(t, data, Limits{})
		got := false
		for _, e := range rep.Extracted {
			if e.Format == "fit" {
				m, _ := e.Info.(map[string]any)
				got = m["signed"] == tc.signed
			}
		}
		if !got {
			t.Errorf("%s: want a fit entry with signed=%v: %+v", tc.file, tc.signed, rep.Extracted)
		}
	}
}

// TestFlash: JFFS2 images made by mkfs.jffs2 (both byte orders, zlib and
// rtime compression) are extracted; UBIFS inside UBI is reported as not
// unpacked, once.
func TestFlash(t *testing.T) {
	requireTools(t, "mkfs.jffs2", "ubinize", "mkfs.ubifs")
	root := sampleTree(t)
	dir := t.TempDir()
	run(t, dir, "mkfs.jffs2", "-r", root, "-o", "le.jffs2", "-e", "0x10000", "-l")
	run(t, dir, "mkfs.jffs2", "-r", root, "-o", "be.jffs2", "-e", "0x10000", "-b")
	run(t, dir, "mkfs.jffs2", "-r", root, "-o", "rtime.jffs2", "-e", "0x10000", "-l", "-X", "rtime", "-x", "zlib")
	for _, f := range []string{"le.jffs2", "be.jffs2", "rtime.jffs2"} {
		t.Run(f, func(t *testing.T) {
			data, _ := os.ReadFile(filepath.Join(dir, f))
			rep, out := unpackBytes(t, append(garbage(4096), data...), Limits{})
			if !findMarker(t, out) {
				t.Errorf("marker not extracted: extracted=%+v failed=%+v unsupported=%+v", rep.Extracted, rep.Failed, rep.Unsupported)
			}
			want, _ := os.ReadFile(filepath.Join(root, "bin", "tool"))
			var got []byte
			for _, e := range rep.Extracted {
				if e.Format == "jffs2" {
					got, _ = os.ReadFile(filepath.Join(out, e.Path, "bin", "tool"))
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("bin/tool: %d bytes extracted, want %d identical bytes", len(got), len(want))
			}
			linked := false
			for p, target := range rep.Links {
				linked = linked || (strings.HasSuffix(p, "bin/alias") && target == "tool")
			}
			if !linked {
				t.Errorf("symlink not recorded: %v", rep.Links)
			}
		})
	}
	run(t, dir, "mkfs.ubifs", "-r", root, "-m", "2048", "-e", "126976", "-c", "64", "-o", "fs.ubifs")
	os.WriteFile(filepath.Join(dir, "ubi.ini"), []byte("[rootfs]\nmode=ubi\nimage=fs.ubifs\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_flags=autoresize\n"), 0o644)
	run(t, dir, "ubinize", "-o", "fs.ubi", "-m", "2048", "-p", "128KiB", "ubi.ini")
	data, _ := os.ReadFile(filepath.Join(dir, "fs.ubi"))
	rep, _ := unpackBytes(t, data, Limits{})
	// The UBI layer is unpacked (ubi_test.go); the UBIFS inside is reported once.
	n := 0
	for _, e := range rep.Unsupported {
		if e.Format == "ubifs" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("ubifs: %d unsupported entries, want 1: %+v", n, rep.Unsupported)
	}
}

// TestParallelByteCap: the total cap holds while filesystem files are
// extracted by several workers.
func TestParallelByteCap(t *testing.T) {
	requireTools(t, "mksquashfs")
	root := sampleTree(t)
	for i := range 8 {
		os.WriteFile(filepath.Join(root, "bin", fmt.Sprintf("t%d", i)), garbage(200<<10), 0o644)
	}
	p := filepath.Join(t.TempDir(), "r.sqfs")
	run(t, "", "mksquashfs", root, p, "-comp", "gzip", "-noappend", "-quiet", "-no-progress", "-processors", "1")
	data, _ := os.ReadFile(p)
	rep, _ := unpackBytes(t, data, Limits{MaxBytes: 500 << 10})
	if rep.LimitHit == "" || rep.Bytes > 500<<10 {
		t.Errorf("cap not held: limit %q, %d bytes", rep.LimitHit, rep.Bytes)
	}
}
