// Nothing loads @kubernetes/client-node's KubeConfig here any more: `scan`, `serve` and `agent` read their
// kubeconfig with src/kube/kubeconfig.ts (docs/architecture.md, client choice). What is left is the import
// src/monitor/incremental.ts still names; the types live in cluster-source.ts, and this file goes once that
// import points there.
export { type Backend, type CertManagerCertificate, SKIPPED_SECRET_TYPES } from './cluster-source.ts';
