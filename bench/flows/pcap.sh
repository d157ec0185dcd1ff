#!/usr/bin/env bash
# bench/flows/pcap.sh — `iotwatch flows ingest --pcap` (flow assembly from
# packets) against nfdump's nfpcapd on the same capture.
#
#   bench/flows/pcap.sh [FLOWS] [DEVICES]      (default 1000000 10000)
#
# bench/flows/pcapgen writes FLOWS single-packet TCP flows (a SYN each, 70 B
# per flow in the file) from DEVICES devices over one hour; both tools read
# it, measured with /usr/bin/time (wall, user+sys CPU, peak RSS).
set -euo pipefail
N=${1:-1000000}
DEV=${2:-10000}
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
echo "iotwatch flows ingest --pcap:"
/usr/bin/time -f "$T" "$WORK/iotwatch" --db "$WORK/f.db" --log-level warn flows ingest --pcap "$WORK/flows.pcap"
mkdir -p "$WORK/nf"
echo "nfpcapd -r:"
/usr/bin/time -o "$WORK/nf.time" -f "$T" nfpcapd -r "$WORK/flows.pcap" -w "$WORK/nf" >/dev/null 2>&1
cat "$WORK/nf.time"
