{{/* The release's prefix: <release> when it already holds the chart name, else <release>-anchorage. */}}
{{- define "anchorage.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* One part's name: anchorage.name (dict "root" $ "part" "controller"). */}}
{{- define "anchorage.name" -}}
{{- printf "%s-%s" (include "anchorage.fullname" .root) .part -}}
{{- end -}}

{{- define "anchorage.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: anchorage
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .part }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "anchorage.selector" -}}
app.kubernetes.io/name: anchorage
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .part }}
{{- end -}}

{{- define "anchorage.image" -}}
{{- $i := .Values.image -}}
{{- if $i.digest -}}
{{ $i.repository }}@{{ $i.digest }}
{{- else -}}
{{ $i.repository }}:{{ $i.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The pod spec fields every part shares: anchorage.podCommon (dict "root" $ "part" "controller" "v" .Values.controller). */}}
{{- define "anchorage.podCommon" -}}
serviceAccountName: {{ include "anchorage.name" . }}
automountServiceAccountToken: {{ not (get . "noToken") }}
enableServiceLinks: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (get .v "topologySpreadConstraints") }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .v.affinity }}
affinity:
  {{- toYaml .v.affinity | nindent 2 }}
{{- else if gt (int (get .v "replicas" | default 1)) 1 }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "anchorage.selector" . | nindent 14 }}
{{- end }}
{{- end -}}

{{/* The container fields every part shares. */}}
{{- define "anchorage.containerCommon" -}}
image: {{ include "anchorage.image" .root }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml .v.resources | nindent 2 }}
{{- end -}}

{{/* A PodDisruptionBudget for a part with more than one replica. */}}
{{- define "anchorage.pdb" -}}
{{- if and .v.podDisruptionBudget.enabled (gt (int .v.replicas) 1) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "anchorage.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "anchorage.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .v.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "anchorage.selector" . | nindent 6 }}
{{- end }}
{{- end -}}

{{- define "anchorage.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "anchorage.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "anchorage.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}

{{/* ClusterRoleBinding or RoleBinding of a part's role to its ServiceAccount: (dict "root" $ "part" p "kind" "ClusterRole" "suffix" ""). */}}
{{- define "anchorage.binding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ if eq .kind "ClusterRole" }}ClusterRoleBinding{{ else }}RoleBinding{{ end }}
metadata:
  name: {{ include "anchorage.name" . }}{{ get . "suffix" }}
  {{- if ne .kind "ClusterRole" }}
  namespace: {{ get . "namespace" | default .root.Release.Namespace }}
  {{- end }}
  labels:
    {{- include "anchorage.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ .kind }}
  name: {{ include "anchorage.name" . }}{{ get . "suffix" }}
subjects:
  - kind: ServiceAccount
    name: {{ include "anchorage.name" . }}
    namespace: {{ .root.Release.Namespace }}
{{- end -}}

{{/* The NetworkPolicy egress every part needs: DNS and the API server. */}}
{{- define "anchorage.egressBase" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- ports:
    - {port: {{ .root.Values.networkPolicy.apiServerPort }}, protocol: TCP}
    - {port: 443, protocol: TCP}
  {{- with .root.Values.networkPolicy.apiServerCIDRs }}
  to:
    {{- range . }}
    - ipBlock: {cidr: {{ . }}}
    {{- end }}
  {{- end }}
{{- end -}}
