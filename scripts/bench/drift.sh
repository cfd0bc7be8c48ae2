#!/usr/bin/env bash
# bench-drift: check-config-drift reading a generated Puppet
# last_run_report.yaml of MB (50) megabytes (tools/driftbench, seed 42:
# tens of thousands of resource_statuses with events, Ruby tags, quoted
# and explicit-key titles, folded values). The check runs RUNS (5) times
# as `--source puppet --path FILE --format json --max-findings 0`; the
# report gives the minimum and median wall time, the peak RSS (time -f
# %M), and whether the check's counts equal the generator's. Target: ≤ 2 s
# for 50 MB.
#
# Installs Debian time when missing. bin/check-config-drift comes from
# `make build` (or is built alone when another binary breaks the build).
# Needs about MB megabytes under $VIGIL_BENCH_DIR (default
# /var/tmp/vigil-bench-drift); the report is regenerated when the size,
# the seed or the generator change. Writes the report to stdout and to
# $VIGIL_BENCH_DIR/drift-results.md.
#
# Environment: RUNS (5), MB (50), SEED (42), CHECK_DRIFT_BIN (another
# binary to measure instead of bin/check-config-drift).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench-drift}
RUNS=${RUNS:-5}
MB=${MB:-50}
SEED=${SEED:-42}
mkdir -p "$WORK/bin"
log() { echo "bench-drift: $*" >&2; }

. scripts/lib.sh
apt_need bench-drift /usr/bin/time:time python3:python3

go build -o "$WORK/bin/driftbench" ./tools/driftbench
CHECK=""
if make --no-print-directory build >"$WORK/build.log" 2>&1 && [ -x bin/check-config-drift ]; then
  CHECK=$ROOT/bin/check-config-drift
else
  log "make build failed (see $WORK/build.log); building check-config-drift alone"
  go build -trimpath -o "$WORK/bin/" ./checks/check-config-drift >>"$WORK/build.log" 2>&1
  CHECK=$WORK/bin/check-config-drift
fi
CHECK=${CHECK_DRIFT_BIN:-$CHECK}

REPORT=$WORK/last_run_report.yaml
stamp="$MB $SEED $(cat tools/driftbench/main.go | sha256sum | cut -c1-16)"
if [ "$(cat "$WORK/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -s "$REPORT" ]; then
  "$WORK/bin/driftbench" --out "$REPORT" --mb "$MB" --seed "$SEED" >"$WORK/expected.json"
  echo "$stamp" >"$WORK/.stamp"
fi
cat "$REPORT" >/dev/null # warm the cache

times=()
rss=0
for ((i = 0; i < RUNS; i++)); do
  s=${EPOCHREALTIME//[.,]/}
  /usr/bin/time -f '%M %x' -o "$WORK/time.out" "$CHECK" --source puppet --path "$REPORT" --format json --max-findings 0 >"$WORK/check.json" 2>"$WORK/check.err" || true
  e=${EPOCHREALTIME//[.,]/}
  read -r m x < <(tail -n 1 "$WORK/time.out")
  if [ "$x" -gt 2 ]; then
    log "check-config-drift exited $x: $(head -c 300 "$WORK/check.json") $(head -c 300 "$WORK/check.err")"
    exit 1
  fi
  times+=("$(awk -v us=$((e - s)) 'BEGIN {printf "%.3f", us / 1e6}')")
  [ "$m" -gt "$rss" ] && rss=$m
done
mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -g)
min=${sorted[0]}
med=${sorted[$((RUNS / 2))]}
size=$(stat -c %s "$REPORT")
verdict=$(python3 - "$WORK/expected.json" "$WORK/check.json" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
got = {m["name"]: m["value"] for m in json.load(open(sys.argv[2]))["metrics"]}
names = {"total": "resources_total", "changed": "resources_changed", "failed": "resources_failed",
         "out_of_sync": "resources_out_of_sync", "corrective": "resources_corrective"}
bad = [f"{k} {got[v]:g} (want {want[k]})" for k, v in names.items() if got[v] != want[k]]
print("counts right: " + ", ".join(f"{k} {want[k]}" for k in names) if not bad else "COUNTS WRONG: " + ", ".join(bad))
PY
)
ok=$(awk -v m="$med" 'BEGIN { print (m <= 2.0) ? "yes" : "NO" }')
{
  echo "## check-config-drift: a ${MB} MB Puppet last_run_report.yaml"
  echo
  echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs, $(go version | cut -d' ' -f3), report $size bytes"
  echo
  echo "| binary | min | median | peak RSS | MB/s (median) | ≤ 2 s |"
  echo "|---|---|---|---|---|---|"
  echo "| check-config-drift | ${min} s | ${med} s | $((rss / 1024)) MB | $(awk -v b="$size" -v t="$med" 'BEGIN {printf "%.0f", b / 1048576 / t}') | $ok |"
  echo
  echo "$verdict"
} | tee "$WORK/drift-results.md"
[ "$ok" = yes ] && [[ $verdict == counts* ]]
