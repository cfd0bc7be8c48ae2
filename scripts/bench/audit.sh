#!/usr/bin/env bash
# make bench-audit: check-audit-log against the raw limit of `cat` and
# against Debian's jq filtering the same rules, on a deterministic corpus
# (tools/auditbench, seed 42, warm cache): a Kubernetes audit log of
# 200 MB (audit.k8s.io/v1 events of a 12-node cluster's control plane,
# controllers, health probes and readers, with 20 planted incidents) and
# an auth log of 100 MB (cron, systemd, kernel, postfix, sshd and sudo of
# three hosts, RFC 3339 and traditional timestamps, with 6 planted
# incidents), and a ground truth of what must be found. Every tool runs
# RUNS times (3); the report gives MB/s (and events/s for the Kubernetes
# log) from the minimum and median wall time and the peak RSS, scores
# check-audit-log's reports against the ground truth (every planted
# incident found with the right rule id and actor or source, no finding
# on the benign traffic, the events metric right for every rule), and
# marks the targets: ≥ 100 MB/s of Kubernetes audit JSON on one core
# (about 200,000 events/s), ≥ 300 MB/s of auth log, peak RSS ≤ 64 MB.
#
# check-audit-log runs pinned to one core (taskset -c 0; Go sizes
# GOMAXPROCS from the affinity) as `--source k8s|auth --path FILE --format
# json --max-findings 0`; exit 0-2 is a result (OK, WARNING, CRITICAL),
# 3 (UNKNOWN) or anything else fails its row and, once the report is
# written, the benchmark (exit 1). jq gets the per-event rules
# as one select: `jq -c` over the Kubernetes log, `jq -R` with one regex
# over the auth log; the windows (denied bursts, brute-force thresholds)
# and the de-duplication of an exec's two stages are out of its reach,
# so its row says how many lines it selects and how many the per-line
# rules should.
#
# Installs what is missing: Debian jq and time (apt, as root or with
# sudo). bin/check-audit-log comes from `make build` (or is built alone
# when another binary breaks the build); when it is not built its rows say
# so and the rest still runs. Needs about 350 MB under $VIGIL_BENCH_DIR
# (default /var/tmp/vigil-bench-audit); the corpus is generated once and
# reused while the sizes, the seed and the generator stay the same. Writes
# the report to stdout and to $VIGIL_BENCH_DIR/audit-results.md, the raw
# timings, the check's reports and their scores next to it.
#
# Environment: RUNS (3), K8S_MB (200), AUTH_MB (100), SEED (42),
# CHECK_AUDIT_ARGS (extra arguments for check-audit-log), CHECK_AUDIT_BIN
# (another binary to measure instead of bin/check-audit-log).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench-audit}
RUNS=${RUNS:-3}
K8S_MB=${K8S_MB:-200}
AUTH_MB=${AUTH_MB:-100}
SEED=${SEED:-42}
NPROC=$(nproc)
mkdir -p "$WORK/bin"
export PATH="$WORK/bin:$PATH"
log() { echo "bench-audit: $*" >&2; }

# --- tools ---
. scripts/lib.sh
apt_need bench-audit jq:jq /usr/bin/time:time
JQ_VERSION=$(jq --version)

go build -o "$WORK/bin/auditbench" ./tools/auditbench
# check-audit-log: from make build, or built alone when another binary
# breaks the build; never a stale binary.
CHECK=""
if make --no-print-directory build >"$WORK/build.log" 2>&1; then
  [ -x bin/check-audit-log ] && CHECK=$ROOT/bin/check-audit-log
else
  log "make build failed (see $WORK/build.log); building check-audit-log alone"
  rm -f "$WORK/bin/check-audit-log"
  [ -f checks/check-audit-log/main.go ] && go build -trimpath -o "$WORK/bin/" ./checks/check-audit-log >>"$WORK/build.log" 2>&1 && CHECK=$WORK/bin/check-audit-log
fi
CHECK=${CHECK_AUDIT_BIN:-$CHECK}
[ -n "$CHECK" ] || log "check-audit-log is not built: its rows say so"

# --- corpus (regenerated when the sizes, the seed or the generator change) ---
CORPUS=$WORK/corpus
K8S=$CORPUS/k8s-audit.log
AUTH=$CORPUS/auth.log
TRUTH=$CORPUS/ground_truth.json
gen_src=()
for f in tools/auditbench/*.go; do [[ $f == *_test.go ]] || gen_src+=("$f"); done
stamp="$K8S_MB $AUTH_MB $SEED $(cat "${gen_src[@]}" | sha256sum | cut -c1-16)"
if [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$CORPUS"
  auditbench gen --out "$CORPUS" --seed "$SEED" --k8s-mb "$K8S_MB" --auth-mb "$AUTH_MB" >&2
  echo "$stamp" >"$CORPUS/.stamp"
fi
rm -f "$WORK"/check-*.json "$WORK"/check-*.json.failed "$WORK"/score-*.json "$WORK"/score-*.txt

# The per-event Kubernetes rules of check-audit-log as one jq select, as
# a jq user would write them: secrets read by an identity it does not
# trust (2xx and 401/403 alike), exec-like subresources, RBAC writes (the
# wildcard roles and cluster-admin bindings are among them), anonymous
# requests off the health paths, pods and pod templates that are
# privileged, mount a sensitive host path or share a host namespace,
# token requests, creations in kube-system and kube-public, impersonation,
# and writes logged at level Metadata.
cat >"$WORK/k8s-rules.jq" <<'EOF'
def trusted:
  .user.username as $u
  | $u == "system:kube-controller-manager" or $u == "system:kube-scheduler" or $u == "system:apiserver"
    or ($u | startswith("system:node:")) or ($u | startswith("system:serviceaccount:kube-system:"));
def sensitive:
  . == "/" or test("^/(etc|proc|root|var/lib/kubelet)(/|$)") or . == "/var/run/docker.sock" or . == "/run/containerd/containerd.sock";
def podspecs:
  .requestObject.spec // empty | ., (.template.spec // empty), (.jobTemplate.spec.template.spec // empty);
def risky_pod:
  any(podspecs;
    .hostNetwork == true or .hostPID == true or .hostIPC == true
    or any((.containers // [])[], (.initContainers // [])[]; .securityContext.privileged == true)
    or any((.volumes // [])[] | .hostPath.path // empty; sensitive));
select(.stage != "RequestReceived")
| (.objectRef // {}) as $o
| select(
    ($o.resource == "pods" and ($o.subresource | IN("exec", "attach", "portforward", "proxy")))
    or ((.user.username == "system:anonymous" or any(.user.groups[]?; . == "system:unauthenticated"))
        and .annotations["authorization.k8s.io/decision"] == "allow"
        and (.requestURI | split("?")[0] | IN("/healthz", "/livez", "/readyz", "/version") | not))
    or ((trusted | not) and (
      .impersonatedUser != null
      or ($o.resource == "secrets" and $o.subresource == null and (.verb | IN("get", "list", "watch")))
      or ($o.apiGroup == "rbac.authorization.k8s.io" and (.verb | IN("create", "update", "patch", "delete")))
      or (.verb == "create" and $o.resource == "serviceaccounts" and $o.subresource == "token")
      or (.verb == "create" and $o.subresource == null
          and ((($o.resource | IN("pods", "serviceaccounts")) and ($o.namespace | IN("kube-system", "kube-public"))) or risky_pod))
      or (.level == "Metadata" and (.verb | IN("create", "update", "patch")) and $o.subresource == null
          and ($o.resource | IN("pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs",
                                "roles", "clusterroles", "rolebindings", "clusterrolebindings")))
    ))
  )
EOF
# The auth rules as one regex over the raw lines: failed and accepted ssh
# logins, invalid users, MaxAuthTries exceeded, and sudo's command,
# failure and not-in-sudoers lines.
cat >"$WORK/auth-rules.jq" <<'EOF'
select(test(" (sshd|sshd-session)\\[[0-9]+\\]: (Failed (password|publickey|keyboard-interactive/pam) for |Invalid user |error: maximum authentication attempts exceeded for |Accepted (password|publickey|keyboard-interactive/pam) for )| sudo: +[^ ]+ : ([0-9]+ incorrect password attempts ; |user NOT in sudoers ; )?TTY="))
EOF

# --- measuring ---
RESULTS=$WORK/results.tsv
: >"$RESULTS"
FAILED=""
# measure NAME FILE N OK_EXIT_CODES OUT CMD: runs CMD N times under
# time(1) for the peak RSS (the maximum resident set size of time -v),
# its stdout into OUT, timed with the shell's microsecond clock (time's
# %e has 10 ms steps, a tenth of cat's time). A run that exits with
# another code makes the row "failed (exit N)". The row ends with the
# lines of OUT when OUT is a file.
measure() {
  local name=$1 file=$2 n=$3 ok=$4 out=$5 cmd=$6 t=() rss=0 i s e m x sorted lines=""
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
      # A failed run's output is kept for reading, not scored.
      [ "$out" = /dev/null ] || mv "$out" "$out.failed"
      FAILED+=" $name"
      printf '%s\t%s\t\t\t\t0\tfailed (exit %s)\t\n' "$name" "$file" "$x" >>"$RESULTS"
      return
    fi
    t+=("$e")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  [ -f "$out" ] && lines=$(wc -l <"$out")
  mapfile -t sorted < <(printf '%s\n' "${t[@]}" | sort -g)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t\t%s\n' "$name" "$file" "${sorted[0]}" "${sorted[$((n / 2))]}" "$rss" "$n" "$lines" >>"$RESULTS"
  log "$(printf '%-46s min %8ss  median %8ss  peak RSS %7d KiB' "$name" "${sorted[0]}" "${sorted[$((n / 2))]}" "$rss")"
}
missing() { printf '%s\t%s\t\t\t\t0\t%s\t\n' "$1" "$2" "$3" >>"$RESULTS"; }
warm() { cat "$K8S" "$AUTH" >/dev/null; cat "$K8S" "$AUTH" >/dev/null; }

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "$NPROC CPUs, load $LOAD, corpus in $CORPUS"
warm
CA="--format json --max-findings 0 ${CHECK_AUDIT_ARGS:-}"
for src in k8s auth; do
  if [ $src = k8s ]; then file=$K8S; else file=$AUTH; fi
  base=$(basename "$file")
  measure "cat" "$base" "$RUNS" "0" /dev/null "cat $file"
  if [ $src = k8s ]; then
    measure "jq -c, the Kubernetes rules as one select" "$base" "$RUNS" "0" "$WORK/jq-k8s.out" "jq -c -f $WORK/k8s-rules.jq $file"
  else
    measure "jq -R, the sshd and sudo rules as one regex" "$base" "$RUNS" "0" "$WORK/jq-auth.out" "jq -R -f $WORK/auth-rules.jq $file"
  fi
  if [ -n "$CHECK" ]; then
    measure "check-audit-log --source $src (taskset -c 0)" "$base" "$RUNS" "0 1 2" "$WORK/check-$src.json" \
      "taskset -c 0 $CHECK --source $src --path $file $CA"
  else
    missing "check-audit-log --source $src (taskset -c 0)" "$base" "not built"
  fi
done

# --- scores ---
for src in k8s auth; do
  if [ $src = k8s ]; then base=k8s-audit.log; else base=auth.log; fi
  [ -s "$WORK/check-$src.json" ] || continue
  auditbench score --truth "$TRUTH" --file "$base" "$WORK/check-$src.json" --json "$WORK/score-$src.json" >"$WORK/score-$src.txt" 2>&1 || true
  cat "$WORK/score-$src.txt" >&2
done

# --- report ---
auditbench report --truth "$TRUTH" --results "$RESULTS" --nproc "$NPROC" --runs "$RUNS" --load "$LOAD" --jq "$JQ_VERSION" \
  --score "k8s-audit.log=$WORK/score-k8s.json" --score "auth.log=$WORK/score-auth.json" | tee "$WORK/audit-results.md"
if [ -n "$FAILED" ]; then
  log "failed:$FAILED (see $WORK/cmd.err and the *.failed outputs)"
  exit 1
fi
