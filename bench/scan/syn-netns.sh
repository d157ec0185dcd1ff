#!/bin/sh
# bench/scan/syn-netns.sh — per-worker SYN probe rate: iotwatch scan --syn
# versus zmap (and masscan when installed), side by side, across a pair of
# network namespaces this script creates and removes.
#
#   sudo bench/scan/syn-netns.sh [REPS]      default REPS=2
#
# Scanner namespace: veth 10.213.0.1/30. Target namespace: veth 10.213.0.2/30
# and 198.18.0.0/15 (the benchmark range, RFC 2544) routed to its loopback as
# local addresses, so its kernel answers every SYN to a closed port with a
# RST (one port, 131,072 probes). No traffic leaves the two namespaces: the
# scanner's only route is the /30 and 198.18.0.0/15 through the target.
# Both tools skip their default blocklists (it holds this range) and run
# unlimited (iotwatch --rate 0, zmap -r 0), one send thread,
# a 1 s wait for late replies. For each: wall time, sent/s, replies
# validated, CPU seconds (user+system) and CPU seconds per million probes,
# the last distorting least on a loaded machine.
# iotwatch runs twice a repetition: its AF_PACKET TX ring (the default on a
# gateway route) and its raw socket (IOTWATCH_SYN_SENDER=raw, the fallback).
# IOTWATCH_BIN runs a given binary instead of building one (before/after).
set -eu
cd "$(dirname "$0")/../.."
REPS=${1:-2}
NET=198.18.0.0/15
PORT=${IOTWATCH_BENCH_PORT:-1}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, raw sockets)" >&2; exit 1; }
for t in ip /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/iotwatch-synbench-XXXXXX)
S=iotw-syn-s$$
T=iotw-syn-t$$
cleanup() {
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$T" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
if [ -n "${IOTWATCH_BIN:-}" ]; then cp "$IOTWATCH_BIN" "$WORK/iotwatch"; else go build -o "$WORK/iotwatch" ./cmd/iotwatch; fi

ip netns add "$S"
ip netns add "$T"
ip -n "$S" link add s0 type veth peer name t0 netns "$T"
ip -n "$S" addr add 10.213.0.1/30 dev s0
ip -n "$T" addr add 10.213.0.2/30 dev t0
for n in "$S" "$T"; do ip -n "$n" link set lo up; done
ip -n "$S" link set s0 up
ip -n "$T" link set t0 up
ip -n "$T" route add local "$NET" dev lo
ip -n "$S" route add "$NET" via 10.213.0.2
ip netns exec "$T" sysctl -qw net.ipv4.tcp_syncookies=1
GWMAC=$(ip -n "$T" -o link show t0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
probes=$(echo "$NET" | awk -F/ '{print 2^(32-$2)}')
echo "== SYN to $NET port $PORT ($probes probes) across a veth pair; load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
printf '%-22s %8s %10s %10s %13s %10s\n' tool "wall s" "sent/s" replies "CPU s (u+s)" "CPU s/1M"

row() { # name time-file probes replies
  awk -v name="$1" -v p="$3" -v r="$4" '
    /^elapsed/ {e=$2} /^cpu/ {u=$2; s=$3}
    END {printf "%-22s %8.2f %10.0f %10s %5.2f+%-7.2f %10.2f\n", name, e, p/e, r, u, s, (u+s)*1e6/p}' "$2"
}
TIMEF="elapsed %e\ncpu %U %S"

i=0
while [ "$i" -lt "$REPS" ]; do
  i=$((i + 1))
  # The AF_PACKET TX ring (default) and the raw socket with sendmmsg (fallback).
  for sender in ring raw; do
    db=$WORK/db$i-$sender.sqlite
    /usr/bin/time -f "$TIMEF" -o "$WORK/ours.time" ip netns exec "$S" env IOTWATCH_SYN_SENDER=$sender \
      "$WORK/iotwatch" --db "$db" --log-level warn scan "$NET" -p "$PORT" --rate 0 --syn --discovery-only --no-default-blocklist \
      --format jsonl >/dev/null 2>"$WORK/ours.err" || { cat "$WORK/ours.err" >&2; exit 1; }
    # Replies validated: the endpoints the run counted refused (all ports are closed).
    refused=$("$WORK/iotwatch" --db "$db" runs --json --limit 1 | sed -n 's/.*"refused":\([0-9]*\).*/\1/p')
    row "iotwatch --syn ($sender)" "$WORK/ours.time" "$probes" "${refused:-?}"
  done

  if command -v zmap >/dev/null; then
    : >"$WORK/empty.conf" # zmap's default blocklist holds 198.18.0.0/15
    /usr/bin/time -f "$TIMEF" -o "$WORK/zmap.time" ip netns exec "$S" \
      zmap -q -b "$WORK/empty.conf" -i s0 -S 10.213.0.1 -G "$GWMAC" -p "$PORT" -r 0 -c 1 \
      -o /dev/null -m "$WORK/zmap.json" "$NET" 2>"$WORK/zmap.err" ||
      { cat "$WORK/zmap.err" >&2; exit 1; }
    # Replies validated: zmap's SYN-ACKs (success) and RSTs (failure).
    zrep=$(tr , '\n' <"$WORK/zmap.json" | awk -F': ' '/"(success|failure)_total"/ {n += $2} END {print n}')
    row "zmap $(zmap --version | awk '{print $2}')" "$WORK/zmap.time" "$probes" "$zrep"
  fi

  if command -v masscan >/dev/null; then
    /usr/bin/time -f "$TIMEF" -o "$WORK/masscan.time" ip netns exec "$S" \
      masscan --interface s0 --adapter-ip 10.213.0.1 --router-mac "$GWMAC" -p "$PORT" --rate 100000000 \
      --wait 1 -oL "$WORK/masscan.txt" "$NET" 2>"$WORK/masscan.err" || { cat "$WORK/masscan.err" >&2; exit 1; }
    row masscan "$WORK/masscan.time" "$probes" "$(grep -c '^open' "$WORK/masscan.txt" || true) open"
  fi
done
