// The read side of the API over the monitor's memory: filters, sorting, paging (docs/api.md
// conventions: `limit` at most 1000, an opaque `continue`, `total` after filtering).

import { SEVERITIES, type Severity } from '../lint/types.ts';
import type { Monitor } from '../monitor/monitor.ts';
import type { CertificateDetail, CertificateSummary, Finding, Graph, TimelineItem } from '../monitor/types.ts';
import { HEALTH_RANK, type Health } from '../monitor/types.ts';
import { detailOf, graphOf, timelineOf } from '../monitor/view.ts';
import { HttpError } from './errors.ts';

export type Query = Record<string, string | undefined>;

export interface Page<T> {
  items: T[];
  total: number;
  continue?: string;
}

const HEALTHS: Health[] = ['ok', 'expiring', 'expired', 'untrusted', 'error'];

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new HttpError(400, `${name}: '${v}' is not one of ${allowed.join(', ')}`);
  return v as T;
}

function time(name: string, v: string | undefined): Date | undefined {
  if (v === undefined || v === '') return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new HttpError(400, `${name}: '${v}' is not an RFC 3339 time`);
  return new Date(t);
}

function page<T>(all: T[], q: Query): Page<T> {
  const limitRaw = q.limit ?? '100';
  const limit = Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new HttpError(400, `limit: '${limitRaw}' is not a whole number from 1 to 1000`);
  let offset = 0;
  if (q.continue) {
    const m = /^o(\d{1,9})$/.exec(Buffer.from(q.continue, 'base64url').toString('latin1'));
    if (!m) throw new HttpError(400, 'continue: not a token this server gave');
    offset = Number(m[1]);
  }
  const items = all.slice(offset, offset + limit);
  const out: Page<T> = { items, total: all.length };
  if (offset + limit < all.length) out.continue = Buffer.from(`o${offset + limit}`).toString('base64url');
  return out;
}

function knownCluster(m: Monitor, c: string | undefined): string | undefined {
  if (c === undefined || c === '') return undefined;
  if (!m.clusters.has(c)) throw new HttpError(404, `cluster '${c}': no such cluster`);
  return c;
}

export function listCertificates(m: Monitor, q: Query): Page<CertificateSummary> {
  const cluster = knownCluster(m, q.cluster);
  const health = oneOf('health', q.health, HEALTHS);
  const severity = oneOf('severity', q.severity, SEVERITIES);
  const ca = oneOf('ca', q.ca, ['true', 'false'] as const);
  const expiresBefore = time('expiresBefore', q.expiresBefore);
  const sort = oneOf('sort', q.sort, ['notAfter', '-notAfter', 'subject', '-subject'] as const) ?? 'notAfter';
  const needle = (q.q ?? '').toLowerCase();
  if (needle.length > 1024) throw new HttpError(400, 'q: longer than 1024 characters');
  const role = q.role === '' ? undefined : q.role;
  const out = m.summaries(cluster).filter((s) => {
    if (health && s.health !== health) return false;
    if (severity && s.worstSeverity !== severity) return false;
    if (ca && s.isCA !== (ca === 'true')) return false;
    if (role !== undefined && s.role !== role) return false;
    if (expiresBefore && Date.parse(s.notAfter) >= expiresBefore.getTime()) return false;
    if (needle) {
      const hay = [s.subject, s.issuer, ...s.sans].some((x) => x.toLowerCase().includes(needle));
      if (!hay && !s.serial.startsWith(needle.replace(/:/g, '')) && !s.sha256.startsWith(needle)) return false;
    }
    return true;
  });
  const dir = sort.startsWith('-') ? -1 : 1;
  if (sort.endsWith('notAfter'))
    out.sort(
      (a, b) =>
        dir * (Date.parse(a.notAfter) - Date.parse(b.notAfter)) || a.sha256.localeCompare(b.sha256) || a.cluster.localeCompare(b.cluster),
    );
  else
    out.sort((a, b) => dir * a.subject.localeCompare(b.subject) || a.sha256.localeCompare(b.sha256) || a.cluster.localeCompare(b.cluster));
  return page(out, q);
}

const SHA = /^[0-9a-f]{64}$/;

export function certificate(m: Monitor, sha: string, q: Query): CertificateDetail {
  if (!SHA.test(sha)) throw new HttpError(400, `sha256: '${sha.slice(0, 80)}' is not 64 lowercase hex digits`);
  const cluster = knownCluster(m, q.cluster);
  for (const v of m.views(cluster)) {
    const fs = (v.findingsBySha.get(sha) ?? []).map((kf) => m.findings.get(kf.key)).filter((f): f is Finding => f !== undefined);
    const d = detailOf(
      v,
      sha,
      fs.map((f) => m.withAck(f)),
    );
    if (d) return d;
  }
  throw new HttpError(404, `certificate ${sha}: not found${cluster ? ` in cluster ${cluster}` : ''}`);
}

export function pem(m: Monitor, sha: string): string {
  if (!SHA.test(sha)) throw new HttpError(400, `sha256: '${sha.slice(0, 80)}' is not 64 lowercase hex digits`);
  for (const v of m.views()) {
    const c = v.certs.get(sha);
    if (c && v.summaries.has(sha)) return c.toPem();
  }
  throw new HttpError(404, `certificate ${sha}: not found`);
}

export function graph(m: Monitor, q: Query): Graph {
  const cluster = knownCluster(m, q.cluster);
  return graphOf(m.views(cluster), {
    ...(q.namespace ? { namespace: q.namespace } : {}),
    ...(q.node ? { node: q.node } : {}),
  });
}

export function listFindings(m: Monitor, q: Query): Page<Finding> {
  const cluster = knownCluster(m, q.cluster);
  const severity = oneOf('severity', q.severity, SEVERITIES);
  // No state: every finding that is not resolved, acknowledged or not.
  const state = oneOf('state', q.state, ['open', 'resolved', 'acknowledged'] as const);
  const id = q.id === '' ? undefined : q.id;
  const out: Finding[] = [];
  for (const raw of m.findings.values()) {
    if (cluster && raw.cluster !== cluster) continue;
    if (!m.clusters.has(raw.cluster)) continue;
    if (severity && raw.severity !== severity) continue;
    if (id !== undefined && raw.id !== id) continue;
    const f = m.withAck(raw);
    if (state === 'resolved' ? f.resolvedAt === undefined : f.resolvedAt !== undefined) continue;
    if (state === 'open' && f.ack) continue;
    if (state === 'acknowledged' && !f.ack) continue;
    out.push(f);
  }
  const rank: Record<Severity, number> = { error: 0, warning: 1, notice: 2 };
  out.sort((a, b) => rank[a.severity] - rank[b.severity] || a.id.localeCompare(b.id) || a.key.localeCompare(b.key));
  return page(out, q);
}

export function timeline(m: Monitor, q: Query): { items: TimelineItem[] } {
  const cluster = knownCluster(m, q.cluster);
  const from = time('from', q.from);
  const to = time('to', q.to);
  const items = m.views(cluster).flatMap((v) => timelineOf(v, from, to));
  items.sort(
    (a, b) =>
      Date.parse(a.notAfter) - Date.parse(b.notAfter) || HEALTH_RANK[b.health] - HEALTH_RANK[a.health] || a.sha256.localeCompare(b.sha256),
  );
  return { items };
}
