package unpack

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ubiFixture is a UBI image made by ubinize from a SquashFS of sampleTree
// plus a random file, with a second small volume "cfg".
type ubiFixture struct {
	root  string // the tree inside the SquashFS
	sqfs  []byte // the SquashFS image (volume "rootfs")
	cfg   []byte // the second volume's image
	image []byte
	peb   int
}

// ubiTree is sampleTree plus an incompressible file, so that the SquashFS
// spans several logical erase blocks.
func ubiTree(t *testing.T) string {
	t.Helper()
	root := sampleTree(t)
	os.WriteFile(filepath.Join(root, "etc", "random.bin"), garbage(260<<10), 0o644)
	return root
}

func buildUBI(t *testing.T, root string, peb, minIO, subpage, rootType, cfgType string) ubiFixture {
	t.Helper()
	requireTools(t, "mksquashfs", "ubinize")
	dir := t.TempDir()
	run(t, dir, "mksquashfs", root, "rootfs.sqfs", "-comp", "gzip", "-noappend", "-quiet", "-no-progress", "-processors", "1")
	cfg := []byte(strings.Repeat("config=1\n", 600) + "end\n") // does not end in 0xFF
	os.WriteFile(filepath.Join(dir, "cfg.bin"), cfg, 0o644)
	ini := fmt.Sprintf("[rootfs]\nmode=ubi\nimage=rootfs.sqfs\nvol_id=0\nvol_type=%s\nvol_name=rootfs\n\n"+
		"[cfg]\nmode=ubi\nimage=cfg.bin\nvol_id=1\nvol_type=%s\nvol_name=cfg\nvol_size=1MiB\n", rootType, cfgType)
	os.WriteFile(filepath.Join(dir, "ubi.ini"), []byte(ini), 0o644)
	args := []string{"-o", "img.ubi", "-p", peb, "-m", minIO}
	if subpage != "" {
		args = append(args, "-s", subpage)
	}
	run(t, dir, "ubinize", append(args, "ubi.ini")...)
	f := ubiFixture{root: root, cfg: cfg}
	f.sqfs, _ = os.ReadFile(filepath.Join(dir, "rootfs.sqfs"))
	f.image, _ = os.ReadFile(filepath.Join(dir, "img.ubi"))
	var n int
	fmt.Sscanf(peb, "%dKiB", &n)
	f.peb = n << 10
	return f
}

// ubiEntry returns the first extracted ubi entry and its parsed info.
func ubiEntry(t *testing.T, rep *Report) (Entry, *UBIImage) {
	t.Helper()
	for _, e := range rep.Extracted {
		if e.Format == "ubi" {
			return e, e.Info.(*UBIImage)
		}
	}
	t.Fatalf("no ubi entry: extracted=%+v failed=%+v unsupported=%+v", rep.Extracted, rep.Failed, rep.Unsupported)
	return Entry{}, nil
}

func ubiVolume(t *testing.T, info *UBIImage, name string) UBIVolume {
	t.Helper()
	for _, v := range info.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("volume %q not reported: %+v", name, info.Volumes)
	return UBIVolume{}
}

// checkTree asserts that the SquashFS files of root were extracted below out.
func checkTree(t *testing.T, out string, root string) {
	t.Helper()
	for _, f := range []string{"etc/passwd", "bin/tool", "etc/random.bin"} {
		want, _ := os.ReadFile(filepath.Join(root, f))
		found := false
		filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, "/"+f) {
				got, _ := os.ReadFile(p)
				found = found || bytes.Equal(got, want)
			}
			return nil
		})
		if !found {
			t.Errorf("%s: not extracted with its %d bytes", f, len(want))
		}
	}
}

func TestUBI(t *testing.T) {
	root := ubiTree(t)
	cases := []struct {
		name                        string
		peb, minIO, subpage         string
		rootType, cfgType           string
		prefix, suffix              int // garbage around the image
		wantVIDOff, wantDataOff     int
		wantRootStatic, wantCfgStat bool
	}{
		{name: "peb=128KiB/dynamic", peb: "128KiB", minIO: "2048", subpage: "512", rootType: "dynamic", cfgType: "static", wantVIDOff: 512, wantDataOff: 2048, wantCfgStat: true},
		{name: "peb=64KiB/static", peb: "64KiB", minIO: "2048", rootType: "static", cfgType: "dynamic", wantVIDOff: 2048, wantDataOff: 4096, wantRootStatic: true},
		{name: "peb=256KiB/embedded", peb: "256KiB", minIO: "4096", rootType: "dynamic", cfgType: "dynamic", prefix: 0x20000, suffix: 5000, wantVIDOff: 4096, wantDataOff: 8192},
		{name: "peb=16KiB/nor", peb: "16KiB", minIO: "1", rootType: "static", cfgType: "static", wantVIDOff: 64, wantDataOff: 128, wantRootStatic: true, wantCfgStat: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := buildUBI(t, root, c.peb, c.minIO, c.subpage, c.rootType, c.cfgType)
			data := append(append(garbage(c.prefix), f.image...), garbage(c.suffix)...)
			rep, out := unpackBytes(t, data, Limits{})
			e, info := ubiEntry(t, rep)
			if e.Error != "" {
				t.Errorf("error %q on a clean image", e.Error)
			}
			if e.Offset != int64(c.prefix) || e.Size != int64(len(f.image)) {
				t.Errorf("offset %d size %d, want %d and %d", e.Offset, e.Size, c.prefix, len(f.image))
			}
			if info.PEBSize != f.peb || info.VIDHeaderOffset != c.wantVIDOff || info.DataOffset != c.wantDataOff {
				t.Errorf("geometry peb %d vid %d data %d, want %d %d %d", info.PEBSize, info.VIDHeaderOffset, info.DataOffset, f.peb, c.wantVIDOff, c.wantDataOff)
			}
			if !info.LayoutFound || len(info.Volumes) != 2 {
				t.Fatalf("layout %v, volumes %+v", info.LayoutFound, info.Volumes)
			}
			rv, cv := ubiVolume(t, info, "rootfs"), ubiVolume(t, info, "cfg")
			if (rv.Type == "static") != c.wantRootStatic || (cv.Type == "static") != c.wantCfgStat {
				t.Errorf("types rootfs %s cfg %s", rv.Type, cv.Type)
			}
			gotRoot, _ := os.ReadFile(filepath.Join(out, rv.Path))
			if !bytes.Equal(gotRoot, f.sqfs) {
				t.Errorf("rootfs volume: %d bytes, want the %d-byte SquashFS", len(gotRoot), len(f.sqfs))
			}
			gotCfg, _ := os.ReadFile(filepath.Join(out, cv.Path))
			if !bytes.Equal(gotCfg, f.cfg) {
				t.Errorf("cfg volume: %d bytes, want %d", len(gotCfg), len(f.cfg))
			}
			checkTree(t, out, root)
		})
	}
}

// TestUBIDamaged: cut and corrupted images yield what is intact and say what
// is not.
func TestUBIDamaged(t *testing.T) {
	root := ubiTree(t)
	dyn := buildUBI(t, root, "64KiB", "2048", "512", "dynamic", "static")
	st := buildUBI(t, root, "64KiB", "2048", "512", "static", "dynamic")
	peb := dyn.peb
	if len(dyn.sqfs) < 3*(peb-2048) {
		t.Fatalf("SquashFS of %d bytes spans too few LEBs for this test", len(dyn.sqfs))
	}
	corrupt := func(img []byte, off int) []byte {
		b := bytes.Clone(img)
		b[off] ^= 0x5a
		return b
	}
	// PEBs 0-1: layout volume; rootfs LEB n sits in PEB 2+n.
	cases := []struct {
		name     string
		data     []byte
		sqfs     []byte
		wantErr  []string
		rootLEBs int // LEBs of rootfs present
		check    func(t *testing.T, info *UBIImage, vol []byte)
	}{
		{
			name: "truncated/dynamic", data: dyn.image[:2*peb+peb*5/2], sqfs: dyn.sqfs,
			wantErr: []string{"truncated", "cut short"}, rootLEBs: 3,
			check: func(t *testing.T, info *UBIImage, vol []byte) {
				usable := peb - 2048
				if len(vol) < 2*usable || !bytes.Equal(vol, dyn.sqfs[:len(vol)]) {
					t.Errorf("volume of %d bytes is not a prefix of the SquashFS of at least %d bytes", len(vol), 2*usable)
				}
				if cv := ubiVolume(t, info, "cfg"); cv.Error == "" || cv.Size != 0 {
					t.Errorf("cfg volume beyond the cut: %+v", cv)
				}
			},
		},
		{
			name: "truncated/static", data: st.image[:2*peb+peb*5/2], sqfs: st.sqfs,
			wantErr: []string{"truncated", "missing"}, rootLEBs: 2,
			check: func(t *testing.T, info *UBIImage, vol []byte) {
				rv := ubiVolume(t, info, "rootfs")
				if rv.Missing == 0 || rv.UsedEBs <= 2 {
					t.Errorf("missing %d used_ebs %d", rv.Missing, rv.UsedEBs)
				}
				if !bytes.Equal(vol, st.sqfs[:len(vol)]) || len(vol) != 2*(peb-2048) {
					t.Errorf("volume of %d bytes, want the first 2 LEBs of the SquashFS", len(vol))
				}
			},
		},
		{
			name: "ec-crc", data: corrupt(dyn.image, 3*peb+40), sqfs: dyn.sqfs,
			wantErr: []string{"EC CRC 1"}, rootLEBs: -1,
			check: func(t *testing.T, info *UBIImage, vol []byte) {
				usable := peb - 2048
				if info.BadECCRC != 1 || !bytes.Equal(vol[usable:2*usable], bytes.Repeat([]byte{0xFF}, usable)) {
					t.Errorf("bad EC %d; LEB 1 should read as erased", info.BadECCRC)
				}
				if !bytes.Equal(vol[:usable], dyn.sqfs[:usable]) || !bytes.Equal(vol[2*usable:], dyn.sqfs[2*usable:]) {
					t.Errorf("LEBs around the bad block differ")
				}
			},
		},
		{
			name: "vid-crc", data: corrupt(dyn.image, 4*peb+512+20), sqfs: dyn.sqfs,
			wantErr: []string{"VID CRC or header 1"}, rootLEBs: -1,
			check: func(t *testing.T, info *UBIImage, vol []byte) {
				if info.BadVIDCRC != 1 {
					t.Errorf("bad VID %d, want 1", info.BadVIDCRC)
				}
			},
		},
		{
			name: "data-crc/static", data: corrupt(st.image, 3*peb+2048+100), sqfs: st.sqfs,
			wantErr: []string{"data CRC 1", "missing"}, rootLEBs: -1,
			check: func(t *testing.T, info *UBIImage, vol []byte) {
				if info.BadDataCRC != 1 {
					t.Errorf("bad data CRC %d, want 1", info.BadDataCRC)
				}
			},
		},
		{
			name: "layout-copy0", data: corrupt(dyn.image, 2048+16), sqfs: dyn.sqfs,
			rootLEBs: -1,
			check: func(t *testing.T, info *UBIImage, vol []byte) {
				if !info.LayoutFound || !bytes.Equal(vol, dyn.sqfs) {
					t.Errorf("layout from copy 1: found %v, volume %d bytes", info.LayoutFound, len(vol))
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, out := unpackBytes(t, c.data, Limits{})
			e, info := ubiEntry(t, rep)
			for _, w := range c.wantErr {
				if !strings.Contains(e.Error, w) {
					t.Errorf("error %q, want it to mention %q", e.Error, w)
				}
			}
			if len(c.wantErr) == 0 && e.Error != "" {
				t.Errorf("unexpected error %q", e.Error)
			}
			if e.Size > int64(len(c.data)) {
				t.Errorf("consumed %d of %d bytes", e.Size, len(c.data))
			}
			rv := ubiVolume(t, info, "rootfs")
			if c.rootLEBs >= 0 && rv.LEBs != c.rootLEBs {
				t.Errorf("rootfs LEBs %d, want %d", rv.LEBs, c.rootLEBs)
			}
			vol, err := os.ReadFile(filepath.Join(out, rv.Path))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, info, vol)
		})
	}
}

// TestUBIFlashDump: erased and free (EC header only) blocks inside a dump,
// erased flash after it, and a second image (other image_seq, other PEB
// size) right behind it.
func TestUBIFlashDump(t *testing.T) {
	root := ubiTree(t)
	a := buildUBI(t, root, "64KiB", "2048", "512", "dynamic", "static")
	b := buildUBI(t, root, "128KiB", "2048", "512", "static", "dynamic")
	peb := a.peb
	erased := bytes.Repeat([]byte{0xFF}, peb)
	free := bytes.Clone(erased)
	copy(free, a.image[:64]) // EC header of the same image, no VID header
	var dump []byte
	dump = append(dump, a.image...)
	dump = append(dump, erased...)
	dump = append(dump, free...)
	dump = append(dump, erased...)
	aLen := len(dump) - peb // the trailing erased block is not part of it
	dump = append(dump, b.image...)

	rep, out := unpackBytes(t, dump, Limits{})
	var ents []Entry
	for _, e := range rep.Extracted {
		if e.Format == "ubi" {
			ents = append(ents, e)
		}
	}
	if len(ents) != 2 {
		t.Fatalf("%d ubi entries, want 2: %+v", len(ents), rep.Extracted)
	}
	ia, ib := ents[0].Info.(*UBIImage), ents[1].Info.(*UBIImage)
	if ents[0].Size != int64(aLen) || ia.Erased != 1 || ia.Free != 1 || ia.PEBSize != peb || ents[0].Error != "" {
		t.Errorf("first image: size %d (want %d), erased %d, free %d, peb %d, error %q", ents[0].Size, aLen, ia.Erased, ia.Free, ia.PEBSize, ents[0].Error)
	}
	if ents[1].Offset != int64(aLen+peb) || ents[1].Size != int64(len(b.image)) || ib.PEBSize != b.peb {
		t.Errorf("second image at %d size %d peb %d; want %d %d %d", ents[1].Offset, ents[1].Size, ib.PEBSize, aLen+peb, len(b.image), b.peb)
	}
	// Each image against its own SquashFS: mksquashfs stamps the time it
	// ran, so two builds a second apart differ.
	for i, info := range []*UBIImage{ia, ib} {
		got, _ := os.ReadFile(filepath.Join(out, ubiVolume(t, info, "rootfs").Path))
		if want := [][]byte{a.sqfs, b.sqfs}[i]; len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("image %d: rootfs volume of %d bytes differs from its SquashFS (%d bytes)", i+1, len(got), len(want))
		}
	}
}

// setVID rewrites fields of the VID header of the PEB at pebOff and fixes its CRC.
func setVID(b []byte, pebOff, vidOff int, edit func(v []byte)) {
	v := b[pebOff+vidOff : pebOff+vidOff+64]
	edit(v)
	binary.BigEndian.PutUint32(v[60:], ubiCRC(v[:60]))
}

// TestUBIVersions: for one LEB the newest copy wins, unless it is a copy
// (copy_flag) whose data CRC fails.
func TestUBIVersions(t *testing.T) {
	f := buildUBI(t, ubiTree(t), "64KiB", "2048", "512", "dynamic", "dynamic")
	peb, vidOff, dataOff := f.peb, 512, 2048
	cfgPEB := len(f.image) - peb // cfg LEB 0 is the last PEB
	newer := func(copyFlag bool, goodCRC bool) []byte {
		img := bytes.Clone(f.image)
		dup := bytes.Clone(img[cfgPEB:])
		copy(dup[dataOff:], "NEWER")
		n := len(f.cfg)
		setVID(dup, 0, vidOff, func(v []byte) {
			binary.BigEndian.PutUint64(v[40:], 99)
			if copyFlag {
				v[6] = 1
				binary.BigEndian.PutUint32(v[20:], uint32(n))
				crc := ubiCRC(dup[dataOff : dataOff+n])
				if !goodCRC {
					crc++
				}
				binary.BigEndian.PutUint32(v[32:], crc)
			}
		})
		return append(img, dup...)
	}
	cases := []struct {
		name    string
		data    []byte
		want    string
		badData int
	}{
		{"higher-sqnum", newer(false, false), "NEWER", 0},
		{"copy-good-crc", newer(true, true), "NEWER", 0},
		{"copy-bad-crc", newer(true, false), "confi", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := ParseUBI(c.data)
			if err != nil {
				t.Fatal(err)
			}
			var cv UBIVolume
			for _, v := range img.Volumes {
				if v.Name == "cfg" {
					cv = v
				}
			}
			r, err := img.VolumeReader(cv, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			if !bytes.HasPrefix(got, []byte(c.want)) || img.BadDataCRC != c.badData {
				t.Errorf("volume starts %q, bad data CRC %d; want %q and %d", got[:min(len(got), 5)], img.BadDataCRC, c.want, c.badData)
			}
		})
	}
}

// TestUBIHostile: LEB numbers and counts that claim far more than the image
// holds do not make the reader write more than the image size in filler.
func TestUBIHostile(t *testing.T) {
	f := buildUBI(t, ubiTree(t), "64KiB", "2048", "512", "dynamic", "static")
	peb, vidOff := f.peb, 512
	cfgPEB := len(f.image) - peb
	rootPEB := 2 * peb // rootfs (dynamic) LEB 0
	cases := []struct {
		name    string
		at      int
		edit    func(v []byte)
		wantErr string
	}{
		{"lnum=2^24", rootPEB, func(v []byte) { binary.BigEndian.PutUint32(v[12:], 1<<24) }, "filler budget"},
		{"lnum=2^31", rootPEB, func(v []byte) { binary.BigEndian.PutUint32(v[12:], 1<<31) }, "VID CRC or header 1"},
		{"used_ebs=2^32-1", cfgPEB, func(v []byte) { binary.BigEndian.PutUint32(v[24:], 0xFFFFFFFF) }, "missing"},
		{"data_size=2^32-1", cfgPEB, func(v []byte) { binary.BigEndian.PutUint32(v[20:], 0xFFFFFFFF) }, "VID CRC or header 1"},
		{"data_pad=2^32-1", rootPEB, func(v []byte) { binary.BigEndian.PutUint32(v[28:], 0xFFFFFFFF) }, "VID CRC or header 1"},
		{"vol_id=2^31", cfgPEB, func(v []byte) { binary.BigEndian.PutUint32(v[8:], 1<<31) }, "VID CRC or header 1"},
		{"vol_id=fastmap", cfgPEB, func(v []byte) { binary.BigEndian.PutUint32(v[8:], 0x7FFFF000) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := bytes.Clone(f.image)
			setVID(img, c.at, vidOff, c.edit)
			rep, _ := unpackBytes(t, img, Limits{})
			e, _ := ubiEntry(t, rep)
			if rep.Bytes > 3*int64(len(img)) {
				t.Errorf("wrote %d bytes from a %d-byte image", rep.Bytes, len(img))
			}
			if e.Size != int64(len(img)) {
				t.Errorf("consumed %d, want %d", e.Size, len(img))
			}
			if !strings.Contains(e.Error, c.wantErr) {
				t.Errorf("error %q, want it to mention %q", e.Error, c.wantErr)
			}
			if info := e.Info.(*UBIImage); c.wantErr == "" && (e.Error != "" || info.Internal != 1) {
				t.Errorf("fastmap block: error %q, internal %d", e.Error, info.Internal)
			}
		})
	}
	// Not UBI: a magic without a valid EC header, or one erase block only.
	for _, data := range [][]byte{[]byte("UBI#"), append([]byte("UBI#"), make([]byte, 200)...), f.image[:peb]} {
		if _, err := ParseUBI(data); err == nil {
			t.Errorf("ParseUBI(%d bytes) accepted", len(data))
		}
	}
}

func TestUBIFileName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"rootfs", "rootfs"},
		{"../../etc", "______etc"},
		{"a/b\\c", "a_b_c"},
		{"", "vol3"},
		{".", "vol3"},
		{"..", "__"},
		{"x\x00y\n", "x_y_"},
		{strings.Repeat("é", 40), strings.Repeat("é", 32)},
	} {
		if got := ubiFileName(c.in, 3); got != c.want {
			t.Errorf("ubiFileName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// BenchmarkUBI parses an 8 MiB volume made by ubinize and reads it back
// (static volumes also check every LEB's data CRC), and runs the whole
// Unpack on the image (volume written to disk, then carved).
func BenchmarkUBI(b *testing.B) {
	if _, err := exec.LookPath("ubinize"); err != nil {
		b.Skip("ubinize not installed")
	}
	for _, typ := range []string{"dynamic", "static"} {
		dir := b.TempDir()
		vol := garbage(8 << 20)
		vol[len(vol)-1] = 0 // not trimmed as erased flash
		os.WriteFile(filepath.Join(dir, "vol.bin"), vol, 0o644)
		os.WriteFile(filepath.Join(dir, "ubi.ini"), []byte("[v]\nmode=ubi\nimage=vol.bin\nvol_id=0\nvol_type="+typ+"\nvol_name=data\n"), 0o644)
		cmd := exec.Command("ubinize", "-o", "img.ubi", "-p", "128KiB", "-m", "2048", "-s", "512", "ubi.ini")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ubinize: %v\n%s", err, out)
		}
		imgPath := filepath.Join(dir, "img.ubi")
		data, _ := os.ReadFile(imgPath)
		b.Run("vol="+typ+"/parse+read", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				img, err := ParseUBI(data)
				if err != nil {
					b.Fatal(err)
				}
				r, _ := img.VolumeReader(img.Volumes[0], 0)
				if n, _ := io.Copy(io.Discard, r); n != 8<<20 {
					b.Fatalf("read %d bytes", n)
				}
			}
		})
		b.Run("vol="+typ+"/unpack", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				out := b.TempDir()
				rep, err := Unpack(context.Background(), imgPath, out, Limits{})
				if err != nil || rep.Bytes != 8<<20 {
					b.Fatalf("unpack: %v, %d bytes", err, rep.Bytes)
				}
			}
		})
	}
}

// TestUBISmallFixture unpacks the committed fuzz seed, made with
//
//	mksquashfs root sq.img -comp gzip   # root/etc/passwd holds the marker
//	printf '[rootfs]\nmode=ubi\nimage=sq.img\nvol_id=0\nvol_type=static\nvol_name=rootfs\n' > u.ini
//	ubinize -o ubi-small.ubi -p 16KiB -m 512 -Q 1234 u.ini
//
// so that the reader is checked even where mtd-utils are missing.
func TestUBISmallFixture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ubi-small.ubi"))
	if err != nil {
		t.Fatal(err)
	}
	rep, out := unpackBytes(t, data, Limits{})
	e, info := ubiEntry(t, rep)
	if e.Error != "" || info.ImageSeq != 1234 || info.PEBSize != 16<<10 || info.PEBs != 3 {
		t.Errorf("error %q, image_seq %d, peb %d, pebs %d", e.Error, info.ImageSeq, info.PEBSize, info.PEBs)
	}
	if v := ubiVolume(t, info, "rootfs"); v.Type != "static" || v.Size != 4096 {
		t.Errorf("rootfs %+v", v)
	}
	if !findMarker(t, out) {
		t.Errorf("marker not extracted: %+v", rep.Extracted)
	}

	// ubi-tiny.ubi: 4 KiB erase blocks, a static volume "conf" (id 0) and a
	// dynamic one "data" (id 3), made with
	//
	//	ubinize -o ubi-tiny.ubi -p 4KiB -m 64 -Q 77 u.ini
	tiny, err := os.ReadFile(filepath.Join("testdata", "ubi-tiny.ubi"))
	if err != nil {
		t.Fatal(err)
	}
	rep, out = unpackBytes(t, tiny, Limits{})
	_, info = ubiEntry(t, rep)
	for _, c := range []struct{ name, typ, content string }{
		{"conf", "static", "hostname=cam\n"},
		{"data", "dynamic", "key=value\nother=1\n"},
	} {
		v := ubiVolume(t, info, c.name)
		got, _ := os.ReadFile(filepath.Join(out, v.Path))
		if v.Type != c.typ || string(got) != c.content {
			t.Errorf("%s: type %s, content %q; want %s %q", c.name, v.Type, got, c.typ, c.content)
		}
	}
	if info.PEBSize != 4<<10 || info.ImageSeq != 77 {
		t.Errorf("peb %d image_seq %d", info.PEBSize, info.ImageSeq)
	}
}
