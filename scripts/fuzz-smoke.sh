#!/usr/bin/env bash
# fuzz-smoke.sh runs every `func FuzzXxx` in the module for a short time.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-3s}
grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -r -n1 dirname | sort -u | while read -r dir; do
  for f in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    echo "fuzz $dir $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "./$dir" >/tmp/fuzz-$$.log 2>&1 || { cat /tmp/fuzz-$$.log; exit 1; }
  done
done
