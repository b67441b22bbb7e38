{{- define "cache.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* registry/repository[:tag][@digest]; global.imageRegistry overrides the registry */}}
{{- define "cache.image" -}}
{{- $reg := .global.imageRegistry | default .image.registry -}}
{{- printf "%s/%s" $reg .image.repository -}}
{{- with .image.tag }}:{{ . }}{{ end -}}
{{- with .image.digest }}@{{ . }}{{ end -}}
{{- end -}}
