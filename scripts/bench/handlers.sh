#!/usr/bin/env bash
# make bench-handlers: handler-elasticsearch and handler-tsdb delivering
# into real servers started here on 127.0.0.1 (scripts/services.sh, in a
# temporary directory, stopped on exit): VictoriaLogs for the
# Elasticsearch _bulk API, Prometheus for remote write, InfluxDB 1.x for
# line protocol.
#
# tools/handlerbench measures, RUNS times (3):
#   - a spool of EVENTS events (10,000) replayed into each server by one
#     handler run (process start to exit), then read back from the server
#     (a missing document or sample fails the benchmark);
#   - the community handlers' way as the baseline: one request per event on
#     a new connection (refresh=true for Elasticsearch), BASELINE events;
#   - one event per handler run, SINGLE runs (30): median and p90.
# Targets (issue 6): ≥ 20,000 events/s into the _bulk API, ≥ 100,000
# points/s into remote write, one event ≤ 30 ms.
#
# Writes the report to stdout and to $VIGIL_BENCH_DIR/handlers-results.md
# (default /var/tmp/vigil-bench-handlers), the raw figures next to it.
# Environment: RUNS (3), EVENTS (10000), BASELINE (2000), SINGLE (30).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench-handlers}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-10000}
BASELINE=${BASELINE:-2000}
SINGLE=${SINGLE:-30}
mkdir -p "$WORK"
log() { echo "bench-handlers: $*" >&2; }

make --no-print-directory build >&2
go build -o "$WORK/handlerbench" ./tools/handlerbench

SERVERS=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-servers.XXXXXX")
cleanup() {
  for d in "$SERVERS"/*/; do
    if [ -d "$d" ]; then scripts/services.sh stop "${d%/}" >/dev/null 2>&1 || true; fi
  done
  rm -rf "$SERVERS"
}
trap cleanup EXIT
scripts/services.sh install victoria-logs prometheus influxdb >&2
url() { # NAME: start it and print its URL
  mkdir -p "$SERVERS/$1"
  scripts/services.sh start "$1" "$SERVERS/$1" | sed -n 's/^url=//p'
}
VLOGS=$(url victoria-logs)
PROM=$(url prometheus)
INFLUX=$(url influxdb)
log "servers: VictoriaLogs $VLOGS, Prometheus $PROM, InfluxDB $INFLUX"

"$WORK/handlerbench" run --bin bin --victorialogs "$VLOGS" --prometheus "$PROM" --influxdb "$INFLUX" \
  --events "$EVENTS" --runs "$RUNS" --baseline "$BASELINE" --single "$SINGLE" \
  --json "$WORK/handlers-results.json" | tee "$WORK/handlers-results.md"
{
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); servers: VictoriaLogs v1.102.1, $(prometheus --version 2>&1 | head -1), InfluxDB $(influxd version 2>/dev/null | head -1)."
} | tee -a "$WORK/handlers-results.md"
