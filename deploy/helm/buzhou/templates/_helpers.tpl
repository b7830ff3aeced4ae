{{/* The release's name for its objects, at most 63 characters less room for "-verification". */}}
{{- define "buzhou.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "buzhou.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
The parts of Buzhou and what the templates need to know of each: its port,
the variable it listens on, who calls it (its NetworkPolicy admits only them)
and how it is probed.
*/}}
{{- define "buzhou.parts" -}}
gateway:
  port: 8080
  portName: http
  listenEnv: BUZHOU_HTTP_ADDR
  probe: http
  callers: []
article:
  port: 9101
  portName: grpc
  listenEnv: BUZHOU_ARTICLE_ADDR
  probe: grpc
  callers: [gateway, search, verification]
search:
  port: 9102
  portName: grpc
  listenEnv: BUZHOU_SEARCH_ADDR
  probe: grpc
  callers: [gateway]
verification:
  port: 9103
  portName: grpc
  listenEnv: BUZHOU_VERIFICATION_ADDR
  probe: grpc
  callers: [gateway, article, search]
sandbox:
  port: 9104
  portName: grpc
  listenEnv: BUZHOU_SANDBOX_ADDR
  probe: grpc
  callers: [verification]
{{- end -}}

{{/* The port every service serves its metrics on (BUZHOU_METRICS_ADDR); the gateway serves them on its HTTP port. */}}
{{- define "buzhou.metricsPort" -}}9464{{- end -}}

{{/* "true" when the part named .name runs in this release. */}}
{{- define "buzhou.enabled" -}}
{{- if or (ne .name "sandbox") .root.Values.sandbox.enabled -}}true{{- end -}}
{{- end -}}

{{- define "buzhou.selectorLabels" -}}
app.kubernetes.io/name: {{ include "buzhou.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "buzhou.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "buzhou.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: buzhou
{{- end -}}

{{- define "buzhou.secretName" -}}
{{- default (printf "%s-secrets" (include "buzhou.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "buzhou.externalDatabase" -}}
{{- if or .Values.externalDatabase.url .Values.externalDatabase.urlFromExistingSecret -}}true{{- end -}}
{{- end -}}

{{- define "buzhou.externalRedis" -}}
{{- if or .Values.externalRedis.url .Values.externalRedis.urlFromExistingSecret -}}true{{- end -}}
{{- end -}}

{{/* The name of the official Qdrant chart's objects, as its own helper makes it. */}}
{{- define "buzhou.qdrantFullname" -}}
{{- if .Values.qdrant.fullnameOverride -}}
{{- .Values.qdrant.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "qdrant" .Values.qdrant.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* QDRANT_URL: the external server, the bundled chart's gRPC port, or "" for the embedded index. */}}
{{- define "buzhou.qdrantURL" -}}
{{- if .Values.externalQdrant.url -}}
{{- .Values.externalQdrant.url -}}
{{- else if .Values.qdrant.enabled -}}
{{- printf "http://%s:6334" (include "buzhou.qdrantFullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Why the part named .name cannot run more than one replica in this release:
the embedded store it keeps its state in, and what to set instead; "" when
it can scale out.
*/}}
{{- define "buzhou.embeddedStore" -}}
{{- $v := .root.Values -}}
{{- $db := include "buzhou.externalDatabase" .root -}}
{{- if eq .name "gateway" -}}
{{- if not (include "buzhou.externalRedis" .root) -}}keeps rate limits and quotas in memory, so each replica would allow the full rate; set externalRedis.url (Redis){{- end -}}
{{- else if or (eq .name "article") (eq .name "verification") -}}
{{- if not $db -}}stores its data in SQLite on one ReadWriteOnce volume; set externalDatabase.url (PostgreSQL){{- end -}}
{{- else if eq .name "search" -}}
{{- if not $db -}}keeps its feed cursor and models in SQLite on one ReadWriteOnce volume; set externalDatabase.url (PostgreSQL)
{{- else if not (include "buzhou.qdrantURL" .root) -}}keeps its index in the embedded store on one ReadWriteOnce volume; set externalQdrant.url or qdrant.enabled=true{{- end -}}
{{- end -}}
{{- end -}}

{{/* "true" when the part named .name needs a volume of its own for an embedded store. */}}
{{- define "buzhou.persistent" -}}
{{- if and (ne .name "gateway") (include "buzhou.embeddedStore" .) -}}true{{- end -}}
{{- end -}}

{{/* What may not be rendered, with what to do instead. */}}
{{- define "buzhou.validate" -}}
{{- $root := . -}}
{{- range $name, $_ := include "buzhou.parts" . | fromYaml -}}
{{- $v := index $root.Values $name -}}
{{- $ctx := dict "root" $root "name" $name -}}
{{- if include "buzhou.enabled" $ctx -}}
{{- $why := include "buzhou.embeddedStore" $ctx -}}
{{- if and $why $v.autoscaling.enabled -}}
{{- fail (printf "%s.autoscaling.enabled is true, but the %s service %s, or turn autoscaling off" $name $name $why) -}}
{{- end -}}
{{- if and $why (gt (int $v.replicas) 1) -}}
{{- fail (printf "%s.replicas is %d, but the %s service %s, or set %s.replicas to 1" $name (int $v.replicas) $name $why $name) -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%d) is above maxReplicas (%d)" $name (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.qdrant.enabled .Values.externalQdrant.url -}}
{{- fail "both qdrant.enabled and externalQdrant.url are set; use the bundled Qdrant chart or your own server, not both" -}}
{{- end -}}
{{- range $dep := list "externalDatabase" "externalRedis" -}}
{{- $d := index $root.Values $dep -}}
{{- if and $d.urlFromExistingSecret (not $root.Values.existingSecret) -}}
{{- fail (printf "%s.urlFromExistingSecret is true but existingSecret is empty; name the Secret that holds the URL" $dep) -}}
{{- end -}}
{{- if and $d.urlFromExistingSecret $d.url -}}
{{- fail (printf "%s.url is set and %s.urlFromExistingSecret is true; give the URL in one place" $dep $dep) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.existingSecret (or .Values.secrets.adminKey .Values.externalDatabase.url .Values.externalRedis.url .Values.externalQdrant.apiKey .Values.embeddings.apiKey) -}}
{{- fail "existingSecret is set, so the chart makes no Secret: put secrets.adminKey, externalDatabase.url, externalRedis.url, externalQdrant.apiKey and embeddings.apiKey in that Secret (keys BUZHOU_ADMIN_KEY, DATABASE_URL, REDIS_URL, QDRANT_API_KEY, EMBEDDINGS_API_KEY) and unset them here" -}}
{{- end -}}
{{- end -}}

{{/* A variable from the Secret. */}}
{{- define "buzhou.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "buzhou.secretName" .root }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* The secrets the part named .name reads, and no others. */}}
{{- define "buzhou.partSecrets" -}}
{{- $root := .root -}}
{{- $v := .root.Values -}}
{{- if eq .name "gateway" }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "BUZHOU_GATEWAY_SERVICE_KEY") }}
{{- if include "buzhou.externalRedis" $root }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "REDIS_URL") }}
{{- end }}
{{- else if eq .name "article" }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "BUZHOU_ARTICLE_SERVICE_KEY") }}
{{- else if eq .name "search" }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "BUZHOU_SEARCH_SERVICE_KEY") }}
{{- if and $v.qdrant.enabled $v.qdrant.apiKey }}
{{- if kindIs "map" $v.qdrant.apiKey }}
- name: QDRANT_API_KEY
  valueFrom:
    {{- toYaml $v.qdrant.apiKey.valueFrom | nindent 4 }}
{{- else }}
- name: QDRANT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "buzhou.qdrantFullname" $root }}-apikey
      key: api-key
{{- end }}
{{- else }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "QDRANT_API_KEY" "optional" true) }}
{{- end }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "EMBEDDINGS_API_KEY" "optional" true) }}
{{- else if eq .name "sandbox" }}
{{/* The runner takes calls with the verification service's key, the only one it knows. */}}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "BUZHOU_VERIFICATION_SERVICE_KEY") }}
{{- else if eq .name "verification" }}
{{- range $k := list "BUZHOU_ADMIN_KEY" "BUZHOU_GATEWAY_SERVICE_KEY" "BUZHOU_ARTICLE_SERVICE_KEY" "BUZHOU_SEARCH_SERVICE_KEY" "BUZHOU_VERIFICATION_SERVICE_KEY" }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" $k) }}
{{- end }}
{{- end }}
{{- if and (has .name (list "article" "search" "verification")) (include "buzhou.externalDatabase" $root) }}
{{ include "buzhou.secretEnv" (dict "root" $root "key" "DATABASE_URL") }}
{{- end }}
{{- end -}}

{{- define "buzhou.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: the drain, the stop timeout and a margin. */}}
{{- define "buzhou.gracePeriod" -}}
{{- $s := .Values.config.shutdown -}}
{{- add (include "buzhou.seconds" $s.drain) (include "buzhou.seconds" $s.timeout) 5 -}}
{{- end -}}

{{/* Whole seconds of a duration written as "20s", "2m" or "1m30s" (the schema allows only these). */}}
{{- define "buzhou.seconds" -}}
{{- $m := regexFind "^[0-9]+m" . | trimSuffix "m" | default "0" -}}
{{- $s := regexFind "[0-9]+s$" . | trimSuffix "s" | default "0" -}}
{{- add (mul (int $m) 60) (int $s) -}}
{{- end -}}
