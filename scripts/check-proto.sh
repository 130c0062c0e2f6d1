#!/usr/bin/env bash
# Guards the published `whatsapp.v1` package: `buf breaking` compares proto/ with the descriptor
# snapshot proto/whatsapp/v1.binpb under buf.yaml's FILE rules, so renaming, renumbering, removing a
# field or changing its type fails, and adding one passes.
#
#   bash scripts/check-proto.sh              # compare proto/ with the snapshot
#   bash scripts/check-proto.sh --self-test  # also show that broken copies of proto/ are refused
#   bash scripts/check-proto.sh --refresh    # after adding to the package: rewrite the snapshot
#                                            # (only once the comparison passes), then commit it
#
# buf is the one .ci/run installs (pinned, in the CI cache folder); BUF=path overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot=proto/whatsapp/v1.binpb
buf="${BUF:-${XDG_CACHE_HOME:-$HOME/.cache}/whatsapp-grpc-ci/node_modules/.bin/buf}"
[ -x "$buf" ] || { echo "buf is not at $buf: run .ci/run's protobuf lint step first, or set BUF" >&2; exit 1; }

"$buf" breaking --against "$snapshot"
echo "proto/ keeps every field of $snapshot (buf breaking, FILE rules)"

case "${1:-}" in
--refresh)
  # Without source info: the snapshot changes when the package does, not when a comment does.
  "$buf" build --exclude-source-info -o "$snapshot"
  echo "rewrote $snapshot: commit it with the proto change"
  ;;
--self-test)
  snapshot_path="$PWD/$snapshot"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Each case: a sed edit of proto/whatsapp/v1/text.proto, and whether buf breaking must refuse it.
  cases=(
    "refuse|a renamed field|s/string body = 1;/string text = 1;/"
    "refuse|a renumbered field|s/bool preview_url = 2;/bool preview_url = 3;/"
    "refuse|a removed field|/bool preview_url = 2;/d"
    "refuse|a changed type|s/bool preview_url = 2;/string preview_url = 2;/"
    "accept|an added field|s/bool preview_url = 2;/bool preview_url = 2;\n  \/\/ Added.\n  string added = 3;/"
  )
  for case in "${cases[@]}"; do
    IFS='|' read -r expect what edit <<<"$case"
    rm -rf "$work/copy" && mkdir "$work/copy"
    cp -r proto buf.yaml "$work/copy/"
    sed -i "$edit" "$work/copy/proto/whatsapp/v1/text.proto"
    if cmp -s proto/whatsapp/v1/text.proto "$work/copy/proto/whatsapp/v1/text.proto"; then
      echo "self-test: the edit for $what changed nothing: fix the self-test" >&2
      exit 1
    fi
    if (cd "$work/copy" && "$buf" breaking --against "$snapshot_path" >"$work/out" 2>&1); then
      verdict=accept
    else
      verdict=refuse
    fi
    if [ "$verdict" != "$expect" ]; then
      echo "self-test: buf breaking should $expect $what, but it did $verdict:" >&2
      cat "$work/out" >&2
      exit 1
    fi
    if [ "$verdict" = refuse ]; then
      echo "self-test: $what: refused ($(head -1 "$work/out"))"
    else
      echo "self-test: $what: accepted"
    fi
  done
  ;;
"") ;;
*)
  echo "usage: bash scripts/check-proto.sh [--self-test | --refresh]" >&2
  exit 2
  ;;
esac
