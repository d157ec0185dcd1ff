# iotwatch: `make demo` runs the whole pipeline on a simulated fleet;
# `make test` sets up a fresh machine and runs every test.
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/iotwatch
PG_DSN ?= postgres://iotwatch:iotwatch@127.0.0.1:5432/iotwatch_test?sslmode=disable

.PHONY: build demo test setup unit fuzz-smoke bench vet sbom

build:
	$(GO) build -o $(BIN) ./cmd/iotwatch

# sbom writes a CycloneDX 1.6 SBOM of iotwatch itself (the modules linked into bin/iotwatch).
sbom: build
	./$(BIN) version --sbom -o $(BIN).cdx.json

demo: build
	./$(BIN) --db demo-out/iotwatch.db demo --output demo-out

setup:
	./scripts/setup.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	./scripts/lint.sh

# unit runs the suite; with IOTWATCH_REQUIRE_PEERS=1 a missing real peer fails a test instead of skipping it.
unit:
	IOTWATCH_REQUIRE_PEERS=$${IOTWATCH_REQUIRE_PEERS:-1} IOTWATCH_TEST_PG=$${IOTWATCH_TEST_PG-$(PG_DSN)} \
		$(GO) test -p 2 -timeout 15m ./...

# fuzz-smoke runs every fuzz target briefly (seed corpus plus a few seconds of new inputs).
fuzz-smoke:
	./scripts/fuzz-smoke.sh $${FUZZTIME:-3s}

test: setup vet unit build fuzz-smoke

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
