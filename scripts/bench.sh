#!/usr/bin/env bash
# The bench, as the README runs it: builds the service's binary and the bench's in one cargo
# invocation (the release profile; the bench does not link the service's library, so it builds
# while the library does), then runs the bench's binary with the arguments given (`bash
# scripts/bench.sh --help` lists them). The binary is run as built: `cargo run -p
# whatsapp-grpc-bench` would resolve the dependencies' features for the bench alone and build them a
# second time. WHATSAPP_GRPC_BENCH_PROFILE=dev builds the dev profile instead (CI's smoke run, whose
# dependencies the tests have built).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${WHATSAPP_GRPC_BENCH_PROFILE:-release}
case "$profile" in
  release) folder=release ;;
  dev) folder=debug ;;
  *)
    echo "WHATSAPP_GRPC_BENCH_PROFILE=$profile: release or dev" >&2
    exit 2
    ;;
esac
cargo build --profile "$profile" --locked -p whatsapp-grpc -p whatsapp-grpc-bench --bins
target=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec "$target/$folder/whatsapp-grpc-bench" "$@"
