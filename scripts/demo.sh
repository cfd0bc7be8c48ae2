#!/usr/bin/env bash
# make demo: run the checks of examples/demo on their sample data the way
# Sensu would, and archive the events. Needs only the binaries in bin/.
#
# make demo-services (scripts/demo.sh --services): the same, shipping the
# events to real servers too: VictoriaLogs (the Elasticsearch _bulk API)
# and Prometheus (remote write), installed if missing and started on
# 127.0.0.1 by scripts/services.sh, read back at the end, and stopped on
# exit (pass --keep to leave them running, with their URLs printed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--services" ]; then
  exec go run ./tools/demo --bin bin --examples examples/demo --work .demo
fi
keep=${2:-}
VIGIL_SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo-services.XXXXXX")
export VIGIL_SERVICES_DIR
if [ "$keep" = "--keep" ]; then
  trap 'echo "demo: servers left running; stop them with: VIGIL_SERVICES_DIR=$VIGIL_SERVICES_DIR scripts/services.sh down" >&2' EXIT
else
  trap 'scripts/services.sh down' EXIT
fi
env_file=$(scripts/services.sh up victoria-logs prometheus)
# shellcheck source=/dev/null # written by services.sh up
. "$env_file"
go run ./tools/demo --bin bin --examples examples/demo --work .demo --with examples/demo/services
