#!/usr/bin/env bash
# The bench, as the README runs it: builds the service's binary and the bench's in one cargo
# invocation (release profile; the bench does not link the service's library, so it builds while
# the library does), then runs the bench's binary with the arguments given (`bash scripts/bench.sh
# --help` lists them). The binary is run as built: `cargo run -p whatsapp-grpc-bench` would resolve
# the dependencies' features for the bench alone and build them a second time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p whatsapp-grpc -p whatsapp-grpc-bench --bins
target=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec "$target/release/whatsapp-grpc-bench" "$@"
