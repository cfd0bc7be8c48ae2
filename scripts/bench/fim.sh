#!/usr/bin/env bash
# make bench-fim: check-file-integrity against AIDE, Tripwire and Samhain
# (Debian packages, installed here) and against the raw limit of
# `find | xargs -P$(nproc) sha256sum`, on a deterministic tree (seed 42:
# 20,000 files, about 1 GiB), warm cache. Every phase runs RUNS times (3);
# the table gives the minimum and median wall time and the peak RSS. Then
# one mutation of each kind is applied and every tool's report is scored,
# and check-file-integrity runs on a 1,000,000-entry tree of empty files.
#
# Needs root (Samhain's configuration and database paths are compiled in:
# /etc/samhain/samhainrc and /var/lib/samhain/samhain_file are replaced
# for the run and restored after it) and about 2 GiB under $VIGIL_BENCH_DIR
# (default /var/tmp/vigil-bench). Writes the table to stdout and to
# $VIGIL_BENCH_DIR/fim-results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${VIGIL_BENCH_DIR:-/var/tmp/vigil-bench}
RUNS=${RUNS:-3}
NPROC=$(nproc)
[ "$(id -u)" -eq 0 ] || { echo "bench-fim: run as root (Samhain and Tripwire need it)" >&2; exit 1; }

. scripts/lib.sh
apt_need bench-fim aide:aide tripwire:tripwire samhain:samhain /usr/bin/time:time

make --no-print-directory build >/dev/null
go build -o "$WORK/fimbench" ./tools/fimbench 2>/dev/null || { mkdir -p "$WORK"; go build -o "$WORK/fimbench" ./tools/fimbench; }
VIGIL=$ROOT/bin/check-file-integrity
TREE=$WORK/tree
mkdir -p "$WORK"/{aide,tw,vigil}
"$WORK/fimbench" gen "$TREE" >&2

# Samhain's paths are compiled in: keep the originals and put them back.
SH_RC=/etc/samhain/samhainrc SH_DB=/var/lib/samhain/samhain_file
cp -p "$SH_RC" "$WORK/samhainrc.orig" 2>/dev/null || true
[ -f "$SH_DB" ] && cp -p "$SH_DB" "$WORK/samhain_file.orig"
restore() {
  [ -f "$WORK/samhainrc.orig" ] && cp -p "$WORK/samhainrc.orig" "$SH_RC"
  if [ -f "$WORK/samhain_file.orig" ]; then cp -p "$WORK/samhain_file.orig" "$SH_DB"; else rm -f "$SH_DB"; fi
}
trap restore EXIT

# --- configurations: SHA-256 + permissions, owner, size, mtime, inode ---
cat > "$WORK/vigil/policy.yaml" <<EOF
groups:
  - name: bench
    severity: high
    watch: type+content+size+mode+uid+gid+mtime+inode+nlink+link_target
    paths: ['/**']
EOF
aide_conf() { # $1 = workers
  cat > "$WORK/aide/aide-w$1.conf" <<EOF
database_in=file:$WORK/aide/aide.db
database_out=file:$WORK/aide/aide.db.new
gzip_dbout=no
log_level=error
num_workers=$1
report_level=changed_attributes
report_url=file:$WORK/aide/report.txt
BENCH = ftype+p+u+g+s+m+i+n+l+sha256
$TREE BENCH
EOF
}
aide_conf 1
aide_conf "$NPROC"
TWP=bench-passphrase
(
  cd "$WORK/tw"
  rm -f site.key local.key
  twadmin --generate-keys --site-keyfile site.key --site-passphrase $TWP >/dev/null
  twadmin --generate-keys --local-keyfile local.key --local-passphrase $TWP >/dev/null
  cat > twcfg.txt <<EOF
ROOT                   =/usr/sbin
POLFILE                =$WORK/tw/tw.pol
DBFILE                 =$WORK/tw/tw.twd
REPORTFILE             =$WORK/tw/report.twr
SITEKEYFILE            =$WORK/tw/site.key
LOCALKEYFILE           =$WORK/tw/local.key
EDITOR                 =/bin/true
LATEPROMPTING          =false
LOOSEDIRECTORYCHECKING =false
MAILNOVIOLATIONS       =false
EMAILREPORTLEVEL       =3
REPORTLEVEL            =3
SYSLOGREPORTING        =false
MAILMETHOD             =SENDMAIL
MAILPROGRAM            =/bin/true
EOF
  echo "$TREE -> +pinugtsmS-acdlrbCMH ;" > twpol.txt
  twadmin --create-cfgfile --cfgfile tw.cfg --site-keyfile site.key --site-passphrase $TWP twcfg.txt >/dev/null
  twadmin --create-polfile --cfgfile tw.cfg --polfile tw.pol --site-keyfile site.key --site-passphrase $TWP twpol.txt >/dev/null
)
# Tripwire wants its mode first: tripwire --init $TWO.
TWO="--cfgfile $WORK/tw/tw.cfg --polfile $WORK/tw/tw.pol --site-keyfile $WORK/tw/site.key --local-keyfile $WORK/tw/local.key"
cat > "$SH_RC" <<EOF
[ReadOnly]
dir = 99$TREE
[Misc]
DigestAlgo = SHA256
RedefReadOnly = -CTM,-RDEV
[Log]
MailSeverity = none
PrintSeverity = none
SyslogSeverity = none
LogSeverity = none
[SuidCheck]
SuidCheckActive = no
[Utmp]
LoginCheckActive = no
[ProcessCheck]
ProcessCheckActive = no
[PortCheck]
PortCheckActive = no
[MountCheck]
MountCheckActive = no
[UserFiles]
UserfilesActive = no
EOF
SH="samhain --foreground -s none -m none -l none"

# --- measuring ---
RESULTS=$WORK/results.tsv
: > "$RESULTS"
# measure NAME PREP CMD: runs PREP (untimed) then CMD, RUNS times.
measure() {
  local name=$1 prep=$2 cmd=$3 t=() rss=0 i
  for ((i = 0; i < RUNS; i++)); do
    eval "$prep" >/dev/null 2>&1 || true
    /usr/bin/time -f '%e %M' -o "$WORK/time.out" bash -c "$cmd" >/dev/null 2>&1 || true
    # time(1) prefixes "Command exited with non-zero status N" when it did.
    read -r e m < <(tail -n 1 "$WORK/time.out")
    t+=("$e"); [ "$m" -gt "$rss" ] && rss=$m
  done
  IFS=$'\n' sorted=($(sort -g <<<"${t[*]}")); unset IFS
  printf '%s\t%s\t%s\t%s\n' "$name" "${sorted[0]}" "${sorted[$((RUNS / 2))]}" "$rss" >> "$RESULTS"
  printf '  %-34s min %6ss  median %6ss  peak RSS %6d KiB\n' "$name" "${sorted[0]}" "${sorted[$((RUNS / 2))]}" "$rss" >&2
}
warm() { find "$TREE" -type f -print0 | xargs -0 cat > /dev/null; }

echo "bench-fim: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), tree $(du -sh "$TREE" | cut -f1)" >&2
warm
measure "raw: find | xargs -P$NPROC sha256sum" "" "find $TREE -type f -print0 | xargs -0 -P$NPROC -n 64 sha256sum"
VB=$WORK/vigil/baseline.vfim
VOPT="--policy $WORK/vigil/policy.yaml --path $TREE --baseline $VB"
measure "vigil init" "rm -f $VB" "$VIGIL --init $VOPT"
measure "vigil check (full)" "" "$VIGIL $VOPT --mode full"
measure "vigil check (fast)" "" "$VIGIL $VOPT --mode fast"
measure "aide init" "rm -f $WORK/aide/aide.db.new" "aide --init -c $WORK/aide/aide-w1.conf"
mv "$WORK/aide/aide.db.new" "$WORK/aide/aide.db"
measure "aide check" "" "aide --check -c $WORK/aide/aide-w1.conf"
measure "aide --workers=$NPROC init" "rm -f $WORK/aide/aide.db.new" "aide --init -c $WORK/aide/aide-w$NPROC.conf"
measure "aide --workers=$NPROC check" "" "aide --check -c $WORK/aide/aide-w$NPROC.conf"
measure "tripwire init" "rm -f $WORK/tw/tw.twd" "tripwire --init $TWO --local-passphrase $TWP"
measure "tripwire check" "" "tripwire --check $TWO"
measure "samhain init" "rm -f $SH_DB" "$SH -t init"
measure "samhain check" "" "$SH -t check"

# --- mutations, scored ---
"$WORK/fimbench" mutate "$TREE" > "$WORK/expected.txt" 2> "$WORK/mutations.txt"
warm
SCORES=$WORK/scores.txt
: > "$SCORES"
for mode in full fast; do
  "$VIGIL" $VOPT --mode $mode --format json --max-findings 0 > "$WORK/vigil/report-$mode.json" || true
  echo "vigil ($mode): $("$WORK/fimbench" score "$WORK/expected.txt" "$WORK/vigil/report-$mode.json" | head -1)" >> "$SCORES"
done
measure "vigil check after mutations (full)" "" "$VIGIL $VOPT --mode full"
# Peers: a mutation counts as found when the report names its path.
found_in() { local n=0; while read -r p; do grep -qF -- "$p" "$1" && n=$((n + 1)); done < "$WORK/expected.txt"; echo "$n"; }
expected=$(wc -l < "$WORK/expected.txt")
aide --check -c "$WORK/aide/aide-w1.conf" >/dev/null 2>&1 || true
reported=$(awk '/(Added|Removed|Changed) entries:/ {s += $NF} END {print s + 0}' "$WORK/aide/report.txt")
echo "aide: detected $(found_in "$WORK/aide/report.txt")/$expected, reported $reported" >> "$SCORES"
tripwire --check $TWO > "$WORK/tw/check.txt" 2>&1 || true
if grep -q "Segmentation Fault" "$WORK/tw/check.txt"; then
  echo "tripwire: crashed on the mutated tree ($(grep -m1 'Segmentation Fault' "$WORK/tw/check.txt"))" >> "$SCORES"
else
  reported=$(awk -F: '/Total violations found/ {print $2 + 0}' "$WORK/tw/check.txt")
  echo "tripwire: detected $(found_in "$WORK/tw/check.txt")/$expected, reported $reported" >> "$SCORES"
fi
samhain --foreground -s none -m none -l none -p info -t check > "$WORK/samhain-check.txt" 2>&1 || true
reported=$(grep -c 'POLICY' "$WORK/samhain-check.txt" || true)
echo "samhain: detected $(found_in "$WORK/samhain-check.txt")/$expected, reported $reported" >> "$SCORES"

# --- a million entries ---
EMPTY=$WORK/empty
"$WORK/fimbench" empty "$EMPTY" 1000000 >&2
EB=$WORK/vigil/empty.vfim
measure "vigil init, 1M empty files" "rm -f $EB" "$VIGIL --init --policy $WORK/vigil/policy.yaml --path $EMPTY --baseline $EB"
measure "vigil check (fast), 1M empty files" "" "$VIGIL --policy $WORK/vigil/policy.yaml --path $EMPTY --baseline $EB --mode fast"
measure "vigil check (full), 1M empty files" "" "$VIGIL --policy $WORK/vigil/policy.yaml --path $EMPTY --baseline $EB --mode full"
baseline_bytes=$(stat -c %s "$VB")
entries=$(find "$TREE" | wc -l)

# --- report ---
go run ./tools/fimbench/report "$RESULTS" "$SCORES" "$baseline_bytes" "$entries" "$NPROC" | tee "$WORK/fim-results.md"
