// Package fwtest builds firmware test images at test time from real Debian
// binaries and real tools (mksquashfs, mkimage, gzip, cpio), with or without
// planted weaknesses. It is used only by tests and benchmarks.
package fwtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// RequireTools skips the test when a tool is missing, or fails it when
// IOTWATCH_REQUIRE_PEERS=1 (CI).
func RequireTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			if os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" {
				tb.Fatalf("required tool %s not installed", t)
			}
			tb.Skipf("%s not installed", t)
		}
	}
}

// Run runs a command and fails the test on error.
func Run(tb testing.TB, dir string, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func testdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Binaries are the real binaries copied into test root filesystems:
// firmware path → host path (symlinks resolved). Missing ones are skipped.
var Binaries = map[string]string{
	"/bin/busybox":               "/usr/bin/busybox",
	"/usr/sbin/dropbear":         "/usr/sbin/dropbear",
	"/usr/sbin/lighttpd":         "/usr/sbin/lighttpd",
	"/usr/lib/libcrypto.so.3":    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
	"/usr/lib/libz.so.1":         "/usr/lib/x86_64-linux-gnu/libz.so.1",
	"/usr/lib/libsqlite3.so.0":   "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0",
	"/usr/lib/libcurl.so.4":      "/usr/lib/x86_64-linux-gnu/libcurl.so.4",
	"/usr/sbin/vsftpd":           "/usr/sbin/vsftpd",
	"/usr/lib/libexpat.so.1":     "/usr/lib/x86_64-linux-gnu/libexpat.so.1",
	"/usr/lib/libmosquitto.so.1": "/usr/lib/x86_64-linux-gnu/libmosquitto.so.1",
	"/usr/sbin/mosquitto":        "/usr/sbin/mosquitto",
}

// KernelVersion is the Linux version planted in test kernels.
const KernelVersion = "4.14.180"

// Rootfs builds a root filesystem tree in dir: the committed testdata tree
// (rootfs-vuln or rootfs-clean) plus real binaries, busybox applet links,
// opkg/sysupgrade stand-ins and, for vulnerable images, a private key.
func Rootfs(tb testing.TB, dir string, vulnerable bool) {
	tb.Helper()
	src := filepath.Join(testdataDir(), "rootfs-clean")
	if vulnerable {
		src = filepath.Join(testdataDir(), "rootfs-vuln")
	}
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		tb.Fatalf("copy rootfs: %v", err)
	}
	for fw, host := range Binaries {
		real, err := filepath.EvalSymlinks(host)
		if err != nil {
			continue
		}
		copyFile(tb, real, filepath.Join(dir, fw))
	}
	mk := func(p, body string, mode os.FileMode) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			tb.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"bin/sh", "busybox"}, {"bin/ash", "busybox"}, {"usr/sbin/telnetd", "../../bin/busybox"}} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, l[0])), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
			tb.Fatal(err)
		}
	}
	mk("lib/modules/"+KernelVersion+"/modules.dep", "kernel/net/foo.ko:\n", 0o644)
	mk("bin/opkg", "#!/bin/sh\necho opkg stand-in\n", 0o755)
	mk("etc/banner", "Welcome to the test router\n", 0o644)
	if vulnerable {
		mk("sbin/sysupgrade", "#!/bin/sh\necho sysupgrade stand-in\n", 0o755)
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		mk("etc/ssl/private/device.key", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})), 0o600)
		if _, err := exec.LookPath("dropbearkey"); err == nil {
			if err := os.MkdirAll(filepath.Join(dir, "etc/dropbear"), 0o755); err != nil {
				tb.Fatal(err)
			}
			Run(tb, dir, "dropbearkey", "-t", "ecdsa", "-f", filepath.Join(dir, "etc/dropbear/dropbear_ecdsa_host_key"))
		}
	}
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	out.Close()
}

// Kernel writes a gzip-compressed stand-in kernel carrying a real-shaped
// Linux version banner, wrapped by mkimage into a legacy uImage.
func Kernel(tb testing.TB, dir string) string {
	tb.Helper()
	var b bytes.Buffer
	b.WriteString("\x7fELF-ish kernel stand-in\x00")
	pad := make([]byte, 200<<10)
	rand.Read(pad[:64<<10]) // some incompressible bytes
	b.Write(pad)
	b.WriteString("Linux version " + KernelVersion + " (builder@buildhost) (gcc version 7.3.0 (OpenWrt GCC 7.3.0 r7258-5eb055306f)) #0 Mon Nov 12 02:10:47 2018\n\x00")
	b.Write(pad[:4096])
	raw := filepath.Join(dir, "kernel.bin")
	if err := os.WriteFile(raw, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	Run(tb, dir, "gzip", "-9", "-n", "-k", raw)
	out := filepath.Join(dir, "uImage")
	Run(tb, dir, "mkimage", "-A", "mips", "-O", "linux", "-T", "kernel", "-C", "gzip", "-a", "0x80000000", "-e", "0x80000000",
		"-n", "MIPS OpenWrt Linux-"+KernelVersion, "-d", raw+".gz", out)
	return out
}

// Squashfs runs mksquashfs on root with the given compressor.
func Squashfs(tb testing.TB, root, out, comp string) {
	tb.Helper()
	Run(tb, filepath.Dir(out), "mksquashfs", root, out, "-comp", comp, "-all-root", "-noappend", "-quiet", "-no-progress", "-processors", "2")
}

var (
	mu     sync.Mutex
	images = map[string]string{}
	dirs   []string
)

// Cleanup removes the images Image cached; call it from TestMain.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	dirs, images = nil, map[string]string{}
}

// Image returns a router-style image — uImage kernel, padding to 64 KiB, then
// a SquashFS root filesystem (comp: gzip, xz, lzma, zstd …) — built once per
// process and variant; callers must not modify it. Call Cleanup from TestMain.
func Image(tb testing.TB, vulnerable bool, comp string) string {
	tb.Helper()
	RequireTools(tb, "mksquashfs", "mkimage", "gzip")
	key := fmt.Sprint(vulnerable, comp)
	mu.Lock()
	defer mu.Unlock()
	if p, ok := images[key]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "fwtest-*")
	if err != nil {
		tb.Fatal(err)
	}
	dirs = append(dirs, dir)
	root := filepath.Join(dir, "root")
	Rootfs(tb, root, vulnerable)
	out := pack(tb, dir, root, comp)
	images[key] = out
	return out
}

// ImageOf builds a router-style image (uImage kernel, padding, gzip
// SquashFS) of the root filesystem tree root, in a directory of the test's
// own: for images whose contents a test writes itself.
func ImageOf(tb testing.TB, root string) string {
	tb.Helper()
	RequireTools(tb, "mksquashfs", "mkimage", "gzip")
	return pack(tb, tb.TempDir(), root, "gzip")
}

// pack writes dir/firmware.bin: a uImage kernel, padding to 64 KiB, then
// root as a SquashFS with compressor comp.
func pack(tb testing.TB, dir, root, comp string) string {
	tb.Helper()
	sq := filepath.Join(dir, "rootfs.sqfs")
	Squashfs(tb, root, sq, comp)
	k := Kernel(tb, dir)
	var img bytes.Buffer
	kb, _ := os.ReadFile(k)
	img.Write(kb)
	img.Write(make([]byte, (64<<10)-img.Len()%(64<<10)))
	sb, _ := os.ReadFile(sq)
	img.Write(sb)
	out := filepath.Join(dir, "firmware.bin")
	if err := os.WriteFile(out, img.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return out
}
