#!/bin/sh
# bench/scan/scan.sh — iotwatch scan versus nmap on the same loopback work.
#
#   bench/scan/scan.sh [a|b|all]          default: all
#
# (a) connect discovery of 127.1.0.0/16 x 3 closed ports (196,608 probes):
#     nmap -sT -T5 versus `iotwatch scan --discovery-only` (and --syn when
#     the process may open raw sockets); times, probes/s, ratio, peak RSS.
#     iotwatch runs with --rate 0 (unlimited, as nmap -T5 is): its default
#     rate of 10,000 probes/s is a safety default, not a speed limit to bench.
# (b) service identification versus nmap -sV on real Debian daemons
#     (sshd, lighttpd, vsftpd, mosquitto, snmpd, telnetd) and on a simulated
#     fleet of IOTWATCH_BENCH_DEVICES devices (default 1000): times, ratio and
#     exact product+version identifications against the installed packages
#     and the fleet's truth (bench/scan/compare_test.go); then one unit per
#     simulated profile, per protocol family, against nmap -sV with its
#     unicast identification scripts (families_test.go, about 11 minutes).
# Needs nmap and /usr/bin/time; (b) needs the daemons (root for sshd/vsftpd).
set -eu
cd "$(dirname "$0")/../.."
WHAT=${1:-all}
NET=${IOTWATCH_BENCH_NET:-127.1.0.0/16}
WORK=$(mktemp -d /tmp/iotwatch-scanbench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for t in nmap /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
# IOTWATCH_BIN runs a given binary instead (e.g. an older build, for before/after figures).
if [ -n "${IOTWATCH_BIN:-}" ]; then cp "$IOTWATCH_BIN" "$WORK/iotwatch"; else go build -o "$WORK/iotwatch" ./cmd/iotwatch; fi

secs() { awk '/^elapsed/ {print $2}' "$1"; }
rss() { awk '/^maxrss/ {print $2}' "$1"; }

if [ "$WHAT" = a ] || [ "$WHAT" = all ]; then
  probes=$(( $(echo "$NET" | awk -F/ '{print 2^(32-$2)}') * 3 ))
  echo "== (a) connect discovery of $NET x 3 closed ports ($probes probes)"
  /usr/bin/time -f "elapsed %e\nmaxrss %M" -o "$WORK/nmap.time" \
    nmap -sT -T5 -n -Pn -p1-3 "$NET" -oG "$WORK/nmap.gnmap" >/dev/null
  /usr/bin/time -f "elapsed %e\nmaxrss %M" -o "$WORK/ours.time" \
    "$WORK/iotwatch" --log-level warn scan "$NET" -p 1,2,3 --rate 0 --discovery-only --no-store --format jsonl >"$WORK/ours.jsonl" 2>"$WORK/ours.err"
  n=$(secs "$WORK/nmap.time"); o=$(secs "$WORK/ours.time")
  awk -v n="$n" -v o="$o" -v p="$probes" -v nr="$(rss "$WORK/nmap.time")" -v or="$(rss "$WORK/ours.time")" 'BEGIN {
    printf "nmap -sT -T5          %8.2f s  %9.0f probes/s  %7d KB RSS\n", n, p/n, nr
    printf "iotwatch connect      %8.2f s  %9.0f probes/s  %7d KB RSS   %.2fx nmap\n", o, p/o, or, n/o }'
  if "$WORK/iotwatch" scan --help | grep -q -- '--syn'; then
    if /usr/bin/time -f "elapsed %e\nmaxrss %M\ncpu %U %S" -o "$WORK/syn.time" \
      "$WORK/iotwatch" --log-level warn scan "$NET" -p 1,2,3 --rate 0 --syn --discovery-only --no-store --format jsonl >"$WORK/syn.jsonl" 2>"$WORK/syn.err"; then
      s=$(secs "$WORK/syn.time")
      awk -v n="$n" -v s="$s" -v p="$probes" -v sr="$(rss "$WORK/syn.time")" 'BEGIN {
        printf "iotwatch SYN          %8.2f s  %9.0f probes/s  %7d KB RSS   %.2fx nmap\n", s, p/s, sr, n/s }'
    else
      echo "iotwatch SYN: not available ($(tail -1 "$WORK/syn.err"))"
    fi
  fi
  # zmap sends the same number of SYNs on loopback (one port: zmap 2.1 scans
  # one port per run; it cannot receive on lo, so this is its send rate only).
  # The time includes zmap's 1 s cooldown as iotwatch's includes its 1 s wait.
  if command -v zmap >/dev/null && [ "$(id -u)" -eq 0 ]; then
    : >"$WORK/empty.conf"
    /usr/bin/time -f "elapsed %e\nmaxrss %M\ncpu %U %S" -o "$WORK/zmap.time" \
      zmap -q -b "$WORK/empty.conf" -i lo -S 127.0.0.1 -G 00:00:00:00:00:00 -p 1 -n "$probes" -B 10G -c 1 \
      -o /dev/null 127.0.0.0/14 2>"$WORK/zmap.err" || true
    z=$(secs "$WORK/zmap.time")
    awk -v n="$n" -v z="$z" -v p="$probes" -v zr="$(rss "$WORK/zmap.time")" 'BEGIN {
      printf "zmap (send only)      %8.2f s  %9.0f probes/s  %7d KB RSS   %.2fx nmap\n", z, p/z, zr, n/z }'
    echo "CPU seconds (user sys): zmap $(awk '/^cpu/ {print $2, $3}' "$WORK/zmap.time"), iotwatch SYN $(awk '/^cpu/ {print $2, $3}' "$WORK/syn.time" 2>/dev/null)"
  fi
fi

if [ "$WHAT" = b ] || [ "$WHAT" = all ]; then
  echo "== (b) service identification versus nmap -sV"
  IOTWATCH_BENCH=1 go test -count=1 -timeout 60m -run 'TestCompare' -v ./bench/scan/ 2>&1 |
    grep -E 'RESULT|compare_test.go:[0-9]+: (daemon|sshd|lighttpd|vsftpd|mosquitto|snmpd|telnetd|real|fleet)|FAIL|SKIP' || true
fi
