{{/*
The forwarder's container and the volumes it mounts: the Deployment uses them (mode: connect), and NOTES.txt
prints them to paste into an IBM pod (mode: sidecar). Volume names start with audit-forwarder- so that they
cannot collide with the IBM pod's own.
*/}}
{{- define "audit-forwarder.container" -}}
{{- $siemFile := and .Values.siem.secret.existingSecret (eq .Values.siem.secret.as "file") -}}
{{- $connect := eq .Values.mode "connect" -}}
{{- $token := and $connect .Values.connect.token.existingSecret -}}
- name: audit-forwarder
  image: {{ include "audit-forwarder.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["run", "-c", "/etc/audit-forwarder/config.yaml"]
  env:
    # Kubernetes resource attributes of the otlp sink.
    - name: K8S_POD_NAME
      valueFrom: { fieldRef: { fieldPath: metadata.name } }
    - name: K8S_NAMESPACE_NAME
      valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
    - name: K8S_NODE_NAME
      valueFrom: { fieldRef: { fieldPath: spec.nodeName } }
    {{- if and .Values.siem.secret.existingSecret (not $siemFile) }}
    - name: SIEM_SECRET
      valueFrom:
        secretKeyRef: { name: {{ .Values.siem.secret.existingSecret | quote }}, key: {{ .Values.siem.secret.key | quote }} }
    {{- end }}
    {{- if and $token (ne .Values.connect.token.as "file") }}
    - name: CONNECT_TOKEN
      valueFrom:
        secretKeyRef: { name: {{ .Values.connect.token.existingSecret | quote }}, key: {{ .Values.connect.token.key | quote }} }
    {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: metrics
      containerPort: {{ include "audit-forwarder.port" . }}
      protocol: TCP
  livenessProbe:
    httpGet: { path: /healthz, port: metrics }
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 6
  {{- if $connect }}
  # Not in a sidecar: an unready forwarder would take the IBM service out of its Service's endpoints.
  readinessProbe:
    httpGet: { path: /readyz, port: metrics }
    periodSeconds: 10
    timeoutSeconds: 5
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - { name: audit-forwarder-config, mountPath: /etc/audit-forwarder, readOnly: true }
    - { name: audit-forwarder-state, mountPath: /var/lib/audit-forwarder }
    - { name: audit-forwarder-tmp, mountPath: /tmp }
    {{- if $siemFile }}
    - { name: audit-forwarder-siem-secret, mountPath: /run/audit-forwarder/siem, readOnly: true }
    {{- end }}
    {{- if $connect }}
    {{- if ne .Values.svid.source "none" }}
    - { name: audit-forwarder-svid, mountPath: {{ .Values.svid.mountPath | quote }}, readOnly: true }
    {{- end }}
    {{- if and $token (eq .Values.connect.token.as "file") }}
    - { name: audit-forwarder-connect-token, mountPath: /run/audit-forwarder/connect, readOnly: true }
    {{- end }}
    {{- else }}
    {{- range .Values.sidecar.auditVolumes }}
    - { name: {{ .name | quote }}, mountPath: {{ .mountPath | quote }}, readOnly: true }
    {{- end }}
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "audit-forwarder.volumes" -}}
- name: audit-forwarder-config
  configMap:
    name: {{ include "audit-forwarder.fullname" . }}
- name: audit-forwarder-state
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "audit-forwarder.claimName" . }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: audit-forwarder-tmp
  emptyDir: { sizeLimit: 64Mi }
{{- if and .Values.siem.secret.existingSecret (eq .Values.siem.secret.as "file") }}
- name: audit-forwarder-siem-secret
  secret:
    secretName: {{ .Values.siem.secret.existingSecret | quote }}
    items: [{ key: {{ .Values.siem.secret.key | quote }}, path: {{ .Values.siem.secret.key | quote }} }]
{{- end }}
{{- if eq .Values.mode "connect" }}
{{- if and .Values.connect.token.existingSecret (eq .Values.connect.token.as "file") }}
- name: audit-forwarder-connect-token
  secret:
    secretName: {{ .Values.connect.token.existingSecret | quote }}
    items: [{ key: {{ .Values.connect.token.key | quote }}, path: {{ .Values.connect.token.key | quote }} }]
{{- end }}
{{- if eq .Values.svid.source "csi" }}
# Written by the spiffe-helper container; in memory, never on a node's disk.
- name: audit-forwarder-svid
  emptyDir: { medium: Memory, sizeLimit: 1Mi }
- name: spiffe-workload-api
  csi:
    driver: {{ .Values.svid.csi.driver | quote }}
    readOnly: true
- name: spiffe-helper-config
  configMap:
    name: {{ include "audit-forwarder.fullname" . }}-spiffe-helper
{{- else if eq .Values.svid.source "volume" }}
- name: audit-forwarder-svid
  {{- toYaml .Values.svid.volume | nindent 2 }}
{{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}
