#!/bin/sh
# scripts/cluster.sh — iotwatch on several worker processes sharing one
# PostgreSQL database, on this machine (see README, "Scaling out").
#
#   scripts/cluster.sh start [N]   start PostgreSQL if needed and N workers (default 3)
#   scripts/cluster.sh status      the workers and the jobs
#   scripts/cluster.sh stop        stop the workers (SIGTERM: jobs in flight finish or are released)
#
# IOTWATCH_DB names the database (a postgres:// URL). Without it the script
# uses a private PostgreSQL cluster in .cluster/pg (initdb and pg_ctl from
# /usr/lib/postgresql/*/bin, as a user other than root) on port 5433.
# Worker flags can be added with IOTWATCH_WORKER_FLAGS (e.g. "--rate 5000").
set -eu
cd "$(dirname "$0")/.."
dir=.cluster
mkdir -p "$dir"
bin=$dir/iotwatch
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

db() {
	if [ -n "${IOTWATCH_DB:-}" ]; then echo "$IOTWATCH_DB"; return; fi
	echo "postgres://$(id -un)@127.0.0.1:5433/iotwatch?sslmode=disable"
}

start_pg() {
	[ -n "${IOTWATCH_DB:-}" ] && return
	if [ "$(id -u)" = 0 ]; then
		echo "cluster.sh: as root, set IOTWATCH_DB=postgres://USER:PASS@HOST/DB (initdb refuses root)" >&2; exit 2
	fi
	[ -n "$pgbin" ] || { echo "cluster.sh: PostgreSQL not installed (apt install postgresql) and IOTWATCH_DB not set" >&2; exit 1; }
	if [ ! -f "$dir/pg/PG_VERSION" ]; then
		"$pgbin/initdb" -D "$dir/pg" -A trust -U "$(id -un)" >/dev/null
	fi
	if ! "$pgbin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
		"$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -o "-p 5433 -k $PWD/$dir -c listen_addresses=127.0.0.1" -w start >/dev/null
		"$pgbin/createdb" -h 127.0.0.1 -p 5433 iotwatch 2>/dev/null || true
	fi
}

case ${1:-} in
start)
	n=${2:-3}
	start_pg
	go build -o "$bin" ./cmd/iotwatch
	for i in $(seq "$n"); do
		# shellcheck disable=SC2086 # flags are words
		"$bin" worker --db "$(db)" --id "worker-$i" ${IOTWATCH_WORKER_FLAGS:-} >"$dir/worker-$i.log" 2>&1 &
		echo $! >"$dir/worker-$i.pid"
	done
	sleep 1
	echo "$n workers on $(db) (logs in $dir/worker-*.log)"
	echo "export IOTWATCH_DB='$(db)'"
	;;
status)
	for f in "$dir"/worker-*.pid; do
		[ -f "$f" ] || continue
		if kill -0 "$(cat "$f")" 2>/dev/null; then s=running; else s=stopped; fi
		echo "$(basename "$f" .pid): $s"
	done
	"$bin" jobs list --db "$(db)" --limit 20
	;;
stop)
	for f in "$dir"/worker-*.pid; do
		[ -f "$f" ] || continue
		kill -TERM "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	if [ -z "${IOTWATCH_DB:-}" ] && [ -n "$pgbin" ] && [ -f "$dir/pg/PG_VERSION" ] && [ "${2:-}" = "--pg" ]; then
		"$pgbin/pg_ctl" -D "$dir/pg" -w stop >/dev/null
	fi
	echo "workers stopped${2:+ and PostgreSQL}"
	;;
*)
	echo "usage: scripts/cluster.sh start [N] | status | stop [--pg]" >&2
	exit 2
	;;
esac
