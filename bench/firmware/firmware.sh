#!/bin/sh
# bench/firmware/firmware.sh — time binwalk -e (Debian) and `iotwatch firmware
# analyze` on the same router-style images built from Debian binaries, and
# print both, the ratio and peak RSS.
#
#   bench/firmware/firmware.sh [SIZE_MB ...]      default: 5 20 64
#
# Each image: a uImage gzip kernel stand-in + a SquashFS (xz) root filesystem
# filled with real binaries and libraries from this machine until the image
# reaches SIZE_MB. Needs mksquashfs, mkimage, gzip, binwalk, /usr/bin/time.
set -eu
cd "$(dirname "$0")/../.."
SIZES=${*:-5 20 64}
WORK=$(mktemp -d /tmp/iotwatch-fwbench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for t in mksquashfs mkimage gzip binwalk /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done

BIN="$WORK/iotwatch"
if go build -o "$BIN" ./cmd/iotwatch 2>"$WORK/build.log"; then
  OURS="$BIN --db $WORK/bench.db firmware analyze --no-store --no-vulns --json --extract"
else
  echo "cmd/iotwatch does not build; timing bench/firmware/analyze (same library call)" >&2
  go build -o "$BIN" ./bench/firmware/analyze
  OURS="$BIN"
fi

mkimage_for() { # SIZE_MB OUT
  size=$1; out=$2; root="$WORK/root-$size"
  mkdir -p "$root/bin" "$root/sbin" "$root/usr/sbin" "$root/usr/lib" "$root/etc/init.d"
  cp /usr/bin/busybox "$root/bin/busybox"; ln -sf busybox "$root/bin/sh"
  for f in /usr/sbin/dropbear /usr/sbin/lighttpd /usr/sbin/sshd /usr/sbin/vsftpd /usr/sbin/mosquitto; do
    [ -f "$f" ] && cp "$f" "$root/usr/sbin/"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:$1$Vx3kQ9pL$ZmcHbX6b1101yS1nZTe5v0:18000:0:99999:7:::\n' > "$root/etc/shadow"
  printf '::sysinit:/etc/init.d/rcS\nttyS0::respawn:/bin/sh\n' > "$root/etc/inittab"
  printf '#!/bin/sh\ntelnetd -l /bin/login &\n' > "$root/etc/init.d/rcS"
  # Fill with real shared libraries (largest that still fit first) until the
  # uncompressed tree is about 3x SIZE_MB (xz compresses binaries ~3:1).
  budget=$(( size * 3 * 1024 ))
  for lib in $(ls -S /usr/lib/x86_64-linux-gnu/*.so.* 2>/dev/null); do
    [ -f "$lib" ] || continue
    used=$(du -sk "$root" | cut -f1)
    [ "$used" -ge "$budget" ] && break
    sz=$(( $(stat -L -c %s "$lib") / 1024 ))
    [ $(( used + sz )) -le $(( budget + 512 )) ] || continue
    cp -L "$lib" "$root/usr/lib/" 2>/dev/null || true
  done
  mksquashfs "$root" "$WORK/rootfs-$size.sqfs" -comp xz -all-root -noappend -quiet -no-progress -processors 2 >/dev/null
  head -c 300000 /dev/urandom > "$WORK/kernel.bin"
  printf 'Linux version 4.14.180 (builder@buildhost) (gcc version 7.3.0) #0\n' >> "$WORK/kernel.bin"
  gzip -9 -n -f -k "$WORK/kernel.bin"
  mkimage -A mips -O linux -T kernel -C gzip -n "Linux-4.14.180" -d "$WORK/kernel.bin.gz" "$WORK/uImage" >/dev/null
  cat "$WORK/uImage" "$WORK/rootfs-$size.sqfs" > "$out"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf '%-8s %-10s %12s %12s %8s %12s %12s %s\n' SIZE_MB FILES BINWALK_S IOTWATCH_S RATIO BW_RSS_MB IW_RSS_MB FOUND
for size in $SIZES; do
  img="$WORK/fw-$size.bin"
  mkimage_for "$size" "$img"
  mb=$(( $(stat -c %s "$img") / 1048576 ))
  rm -rf "$WORK/bw"; mkdir -p "$WORK/bw"
  /usr/bin/time -f '%e %M' -o "$WORK/bw.time" binwalk -q -e --run-as=root -C "$WORK/bw" "$img" >/dev/null 2>&1 || true
  rm -rf "$WORK/iw"
  /usr/bin/time -f '%e %M' -o "$WORK/iw.time" $OURS "$WORK/iw" "$img" > "$WORK/iw.json" 2>"$WORK/iw.log" || { cat "$WORK/iw.log" >&2; exit 1; }
  bw_files=$(find "$WORK/bw" -type f | wc -l)
  read bw_s bw_kb < "$WORK/bw.time"
  read iw_s iw_kb < "$WORK/iw.time"
  iw_files=$(find "$WORK/iw" -type f | wc -l)
  comps=$(grep -o '"source":"[a-z:_-]*"' "$WORK/iw.json" | wc -l)

  finds=$(grep -o '"kind":"firmware-[a-z-]*"' "$WORK/iw.json" | wc -l)
  ratio=$(awk -v a="$iw_s" -v b="$bw_s" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')
  printf '%-8s %-10s %12s %12s %8s %12s %12s %s\n' "$mb" "$bw_files/$iw_files" "$bw_s" "$iw_s" "$ratio" \
    $(( bw_kb / 1024 )) $(( iw_kb / 1024 )) "files on disk binwalk/iotwatch; iotwatch also: $comps components, $finds findings"
done
