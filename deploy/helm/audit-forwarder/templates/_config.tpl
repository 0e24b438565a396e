{{/*
The forwarder's configuration, /etc/audit-forwarder/config.yaml: one dict built from the values, written with
toYaml. test/deploy/helm-chart.test.ts builds the same document in TypeScript (chartConfig) and validates it with
the forwarder's own loader; where helm is installed it also compares the two. Change both together.
*/}}
{{- define "audit-forwarder.config" -}}
{{- $v := .Values -}}

{{- /* The source: the Connect API, or the IBM audit files. */ -}}
{{- $sourceName := "connect" -}}
{{- $source := dict -}}
{{- if eq $v.mode "connect" -}}
  {{- $api := omit $v.connect.api "tls" -}}
  {{- $tls := deepCopy (default (dict) (get $v.connect.api "tls")) -}}
  {{- if ne $v.svid.source "none" -}}
    {{- $_ := set $tls "certFile" (printf "%s/%s" $v.svid.mountPath $v.svid.files.cert) -}}
    {{- $_ := set $tls "keyFile" (printf "%s/%s" $v.svid.mountPath $v.svid.files.key) -}}
    {{- $_ := set $tls "caFile" (printf "%s/%s" $v.svid.mountPath $v.svid.files.bundle) -}}
  {{- end -}}
  {{- if $tls -}}
    {{- $_ := set $api "tls" $tls -}}
  {{- end -}}
  {{- if $v.connect.token.existingSecret -}}
    {{- if eq $v.connect.token.as "file" -}}
      {{- $_ := set $api "tokenFile" (printf "/run/audit-forwarder/connect/%s" $v.connect.token.key) -}}
    {{- else -}}
      {{- $_ := set $api "token" "${CONNECT_TOKEN}" -}}
    {{- end -}}
  {{- end -}}
  {{- $source = merge (dict "type" "connect" "transport" "api" "api" $api) (deepCopy $v.connect.source) -}}
{{- else -}}
  {{- $sourceName = "ibm-audit" -}}
  {{- $source = merge (dict "type" "audit-files") (deepCopy $v.auditFiles) -}}
{{- end -}}

{{- /* The sink: the settings under siem.<type>, and the secret where that sink takes it. */ -}}
{{- $settings := dict "splunk-hec" "splunkHec" "elasticsearch" "elasticsearch" "syslog" "syslog" "otlp" "otlp" -}}
{{- $sink := deepCopy (default (dict) (get $v.siem (get $settings $v.siem.type))) -}}
{{- $_ := set $sink "type" $v.siem.type -}}
{{- $secret := $v.siem.secret -}}
{{- if $secret.existingSecret -}}
  {{- $asFile := eq $secret.as "file" -}}
  {{- $value := ternary (printf "/run/audit-forwarder/siem/%s" $secret.key) "${SIEM_SECRET}" $asFile -}}
  {{- $field := default (ternary "token" "apiKey" (eq $v.siem.type "splunk-hec")) $secret.field -}}
  {{- $key := ternary (printf "%sFile" $field) $field $asFile -}}
  {{- if eq $field "token" -}}
    {{- $_ := set $sink $key $value -}}
  {{- else if eq $field "header" -}}
    {{- $http := default (dict) (get $sink "http") -}}
    {{- $headersKey := ternary "headerFiles" "headers" $asFile -}}
    {{- $headers := default (dict) (get $http $headersKey) -}}
    {{- $_ := set $headers $secret.header $value -}}
    {{- $_ := set $http $headersKey $headers -}}
    {{- $_ := set $sink "http" $http -}}
  {{- else -}}
    {{- $auth := dict $key $value -}}
    {{- if eq $field "password" -}}
      {{- $_ := set $auth "username" $secret.username -}}
    {{- end -}}
    {{- $_ := set $sink "auth" $auth -}}
  {{- end -}}
{{- end -}}

{{- /* One route, selecting in Connect's vocabulary; route settings (batch, maxInFlight, retry) as given. */ -}}
{{- $route := dict "from" $sourceName "to" (list $v.siem.type) "enabledEvents" $v.audit.enabledEvents "disabledEvents" $v.audit.disabledEvents -}}
{{- if $v.siem.mappingOptions -}}
  {{- $_ := set $route "mappingOptions" $v.siem.mappingOptions -}}
{{- end -}}
{{- $route = merge $route (deepCopy $v.route) -}}

{{- $config := dict
      "sources" (dict $sourceName $source)
      "sinks" (dict $v.siem.type $sink)
      "routes" (dict "audit" $route)
      "checkpoints" (dict "directory" "/var/lib/audit-forwarder/checkpoints")
      "deadLetter" (dict "directory" "/var/lib/audit-forwarder/dead-letter")
      "shutdownTimeout" (printf "%ds" (int $v.shutdownTimeoutSeconds))
      "server" (deepCopy $v.server)
      "logging" (deepCopy $v.logging) -}}
{{- toYaml $config -}}
{{- end -}}
