{{/* What `anchorage scan`, `serve --in-cluster` and `agent` read: list and watch, nothing else (no get of a named
object, no write of any kind). */}}
{{- define "anchorage.scannerRules" -}}
- apiGroups: [""]
  resources: [secrets, configmaps, services]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  verbs: [list, watch]
- apiGroups: [apiregistration.k8s.io]
  resources: [apiservices]
  verbs: [list, watch]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
- apiGroups: [certificates.k8s.io]
  resources: [certificatesigningrequests, clustertrustbundles]
  verbs: [list, watch]
- apiGroups: [cert-manager.io]
  resources: [certificates, issuers, clusterissuers]
  verbs: [list, watch]
{{- end -}}

{{/* The control plane's mirror pods in kube-system (their kube-apiserver and etcd flags are what the scan checks
the node files against): list pods there only, as a Role, not cluster-wide. */}}
{{- define "anchorage.mirrorPodReader" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "anchorage.name" . }}-mirror-pods
  namespace: kube-system
  labels:
    {{- include "anchorage.labels" . | nindent 4 }}
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [list]
---
{{ include "anchorage.binding" (merge (dict "kind" "Role" "suffix" "-mirror-pods" "namespace" "kube-system") .) }}
{{- end -}}
