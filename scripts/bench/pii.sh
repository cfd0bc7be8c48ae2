#!/usr/bin/env bash
# make bench-pii: check-pii against the raw limit of `cat`, ripgrep with
# one combined PII regex (one core and all cores) and gitleaks v8.18.4, on
# a deterministic corpus of nginx, JSON and syslog logs (tools/piibench:
# 500 MB, seed 42, with planted PII and secrets, decoys and a ground
# truth), warm cache. Every tool runs RUNS times (3; gitleaks once: it
# takes minutes); the report gives MB/s from the minimum and median wall
# time and the peak RSS, scores check-pii's and gitleaks' reports against
# the ground truth, and times mutator-redact on a typical event
# (MUTATOR_RUNS runs, 200, plus BenchmarkRedactTypicalEvent when the
# mutator's tests have it).
#
# Installs what is missing: Debian ripgrep and time (apt, as root or with
# sudo) and gitleaks (go install into $VIGIL_BENCH_DIR/bin). bin/check-pii
# and bin/mutator-redact come from `make build`; when one is not built its
# rows say so and the rest still runs. Needs about 1 GB under
# $VIGIL_BENCH_DIR (default /var/tmp/vigil-bench-pii). Writes the report to
# stdout and to $VIGIL_BENCH_DIR/pii-results.md, the raw results and
# every tool's report next to it.
#
# Environment: RUNS, MUTATOR_RUNS, SIZE_MB (500), SEED (42),
# CHECK_PII_ARGS and MUTATOR_ARGS (extra arguments: check-pii must scan the
# whole corpus on every run, with IP addresses off), CHECK_PII_BIN and
# MUTATOR_BIN (other binaries to measure instead of bin/'s).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench-pii}
RUNS=${RUNS:-3}
MUTATOR_RUNS=${MUTATOR_RUNS:-200}
SIZE_MB=${SIZE_MB:-500}
SEED=${SEED:-42}
GITLEAKS_VERSION=v8.18.4
NPROC=$(nproc)
mkdir -p "$WORK/bin"
export PATH="$WORK/bin:$PATH"
log() { echo "bench-pii: $*" >&2; }

# --- tools ---
. scripts/lib.sh
apt_need bench-pii rg:ripgrep /usr/bin/time:time
if ! [ -x "$WORK/bin/gitleaks" ]; then
  log "installing gitleaks $GITLEAKS_VERSION"
  if ! GOBIN=$WORK/bin go install "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" >"$WORK/gitleaks-install.log" 2>&1; then
    # Where the proxy refuses `go install mod@version`, a throwaway module
    # can still `go get` the same version.
    tmp=$(mktemp -d)
    (cd "$tmp" && go mod init gitleaks-build && go get "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" &&
      go build -o "$WORK/bin/gitleaks" github.com/zricethezav/gitleaks/v8) >>"$WORK/gitleaks-install.log" 2>&1 ||
      log "gitleaks could not be installed: see $WORK/gitleaks-install.log"
    rm -rf "$tmp"
  fi
fi

go build -o "$WORK/bin/piibench" ./tools/piibench
go build -o "$WORK/bin/piibench-report" ./tools/piibench/report
# check-pii and mutator-redact: from make build, or built alone when
# another binary breaks the build; never a stale binary.
CHECK_PII="" MUTATOR=""
if make --no-print-directory build >"$WORK/build.log" 2>&1; then
  [ -x bin/check-pii ] && CHECK_PII=$ROOT/bin/check-pii
  [ -x bin/mutator-redact ] && MUTATOR=$ROOT/bin/mutator-redact
else
  log "make build failed (see $WORK/build.log); building check-pii and mutator-redact alone"
  rm -f "$WORK/bin/check-pii" "$WORK/bin/mutator-redact"
  [ -f checks/check-pii/main.go ] && go build -trimpath -o "$WORK/bin/" ./checks/check-pii >>"$WORK/build.log" 2>&1 && CHECK_PII=$WORK/bin/check-pii
  [ -f mutators/mutator-redact/main.go ] && go build -trimpath -o "$WORK/bin/" ./mutators/mutator-redact >>"$WORK/build.log" 2>&1 && MUTATOR=$WORK/bin/mutator-redact
fi
CHECK_PII=${CHECK_PII_BIN:-$CHECK_PII}
MUTATOR=${MUTATOR_BIN:-$MUTATOR}
[ -n "$CHECK_PII" ] || log "check-pii is not built: its rows say so"
[ -n "$MUTATOR" ] || log "mutator-redact is not built: its rows say so"

# --- corpus (regenerated when the size, seed or generator changes) ---
CORPUS=$WORK/corpus
LOGS=$CORPUS/logs
stamp="$SIZE_MB $SEED $(cat tools/piibench/*.go | sha256sum | cut -c1-16)"
if [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$CORPUS"
  piibench gen "$CORPUS" --size-mb "$SIZE_MB" --seed "$SEED" >&2
  echo "$stamp" >"$CORPUS/.stamp"
fi
FILES=("$LOGS/access.log" "$LOGS/app.jsonl" "$LOGS/syslog")
BYTES=$(stat -c %s "${FILES[@]}" | awk '{s += $1} END {print s}')
LINES=$(cat "${FILES[@]}" | wc -l)
PLANTED=$(wc -l <"$CORPUS/ground-truth.jsonl")
DECOYS=$(wc -l <"$CORPUS/decoys.jsonl")
rm -f "$WORK"/check-pii-*.json "$WORK"/score-*.json "$WORK/gitleaks.json"

# One combined regex, as a user of ripgrep would write it: cards, emails
# (also %40), SSNs, phones, IBANs, then the credential shapes.
cat <<'EOF' | paste -sd'|' >"$WORK/pii.re"
\b(?:\d[ -]?){12,18}\d\b
[A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}
\b\d{3}[- ]?\d{2}[- ]?\d{4}\b
(?:\+1[ -]?)?(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b
\+(?:44|49|33) \d[\d ]{5,13}\d
\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b
\b(?:AKIA|ASIA)[A-Z2-7]{16}\b
\bgh[pousr]_[A-Za-z0-9]{36}\b
\bxox[bp]-\d+-\d+-[A-Za-z0-9]+
\b[rs]k_(?:live|test)_[A-Za-z0-9]{24}\b
\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+
-----BEGIN [A-Z ]*PRIVATE KEY-----
EOF

# --- measuring ---
RESULTS=$WORK/results.tsv
: >"$RESULTS"
# measure NAME CORES N OK_EXIT_CODES OUT CMD: runs CMD N times under
# time(1) for the peak RSS, its stdout into OUT, timed with the shell's
# microsecond clock (time's %e has 10 ms steps, a tenth of cat's time). A
# run that exits with another code makes the row "failed (exit N)".
measure() {
  local name=$1 cores=$2 n=$3 ok=$4 out=$5 cmd=$6 t=() rss=0 i s e m x sorted
  for ((i = 0; i < n; i++)); do
    s=${EPOCHREALTIME//[.,]/}
    /usr/bin/time -f '%M %x' -o "$WORK/time.out" bash -c "$cmd" >"$out" 2>"$WORK/cmd.err" || true
    e=${EPOCHREALTIME//[.,]/}
    e=$(awk -v us=$((e - s)) 'BEGIN {printf "%.3f", us / 1e6}')
    # time(1) puts "Command exited with non-zero status N" first when it
    # did: the numbers are on the last line.
    read -r m x < <(tail -n 1 "$WORK/time.out")
    if [[ " $ok " != *" $x "* ]]; then
      log "$name exited $x: $(head -c 300 "$WORK/cmd.err") $(head -c 300 "$out")"
      printf '%s\t%s\t\t\t\t0\tfailed (exit %s)\n' "$name" "$cores" "$x" >>"$RESULTS"
      return
    fi
    t+=("$e")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  mapfile -t sorted < <(printf '%s\n' "${t[@]}" | sort -g)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t\n' "$name" "$cores" "${sorted[0]}" "${sorted[$((n / 2))]}" "$rss" "$n" >>"$RESULTS"
  log "$(printf '%-40s min %8ss  median %8ss  peak RSS %7d KiB' "$name" "${sorted[0]}" "${sorted[$((n / 2))]}" "$rss")"
}
missing() { printf '%s\t%s\t\t\t\t0\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }
warm() { cat "${FILES[@]}" >/dev/null; cat "${FILES[@]}" >/dev/null; }

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "$NPROC CPUs, load $LOAD, corpus $((BYTES / 1000000)) MB in $LOGS"
warm
measure "cat (I/O floor)" 1 "$RUNS" "0" /dev/null "cat ${FILES[*]}"
measure "rg -c -j1, combined PII regex" 1 "$RUNS" "0 1" "$WORK/rg-j1.txt" "rg --no-config -j1 -c -f $WORK/pii.re $LOGS"
measure "rg -c, combined PII regex" "$NPROC" "$RUNS" "0 1" "$WORK/rg.txt" "rg --no-config -c -f $WORK/pii.re $LOGS"
if command -v gitleaks >/dev/null 2>&1; then
  measure "gitleaks $GITLEAKS_VERSION detect --no-git" "$NPROC" 1 "0" /dev/null \
    "gitleaks detect --no-git --source $LOGS --report-format json --report-path $WORK/gitleaks.json --no-banner --log-level error --exit-code 0"
else
  missing "gitleaks $GITLEAKS_VERSION detect --no-git" "$NPROC" "not installed"
fi
CP="--path $LOGS --format json --max-findings 0 ${CHECK_PII_ARGS:-}"
if [ -n "$CHECK_PII" ]; then
  # Exit 0-2 are OK, WARNING and CRITICAL (findings); 3 is UNKNOWN.
  measure "check-pii (GOMAXPROCS=1 taskset -c 0)" 1 "$RUNS" "0 1 2" "$WORK/check-pii-1.json" "GOMAXPROCS=1 taskset -c 0 $CHECK_PII $CP"
  measure "check-pii" "$NPROC" "$RUNS" "0 1 2" "$WORK/check-pii-2.json" "$CHECK_PII $CP"
else
  missing "check-pii (GOMAXPROCS=1 taskset -c 0)" 1 "not built"
  missing "check-pii" "$NPROC" "not built"
fi

# --- mutator-redact: the whole process, then the redaction alone ---
MUT=$WORK/mutator.tsv
: >"$MUT"
piibench event >"$WORK/event.json"
read -ra MARGS <<<"${MUTATOR_ARGS:-}"
if [ -z "$MUTATOR" ]; then
  printf 'process_note\tnot built\n' >>"$MUT"
elif ! "$MUTATOR" "${MARGS[@]}" <"$WORK/event.json" >"$WORK/redacted.json" 2>"$WORK/mutator.err"; then
  printf 'process_note\tfailed (%s)\n' "$(head -c 200 "$WORK/mutator.err" | tr '\t\n' '  ')" >>"$MUT"
else
  : >"$WORK/mutator-us.txt"
  for ((i = 0; i < MUTATOR_RUNS; i++)); do
    s=${EPOCHREALTIME//[.,]/}
    "$MUTATOR" "${MARGS[@]}" <"$WORK/event.json" >/dev/null
    e=${EPOCHREALTIME//[.,]/}
    echo $((e - s)) >>"$WORK/mutator-us.txt"
  done
  /usr/bin/time -f '%M' -o "$WORK/time.out" "$MUTATOR" "${MARGS[@]}" <"$WORK/event.json" >/dev/null
  sort -n "$WORK/mutator-us.txt" | awk -v rss="$(tail -n 1 "$WORK/time.out")" '
    { v[NR] = $1; s += $1 }
    END {
      p = int(NR * 0.95 + 0.5); if (p < 1) p = 1
      printf "process_mean_ms\t%.2f\nprocess_p95_ms\t%.2f\nprocess_runs\t%d\nprocess_rss_kib\t%d\n", s / NR / 1000, v[p] / 1000, NR, rss
    }' >>"$MUT"
fi
if grep -qs 'func BenchmarkRedactTypicalEvent' mutators/mutator-redact/*_test.go; then
  if go test -run xxx -bench BenchmarkRedactTypicalEvent ./mutators/mutator-redact >"$WORK/bench-redact.txt" 2>&1; then
    ns=$(awk '/^BenchmarkRedactTypicalEvent/ {for (i = 1; i < NF; i++) if ($(i + 1) == "ns/op") print $i}' "$WORK/bench-redact.txt" | head -n 1)
    if [ -n "$ns" ]; then printf 'bench_ns_op\t%s\n' "$ns" >>"$MUT"; else printf 'bench_note\tno ns/op in the output\n' >>"$MUT"; fi
  else
    printf 'bench_note\tgo test failed (see %s)\n' "$WORK/bench-redact.txt" >>"$MUT"
  fi
else
  printf 'bench_note\tnot present (no BenchmarkRedactTypicalEvent in mutators/mutator-redact)\n' >>"$MUT"
fi

# --- scores ---
score() { # NAME COMMAND REPORT
  [ -s "$3" ] || return 0
  piibench "$2" "$CORPUS" "$3" --json "$WORK/score-$1.json" >"$WORK/score-$1.txt" 2>&1 || true
  cat "$WORK/score-$1.txt" >&2
}
score check-pii-1 score "$WORK/check-pii-1.json"
score check-pii-2 score "$WORK/check-pii-2.json"
score gitleaks score-gitleaks "$WORK/gitleaks.json"

# --- report ---
RG_LINES=$(awk -F: '{s += $NF} END {print s + 0}' "$WORK/rg.txt" 2>/dev/null || echo 0)
CORPUS_TEXT="Corpus: \`piibench gen --size-mb $SIZE_MB --seed $SEED\`: $(awk -v b="$BYTES" 'BEGIN {printf "%.1f", b / 1e6}') MB in $LINES lines (nginx access log, JSON app log, syslog), $PLANTED planted items and $DECOYS decoys (tools/piibench). Machine: $NPROC CPUs, load $LOAD at the start. The rg regex matches $RG_LINES lines: a regex alone cannot tell the planted values from the look-alikes."
piibench-report --results "$RESULTS" --bytes "$BYTES" --nproc "$NPROC" --runs "$RUNS" --corpus "$CORPUS_TEXT" \
  --score "check-pii-1=$WORK/score-check-pii-1.json" --score "check-pii-2=$WORK/score-check-pii-2.json" \
  --score "gitleaks=$WORK/score-gitleaks.json" --mutator "$MUT" | tee "$WORK/pii-results.md"
