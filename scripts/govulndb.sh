#!/usr/bin/env bash
# govulndb.sh builds an offline vulnerability database for govulncheck from a
# checkout of the Go vulnerability database (github.com/golang/vulndb, its
# data/osv directory of OSV entries, CC-BY-4.0): every entry that names the
# standard library, the toolchain or a module of our build list, written as a
# flat directory of OSV files that `govulncheck -db file://DIR` reads.
#
#   scripts/govulndb.sh VULNDB_CHECKOUT OUTDIR
#
# OUTDIR also gets the database's LICENSE and NOTICES and a SOURCE file with
# the commit it came from. `make vet` uses $GOVULNDB, or ../shared/data/govulndb
# when it exists.
set -euo pipefail
src=${1:?usage: govulndb.sh VULNDB_CHECKOUT OUTDIR}
out=${2:?usage: govulndb.sh VULNDB_CHECKOUT OUTDIR}
cd "$(dirname "$0")/.."
[ -d "$src/data/osv" ] || { echo "govulndb: $src/data/osv: no such directory" >&2; exit 1; }
mkdir -p "$out/ID" "$out/index"
mods=$(mktemp)
trap 'rm -f "$mods"' EXIT
{ echo stdlib; echo toolchain; go list -m -f '{{.Path}}' all; } | sort -u >"$mods"
# One jq pass prints "FILE<TAB>MODULE" for every affected package.
n=0
while read -r f; do
  cp "$f" "$out/ID/"
  n=$((n + 1))
done < <(find "$src/data/osv" -name '*.json' -print0 | xargs -0 jq -r 'input_filename as $f | .affected[]?.package.name | "\($f)\t\(.)"' |
  awk -F'\t' 'NR == FNR { want[$1] = 1; next } ($2 in want) && !seen[$1]++ { print $1 }' "$mods" -)
# The index: the newest modification, each entry's id, modification and
# aliases, and for each module the entries that name it.
# The entries of the repository carry no modification time (the published
# database sets it), so the database's is the source commit's date when given.
jq -s --arg d "${VULNDB_MODIFIED:-}" '{modified: (if $d != "" then $d else (map(.modified) | max) end)}' "$out"/ID/*.json >"$out/index/db.json"
jq -s 'map({id, modified, aliases: (.aliases // [])})' "$out"/ID/*.json >"$out/index/vulns.json"
jq -s '[.[] | . as $v | .affected[]? | {path: .package.name, id: $v.id, modified: $v.modified}]
  | group_by(.path) | map({path: .[0].path, vulns: map({id, modified}) | unique_by(.id)})' \
  "$out"/ID/*.json >"$out/index/modules.json"
cp "$src/data/LICENSE" "$out/LICENSE"
cp "$src/data/NOTICES" "$out/NOTICES"
rev=${VULNDB_REV:-$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)}
printf 'Go vulnerability database (https://github.com/golang/vulndb, data/osv at %s),\nCC-BY-4.0 (LICENSE, NOTICES); %d entries for the standard library, the toolchain\nand the modules of iotwatch build list, written by scripts/govulndb.sh.\n' "$rev" "$n" >"$out/SOURCE"
echo "govulndb: $n entries in $out"
