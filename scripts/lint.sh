#!/usr/bin/env bash
# lint.sh is the part of `make vet` beyond go vet: golangci-lint v2 with the
# linters of .golangci.yml, and govulncheck against an offline copy of the Go
# vulnerability database ($GOVULNDB, or ../shared/data/govulndb; see
# scripts/govulndb.sh). There is no network to the live database here, so
# without a copy govulncheck is skipped with one line.
# scripts/setup.sh installs both tools into $(go env GOPATH)/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(go env GOPATH)/bin
if [ ! -x "$bin/golangci-lint" ] || [ ! -x "$bin/govulncheck" ]; then
  echo "lint: golangci-lint or govulncheck missing in $bin; run scripts/setup.sh" >&2
  exit 1
fi
"$bin/golangci-lint" run ./...
db=${GOVULNDB:-../shared/data/govulndb}
if [ -d "$db" ]; then
  "$bin/govulncheck" -db "file://$(cd "$db" && pwd)" ./...
else
  echo "govulncheck: skipped (no offline vulnerability database at $db; build one with scripts/govulndb.sh)"
fi
