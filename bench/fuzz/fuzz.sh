#!/usr/bin/env bash
# fuzz.sh is the long fuzzing campaign (not CI): every `func FuzzXxx` in the
# module for FUZZTIME each (default 10m), one after another. For each target it
# prints the executions, the new interesting inputs the fuzzer found and the
# corpus size, and copies the new inputs from Go's fuzz cache into the
# package's testdata/fuzz/FuzzXxx/ so that they become seed corpus (commit
# them). A crasher is left where `go test` writes it (testdata/fuzz/FuzzXxx/),
# reported, and makes the script exit 1 after the other targets ran.
#
#   FUZZTIME=10m bench/fuzz/fuzz.sh            # every target
#   FUZZTIME=20s bench/fuzz/fuzz.sh internal/probe/mqtt   # targets under a path
#   PARALLEL=2 sets the fuzzer's workers (default: go test's, one per core).
set -euo pipefail
cd "$(dirname "$0")/../.."
t=${FUZZTIME:-10m}
par=${PARALLEL:+-parallel $PARALLEL}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
crashed=()
printf '%-44s %-34s %12s %6s %8s %s\n' PACKAGE TARGET EXECS NEW CORPUS RESULT
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' "${@:-internal}" | xargs -r -n1 dirname | sort -u); do
  for f in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    cdir="$(go env GOCACHE)/fuzz/iotwatch/$dir/$f"
    before=$(mktemp)
    ls "$cdir" 2>/dev/null | sort >"$before" || true
    result=ok
    # shellcheck disable=SC2086
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" $par "./$dir" >"$log" 2>&1 || result=FAIL
    if [ "$result" = FAIL ]; then
      if grep -q 'Failing input written' "$log"; then
        result="CRASH $(grep -o 'testdata/fuzz/[^ ]*' "$log" | head -1)"
        crashed+=("$dir $f")
        sed -n '1,40p' "$log" >&2
      elif grep -q 'context deadline exceeded' "$log"; then
        result="ok (fuzzer stopped with a deadline error, no failing input)"
      else
        crashed+=("$dir $f")
        tail -20 "$log" >&2
      fi
    fi
    last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -1 || true)
    execs=$(sed -E 's/.*execs: ([0-9]+).*/\1/' <<<"$last")
    total=$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$last")
    # New interesting inputs: files in the cache corpus that were not there before.
    mkdir -p "$dir/testdata/fuzz/$f"
    added=0
    while read -r name; do
      [ -n "$name" ] || continue
      cp "$cdir/$name" "$dir/testdata/fuzz/$f/$name"
      added=$((added + 1))
    done < <(ls "$cdir" 2>/dev/null | sort | comm -13 "$before" -)
    rmdir "$dir/testdata/fuzz/$f" 2>/dev/null || true
    rm -f "$before"
    printf '%-44s %-34s %12s %6s %8s %s\n' "$dir" "$f" "${execs:-?}" "$added" "${total:-?}" "$result"
  done
done
if [ ${#crashed[@]} -gt 0 ]; then
  printf 'fuzz: failed: %s\n' "${crashed[@]}" >&2
  exit 1
fi
