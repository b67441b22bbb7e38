{{- define "ameide-operators.image" -}}
{{- $g := .root.Values.global -}}
{{- $i := .op.image -}}
{{- if $i.ref -}}
{{ $i.ref }}
{{- else -}}
{{ $g.imageRegistry }}/{{ $i.repository }}{{ with $i.tag }}:{{ . }}{{ end }}{{ with $i.digest }}@{{ . }}{{ end }}
{{- end -}}
{{- end -}}

{{- define "ameide-operators.deployment" -}}
{{- $op := index .root.Values.operators .kind -}}
{{- if $op.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .kind }}-operator
  labels:
    app.kubernetes.io/name: {{ .kind }}-operator
    app.kubernetes.io/part-of: ameide-operators
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .kind }}-operator
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .kind }}-operator
    spec:
      serviceAccountName: ameide-operators
      containers:
        - name: manager
          image: {{ include "ameide-operators.image" (dict "root" .root "op" $op) | quote }}
          imagePullPolicy: {{ .root.Values.global.imagePullPolicy }}
          args: ["--leader-elect"]
{{- end }}
{{- end -}}
