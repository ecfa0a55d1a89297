{{- define "eo.name" -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- end -}}

{{- define "eo.labels" -}}
app.kubernetes.io/part-of: expert-orchestrator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "eo.gatewaySelector" -}}
app.kubernetes.io/name: gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "eo.redisUrl" -}}redis://{{ include "eo.name" . }}-redis:6379/0{{- end -}}

{{- define "eo.expertServices" -}}
{{- $names := list -}}
{{- range $g := .Values.experts.groups }}{{ range $e := $g.experts }}{{ $names = append $names $e.service }}{{ end }}{{ end -}}
{{- join "|" $names -}}
{{- end -}}
