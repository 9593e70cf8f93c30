{{/*
The chart's name, or nameOverride.
*/}}
{{- define "vonage-audit-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name, cut at 63 characters (a DNS label); the release
name alone when it already holds the chart's name.
*/}}
{{- define "vonage-audit-exporter.fullname" -}}
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

{{- define "vonage-audit-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vonage-audit-exporter.labels" -}}
helm.sh/chart: {{ include "vonage-audit-exporter.chart" . }}
{{ include "vonage-audit-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: metrics
app.kubernetes.io/part-of: {{ include "vonage-audit-exporter.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "vonage-audit-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vonage-audit-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vonage-audit-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vonage-audit-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vonage-audit-exporter.secretName" -}}
{{- default (include "vonage-audit-exporter.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "vonage-audit-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
A StatefulSet when pods need a claim of their own (the state file) or a
stable index (sharding); a Deployment otherwise.
*/}}
{{- define "vonage-audit-exporter.statefulSet" -}}
{{- if or .Values.persistence.enabled .Values.sharding.enabled }}true{{ end }}
{{- end }}

{{/*
The key of the Secret holding an account's API secret. A key must be a
valid Secret key, which an account name (a label value) need not be.
*/}}
{{- define "vonage-audit-exporter.secretKey" -}}
{{- $key := default .name .secretKey }}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $key) }}
{{- fail (printf "accounts: %q is not a valid Secret key: set the account's secretKey (letters, digits, '-', '_', '.')" $key) }}
{{- end }}
{{- $key }}
{{- end }}

{{/*
The config file: the global settings of .Values.config, the state file on
the claim, and the accounts with their secrets read from the mounted Secret.
*/}}
{{- define "vonage-audit-exporter.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- range $key := list "accounts" "state_file" }}
{{- if hasKey $cfg $key }}
{{- fail (printf "config.%s is set by the chart: use the chart's accounts and persistence.enabled values" $key) }}
{{- end }}
{{- end }}
{{- if .Values.persistence.enabled }}
{{- $_ := set $cfg "state_file" (printf "%s/state.json" .Values.persistence.mountPath) }}
{{- end }}
{{- $accounts := list }}
{{- range $i, $acc := .Values.accounts }}
{{- if not $acc.name }}
{{- fail (printf "accounts[%d]: name is required" $i) }}
{{- end }}
{{- range $key := list "api_secret" "api_secret_file" }}
{{- if hasKey $acc $key }}
{{- fail (printf "accounts[%d].%s: the API secret comes from the Secret: set apiSecret, or existingSecret and secretKey" $i $key) }}
{{- end }}
{{- end }}
{{- $out := omit $acc "secretKey" "apiSecret" }}
{{- $_ := set $out "api_secret_file" (printf "%s/%s" $.Values.secretMountPath (include "vonage-audit-exporter.secretKey" $acc)) }}
{{- $accounts = append $accounts $out }}
{{- end }}
{{- $_ := set $cfg "accounts" $accounts }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The pod template of the Deployment and of the StatefulSet.
*/}}
{{- define "vonage-audit-exporter.podTemplate" -}}
metadata:
  annotations:
    {{- /* A changed config or secret restarts the pods. */}}
    checksum/config: {{ include (print $.Template.BasePath "/config.yaml") . | sha256sum }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "vonage-audit-exporter.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "vonage-audit-exporter.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: exporter
      image: {{ include "vonage-audit-exporter.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file=/etc/vonage_audit_exporter/config.yml
        - --web.listen-address=:{{ .Values.service.port }}
        {{- if .Values.webConfig }}
        - --web.config.file=/etc/vonage_audit_exporter/web-config.yml
        {{- end }}
        {{- if .Values.sharding.enabled }}
        - --shard=$(SHARD)
        - --total-shards={{ .Values.sharding.shards }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or .Values.sharding.enabled .Values.extraEnv }}
      env:
        {{- if .Values.sharding.enabled }}
        - name: SHARD
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http-metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/vonage_audit_exporter/config.yml
          subPath: config.yml
          readOnly: true
        {{- if .Values.webConfig }}
        - name: config
          mountPath: /etc/vonage_audit_exporter/web-config.yml
          subPath: web-config.yml
          readOnly: true
        {{- end }}
        - name: secrets
          mountPath: {{ .Values.secretMountPath }}
          readOnly: true
        {{- if .Values.persistence.enabled }}
        - name: state
          mountPath: {{ .Values.persistence.mountPath }}
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      {{- if .Values.secretConfig }}
      secret:
        secretName: {{ include "vonage-audit-exporter.fullname" . }}-config
      {{- else }}
      configMap:
        name: {{ include "vonage-audit-exporter.fullname" . }}-config
      {{- end }}
    - name: secrets
      secret:
        secretName: {{ include "vonage-audit-exporter.secretName" . }}
        {{- /* Only the keys the accounts name: a missing key stops the pod at start. */}}
        items:
          {{- $keys := list }}
          {{- range .Values.accounts }}
          {{- $keys = append $keys (include "vonage-audit-exporter.secretKey" .) }}
          {{- end }}
          {{- range $keys | uniq }}
          - key: {{ . }}
            path: {{ . }}
          {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
