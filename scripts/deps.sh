#!/usr/bin/env bash
# Install what the build and the tests need on a fresh machine: the Go
# modules, and gcc for the race detector. The servers the tests talk to
# are installed by scripts/services.sh (make test runs its up). Safe to
# run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_go="1.26"
have_go=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
if [ -z "$have_go" ] || [ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -n1)" != "$need_go" ]; then
  echo "deps: Go $need_go or newer is required (found: ${have_go:-none})" >&2
  exit 1
fi

# Debian packages the tests need, as "command:package".
APT_PACKAGES=(
  "gcc:gcc"
)
. scripts/lib.sh
apt_need deps "${APT_PACKAGES[@]}"

go mod download
