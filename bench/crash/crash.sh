#!/bin/sh
# bench/crash/crash.sh — the crash-consistency campaign in long mode.
#
#   bench/crash/crash.sh [ITER]        default 20 interrupted runs per command and backend
#
# Runs internal/crashtest with IOTWATCH_CRASH_ITER=ITER: scan (then --resume), audit,
# flows ingest, vulndb import and firmware analyze are interrupted with SIGINT and
# SIGKILL at random moments (5-90% into an uninterrupted run's duration), resumed or
# re-run, and compared with an uninterrupted run: services, credentials, flow totals
# and alerts, vulnerability records, firmware findings, the report's headline, no run
# left "running", SQLite integrity_check. PostgreSQL too when IOTWATCH_TEST_PG is set.
# Prints each scenario's counts (interrupted runs, resumes, mismatches).
# IOTWATCH_CRASH_SEED=N replays a campaign's kill times.
set -eu
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
ITER=${1:-20}
IOTWATCH_CRASH_ITER=$ITER go test -count=1 -timeout 0 -v ./internal/crashtest 2>&1 |
  grep -E 'campaign:|interrupted runs|^(---|ok|FAIL|PASS)|lost|duplicated|still|integrity|temporary'
