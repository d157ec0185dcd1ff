package unpack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// flatPayload is how many zero bytes each compressed stream expands to.
const flatPayload = 128 << 20

// flatBound is the peak resident memory allowed while unpacking and carving
// flatPayload bytes: well below the payload, well above the test binary.
const flatBound = 64 << 20

// TestFlatMemory unpacks a highly compressible stream of each format in a
// child process and bounds the child's peak resident set. Go's heap is the
// wrong measure here: the decompressed stream goes to disk and is carved
// through a file mapping, so what grew with the largest file was the mapping's
// resident pages, which only the kernel's rusage accounts for.
func TestFlatMemory(t *testing.T) {
	if img := os.Getenv("IOTWATCH_UNPACK_CHILD"); img != "" {
		flatChild(img)
		return
	}
	if testing.Short() {
		t.Skip("writes 128 MiB per format")
	}
	requireTools(t, "sh", "gzip", "xz", "zstd", "bzip2", "lz4")
	for _, tc := range []struct{ format, cmd string }{
		{"gzip", "gzip -1"},
		{"xz", "xz -0"},
		{"zstd", "zstd -1"},
		{"bzip2", "bzip2 -1"},
		{"lz4", "lz4 -1"},
	} {
		t.Run("format="+tc.format, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "zeros."+tc.format)
			run(t, dir, "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | %s > %s", flatPayload, tc.cmd, img))
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlatMemory$")
			cmd.Env = append(os.Environ(), "IOTWATCH_UNPACK_CHILD="+img)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if got := string(out); !slices.Contains(strings.Split(got, "\n"), "unpacked "+strconv.Itoa(flatPayload)) {
				t.Fatalf("child did not unpack the whole stream:\n%s", got)
			}
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
			t.Logf("%s: peak resident %d MiB for %d MiB decompressed", tc.format, rss>>20, flatPayload>>20)
			if rss > flatBound {
				t.Errorf("peak resident set %d MiB, want at most %d MiB (payload %d MiB)", rss>>20, flatBound>>20, flatPayload>>20)
			}
		})
	}
}

// flatChild unpacks img and prints how many bytes it wrote.
func flatChild(img string) {
	out, err := os.MkdirTemp(filepath.Dir(img), "out")
	if err == nil {
		var rep *Report
		if rep, err = Unpack(context.Background(), img, out, Limits{}); err == nil {
			fmt.Printf("unpacked %d\n", rep.Bytes)
		}
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	os.Exit(0)
}
