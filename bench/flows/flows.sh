#!/usr/bin/env bash
# bench/flows/flows.sh — compare `iotwatch flows ingest` with nfdump on the
# same NetFlow v9 records.
#
#   bench/flows/flows.sh [RECORDS] [DEVICES]      (default 5000000 20000)
#
# 1. bench/flows (flowbench) generates RECORDS NetFlow v9 records from DEVICES
#    devices, writes the export datagrams to a capture and sends the same
#    datagrams (paced) to nfcapd on 127.0.0.1, which writes an nfcapd file.
# 2. iotwatch ingests the capture (decode with goflow2, orient, hourly
#    roll-ups, relations, all detectors, SQLite store), measured with
#    /usr/bin/time.
# 3. nfdump reads the nfcapd file twice: printing every record as CSV, and
#    aggregating per source address (-s srcip/bytes), measured the same way.
# Rates are records per CPU second (user+sys), which is robust to other load
# on the machine; wall time and peak RSS are printed too.
set -euo pipefail
N=${1:-5000000}
DEV=${2:-20000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/flowbench.XXXXXX)
NFCAPD_PID=
# (an `a && b` list that fails would stop the trap under set -e before rm)
trap 'if [ -n "$NFCAPD_PID" ]; then kill "$NFCAPD_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
for b in nfcapd nfdump /usr/bin/time; do command -v "$b" >/dev/null || { echo "missing $b" >&2; exit 1; }; done

cd "$ROOT"
go build -o "$WORK/flowbench" ./bench/flows/gen
if go build -o "$WORK/iotwatch" ./cmd/iotwatch 2>/dev/null; then
	INGEST=("$WORK/iotwatch" --db "$WORK/flows.db" --log-level warn --json flows ingest --netflow-pcap "$WORK/flows.pcap")
else # another package is mid-edit: same ingest code without the CLI
	go build -o "$WORK/flowingest" ./bench/flows/ingest
	INGEST=("$WORK/flowingest" -db "$WORK/flows.db" "$WORK/flows.pcap")
fi

PORT=$((20000 + RANDOM % 20000))
mkdir -p "$WORK/nf"
nfcapd -w "$WORK/nf" -p "$PORT" -b 127.0.0.1 -t 86400 -B 8388608 >"$WORK/nfcapd.log" 2>&1 &
NFCAPD_PID=$!
sleep 1
"$WORK/flowbench" -n "$N" -devices "$DEV" -pcap "$WORK/flows.pcap" -send "127.0.0.1:$PORT" -pps "${PPS:-5000}"
sleep 2
kill -TERM $NFCAPD_PID; wait $NFCAPD_PID 2>/dev/null || true
NFFILE=$(ls "$WORK"/nf/nfcapd.* | grep -v current | head -1)
NFREC=$(nfdump -r "$NFFILE" -I | awk -F': ' '/^Flows:/ {print $2; exit}')

measure() { # name cmd...
	local name=$1; shift
	/usr/bin/time -f "%U %S %e %M" -o "$WORK/time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	read -r u s e m <"$WORK/time"
	echo "$name $u $s $e $m"
}

echo "records generated: $N   devices: $DEV   nfcapd stored: $NFREC"
R1=$(measure iotwatch "${INGEST[@]}")
R2=$(measure nfdump-csv env TZ=UTC nfdump -r "$NFFILE" -q -o csv)
R3=$(measure nfdump-stat env TZ=UTC nfdump -r "$NFFILE" -q -s srcip/bytes -n 20)
IWREC=$(grep -o '"records":[0-9]*' "$WORK/iotwatch.out" | head -1 | cut -d: -f2)
printf '%-12s %12s %10s %10s %10s %12s %16s\n' tool records user_s sys_s wall_s maxrss_MiB records/cpu_s
for row in "$R1 ${IWREC:-0}" "$R2 ${NFREC:-0}" "$R3 ${NFREC:-0}"; do
	set -- $row
	awk -v n="$1" -v u="$2" -v s="$3" -v e="$4" -v m="$5" -v r="$6" 'BEGIN { c=u+s; if (c<=0) c=0.001; printf "%-12s %12d %10.2f %10.2f %10.2f %12.1f %16.0f\n", n, r, u, s, e, m/1024, r/c }'
done
echo "iotwatch summary: $(head -c 600 "$WORK/iotwatch.out")"
