// The objects of the v1 HTTP API (docs/api.md), as the monitor keeps them and the server sends them.
// docs/api.md is the contract: a field is only ever added here, never renamed or removed.
import type { Severity } from '../common/severity.ts';

export type { Severity };
export type Health = 'ok' | 'expiring' | 'expired' | 'untrusted' | 'error';
export const HEALTH_RANK: Record<Health, number> = { ok: 0, expiring: 1, expired: 2, untrusted: 3, error: 4 };
export type SourceStatus = 'ok' | 'stale' | 'error';

export interface Source {
  name: string;
  status: SourceStatus;
  reason?: string;
  lastSuccess?: string;
  objects: number;
}

export type ClusterKind = 'kubeconfig' | 'in-cluster' | 'agent' | 'dir';

export interface Cluster {
  name: string;
  kind: ClusterKind;
  status: SourceStatus;
  reason?: string;
  lastScan?: string;
  counts: { certificates: number; expiring: number; expired: number } & Record<Severity, number>;
  sources: Source[];
}

export interface CertificateSummary {
  sha256: string;
  cluster: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  sans: string[];
  isCA: boolean;
  selfSigned: boolean;
  role: string | null;
  keyType: string;
  health: Health;
  findings: number;
  worstSeverity: Severity | null;
  locations: number;
}

export type LocationKind = 'file' | 'secret' | 'configmap' | 'kubeconfig' | 'cabundle' | 'csr' | 'endpoint' | 'node' | 'bundle';

export interface ApiLocation {
  kind: LocationKind;
  where: string;
  node?: string;
  namespace?: string;
}

export interface TrustedBy {
  consumer: string;
  kind: string;
  verdict: 'ok' | 'fails';
  why: string;
}

export interface Ack {
  by: string;
  reason: string;
  until: string;
  at: string;
}

export interface Finding {
  key: string;
  id: string;
  cluster: string;
  severity: Severity;
  locations: string[];
  subject?: string;
  sha256?: string;
  why: string;
  fix: string;
  firstSeen: string;
  lastSeen: string;
  resolvedAt?: string;
  ack?: Ack;
}

export interface CertificateDetail extends Omit<CertificateSummary, 'locations' | 'findings'> {
  pem: string;
  fields: unknown;
  issuedBy: string[];
  chain: string[];
  locations: ApiLocation[];
  keyLocations: ApiLocation[];
  trustedBy: TrustedBy[];
  findings: Finding[];
}

export interface GraphNode {
  id: string;
  kind: 'root' | 'intermediate' | 'leaf' | 'consumer';
  label: string;
  cluster: string;
  sha256?: string;
  namespace?: string;
  node?: string;
  health?: Health;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: 'signs' | 'trusts' | 'presents';
  ok: boolean;
  reason?: string;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  truncated?: boolean;
}

export interface NodeFiles {
  node: string;
  cluster: string;
  reachable: boolean;
  reason?: string;
  files: { path: string; sha256?: string; expected?: string; state: 'ok' | 'missing' | 'differs' | 'extra' }[];
}

export type OperationKind = 'pki.renew' | 'pki.rotate-ca' | 'nodes.push' | 'bundles.sync';

export interface Operation {
  id: string;
  kind: OperationKind;
  args: Record<string, unknown>;
  state: 'planned' | 'running' | 'done' | 'failed';
  plan: { summary: string; steps: { action: string; target: string; detail?: string }[] };
  log: string[];
  error?: string;
  createdAt: string;
  finishedAt?: string;
}

export interface TimelineItem {
  sha256: string;
  cluster: string;
  subject: string;
  notAfter: string;
  health: Health;
}

/** What the server pushes on /api/v1/events. */
export type MonitorEvent =
  | { type: 'certificate'; data: CertificateSummary | { deleted: true; sha256: string; cluster: string } }
  | { type: 'finding'; data: Finding }
  | { type: 'source'; data: Source & { cluster: string } }
  | { type: 'cluster'; data: Cluster }
  | { type: 'operation'; data: Operation };
