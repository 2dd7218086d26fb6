{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "otaflux.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "otaflux.fullname" -}}
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

{{- define "otaflux.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "otaflux.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "otaflux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otaflux.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "otaflux.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "otaflux.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding passwords and tokens: the user's, or the chart's. */}}
{{- define "otaflux.secretName" -}}
{{- default (include "otaflux.fullname" .) .Values.otaflux.existingSecret }}
{{- end }}

{{/* The Secret holding the MQTT CA and client certificate. */}}
{{- define "otaflux.mqttTlsSecretName" -}}
{{- default (printf "%s-mqtt-tls" (include "otaflux.fullname" .)) .Values.mqtt.existingTlsSecret }}
{{- end }}

{{- define "otaflux.mqttTls" -}}
{{- if or .Values.mqtt.existingTlsSecret (include "otaflux.mqttCaCert" .) (include "otaflux.mqttClientCert" .) }}true{{ end }}
{{- end }}

{{/* A StatefulSet when each pod keeps a cache volume of its own, else a Deployment. */}}
{{- define "otaflux.workloadKind" -}}
{{- if .Values.cache.persistence.perPod }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{/* More than one pod may run: a fixed replicaCount above 1, or the autoscaler. */}}
{{- define "otaflux.replicated" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* The Secret DATABASE_URL comes from: the user's (fleet.existingSecret), or the chart's when fleet.databaseUrl is set. */}}
{{- define "otaflux.databaseSecretName" -}}
{{- if .Values.fleet.existingSecret }}{{ .Values.fleet.existingSecret }}{{ else if .Values.fleet.databaseUrl }}{{ include "otaflux.fullname" . }}{{ end }}
{{- end }}

{{/* Whether the files ConfigMap (cosign key, registry CA, config file) has anything in it. */}}
{{- define "otaflux.hasFiles" -}}
{{- if or .Values.otaflux.cosignPubKey .Values.otaflux.registryCaCert .Values.otaflux.configFile }}true{{ end }}
{{- end }}

{{/*
One setting spelt two ways, this chart's and the later Rust chart's (otaflux.registry.*,
otaflux.mqtt.*): the one that is set. Both set to different values fails the install.
Argument: (list "name" value "other name" otherValue).
*/}}
{{- define "otaflux.either" -}}
{{- $a := index . 1 -}}
{{- $b := index . 3 -}}
{{- if and $a $b (ne (toString $a) (toString $b)) -}}
{{- fail (printf "%s and %s are two spellings of one setting, set to different values: keep one" (index . 0) (index . 2)) -}}
{{- end -}}
{{- $a | default $b -}}
{{- end }}

{{- define "otaflux.registryUrl" -}}
{{- include "otaflux.either" (list "otaflux.registryUrl" .Values.otaflux.registryUrl "otaflux.registry.url" .Values.otaflux.registry.url) -}}
{{- end }}
{{- define "otaflux.registryUsername" -}}
{{- include "otaflux.either" (list "otaflux.registryUsername" .Values.otaflux.registryUsername "otaflux.registry.username" .Values.otaflux.registry.username) -}}
{{- end }}
{{- define "otaflux.registryPassword" -}}
{{- include "otaflux.either" (list "otaflux.registryPassword" .Values.otaflux.registryPassword "otaflux.registry.password" .Values.otaflux.registry.password) -}}
{{- end }}
{{- define "otaflux.registryInsecure" -}}
{{- if or .Values.otaflux.registryInsecure .Values.otaflux.registry.insecure }}true{{ else }}false{{ end }}
{{- end }}

{{/* MQTT is on with mqtt.enabled, or (the Rust chart's way) when otaflux.mqtt.url is set. */}}
{{- define "otaflux.mqttEnabled" -}}
{{- if or .Values.mqtt.enabled .Values.otaflux.mqtt.url }}true{{ end }}
{{- end }}
{{- define "otaflux.mqttUrl" -}}
{{- include "otaflux.either" (list "mqtt.url" .Values.mqtt.url "otaflux.mqtt.url" .Values.otaflux.mqtt.url) -}}
{{- end }}
{{- define "otaflux.mqttUsername" -}}
{{- include "otaflux.either" (list "mqtt.username" .Values.mqtt.username "otaflux.mqtt.username" .Values.otaflux.mqtt.username) -}}
{{- end }}
{{- define "otaflux.mqttPassword" -}}
{{- include "otaflux.either" (list "mqtt.password" .Values.mqtt.password "otaflux.mqtt.password" .Values.otaflux.mqtt.password) -}}
{{- end }}
{{/* The Rust chart's topic, when given, over this chart's default. */}}
{{- define "otaflux.mqttTopic" -}}
{{- .Values.otaflux.mqtt.topic | default .Values.mqtt.topic -}}
{{- end }}
{{- define "otaflux.mqttCaCert" -}}
{{- include "otaflux.either" (list "mqtt.caCert" .Values.mqtt.caCert "otaflux.mqtt.caCert" .Values.otaflux.mqtt.caCert) -}}
{{- end }}
{{- define "otaflux.mqttClientCert" -}}
{{- include "otaflux.either" (list "mqtt.clientCert" .Values.mqtt.clientCert "otaflux.mqtt.clientCert" .Values.otaflux.mqtt.clientCert) -}}
{{- end }}
{{- define "otaflux.mqttClientKey" -}}
{{- include "otaflux.either" (list "mqtt.clientKey" .Values.mqtt.clientKey "otaflux.mqtt.clientKey" .Values.otaflux.mqtt.clientKey) -}}
{{- end }}

{{/* Device certificates required: devices reach OtaFlux only over HTTPS. */}}
{{- define "otaflux.mtls" -}}
{{- if and .Values.tls.enabled .Values.tls.clientCa }}true{{ end }}
{{- end }}

{{/* Values that would install something that cannot work: one line saying what to change. */}}
{{- define "otaflux.validate" -}}
{{- if not (or (include "otaflux.registryUrl" .) .Values.otaflux.configFile) -}}
{{- fail "otaflux.registryUrl is required: the registry to serve firmware from (host:port, https://host or http://host:port), or give otaflux.configFile with the sources" -}}
{{- end -}}
{{- range (list "listenAddr" "metricsListenAddr") -}}
{{- if hasKey $.Values.otaflux . -}}
{{- fail (printf "otaflux.%s is not supported: the chart sets the listeners (device port 8080, metrics.port %v); remove it" . $.Values.metrics.port) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.cache.persistence.enabled (not .Values.cache.persistence.perPod) (eq .Values.cache.persistence.accessMode "ReadWriteOnce") (include "otaflux.replicated" .) -}}
{{- fail "cache.persistence with accessMode ReadWriteOnce holds one pod: set replicaCount 1 and autoscaling.enabled false, set cache.persistence.perPod true (a volume per pod), or turn cache.persistence off (each pod then caches in an emptyDir)" -}}
{{- end -}}
{{- if and .Values.cache.persistence.perPod .Values.cache.persistence.existingClaim -}}
{{- fail "cache.persistence.perPod makes a volume per pod: remove cache.persistence.existingClaim (one claim cannot be every pod's)" -}}
{{- end -}}
{{- if and (include "otaflux.replicated" .) (not (include "otaflux.databaseSecretName" .)) -}}
{{- fail "more than one pod (replicaCount above 1 or autoscaling) needs the shared state store: set fleet.databaseUrl (postgres://…) or fleet.existingSecret; with the default SQLite each pod would decide rollouts alone" -}}
{{- end -}}
{{- if and .Values.fleet.databaseUrl .Values.otaflux.existingSecret (not .Values.fleet.existingSecret) -}}
{{- fail "fleet.databaseUrl goes into the chart's Secret, which otaflux.existingSecret turns off: put the URL in a Secret and name it in fleet.existingSecret" -}}
{{- end -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) (add .Values.lifecycle.preStopSleepSeconds .Values.lifecycle.drainTimeoutSeconds) -}}
{{- fail (printf "terminationGracePeriodSeconds %v is too short: the preStop sleep (lifecycle.preStopSleepSeconds %v) and OtaFlux's drain of downloads in flight (lifecycle.drainTimeoutSeconds %v) must fit in it" .Values.terminationGracePeriodSeconds .Values.lifecycle.preStopSleepSeconds .Values.lifecycle.drainTimeoutSeconds) -}}
{{- end -}}
{{- end }}
