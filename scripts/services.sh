#!/usr/bin/env bash
# The real servers the tests talk to, each on 127.0.0.1 with its data,
# config, log and pid file in a directory of its own: Prometheus, InfluxDB
# 1.x and VictoriaMetrics (Debian packages) and VictoriaLogs (built once,
# unmodified, from the Go module proxy and cached under
# ${XDG_CACHE_HOME:-~/.cache}/vigil/tools).
#
#   services.sh install [NAME...]      install what the servers need (default: all)
#   services.sh start NAME DIR [PORT]  start one server in DIR (its data is kept
#                                      across restarts) on PORT, the port DIR last
#                                      used, or a free port; wait until it is ready
#                                      (30 s at most) and print url=http://127.0.0.1:PORT
#                                      (victoria-metrics also graphite=127.0.0.1:PORT2)
#   services.sh stop DIR               stop it (TERM, KILL after 10 s); idempotent
#   services.sh up [NAME...]           install and start them (default: all) under
#                                      $VIGIL_SERVICES_DIR (/tmp/vigil-services-UID),
#                                      keep those already running, write the env file
#                                      there and print its path
#   services.sh down                   stop what up started and remove the directory
#
# NAME: prometheus, influxdb, victoria-metrics, victoria-logs. With
# VIGIL_SERVICES_OWNER=PID a started server also stops within a second
# of that process's exit: tests set it so that no server outlives them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

NAMES=(prometheus influxdb victoria-metrics victoria-logs)
VL_VERSION=v1.102.1
VL_MODULE=github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs
VL_BIN=${XDG_CACHE_HOME:-$HOME/.cache}/vigil/tools/victoria-logs-$VL_VERSION
SERVICES_DIR=${VIGIL_SERVICES_DIR:-/tmp/vigil-services-$(id -u)}
READY_SECONDS=30
STOP_SECONDS=10

log() { echo "services: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '/^#   services.sh/,/^#$/p' "$0" | sed 's/^#//' >&2
  exit 2
}

check_name() {
  case $1 in
    prometheus | influxdb | victoria-metrics | victoria-logs) ;;
    *) die "unknown service '$1' (one of: ${NAMES[*]})" ;;
  esac
}

# server_binary NAME prints the server's executable, or fails.
server_binary() {
  local bin
  case $1 in
    prometheus) bin=$(command -v prometheus) ;;
    influxdb) bin=$(command -v influxd) ;;
    victoria-metrics) bin=$(command -v victoria-metrics) ;;
    victoria-logs) [ -x "$VL_BIN" ] && bin=$VL_BIN ;;
  esac || true
  [ -n "${bin:-}" ] || die "$1 is not installed: run scripts/services.sh install $1"
  echo "$bin"
}

# --- install ---

install() {
  local name apt=() vl=""
  for name in "$@"; do
    check_name "$name"
    case $name in
      prometheus) apt+=(prometheus:prometheus) ;;
      influxdb) apt+=(influxd:influxdb) ;;
      victoria-metrics) apt+=(victoria-metrics:victoria-metrics) ;;
      victoria-logs) vl=1 ;;
    esac
  done
  [ ${#apt[@]} -eq 0 ] || apt_need services "${apt[@]}"
  [ -z "$vl" ] || build_victoria_logs
}

# build_victoria_logs builds VictoriaLogs, unmodified, in a throwaway
# module, once per machine (about 15 s with a warm Go cache).
build_victoria_logs() {
  [ -x "$VL_BIN" ] && return 0
  command -v go >/dev/null || die "building VictoriaLogs needs Go"
  log "building VictoriaLogs $VL_VERSION into $VL_BIN (once per machine)"
  local tmp
  tmp=$(mktemp -d)
  if ! (
    cd "$tmp"
    export GOWORK=off GOFLAGS="" CGO_ENABLED=0
    go mod init x && go get "$VL_MODULE@$VL_VERSION" && go build -o victoria-logs "$VL_MODULE"
  ) >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    rm -rf "$tmp"
    die "building VictoriaLogs failed"
  fi
  mkdir -p "$(dirname "$VL_BIN")"
  mv "$tmp/victoria-logs" "$VL_BIN.$$"
  mv -f "$VL_BIN.$$" "$VL_BIN"
  rm -rf "$tmp"
}

# --- ports and processes (from /proc: ss and curl may be missing) ---

tcp_tables() {
  local f
  for f in /proc/net/tcp /proc/net/tcp6; do [ ! -r "$f" ] || echo "$f"; done
}

# port_used PORT: some TCP socket, listening or not, has that local port.
port_used() {
  local tables
  mapfile -t tables < <(tcp_tables)
  awk -v p="$(printf ':%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' "${tables[@]}"
}

# free_port [TAKEN...] prints a port of 20000-31999 (below Linux's
# ephemeral range) that no socket uses and that is not among TAKEN. The
# server may still lose the race for it: start then retries.
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12000))
    case " $* " in *" $port "*) continue ;; esac
    port_used "$port" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

# listens PID PORT: the process listens on that TCP port.
listens() {
  local pid=$1 tables inode fd
  mapfile -t tables < <(tcp_tables)
  while read -r inode; do
    for fd in /proc/"$pid"/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" != "socket:[$inode]" ] || return 0
    done
  done < <(awk -v p="$(printf ':%04X' "$2")" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' "${tables[@]}")
  return 1
}

# running DIR [PID]: the server recorded in DIR runs. Its working
# directory is DIR, so a reused pid or a zombie does not count (its
# command line would not do: /proc/PID/cmdline reads empty at times
# while a busy process starts).
running() {
  local dir pid=${2:-}
  dir=$(cd "$1" 2>/dev/null && pwd -P) || return 1
  [ -n "$pid" ] || pid=$(cat "$dir/pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$dir" ]
}

# http_status METHOD PORT PATH prints the status code of one request.
http_status() (
  exec 3<>"/dev/tcp/127.0.0.1/$2" || exit 1
  printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nContent-Length: 0\r\n\r\n' "$1" "$3" "$2" >&3
  read -r -t 5 _ status _ <&3 || exit 1
  echo "$status"
) 2>/dev/null

# --- one server ---

# configure NAME DIR PORT PORT2 writes the config and prints the command.
configure() {
  local name=$1 dir=$2 port=$3 port2=$4 bin
  bin=$(server_binary "$name")
  mkdir -p "$dir/data"
  case $name in
    prometheus)
      # No scrape targets: tests push with remote write. The out-of-order
      # window (Prometheus 2.39+) accepts samples up to 2 h older than the
      # newest one, as tests and benchmarks write slightly older samples.
      cat >"$dir/prometheus.yml" <<'EOF'
global:
  scrape_interval: 15s
storage:
  tsdb:
    out_of_order_time_window: 2h
EOF
      printf '%s\n' "$bin" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver
      ;;
    influxdb)
      # Debian's 1.6 calls the reporting switch reporting-enabled (off).
      cat >"$dir/influxdb.conf" <<EOF
reporting-enabled = false
bind-address = "127.0.0.1:$port2"

[meta]
  dir = "$dir/data/meta"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "$dir/data/data"
  wal-dir = "$dir/data/wal"
  index-version = "inmem"
  wal-fsync-delay = "0s"
  query-log-enabled = false

[coordinator]
  write-timeout = "10s"

[retention]
  enabled = true

[shard-precreation]
  enabled = true

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  https-enabled = false
  unix-socket-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[ifql]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = true
  log-enabled = false
EOF
      printf '%s\n' "$bin" -config "$dir/influxdb.conf"
      ;;
    victoria-metrics)
      printf '%s\n' "$bin" -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" \
        -graphiteListenAddr="127.0.0.1:$port2"
      ;;
    victoria-logs)
      printf '%s\n' "$bin" -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port"
      ;;
  esac
}

ready_path() {
  case $1 in
    prometheus) echo /-/ready ;;
    influxdb) echo /ping ;;
    *) echo /health ;;
  esac
}

# launch DIR CMD... starts CMD in a session of its own (so stop can kill
# its process group), in DIR, logging to DIR/log; the pid goes to DIR/pid.
launch() {
  local dir=$1
  shift
  rm -f "$dir/pid"
  [ ! -f "$dir/log" ] || mv -f "$dir/log" "$dir/log.prev"
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c '
    cd "$1"
    echo $$ >pid
    owner=$2
    shift 2
    if [ -n "$owner" ]; then
      # In this subshell $$ is still the server: stop its group once the
      # owner is gone, or just end once the server is.
      ( while kill -0 "$owner" 2>/dev/null && read -r _ _ state _ </proc/$$/stat && [ "$state" != Z ]; do sleep 1; done
        kill -TERM -- -$$ 2>/dev/null ) &
    fi
    exec "$@"' vigil-service "$dir" "${VIGIL_SERVICES_OWNER:-}" "$@" </dev/null >"$dir/log" 2>&1 &
}

# wait_ready NAME DIR PORT PORT2: 0 ready, 1 the server exited, 2 timeout.
wait_ready() {
  local name=$1 dir=$2 port=$3 port2=$4 pid="" path deadline=$((SECONDS + READY_SECONDS)) want=200
  path=$(ready_path "$name")
  [ "$name" != influxdb ] || want=204
  while :; do
    [ -n "$pid" ] || pid=$(cat "$dir/pid" 2>/dev/null) || true
    if [ -n "$pid" ]; then
      running "$dir" "$pid" || return 1
      if listens "$pid" "$port" && { [ -z "$port2" ] || listens "$pid" "$port2"; } &&
        [ "$(http_status GET "$port" "$path")" = "$want" ]; then
        return 0
      fi
    fi
    [ "$SECONDS" -lt "$deadline" ] || return 2
    sleep 0.1
  done
}

start() {
  if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
  local name=$1 dir=$2 port=${3:-} port2="" tries=1 try cmd rc
  check_name "$name"
  server_binary "$name" >/dev/null
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  ! running "$dir" || die "$name already runs in $dir (pid $(cat "$dir/pid")): stop it first"
  # A restart keeps the addresses DIR used; fresh ports may be lost to a
  # race, so those get a few tries.
  [ -n "$port" ] || port=$(cat "$dir/port" 2>/dev/null) || true
  port2=$(cat "$dir/port2" 2>/dev/null) || true
  [ -n "$port" ] || tries=5
  case $name in influxdb | victoria-metrics) [ -n "$port2" ] || tries=5 ;; esac
  local fixed=$port fixed2=$port2
  for ((try = 1; try <= tries; try++)); do
    port=${fixed:-$(free_port)}
    case $name in
      influxdb | victoria-metrics) port2=${fixed2:-$(free_port "$port")} ;;
      *) port2="" ;;
    esac
    mapfile -t cmd < <(configure "$name" "$dir" "$port" "$port2")
    launch "$dir" "${cmd[@]}"
    rc=0
    wait_ready "$name" "$dir" "$port" "$port2" || rc=$?
    if [ "$rc" -eq 0 ] && [ "$name" = influxdb ] &&
      [ "$(http_status POST "$port" '/query?q=CREATE%20DATABASE%20vigil')" != 200 ]; then
      echo "services: CREATE DATABASE vigil failed" >>"$dir/log"
      rc=1
    fi
    [ "$rc" -ne 0 ] || break
    stop "$dir"
    if [ "$try" -lt "$tries" ] && grep -qi 'address already in use' "$dir/log"; then
      continue
    fi
    [ "$rc" -ne 2 ] || log "$name was not ready within ${READY_SECONDS} s"
    log "$name failed to start in $dir; the end of $dir/log:"
    tail -n 20 "$dir/log" >&2
    exit 1
  done
  echo "$name" >"$dir/name"
  echo "$port" >"$dir/port"
  if [ -n "$port2" ]; then echo "$port2" >"$dir/port2"; fi
  echo "url=http://127.0.0.1:$port" | tee "$dir/url"
  if [ "$name" = victoria-metrics ]; then
    echo "127.0.0.1:$port2" >"$dir/graphite_addr"
    echo "graphite=127.0.0.1:$port2"
  fi
}

stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid i
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  pid=$(cat "$dir/pid" 2>/dev/null) || return 0
  if running "$dir" "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_SECONDS * 10; i++)); do
      running "$dir" "$pid" || break
      sleep 0.1
    done
    if running "$dir" "$pid"; then
      log "$(cat "$dir/name" 2>/dev/null || echo server) in $dir did not stop within ${STOP_SECONDS} s: killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        running "$dir" "$pid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$dir/pid"
}

# --- all of them ---

env_name() {
  case $1 in
    prometheus) echo VIGIL_PROMETHEUS ;;
    influxdb) echo VIGIL_INFLUXDB ;;
    victoria-metrics) echo VIGIL_VICTORIAMETRICS ;;
    victoria-logs) echo VIGIL_VICTORIALOGS ;;
  esac
}

up() {
  local names=("$@") name dir env started=() kept=()
  [ ${#names[@]} -gt 0 ] || names=("${NAMES[@]}")
  for name in "${names[@]}"; do check_name "$name"; done
  install "${names[@]}"
  mkdir -p "$SERVICES_DIR"
  for name in "${names[@]}"; do
    dir=$SERVICES_DIR/$name
    if running "$dir"; then
      kept+=("$name")
    else
      start "$name" "$dir" >/dev/null
      started+=("$name")
    fi
  done
  # The env file lists every server running there, not only NAME...
  env=$SERVICES_DIR/env
  : >"$env.tmp"
  for name in "${NAMES[@]}"; do
    dir=$SERVICES_DIR/$name
    running "$dir" || continue
    echo "export $(env_name "$name")_URL=$(sed 's/^url=//' "$dir/url")" >>"$env.tmp"
    if [ "$name" = victoria-metrics ]; then
      echo "export VIGIL_VICTORIAMETRICS_GRAPHITE=$(cat "$dir/graphite_addr")" >>"$env.tmp"
    fi
  done
  mv -f "$env.tmp" "$env"
  log "in $SERVICES_DIR, started: ${started[*]:-none}; already running: ${kept[*]:-none}"
  sed 's/^export /  /' "$env" >&2
  log "for go test in a shell: . $env"
  echo "$env"
}

down() {
  [ $# -eq 0 ] || usage
  local name
  [ -d "$SERVICES_DIR" ] || return 0
  for name in "${NAMES[@]}"; do stop "$SERVICES_DIR/$name"; done
  rm -rf "$SERVICES_DIR"
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
  install) if [ $# -eq 0 ]; then install "${NAMES[@]}"; else install "$@"; fi ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  up) up "$@" ;;
  down) down "$@" ;;
  *) usage ;;
esac
