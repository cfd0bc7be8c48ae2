#!/usr/bin/env bash
# make test: install what the tests need, build the binaries once, check
# that generated docs are current, start the real servers (installing
# them: scripts/services.sh up) and run every test (race detector on)
# against the built binaries and those servers, stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make --no-print-directory build
go run ./tools/docgen --bin bin --check

# The servers of this run, in a directory of its own (not those of make
# services-up); they also stop if this script is killed.
VIGIL_SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigil-test-services.XXXXXX")
export VIGIL_SERVICES_DIR
trap 'scripts/services.sh down' EXIT
env_file=$(VIGIL_SERVICES_OWNER=$$ scripts/services.sh up)
# shellcheck source=/dev/null # written by services.sh up
. "$env_file"

VIGIL_BIN_DIR="$PWD/bin" CGO_ENABLED=1 go test -race -count=1 ./...
