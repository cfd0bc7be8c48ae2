# shellcheck shell=bash
# Shared by the project's scripts: source it, do not run it.

# apt_need WHO COMMAND:PACKAGE… installs, with apt as root or through
# sudo, the Debian package of every command that is not on the PATH (a
# command may be an absolute path, e.g. /usr/bin/time:time). WHO prefixes
# the one line it prints when it installs something.
apt_need() {
  local who=$1 entry sudo=""
  shift
  local missing=()
  for entry in "$@"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "$who: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
