// One cluster's scan turned into the API's objects (docs/api.md): certificate summaries and details,
// findings with their stable keys, the trust graph and the expiry timeline. Pure: it takes the report
// `scan` made, the parsed certificates and the time, and reads nothing else.
import { createHash } from 'node:crypto';
import type { Location } from '../inventory/inventory.ts';
import { SEVERITY_RANK, type Severity } from '../lint/types.ts';
import type { ScanCertificate, ScanFinding, ScanReport } from '../scan/scan.ts';
import type { Certificate } from '../x509/certificate.ts';
import {
  type ApiLocation,
  type CertificateDetail,
  type CertificateSummary,
  type Graph,
  type GraphEdge,
  type GraphNode,
  HEALTH_RANK,
  type Health,
  type TimelineItem,
  type TrustedBy,
} from './types.ts';

/** A finding as the scan made it, with its stable key and cluster. */
export interface KeyedFinding extends ScanFinding {
  key: string;
  cluster: string;
}

export interface ClusterView {
  cluster: string;
  at: Date;
  report: ScanReport;
  certs: Map<string, Certificate>;
  scanCerts: Map<string, ScanCertificate>;
  summaries: Map<string, CertificateSummary>;
  findings: KeyedFinding[];
  findingsBySha: Map<string, KeyedFinding[]>;
}

/** Stable: the same finding (id, cluster, places) gets the same key across scans and restarts. */
export function findingKey(id: string, cluster: string, locations: readonly string[]): string {
  const h = createHash('sha256');
  h.update(id).update('\0').update(cluster).update('\0');
  for (const l of [...locations].sort()) h.update(l).update('\0');
  return h.digest('hex').slice(0, 32);
}

const EXPIRY_IDS = /expired|expir|not-yet-valid/;
const CHAIN_IDS = new Set([
  'scan.chain.untrusted',
  'scan.chain.wrong-ca',
  'scan.chain.issuer-not-found',
  'scan.endpoint.untrusted',
  'scan.cabundle.backend-untrusted',
  'scan.kubeconfig.ca-did-not-sign-server',
  'x509.signature.not-by-issuer',
  'k8s.role.wrong-signer',
]);

export function health(cert: Certificate, findings: readonly ScanFinding[], now: Date, warnDays: number): Health {
  let h: Health = 'ok';
  const worse = (x: Health): void => {
    if (HEALTH_RANK[x] > HEALTH_RANK[h]) h = x;
  };
  const left = cert.notAfter.getTime() - now.getTime();
  if (left <= 0) worse('expired');
  else if (left < warnDays * 86_400_000) worse('expiring');
  for (const f of findings) {
    if (CHAIN_IDS.has(f.id)) worse('untrusted');
    else if (f.severity === 'error' && !EXPIRY_IDS.test(f.id)) worse('error');
  }
  return h;
}

export function keyTypeName(cert: Certificate): string {
  try {
    const k = cert.keyInfo;
    if (k.algorithm === 'RSA') return `rsa-${k.size ?? '?'}`;
    if (k.algorithm === 'EC') return `ecdsa-${(k.curve ?? '?').toLowerCase().replace(/[^a-z0-9]/g, '')}`;
    return k.algorithm.toLowerCase();
  } catch {
    return 'unknown';
  }
}

export function sanStrings(cert: Certificate): string[] {
  try {
    const s = cert.sans;
    return [
      ...s.dns.map((x) => `DNS:${x}`),
      ...s.ip.map((x) => `IP:${x}`),
      ...s.uri.map((x) => `URI:${x}`),
      ...s.email.map((x) => `email:${x}`),
      ...s.other.map((x) => `other:${x}`),
    ];
  } catch {
    return [];
  }
}

const CABUNDLE = /^(MutatingWebhookConfiguration|ValidatingWebhookConfiguration|APIService|CustomResourceDefinition)\//;

/** What kind of place a scan location is, in the API's words. */
export function apiLocation(l: Location): ApiLocation {
  const where = l.at ? `${l.source} [${l.at}]` : l.source;
  if (l.source.startsWith('tls://')) return { kind: 'endpoint', where };
  const k = /^([^/]*)\/(Secret|ConfigMap)\/([^[]+)/.exec(l.source);
  if (k) {
    const out: ApiLocation = { kind: k[2] === 'Secret' ? 'secret' : 'configmap', where };
    if (k[1]) out.namespace = k[1];
    return out;
  }
  if (CABUNDLE.test(l.source)) return { kind: 'cabundle', where };
  if (l.source.startsWith('CertificateSigningRequest/')) return { kind: 'csr', where };
  if (l.source.startsWith('ClusterTrustBundle/')) return { kind: 'bundle', where };
  const ns = /^([^/]+)\/(Issuer|Certificate)\//.exec(l.source);
  if (ns) return { kind: 'bundle', where, namespace: ns[1] as string };
  if (l.source.startsWith('ClusterIssuer/')) return { kind: 'bundle', where };
  const kubeconfig = l.at !== undefined && /^(users|clusters)\[/.test(l.at);
  if (l.node) return { kind: kubeconfig ? 'kubeconfig' : 'node', where, node: l.node };
  return { kind: kubeconfig ? 'kubeconfig' : 'file', where };
}

function worst(fs: readonly ScanFinding[]): Severity | null {
  let w: Severity | null = null;
  for (const f of fs) if (w === null || SEVERITY_RANK[f.severity] > SEVERITY_RANK[w]) w = f.severity;
  return w;
}

/**
 * The key of a finding object seen before: the monitor keeps the reports of the parts no change reached, and
 * their findings are the same objects pass after pass (hashing every finding's places again was linear in
 * the places of the whole cluster). Weak: it goes with the report.
 */
const keyMemo = new WeakMap<ScanFinding, { cluster: string; key: string }>();

function keyOf(f: ScanFinding, cluster: string): string {
  const m = keyMemo.get(f);
  if (m?.cluster === cluster) return m.key;
  const key = findingKey(f.id, cluster, f.locations);
  keyMemo.set(f, { cluster, key });
  return key;
}

export function buildView(cluster: string, report: ScanReport, certs: Map<string, Certificate>, now: Date, warnDays: number): ClusterView {
  const findings: KeyedFinding[] = report.findings.map((f) => ({ ...f, key: keyOf(f, cluster), cluster }));
  const findingsBySha = new Map<string, KeyedFinding[]>();
  for (const f of findings) {
    if (!f.sha256) continue;
    const a = findingsBySha.get(f.sha256);
    if (a) a.push(f);
    else findingsBySha.set(f.sha256, [f]);
  }
  const scanCerts = new Map(report.certificates.map((c) => [c.sha256, c]));
  const summaries = new Map<string, CertificateSummary>();
  for (const c of report.certificates) {
    const cert = certs.get(c.sha256);
    if (!cert) continue;
    const fs = findingsBySha.get(c.sha256) ?? [];
    summaries.set(c.sha256, {
      sha256: c.sha256,
      cluster,
      subject: c.subject,
      issuer: c.issuer,
      serial: cert.serialNumber,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      sans: sanStrings(cert),
      isCA: c.isCA,
      selfSigned: c.selfSigned,
      role: c.role,
      keyType: keyTypeName(cert),
      health: health(cert, fs, now, warnDays),
      findings: fs.length,
      worstSeverity: worst(fs),
      locations: c.locations.length,
    });
  }
  return { cluster, at: now, report, certs, scanCerts, summaries, findings, findingsBySha };
}

/** The best chain from the scan's issuer edges: leaf first, following the first issuer until a self-signed one. */
export function chainOf(v: ClusterView, sha: string): string[] {
  const out = [sha];
  const seen = new Set(out);
  let cur = v.scanCerts.get(sha);
  while (cur && !cur.selfSigned) {
    const next = cur.issuedBy.find((s) => !seen.has(s));
    if (!next) break;
    out.push(next);
    seen.add(next);
    cur = v.scanCerts.get(next);
  }
  return out;
}

export function trustedBy(v: ClusterView, sha: string): TrustedBy[] {
  const out: TrustedBy[] = [];
  for (const r of v.report.relations) {
    if (!r.anchors.includes(sha) || r.verdict === 'unchecked') continue;
    out.push({ consumer: r.consumer, kind: r.basis, verdict: r.verdict, why: r.why });
  }
  return out;
}

export function detailOf(v: ClusterView, sha: string, fs: CertificateDetail['findings']): CertificateDetail | undefined {
  const s = v.summaries.get(sha);
  const c = v.scanCerts.get(sha);
  const cert = v.certs.get(sha);
  if (!s || !c || !cert) return undefined;
  let fields: unknown;
  try {
    fields = cert.toJSON(v.at);
  } catch (e) {
    fields = { error: (e as Error).message };
  }
  return {
    ...s,
    pem: cert.toPem(),
    fields,
    issuedBy: c.issuedBy,
    chain: chainOf(v, sha),
    locations: c.locations.map(apiLocation),
    keyLocations: c.keyLocations.map((w) => apiLocation({ source: w })),
    trustedBy: trustedBy(v, sha),
    findings: fs,
  };
}

export function timelineOf(v: ClusterView, from?: Date, to?: Date): TimelineItem[] {
  const out: TimelineItem[] = [];
  for (const s of v.summaries.values()) {
    const t = Date.parse(s.notAfter);
    if (from && t < from.getTime()) continue;
    if (to && t > to.getTime()) continue;
    out.push({ sha256: s.sha256, cluster: s.cluster, subject: s.subject, notAfter: s.notAfter, health: s.health });
  }
  return out;
}

export const MAX_GRAPH_NODES = 5000;

/** Who signed whom, who trusts whom, who presents what; filtered by namespace or node when asked. */
export function graphOf(views: readonly ClusterView[], f: { namespace?: string; node?: string } = {}): Graph {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  let truncated = false;
  const add = (n: GraphNode): boolean => {
    if (nodes.has(n.id)) return true;
    if (nodes.size >= MAX_GRAPH_NODES) {
      truncated = true;
      return false;
    }
    nodes.set(n.id, n);
    return true;
  };
  const certId = (cluster: string, sha: string): string => `${cluster}/cert/${sha}`;
  for (const v of views) {
    const keep = (sha: string): boolean => {
      if (f.namespace === undefined && f.node === undefined) return true;
      const c = v.scanCerts.get(sha);
      if (!c) return false;
      return c.locations.some((l) => {
        const a = apiLocation(l);
        return (f.namespace === undefined || a.namespace === f.namespace) && (f.node === undefined || a.node === f.node);
      });
    };
    const wanted = new Set<string>();
    for (const c of v.report.certificates) if (keep(c.sha256)) wanted.add(c.sha256);
    // Their issuers come along so a chain is never cut by the filter.
    for (const sha of [...wanted]) for (const s of chainOf(v, sha)) wanted.add(s);
    const certNode = (sha: string): boolean => {
      const c = v.scanCerts.get(sha);
      const s = v.summaries.get(sha);
      if (!c || !s) return false;
      const loc = c.locations[0] ? apiLocation(c.locations[0]) : undefined;
      const n: GraphNode = {
        id: certId(v.cluster, sha),
        kind: c.isCA ? (c.selfSigned ? 'root' : 'intermediate') : 'leaf',
        label: c.subject || sha.slice(0, 12),
        cluster: v.cluster,
        sha256: sha,
        health: s.health,
      };
      if (loc?.namespace) n.namespace = loc.namespace;
      if (loc?.node) n.node = loc.node;
      return add(n);
    };
    for (const sha of wanted) certNode(sha);
    for (const sha of wanted) {
      const c = v.scanCerts.get(sha);
      const cert = v.certs.get(sha);
      if (!c || !cert) continue;
      for (const iss of c.issuedBy) {
        if (iss === sha || !nodes.has(certId(v.cluster, iss)) || !nodes.has(certId(v.cluster, sha))) continue;
        const valid = cert.notBefore <= v.at && v.at < cert.notAfter;
        const e: GraphEdge = { from: certId(v.cluster, iss), to: certId(v.cluster, sha), kind: 'signs', ok: valid };
        if (!valid) e.reason = cert.notAfter <= v.at ? 'expired' : 'not yet valid';
        edges.push(e);
      }
    }
    const endpointLeaf = new Map(v.report.endpoints.filter((e) => e.chain[0]).map((e) => [e.endpoint, e.chain[0] as string]));
    for (const r of v.report.relations) {
      const anchors = r.anchors.filter((a) => wanted.has(a));
      if (anchors.length === 0 && (f.namespace !== undefined || f.node !== undefined)) continue;
      const id = `${v.cluster}/consumer/${r.consumer}`;
      if (!add({ id, kind: 'consumer', label: r.consumer, cluster: v.cluster })) continue;
      for (const a of anchors) {
        if (!nodes.has(certId(v.cluster, a))) continue;
        const e: GraphEdge = { from: id, to: certId(v.cluster, a), kind: 'trusts', ok: r.verdict !== 'fails' };
        // Why the consumer's trust in this anchor does not hold (the server's chain does not lead to it, …).
        if (r.verdict === 'fails') e.reason = r.why;
        edges.push(e);
      }
      const leaf = endpointLeaf.get(r.server.replace(/^tls:\/\//, ''));
      if (leaf && (wanted.has(leaf) || certNode(leaf))) {
        const e: GraphEdge = { from: id, to: certId(v.cluster, leaf), kind: 'presents', ok: r.verdict === 'ok' };
        if (r.verdict !== 'ok') e.reason = r.why;
        edges.push(e);
      }
    }
  }
  const g: Graph = { nodes: [...nodes.values()], edges };
  if (truncated) g.truncated = true;
  return g;
}
