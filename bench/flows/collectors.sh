#!/usr/bin/env bash
# bench/flows/collectors.sh — two flow collectors fed by two exporters at once.
#
#   bench/flows/collectors.sh [RECORDS] [PPS] [DB]   (default 1000000 per exporter, 10000 datagrams/s, SQLite)
#
# Starts two `iotwatch flows ingest --listen` collectors (each one
# exporter's, as nfcapd is deployed; --flush 5s) writing one store (a
# SQLite file, or DB=postgres://…), and sends each the NetFlow v9 datagrams
# of bench/flows/gen (RECORDS records, paced at PPS datagrams/s) at the same
# time. Prints per collector the records accepted and dropped, its CPU
# seconds and records per second of sending, and the stored totals.
set -euo pipefail
N=${1:-1000000}
PPS=${2:-10000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/collectbench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
DB=${3:-$WORK/flows.db}
cd "$ROOT"
go build -o "$WORK/flowbench" ./bench/flows/gen
go build -o "$WORK/iotwatch" ./cmd/iotwatch
for i in 1 2; do
	PORT=$((20000 + RANDOM % 20000))
	echo "$PORT" >"$WORK/port$i"
	"$WORK/iotwatch" --db "$DB" --log-level warn --json \
		flows ingest --listen "udp://127.0.0.1:$PORT" --flush 5s >"$WORK/sum$i.json" 2>"$WORK/err$i" &
	PIDS+=($!)
done
sleep 2
start=$(date +%s.%N)
for i in 1 2; do
	"$WORK/flowbench" -n "$N" -devices 10000 -pcap "$WORK/x$i.pcap" -send "127.0.0.1:$(cat "$WORK/port$i")" -pps "$PPS" >"$WORK/gen$i" 2>&1 &
	GEN[$i]=$!
done
wait "${GEN[1]}" "${GEN[2]}"
end=$(date +%s.%N)
sleep 6 # one flush
TCK=$(getconf CLK_TCK)
for i in 1 2; do # CPU seconds (user sys) and peak RSS of each collector before it stops
	p=${PIDS[$((i - 1))]}
	awk -v t="$TCK" '{printf "%.2f %.2f ", $14/t, $15/t}' "/proc/$p/stat" >"$WORK/time$i"
	awk '/VmHWM/ {print $2}' "/proc/$p/status" >>"$WORK/time$i"
done
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()
secs=$(echo "$end - $start" | bc)
for i in 1 2; do
	read -r u s m <"$WORK/time$i"
	python3 - "$WORK/sum$i.json" "$u" "$s" "$m" "$secs" "$i" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
c = s["counts"]; u, sy, m, secs, i = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
rec = c.get("records", 0)
print(f"collector {i}: {rec} records accepted, {c.get('dropped', 0)} dropped, {c.get('datagrams', 0)} datagrams; "
      f"{u + sy:.1f} CPU s ({rec / max(u + sy, 1e-9):,.0f} records/CPU s); {rec / secs:,.0f} records/s over {secs:.1f} s of sending; {m // 1024} MiB RSS")
PY
done
case "$DB" in
postgres*) q() { psql "$DB" -tAc "$1"; } ;;
*) q() { sqlite3 "$DB" "$1"; } ;;
esac
echo "stored: $(q "SELECT COUNT(*) FROM runs WHERE kind = 'flows'") runs, $(q 'SELECT SUM(flows) FROM flow_devices') flows in roll-ups"
