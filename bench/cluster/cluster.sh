#!/bin/sh
# bench/cluster/cluster.sh — scan and audit of the simulated fleet as jobs on
# PostgreSQL with 1, 2 and 4 `iotwatch worker` processes on this machine, and
# the overhead of a job per shard against `iotwatch scan` in-process.
#
#   IOTWATCH_BENCH_PG=postgres://iotwatch:iotwatch@127.0.0.1:5432/iotwatch_test?sslmode=disable
#                               a server where the script may create databases
#   IOTWATCH_SIM_DEVICES=2000   simulated devices (each serves ~10 ports; the
#                               open-file limit must allow ~12 per device)
#   IOTWATCH_BENCH_SHARDS=16    shards of the scan
#   IOTWATCH_BENCH_WORKERS="1 2 4"
set -eu
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cd "$(dirname "$0")/../.."
admin=${IOTWATCH_BENCH_PG:-postgres://iotwatch:iotwatch@127.0.0.1:5432/iotwatch_test?sslmode=disable}
devices=${IOTWATCH_SIM_DEVICES:-2000}
shards=${IOTWATCH_BENCH_SHARDS:-16}
workers=${IOTWATCH_BENCH_WORKERS:-1 2 4}
prefix=127.60.0.0/18
ports=21,22,23,80,554,1883,2121,2222,2323,8080,8554
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
go build -o "$tmp/iotwatch" ./cmd/iotwatch
iw=$tmp/iotwatch
base=${admin%%\?*}; base=${base%/*}; opts=${admin#*\?}
newdb() { # a fresh database; prints its URL
	name=iotwatch_bench_cluster_$1
	psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null 2>&1
	echo "$base/$name?$opts"
}
now() { date +%s.%N; }
# cpu PID...: CPU seconds (user+system) used so far by those processes.
cpu() {
	t=0
	for p in "$@"; do
		f=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + f))
	done
	echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
# settle DB: waits until no job is left to run.
settle() {
	while [ -n "$("$iw" jobs list --db "$1" --json --limit 10000 --state available,running,retryable,scheduled,pending)" ]; do sleep 0.2; done
}

"$iw" simulate --db "$tmp/sim.db" --devices "$devices" --prefix "$prefix" --seed 60 >"$tmp/sim.log" 2>&1 &
sim=$!; pids="$pids $sim"
sleep $((devices / 500 + 3))
echo "== fleet: $devices simulated devices on $prefix, ports $ports; $(nproc) cores"

# In-process reference: the whole scan and the audit as the CLI runs them.
db=$(newdb ref)
t0=$(now); "$iw" scan "$prefix" -p "$ports" --rate 0 --db "$db" >/dev/null 2>"$tmp/ref.log"; t1=$(now)
echo "iotwatch scan (one process): $(echo "$t1 - $t0" | bc) s"

# Scan only as jobs with one worker: the overhead of a job per shard.
db=$(newdb scanonly)
"$iw" worker --db "$db" --concurrency scan=1,audit=0 --poll 100ms >"$tmp/w.log" 2>&1 &
w=$!; pids="$pids $w"; sleep 1
t0=$(now)
"$iw" jobs submit scan "$prefix" -p "$ports" --rate 0 --shards "$shards" --discovery-only=false --db "$db" >/dev/null
settle "$db"; t1=$(now)
kill -TERM $w; wait $w || true
echo "scan as $shards shard jobs, 1 worker (scan=1; the shards' vulnerability matches included): $(echo "$t1 - $t0" | bc) s"
psql "$db" -Atc "SELECT 'shard job: mean ' || round(avg(extract(epoch FROM finalized_at - attempted_at))::numeric, 3) || ' s running, ' ||
  round(avg(extract(epoch FROM attempted_at - scheduled_at))::numeric, 3) || ' s from available to running' FROM river_job WHERE kind = 'scan'"
psql "$db" -Atc "SELECT 'scan runs: mean ' || round(avg(extract(epoch FROM ended_at::timestamptz - started_at::timestamptz))::numeric, 3) || ' s of scanning per shard' FROM runs r JOIN job_runs j ON j.run_id = r.id WHERE r.kind = 'scan'"

# Scan and audit as jobs with 1, 2 and 4 workers.
for n in $workers; do
	db=$(newdb w$n)
	wp=""
	for i in $(seq "$n"); do
		"$iw" worker --db "$db" --id "w$i" --concurrency scan=1,audit=1,vulns=1 --poll 100ms >"$tmp/w$n-$i.log" 2>&1 &
		wp="$wp $!"
	done
	pids="$pids $wp"; sleep 1
	s0=$(cpu $sim)
	t0=$(now)
	"$iw" jobs submit scan "$prefix" -p "$ports" --rate 0 --shards "$shards" --audit --db "$db" >/dev/null
	settle "$db"; t1=$(now)
	wcpu=$(cpu $wp); scpu=$(echo "$(cpu $sim) - $s0" | bc)
	for p in $wp; do kill -TERM "$p"; done
	for p in $wp; do wait "$p" || true; done
	echo "scan+audit, $shards shards, $n worker(s): $(echo "$t1 - $t0" | bc) s; $(psql "$db" -Atc "SELECT count(*) || ' jobs, ' || count(DISTINCT attempted_by[1]) || ' workers used' FROM river_job"); $(psql "$db" -Atc "SELECT count(DISTINCT ip) || ' devices with weak credentials' FROM credentials WHERE kind <> 'lockout-suspected'")"
	echo "  CPU: workers $wcpu s, simulated fleet $scpu s; $(cut -d' ' -f1-3 /proc/loadavg) load"
done
