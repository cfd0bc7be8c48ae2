#!/usr/bin/env bash
# make bench-enrich (or run directly): mutator-enrich process start to
# exit, per event, with a 10,000-entry inventory (tools/enrichbench:
# 90% exact entity names, 9% globs, 1% label selectors, 2.2 MB of YAML),
# RUNS runs each (50) after 3 untimed warm-up runs:
#   - with the compiled cache (the default: one hit per run),
#   - with --no-cache (the YAML parsed on every event),
#   - without an inventory (the floor: process start, event I/O, catalogue),
#   - mutator-redact, for comparison.
# The event is a check-audit-log event with three findings for an entity
# listed by exact name. Writes the report to stdout and to
# $VIGIL_BENCH_DIR/enrich-results.md (default /var/tmp/vigil-bench-enrich).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench-enrich}
RUNS=${RUNS:-50}
ENTRIES=${ENTRIES:-10000}
mkdir -p "$WORK"
go build -o "$WORK/bin/" ./mutators/mutator-enrich ./mutators/mutator-redact ./tools/enrichbench
B=$WORK/bin
"$B/enrichbench" inventory -n "$ENTRIES" -o "$WORK/inventory.yaml"
"$B/enrichbench" event -entity host-04242 -o "$WORK/event.json"
rm -rf "$WORK/state"
export VIGIL_STATE_DIR=$WORK/state
{
  echo "Run of $(date -u +%F) on $(nproc) CPUs, $ENTRIES-entry inventory ($(du -h "$WORK/inventory.yaml" | cut -f1)), $RUNS runs each:"
  echo
  for args in "--inventory $WORK/inventory.yaml" "--inventory $WORK/inventory.yaml --no-cache" ""; do
    # shellcheck disable=SC2086 # the arguments are split on purpose
    echo "- $("$B/enrichbench" run -runs "$RUNS" -in "$WORK/event.json" -- "$B/mutator-enrich" $args | sed "s|$B/||; s|$WORK/||g")"
  done
  echo "- $("$B/enrichbench" run -runs "$RUNS" -in "$WORK/event.json" -- "$B/mutator-redact" | sed "s|$B/||")"
} | tee "$WORK/enrich-results.md"
