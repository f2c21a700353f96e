#!/usr/bin/env bash
# Builds the release binaries and runs the benchmark (see bench/README.md).
#
#   bench/run.sh            the full run (about 5 minutes once built)
#   bench/run.sh --quick    fewer runs, 2 s loads (under 2 minutes once built)
#   bench/run.sh --check    also exit 1 when a target is missed
#
# Exit status: 0 measured, 1 a target missed (with --check), 2 a broken
# measurement or a missing tool.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

case "${1:-}" in
  -h | --help)
    echo "usage: bench/run.sh [--quick] [--check]"
    exit 0
    ;;
esac

apt_updated=0
# Installs a Debian package when it is missing and this is root with apt.
apt_install() {
  local pkg="$1"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null; then
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  if ! apt-cache policy "$pkg" | grep -q 'Candidate: [0-9]'; then
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" > /dev/null
}

if ! command -v wrk > /dev/null; then
  echo "bench: installing wrk" >&2
  apt_install wrk || true
fi
if ! command -v wrk > /dev/null; then
  echo "bench: wrk is missing and could not be installed (apt-get install wrk)" >&2
  exit 2
fi
if ! command -v strip > /dev/null; then
  apt_install binutils || true
fi
if ! command -v redis-server > /dev/null; then
  echo "bench: installing redis-server (optional: the Redis figures need it)" >&2
  apt_install redis-server || echo "bench: no redis-server; the Redis figures are left out" >&2
fi

# The runner looks for the binaries under target/ of each package.
unset CARGO_TARGET_DIR
(cd "$root" && cargo build --release --locked --bin geo --bin users)
(cd "$here" && cargo build --release --locked)

exec "$here/target/release/bench" --root "$root" "$@"
