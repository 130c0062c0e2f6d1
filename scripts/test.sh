#!/usr/bin/env bash
# The tests, as the README runs them: installs redis-server if it is missing (the idempotency tests
# start their own on a loopback port; Debian, as root), then `cargo test` with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
  echo "redis-server is missing: installing it (Debian package redis-server)" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
fi
exec cargo test "$@"
