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
{{- if or .Values.mqtt.existingTlsSecret .Values.mqtt.caCert .Values.mqtt.clientCert }}true{{ end }}
{{- end }}

{{/* Whether the files ConfigMap (cosign key, registry CA, config file) has anything in it. */}}
{{- define "otaflux.hasFiles" -}}
{{- if or .Values.otaflux.cosignPubKey .Values.otaflux.registryCaCert .Values.otaflux.configFile }}true{{ end }}
{{- end }}
