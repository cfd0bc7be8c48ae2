#!/usr/bin/env bash
# Nagios 4 for the end-to-end test (e2e/nagios): the test writes the
# configuration in a temporary directory and runs Nagios itself.
#
#   nagios.sh install   install Debian's nagios4-core if missing and print
#                       the path of the nagios4 binary
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

NAGIOS=/usr/sbin/nagios4

case ${1:-} in
  install)
    # An absolute path: /usr/sbin is not on every user's PATH.
    apt_need nagios "$NAGIOS:nagios4-core"
    [ -x "$NAGIOS" ] || { echo "nagios: $NAGIOS missing after installing nagios4-core" >&2; exit 1; }
    echo "$NAGIOS"
    ;;
  *)
    sed -n '/^#   nagios.sh/,/^$/p' "$0" | sed 's/^#//' >&2
    exit 2
    ;;
esac
