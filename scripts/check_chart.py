"""Checks the Helm chart helm/whatsapp-grpc as Kubernetes would get it (called by check-chart.sh).

Renders the chart with `helm template` (default values, ci/all-on-values.yaml, one sender by
flags, TLS with the kubelet's TLS gRPC probe), validates every object against the Kubernetes schemas in strict mode,
offline (kubernetes-validate; the oldest and newest versions it knows that the chart supports),
and asserts what the schemas cannot see: probes on grpc.health.v1 service "" (this process, never
the shared upstream name), the restricted security context, the senders file mounted and passed to
--senders, each credential the senders file names wired from a Secret into the environment, the
TLS and API-key files mounted from Secrets, ports named grpc/metrics/webhooks with appProtocol
(--webhook-listen on the webhooks port, with the secrets its senders' flavors need from a Secret), the
termination grace above the pre-stop delay plus the shutdown grace, checksum annotations that
change with the config. The ServiceMonitor (a CRD kubernetes-validate has no schema for) is
checked field by field here.

Usage: python3 check_chart.py HELM CHART_DIR [HELM_TEMPLATE_ARGS...]
(the extra arguments, e.g. `-f bad-values.yaml`, apply to every render: check-chart.sh's self-test).
Exits non-zero, naming each failed check, when anything is wrong.
"""

import base64
import posixpath
import subprocess
import sys
import tomllib

import yaml
from kubernetes_validate import utils as kubernetes_validate

# Native gRPC probes are GA from 1.27 (the chart's kubeVersion); 1.37 is the newest schema known.
KUBERNETES_VERSIONS = ["1.27.0", "1.37.0"]
UPSTREAM_HEALTH_NAME = "whatsapp.v1.MessagingService"
SERVICE_MONITOR_FIELDS = {
    "endpoints", "jobLabel", "namespaceSelector", "selector", "podTargetLabels", "targetLabels",
    "sampleLimit", "attachMetadata",
}
ENDPOINT_FIELDS = {
    "port", "path", "scheme", "interval", "scrapeTimeout", "relabelings", "metricRelabelings",
    "honorLabels", "tlsConfig",
}

failures = []
passed = 0


def check(condition, what):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(what)
    return condition


class Render:
    def __init__(self, name, helm, chart, args, versions, tls=None):
        self.name = name
        self.versions = versions
        # None: plaintext gRPC port; "health": TLS, probes on the plaintext --health-listen port;
        # "TLS": TLS and the kubelet's TLS probe; "tcp": TLS, tcpSocket probes.
        self.tls = tls
        rendered = subprocess.run(
            [helm, "template", "whatsapp", chart, "--namespace", "messaging", *args],
            capture_output=True, text=True,
        )
        check(rendered.returncode == 0, f"{name}: helm template renders: {rendered.stderr.strip()}")
        self.objects = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
        self.values_args = args

    def all(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind, name=None):
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        if len(found) != 1:
            raise AssertionError(f"{self.name}: {len(found)} {kind} objects named {name}, not 1")
        return found[0]


def flags(container):
    """The container's `--flag=value` arguments as a dict (a bare `--flag` maps to True)."""
    args = container.get("args", [])
    check(args[:1] == ["serve"], "the container runs `serve`")
    out = {}
    for arg in args[1:]:
        name, _, value = arg.partition("=")
        out[name] = value if "=" in arg else True
    return out


def seconds(duration):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in ("ms", "s", "m", "h", "d"):
        if duration.endswith(unit) and duration[: -len(unit)].isdigit():
            return int(duration[: -len(unit)]) * units[unit]
    raise AssertionError(f"not a duration: {duration!r}")


def mounted_file(render, pod, container, path):
    """The volume and key a file path of the container comes from, or (None, None)."""
    directory, file = posixpath.split(path)
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == directory]
    if not check(len(mounts) == 1, f"{render.name}: {directory} is mounted (for {path})"):
        return None, None
    check(mounts[0].get("readOnly") is True, f"{render.name}: {directory} is mounted read-only")
    check("subPath" not in mounts[0], f"{render.name}: {directory} has no subPath (updates reach the pod)")
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[0]["name"])
    return volume, file


def secret_data(render, name):
    secrets = [s for s in render.all("Secret") if s["metadata"]["name"] == name]
    if not secrets:
        return None
    return {k: base64.b64decode(v).decode() for k, v in secrets[0].get("data", {}).items()}


def validate_schemas(render):
    for obj in render.objects:
        if obj["kind"] == "ServiceMonitor":
            continue
        for version in render.versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
                check(True, "")
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                check(False, f"{render.name}: {obj['kind']} {path}: {e.message} (Kubernetes {version}, strict)")
            except kubernetes_validate.SchemaNotFoundError as e:
                check(False, f"{render.name}: {e.message}")


def check_probes(render, container, tls):
    for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = container.get(probe_name)
        if not check(probe is not None, f"{render.name}: {probe_name} is set"):
            continue
        grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        if tls == "tcp":
            check(probe.get("tcpSocket") == {"port": "grpc"},
                  f"{render.name}: with TLS and grpcProbeMode tcp, {probe_name} is tcpSocket on grpc")
            continue
        grpc = probe.get("grpc", {})
        if tls == "health":
            health_port = next((p["containerPort"] for p in container["ports"] if p["name"] == "health"), None)
            check(health_port is not None, f"{render.name}: with TLS the container has a port named health")
            check(f"--health-listen=0.0.0.0:{health_port}" in container["args"],
                  f"{render.name}: --health-listen serves health in plaintext on the health port")
            check(grpc.get("port") == health_port and grpc.get("mode") is None,
                  f"{render.name}: {probe_name} is a plaintext gRPC probe on the health port (the kubelet's probe has no client certificate)")
        else:
            check(grpc.get("port") == grpc_port, f"{render.name}: {probe_name} is a gRPC probe on the grpc port")
            check(grpc.get("mode") == ("TLS" if tls else None), f"{render.name}: {probe_name} speaks TLS exactly when the port does")
        check(grpc.get("service") == "", f"{render.name}: {probe_name} asks service \"\" (this process), not {grpc.get('service')!r}")
        check(UPSTREAM_HEALTH_NAME not in str(probe), f"{render.name}: {probe_name} does not use the shared upstream health name")


def check_security(render, pod, container, service_account):
    pod_ctx, ctx = pod.get("securityContext", {}), container.get("securityContext", {})
    check(pod_ctx.get("runAsNonRoot") is True, f"{render.name}: pod runAsNonRoot")
    check(pod_ctx.get("seccompProfile") == {"type": "RuntimeDefault"}, f"{render.name}: pod seccomp RuntimeDefault")
    check(ctx.get("runAsNonRoot") is True, f"{render.name}: container runAsNonRoot")
    check(ctx.get("readOnlyRootFilesystem") is True, f"{render.name}: readOnlyRootFilesystem")
    check(ctx.get("allowPrivilegeEscalation") is False, f"{render.name}: allowPrivilegeEscalation false")
    check(ctx.get("capabilities", {}).get("drop") == ["ALL"] and not ctx.get("capabilities", {}).get("add"),
          f"{render.name}: capabilities drop ALL, add none")
    check(ctx.get("seccompProfile") == {"type": "RuntimeDefault"}, f"{render.name}: container seccomp RuntimeDefault")
    check(pod.get("automountServiceAccountToken") is False, f"{render.name}: pod mounts no service account token")
    check(service_account.get("automountServiceAccountToken") is False, f"{render.name}: ServiceAccount automount off")
    check(pod.get("serviceAccountName") == service_account["metadata"]["name"], f"{render.name}: pod uses the chart's ServiceAccount")


def check_ports(render, container, service, args):
    ports = {p["name"]: p for p in container["ports"]}
    check(args.get("--listen") == f"0.0.0.0:{ports['grpc']['containerPort']}", f"{render.name}: --listen matches the grpc port")
    by_name = {p["name"]: p for p in service["spec"]["ports"]}
    grpc = by_name.get("grpc", {})
    check(grpc.get("appProtocol") == "grpc" and grpc.get("targetPort") == "grpc",
          f"{render.name}: Service port grpc has appProtocol grpc and targets the grpc port")
    metrics = by_name.get("metrics", {})
    check(metrics.get("targetPort") == "metrics" and metrics.get("appProtocol") == "http",
          f"{render.name}: Service port metrics targets the metrics port, appProtocol http")
    check("metrics" in ports and args.get("--metrics-listen") == f"0.0.0.0:{ports['metrics']['containerPort']}",
          f"{render.name}: --metrics-listen matches the metrics port")
    # Webhooks: the flag, the container port and the Service port come together, or not at all.
    webhooks = "--webhook-listen" in args
    check(webhooks == ("webhooks" in ports) == ("webhooks" in by_name),
          f"{render.name}: --webhook-listen, the webhooks container port and Service port come together")
    if webhooks and "webhooks" in ports:
        check(args["--webhook-listen"] == f"0.0.0.0:{ports['webhooks']['containerPort']}",
              f"{render.name}: --webhook-listen matches the webhooks port")
        service_port = by_name.get("webhooks", {})
        check(service_port.get("targetPort") == "webhooks" and service_port.get("appProtocol") == "http",
              f"{render.name}: Service port webhooks targets the webhooks port, appProtocol http")


def check_shutdown(render, pod, args):
    drain = seconds(args.get("--pre-stop-delay", "0s")) + seconds(args.get("--shutdown-grace", "20s"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(seconds(args.get("--pre-stop-delay", "0s")) > 0, f"{render.name}: a pre-stop delay is set")
    check(grace > drain, f"{render.name}: terminationGracePeriodSeconds {grace} > pre-stop delay + shutdown grace {drain}")


def check_senders_and_secrets(render, pod, container, args):
    env_secrets = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
    env_from = {}
    for secret in env_secrets:
        env_from.update(secret_data(render, secret) or {})
    env = {e["name"]: e for e in container.get("env", [])}
    if "--senders" in args:
        volume, file = mounted_file(render, pod, container, args["--senders"])
        if volume is not None:
            config_map = render.one("ConfigMap", volume.get("configMap", {}).get("name"))
            check(file in config_map["data"], f"{render.name}: the senders ConfigMap has {file}")
            senders = tomllib.loads(config_map["data"][file])
            check(len(senders.get("sender", [])) > 0, f"{render.name}: the senders file lists senders")
            for sender in senders.get("sender", []):
                check(not ({"token", "password"} & sender.keys()), f"{render.name}: sender {sender.get('name')} has no secret in clear")
                for key in ("token_env", "password_env"):
                    if key in sender:
                        check(sender[key] in env_from,
                              f"{render.name}: {key} {sender[key]} of sender {sender.get('name')} comes from a Secret by envFrom")
            for key, value in senders.get("defaults", {}).items():
                check(not isinstance(value, float), f"{render.name}: [defaults] {key} is not a float")
            for sender in senders.get("sender", []):
                check(not any(isinstance(v, float) for v in sender.values()), f"{render.name}: sender keys are not floats")
    if "--webhook-listen" in args:
        # The receiver's secrets, by the senders' flavors, from a Secret by envFrom (never a flag).
        flavors = {args.get("--flavor", "cloud")}
        if "--senders" in args:
            volume, file = mounted_file(render, pod, container, args["--senders"])
            if volume is not None:
                config_map = render.one("ConfigMap", volume.get("configMap", {}).get("name"))
                flavors = {s.get("flavor", args.get("--flavor", "cloud"))
                           for s in tomllib.loads(config_map["data"][file]).get("sender", [])}
        needed = {"WHATSAPP_GRPC_APP_SECRET", "WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN"} if "cloud" in flavors else set()
        if "on-premises" in flavors:
            needed.add("WHATSAPP_GRPC_WEBHOOK_SECRET")
        check(len(env_secrets) > 0, f"{render.name}: --webhook-listen with its secrets from a Secret by envFrom")
        rendered = all(secret_data(render, secret) is not None for secret in env_secrets)
        if rendered:
            check(needed <= env_from.keys(), f"{render.name}: the webhook secrets {sorted(needed - env_from.keys())} come from a Secret by envFrom")
        check(not any(flag.startswith("--") and "secret" in flag for flag in args if flag != "--webhook-listen"),
              f"{render.name}: no webhook secret is a flag")
    if "--upstream-ca-file" in args:
        volume, file = mounted_file(render, pod, container, args["--upstream-ca-file"])
        if volume is not None:
            config_map = render.one("ConfigMap", volume.get("configMap", {}).get("name"))
            check(file in config_map["data"], f"{render.name}: the ConfigMap holds {file} for --upstream-ca-file")
    if "WHATSAPP_GRPC_IDEMPOTENCY_STORE" in env:
        store = env["WHATSAPP_GRPC_IDEMPOTENCY_STORE"]
        check("secretKeyRef" in store.get("valueFrom", {}) or store.get("value", "").startswith("redis"),
              f"{render.name}: the idempotency store is a redis URL or a Secret's key")
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"):
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
            check(variable in env, f"{render.name}: {variable} is set with the OTLP endpoint")
    if "--tls-cert" in args:
        for flag, key in (("--tls-cert", "tls.crt"), ("--tls-key", "tls.key")):
            volume, file = mounted_file(render, pod, container, args.get(flag, ""))
            if volume is not None:
                check(file == key and {"key": key, "path": key} in volume.get("secret", {}).get("items", []),
                      f"{render.name}: {flag} is {key} of a kubernetes.io/tls Secret")
    if "--tls-client-ca" in args:
        volume, _ = mounted_file(render, pod, container, args["--tls-client-ca"])
        check(volume is not None and "secret" in volume, f"{render.name}: --tls-client-ca comes from a Secret")
    if "--api-keys" in args:
        volume, file = mounted_file(render, pod, container, args["--api-keys"])
        if volume is not None and check("secret" in volume, f"{render.name}: --api-keys comes from a Secret"):
            data = secret_data(render, volume["secret"]["secretName"])
            if data is not None:
                keys = tomllib.loads(data[file]).get("key", [])
                check(len(keys) > 0 and all(set(k) == {"name", "sha256"} and len(k["sha256"]) == 64 for k in keys),
                      f"{render.name}: the API keys file holds [[key]] tables of name and sha256")


def check_checksums(render, pod_template):
    annotations = pod_template["metadata"].get("annotations", {})
    for key in ("checksum/config", "checksum/secret"):
        check(len(annotations.get(key, "")) == 64, f"{render.name}: pod annotation {key} is a sha256")


def check_service_monitor(render, service):
    monitors = render.all("ServiceMonitor")
    if not monitors:
        return
    monitor = monitors[0]
    check(monitor["apiVersion"] == "monitoring.coreos.com/v1", f"{render.name}: ServiceMonitor is monitoring.coreos.com/v1")
    spec = monitor["spec"]
    check(set(spec) <= SERVICE_MONITOR_FIELDS, f"{render.name}: ServiceMonitor spec fields {sorted(set(spec) - SERVICE_MONITOR_FIELDS)} are known")
    check(all(set(e) <= ENDPOINT_FIELDS for e in spec["endpoints"]), f"{render.name}: ServiceMonitor endpoint fields are known")
    endpoint = spec["endpoints"][0]
    check(endpoint.get("port") == "metrics" and endpoint.get("path") == "/metrics",
          f"{render.name}: ServiceMonitor scrapes port metrics at /metrics")
    labels = service["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
          f"{render.name}: ServiceMonitor selects the Service")
    check(spec["namespaceSelector"].get("matchNames") == ["messaging"], f"{render.name}: ServiceMonitor looks in the release's namespace")
    for field in ("interval", "scrapeTimeout"):
        check(seconds(endpoint[field]) > 0, f"{render.name}: ServiceMonitor {field} is a duration")


def check_render(render):
    validate_schemas(render)
    deployment = render.one("Deployment")
    name = deployment["metadata"]["name"]
    template = deployment["spec"]["template"]
    pod = template["spec"]
    containers = pod["containers"]
    check(len(containers) == 1, f"{render.name}: one container")
    container = containers[0]
    args = flags(container)
    service = render.one("Service", name)
    check(args.get("--log-format") == "json", f"{render.name}: JSON logs")
    check(template["metadata"]["labels"].items() >= deployment["spec"]["selector"]["matchLabels"].items(),
          f"{render.name}: the selector matches the pods")
    check(service["spec"]["selector"].items() <= template["metadata"]["labels"].items(), f"{render.name}: the Service selects the pods")
    check(("--tls-cert" in args) == (render.tls is not None), f"{render.name}: --tls-cert is passed exactly when TLS is on")
    check_probes(render, container, render.tls)
    check_security(render, pod, container, render.one("ServiceAccount"))
    check_ports(render, container, service, args)
    check_shutdown(render, pod, args)
    check_senders_and_secrets(render, pod, container, args)
    check_checksums(render, template)
    check_service_monitor(render, service)
    for hpa in render.all("HorizontalPodAutoscaler"):
        check("replicas" not in deployment["spec"], f"{render.name}: with an HPA the Deployment leaves replicas to it")
        check(hpa["spec"]["scaleTargetRef"]["name"] == name, f"{render.name}: the HPA scales the Deployment")
    for pdb in render.all("PodDisruptionBudget"):
        check(pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"],
              f"{render.name}: the PodDisruptionBudget selects the pods")
    for policy in render.all("NetworkPolicy"):
        ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        check(ports == {p["containerPort"] for p in container["ports"]}, f"{render.name}: the NetworkPolicy admits every container port (grpc, metrics, health, webhooks)")
    return template["metadata"].get("annotations", {})


def main():
    helm, chart, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    all_on = ["-f", f"{chart}/ci/all-on-values.yaml", *extra]
    renders = [
        Render("default", helm, chart, extra, KUBERNETES_VERSIONS),
        Render("all-on", helm, chart, all_on, KUBERNETES_VERSIONS, tls="health"),
        # One On-Premises installation by flags, its private CA from the chart's ConfigMap.
        Render("single-sender", helm, chart, ["--set", "upstream.flavor=on-premises", "--set",
                                              "upstream.url=https://whatsapp.internal:9090", "--set",
                                              "upstream.caBundle=-----BEGIN CERTIFICATE-----", "--set",
                                              "idempotency.store.url=redis://redis:6379/0", *extra], KUBERNETES_VERSIONS),
        # The kubelet's gRPC probe speaks TLS from Kubernetes 1.37 only (grpc.mode).
        Render("tls-probe", helm, chart, ["--set", "tls.enabled=true", "--set", "tls.existingSecret=whatsapp-tls",
                                          "--set", "tls.grpcProbeMode=TLS", *extra], ["1.37.0"], tls="TLS"),
        Render("tls-tcp-probe", helm, chart, ["--set", "tls.enabled=true", "--set", "tls.existingSecret=whatsapp-tls",
                                              "--set", "tls.grpcProbeMode=tcp", *extra], KUBERNETES_VERSIONS, tls="tcp"),
    ]
    checksums = {}
    for render in renders:
        if not render.objects:
            continue
        try:
            checksums[render.name] = check_render(render)
        except (AssertionError, KeyError, StopIteration, TypeError) as e:
            check(False, f"{render.name}: {type(e).__name__}: {e}")
    # A change of the senders file or of a chart-made Secret changes the pods' checksum, so it rolls them.
    for change, annotation in (
        (["--set", "senders.defaults.upstream_timeout=9s"], "checksum/config"),
        (["--set", "credentials.env.BRAND_US_TOKEN=rotated"], "checksum/secret"),
        (["--set", "credentials.env.WHATSAPP_GRPC_APP_SECRET=rotated"], "checksum/secret"),
        (["--set-json", 'apiKeys.keys=[{"name": "renamed", "sha256": "' + "0" * 64 + '"}]'], "checksum/secret"),
    ):
        changed = Render("changed", helm, chart, all_on + change, []).all("Deployment")
        after = changed[0]["spec"]["template"]["metadata"]["annotations"].get(annotation) if changed else None
        check(after != checksums.get("all-on", {}).get(annotation), f"{' '.join(change)} changes {annotation}")
    for failure in failures:
        print(f"FAILED: {failure}")
    if failures:
        print(f"chart checks: {len(failures)} of {passed + len(failures)} failed")
        sys.exit(1)
    print(f"chart checks: all {passed} passed on {len(renders)} renders")


if __name__ == "__main__":
    main()
