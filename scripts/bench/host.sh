#!/usr/bin/env bash
# check-host-drift on this host (no --root), every facet: RUNS (20) timed
# runs of a compare after one --init, plus RUNS runs of --init itself (a
# fresh baseline each time), each after 2 untimed warm-up runs. Prints the
# median, minimum and maximum wall time of each, process start to exit.
# Run it as root to see what production sees (/etc/shadow, /proc/PID/fd).
# Writes the report to stdout and $VIGIL_BENCH_DIR/host-results.md
# (default /var/tmp/vigil-bench-host).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench-host}
RUNS=${RUNS:-20}
mkdir -p "$WORK"
go build -o "$WORK/bin/" ./checks/check-host-drift
B=$WORK/bin/check-host-drift
KEY=$(head -c 32 /dev/urandom | base64)
export VIGIL_HOST_HMAC_KEY=$KEY

# time_runs LABEL CMD...: RUNS timed runs, prints "LABEL: median … ms".
time_runs() {
  local label=$1; shift
  local t=()
  for _ in 1 2; do "$@" >/dev/null || true; done
  for _ in $(seq "$RUNS"); do
    [ "$label" = init ] && rm -f "$WORK/init.json"
    local s e
    s=$(date +%s%N); "$@" >/dev/null || true; e=$(date +%s%N)
    t+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "- %s: median %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n", l, m/1000, a[1]/1000, a[NR]/1000, NR}'
}

rm -f "$WORK/base.json"
"$B" --init --baseline "$WORK/base.json" >"$WORK/init.out" || true
{
  echo "Run of $(date -u +%F) on $(nproc) CPUs, as $(id -un), every facet:"
  echo
  time_runs compare "$B" --baseline "$WORK/base.json"
  time_runs init "$B" --init --baseline "$WORK/init.json"
  echo
  echo "What the baseline holds here:"
  echo
  echo '```'
  "$B" --baseline "$WORK/base.json" | sed 's/ | .*//'
  echo '```'
} | tee "$WORK/host-results.md"
