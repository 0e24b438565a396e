{{/* Names, labels and small values shared by the templates. */}}

{{- define "audit-forwarder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "audit-forwarder.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "audit-forwarder.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "audit-forwarder.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "audit-forwarder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "audit-forwarder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "audit-forwarder.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "audit-forwarder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "audit-forwarder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "audit-forwarder.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "audit-forwarder.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The port of server.listen (host:port). */}}
{{- define "audit-forwarder.port" -}}
{{- last (splitList ":" .Values.server.listen) }}
{{- end }}

{{/* The claim holding checkpoints and dead letters. */}}
{{- define "audit-forwarder.claimName" -}}
{{- default (printf "%s-state" (include "audit-forwarder.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}
