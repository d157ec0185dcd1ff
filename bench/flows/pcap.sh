#!/usr/bin/env bash
# bench/flows/pcap.sh — `iotwatch flows ingest --pcap` (flow assembly from
# packets) against nfdump's nfpcapd on the same capture.
#
#   bench/flows/pcap.sh [FLOWS] [DEVICES]      (default 1000000 10000)
#
# bench/flows/pcapgen writes FLOWS single-packet TCP flows (a SYN each, 70 B
# per flow in the file) from DEVICES devices over one hour; both tools read
# it, measured with /usr/bin/time (wall, user+sys CPU, peak RSS), RUNS times
# each (default 3), alternately, with the load average before each run (the
# machine may be shared: CPU seconds say more than wall time then).
# BEFORE=/path/to/an/older/iotwatch times that build too, in the same rounds.
set -euo pipefail
N=${1:-1000000}
DEV=${2:-10000}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/pcapbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for b in nfpcapd /usr/bin/time; do command -v "$b" >/dev/null || { echo "missing $b" >&2; exit 1; }; done
cd "$ROOT"
go build -o "$WORK/pcapgen" ./bench/flows/pcapgen
go build -o "$WORK/iotwatch" ./cmd/iotwatch
"$WORK/pcapgen" -n "$N" -devices "$DEV" >"$WORK/flows.pcap"
ls -l "$WORK/flows.pcap"
T='%e s wall, %U+%S CPU s, %M KB max RSS'
load() { cut -d' ' -f1-3 /proc/loadavg; }
ingest() { # NAME BINARY
	rm -f "$WORK"/f.db*
	printf '%-16s load %-16s ' "$1" "$(load)"
	/usr/bin/time -o "$WORK/t" -f "$T" "$2" --db "$WORK/f.db" --log-level warn flows ingest --pcap "$WORK/flows.pcap" >/dev/null
	cat "$WORK/t"
}
for _ in $(seq "$RUNS"); do
	if [ -n "${BEFORE:-}" ]; then ingest "iotwatch before" "$BEFORE"; fi
	ingest "iotwatch" "$WORK/iotwatch"
	rm -rf "$WORK/nf" && mkdir -p "$WORK/nf"
	printf '%-16s load %-16s ' "nfpcapd -r" "$(load)"
	/usr/bin/time -o "$WORK/t" -f "$T" nfpcapd -r "$WORK/flows.pcap" -w "$WORK/nf" >/dev/null 2>&1
	cat "$WORK/t"
done
