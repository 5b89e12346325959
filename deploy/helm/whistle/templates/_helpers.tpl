{{- define "whistle.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "whistle.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "whistle.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "whistle.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "whistle.temporalAddress" -}}
{{- if .Values.temporal.address -}}
{{ .Values.temporal.address }}
{{- else if .Values.temporal.enabled -}}
{{ .Release.Name }}-temporal-frontend:7233
{{- else -}}
{{ fail "temporal.address is required when temporal.enabled is false" }}
{{- end -}}
{{- end -}}

{{- define "whistle.natsURL" -}}
{{- if .Values.nats.url -}}
{{ .Values.nats.url }}
{{- else if .Values.nats.enabled -}}
nats://{{ .Release.Name }}-nats:4222
{{- else -}}
{{ fail "nats.url is required when nats.enabled is false" }}
{{- end -}}
{{- end -}}

{{/* The Secret holding databaseURL, and the one holding jwtSecret. */}}
{{- define "whistle.databaseSecret" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecret }}{{- else if .Values.database.url -}}{{ include "whistle.fullname" . }}{{- else -}}{{ fail "database.url or database.existingSecret is required" }}{{- end -}}
{{- end -}}
{{- define "whistle.jwtSecret" -}}
{{- if .Values.jwt.existingSecret -}}{{ .Values.jwt.existingSecret }}{{- else if .Values.jwt.value -}}{{ include "whistle.fullname" . }}{{- else -}}{{ fail "jwt.value or jwt.existingSecret is required" }}{{- end -}}
{{- end -}}

{{/* The environment every Whistle container shares. */}}
{{- define "whistle.env" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "whistle.databaseSecret" . }}, key: databaseURL}
- name: WHISTLE_JWT_SECRET
  valueFrom:
    secretKeyRef: {name: {{ include "whistle.jwtSecret" . }}, key: jwtSecret}
- name: NATS_URL
  value: {{ include "whistle.natsURL" . | quote }}
- name: WHISTLE_STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
- name: TEMPORAL_ADDRESS
  value: {{ include "whistle.temporalAddress" . | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
{{- if .Values.jurisdiction }}
- name: WHISTLE_JURISDICTION
  value: /etc/whistle/jurisdiction.yaml
{{- end }}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "whistle.volumes" -}}
{{- if .Values.jurisdiction }}
volumes:
  - name: jurisdiction
    configMap: {name: {{ include "whistle.fullname" . }}}
{{- end }}
{{- end -}}

{{- define "whistle.volumeMounts" -}}
{{- if .Values.jurisdiction }}
volumeMounts:
  - {name: jurisdiction, mountPath: /etc/whistle, readOnly: true}
{{- end }}
{{- end -}}
