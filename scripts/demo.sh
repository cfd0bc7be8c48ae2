#!/usr/bin/env bash
# make demo: run the checks of examples/demo on their sample data the way
# Sensu would, and archive the events. Needs only the binaries in bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./tools/demo --bin bin --examples examples/demo --work .demo
