#!/usr/bin/env bash
# make test: install what the tests need, build the binaries once, check
# that generated docs are current, and run every test (race detector on)
# against the built binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make --no-print-directory build
go run ./tools/docgen --bin bin --check
VIGIL_BIN_DIR="$PWD/bin" CGO_ENABLED=1 go test -race -count=1 ./...
