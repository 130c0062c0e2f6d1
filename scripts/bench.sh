#!/usr/bin/env bash
# The bench, as the README runs it: builds the service's binary and the bench's in one cargo
# invocation (release profile; their thin-LTO links then run side by side, where `cargo run` alone
# builds the bench first and the bench then builds the service), then runs the bench with the
# arguments given (`bash scripts/bench.sh --help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p whatsapp-grpc -p whatsapp-grpc-bench --bins
exec cargo run --release --locked --quiet -p whatsapp-grpc-bench -- "$@"
