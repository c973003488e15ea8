{{- define "streamlearn.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "streamlearn.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "streamlearn.image" -}}
{{- $tag := .Values.image.tag | default (printf "%s-%s" .Chart.AppVersion .Values.image.variant) -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{- define "streamlearn.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "streamlearn.fullname" .)) -}}
{{- end -}}

{{/* The port a role serves /metrics, /healthz and /readyz on: the API's for predictor, ops_addr's otherwise. */}}
{{- define "streamlearn.port" -}}
{{- if eq .role "predictor" }}8080{{ else }}9090{{ end -}}
{{- end -}}
