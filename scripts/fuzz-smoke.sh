#!/usr/bin/env bash
# fuzz-smoke.sh runs every `func FuzzXxx` in the module for a short time: the
# seed corpus plus a few seconds of new inputs. A found crasher fails the run.
# Go's fuzzer sometimes ends a short run with a bare "context deadline
# exceeded" while stopping its workers (no failing input); such a run is
# retried, and only a repeated failure or a real crasher fails.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-3s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -r -n1 dirname | sort -u | while read -r dir; do
  for f in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    echo "fuzz $dir $f ($t)"
    for try in 1 2 3; do
      if go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "./$dir" >"$log" 2>&1; then
        break
      fi
      if grep -q 'Failing input written' "$log" || ! grep -q 'context deadline exceeded' "$log" || [ "$try" = 3 ]; then
        cat "$log"
        exit 1
      fi
      echo "  fuzzer stopped with a deadline error and no failing input; retrying"
    done
  done
done
