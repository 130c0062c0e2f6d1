{{/*
The chart's name, at most 63 characters (DNS label).
*/}}
{{- define "whatsapp-grpc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects, at most 63 characters.
*/}}
{{- define "whatsapp-grpc.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "whatsapp-grpc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "whatsapp-grpc.labels" -}}
helm.sh/chart: {{ include "whatsapp-grpc.chart" . }}
{{ include "whatsapp-grpc.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "whatsapp-grpc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "whatsapp-grpc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "whatsapp-grpc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "whatsapp-grpc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "whatsapp-grpc.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The Secret the credentials come from: an existing one, or the chart's (empty: none). */}}
{{- define "whatsapp-grpc.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else if .Values.credentials.env }}
{{- printf "%s-credentials" (include "whatsapp-grpc.fullname" .) }}
{{- end }}
{{- end }}

{{- define "whatsapp-grpc.apiKeysSecret" -}}
{{- default (printf "%s-api-keys" (include "whatsapp-grpc.fullname" .)) .Values.apiKeys.existingSecret }}
{{- end }}

{{- define "whatsapp-grpc.clientCaSecret" -}}
{{- default .Values.tls.existingSecret .Values.tls.clientCa.existingSecret }}
{{- end }}

{{/* Whether the chart's ConfigMap (senders file, upstream CA) exists. */}}
{{- define "whatsapp-grpc.hasConfig" -}}
{{- if or .Values.senders.list .Values.upstream.caBundle }}true{{ end }}
{{- end }}

{{/*
One TOML table's keys, one a line. Not toToml: Helm reads every YAML number as a float, which
toToml writes as 80.0, and the service's integer keys refuse floats.
*/}}
{{- define "whatsapp-grpc.tomlKeys" -}}
{{- range $key, $value := . }}
{{- if kindIs "float64" $value }}
{{ $key }} = {{ if eq $value (floor $value) }}{{ int64 $value }}{{ else }}{{ $value }}{{ end }}
{{- else if or (kindIs "bool" $value) (kindIs "int" $value) (kindIs "int64" $value) }}
{{ $key }} = {{ $value }}
{{- else }}
{{ $key }} = {{ toJson (toString $value) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The senders file, TOML: [defaults] and [[sender]] tables. */}}
{{- define "whatsapp-grpc.sendersToml" -}}
{{- with .Values.senders.defaults }}
[defaults]
{{- include "whatsapp-grpc.tomlKeys" . }}
{{ end }}
{{- range .Values.senders.list }}
[[sender]]
{{- include "whatsapp-grpc.tomlKeys" . }}
{{ end }}
{{- end }}

{{/* The API keys file, TOML: [[key]] tables of name and sha256. */}}
{{- define "whatsapp-grpc.apiKeysToml" -}}
{{- range .Values.apiKeys.keys }}
[[key]]
{{- include "whatsapp-grpc.tomlKeys" . }}
{{ end }}
{{- end }}

{{/* terminationGracePeriodSeconds: given, or pre-stop delay + shutdown grace + 5 s. */}}
{{- define "whatsapp-grpc.terminationGracePeriodSeconds" -}}
{{- $drain := add .Values.shutdown.preStopDelaySeconds .Values.shutdown.graceSeconds }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $drain 5 }}
{{- else if le (int .Values.terminationGracePeriodSeconds) (int $drain) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be longer than shutdown.preStopDelaySeconds + shutdown.graceSeconds (%v), or Kubernetes kills calls in flight" .Values.terminationGracePeriodSeconds $drain) }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* One probe: gRPC health of service "" (this process), or tcpSocket when TLS hides it. */}}
{{- define "whatsapp-grpc.probe" -}}
{{- $root := .root }}
{{- if and $root.Values.tls.enabled (eq $root.Values.tls.grpcProbeMode "tcp") }}
tcpSocket:
  port: grpc
{{- else if and $root.Values.tls.enabled (eq $root.Values.tls.grpcProbeMode "") }}
grpc:
  port: {{ $root.Values.tls.healthPort }}
  service: ""
{{- else }}
grpc:
  port: {{ $root.Values.server.port }}
  service: ""
  {{- if $root.Values.tls.enabled }}
  mode: TLS
  {{- end }}
{{- end }}
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
successThreshold: {{ .probe.successThreshold }}
{{- end }}

{{/* An environment variable from a value in clear or a Secret's key. */}}
{{- define "whatsapp-grpc.storeEnv" -}}
{{- if .store.existingSecret }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .store.existingSecret }}
      key: {{ .store.existingSecretKey }}
{{- else if .store.url }}
- name: {{ .name }}
  value: {{ .store.url | quote }}
{{- end }}
{{- end }}

{{/* The container's environment: stores, traces, extraEnv (credentials come by envFrom). */}}
{{- define "whatsapp-grpc.env" -}}
{{- include "whatsapp-grpc.storeEnv" (dict "name" "WHATSAPP_GRPC_IDEMPOTENCY_STORE" "store" .Values.idempotency.store) | trim | nindent 0 }}
{{- include "whatsapp-grpc.storeEnv" (dict "name" "WHATSAPP_GRPC_RATE_LIMIT_STORE" "store" .Values.rateLimit.store) | trim | nindent 0 }}
{{- include "whatsapp-grpc.storeEnv" (dict "name" "WHATSAPP_GRPC_EVENT_STORE" "store" .Values.events.store) | trim | nindent 0 }}
{{- if .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.tracing.otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .Values.tracing.serviceName | default (include "whatsapp-grpc.fullname" .) | quote }}
{{- with .Values.tracing.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/* The container's mounts: config, TLS, client CA, API keys, extraVolumeMounts. */}}
{{- define "whatsapp-grpc.volumeMounts" -}}
{{- if include "whatsapp-grpc.hasConfig" . }}
- name: config
  mountPath: /etc/whatsapp-grpc/config
  readOnly: true
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/whatsapp-grpc/tls
  readOnly: true
{{- if .Values.tls.clientCa.enabled }}
- name: client-ca
  mountPath: /etc/whatsapp-grpc/client-ca
  readOnly: true
{{- end }}
{{- end }}
{{- if .Values.apiKeys.enabled }}
- name: api-keys
  mountPath: /etc/whatsapp-grpc/api-keys
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/* The pod's volumes, matching whatsapp-grpc.volumeMounts. */}}
{{- define "whatsapp-grpc.volumes" -}}
{{- if include "whatsapp-grpc.hasConfig" . }}
- name: config
  configMap:
    name: {{ include "whatsapp-grpc.fullname" . }}
{{- end }}
{{- if .Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ .Values.tls.existingSecret }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- if .Values.tls.clientCa.enabled }}
- name: client-ca
  secret:
    secretName: {{ include "whatsapp-grpc.clientCaSecret" . }}
    items:
      - key: {{ .Values.tls.clientCa.key }}
        path: {{ .Values.tls.clientCa.key }}
{{- end }}
{{- end }}
{{- if .Values.apiKeys.enabled }}
- name: api-keys
  secret:
    secretName: {{ include "whatsapp-grpc.apiKeysSecret" . }}
    items:
      - key: {{ .Values.apiKeys.existingSecretKey }}
        path: {{ .Values.apiKeys.existingSecretKey }}
{{- end }}
{{- with .Values.extraVolumes }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}
