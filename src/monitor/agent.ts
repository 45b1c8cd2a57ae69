// `anchorage agent` and the server's side of it: an agent watches its own cluster (in-cluster,
// read-only) and pushes every object's values to a central server, which holds them as a cluster of
// kind `agent`. A push replaces the agent's whole inventory; the server checks every field and its size.
import type { Backend, CertManagerCertificate } from '../k8s/cluster-source.ts';
import type { ClusterState } from './cluster.ts';
import type { Extracted } from './extract.ts';
import type { Monitor } from './monitor.ts';
import type { Source } from './types.ts';

export interface PushBody {
  cluster: string;
  objects: {
    key: string;
    values: { source: string; data: string }[];
    backends?: unknown[];
    certManager?: unknown[];
    failures?: unknown[];
  }[];
  sources?: unknown[];
}

export class PushError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;
const MAX_OBJECTS = 1_000_000;

function str(v: unknown, what: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max) throw new PushError(`${what}: a string of at most ${max} characters`);
  return v;
}

/** Validate a push and turn it into the cluster's objects. */
export function parsePush(b: PushBody): { cluster: string; objects: Map<string, Extracted>; sources: Source[] } {
  if (typeof b !== 'object' || b === null) throw new PushError('body: an object');
  const cluster = str(b.cluster, 'cluster', 253);
  if (!NAME.test(cluster)) throw new PushError(`cluster: '${cluster}' is not a name ([A-Za-z0-9._:-])`);
  if (!Array.isArray(b.objects) || b.objects.length > MAX_OBJECTS) throw new PushError(`objects: a list of at most ${MAX_OBJECTS}`);
  const objects = new Map<string, Extracted>();
  for (const o of b.objects) {
    const key = str(o?.key, 'objects[].key');
    if (!Array.isArray(o.values)) throw new PushError('objects[].values: a list');
    const x: Extracted = {
      values: o.values.map((v) => ({
        source: str(v?.source, 'values[].source'),
        data: Buffer.from(str(v?.data, 'values[].data', 8 * 1024 * 1024), 'base64'),
      })),
      backends: (Array.isArray(o.backends) ? o.backends : []).map((x) => {
        const b = x as Backend;
        const out: Backend = { source: str(b?.source, 'backends[].source') };
        if (b.url !== undefined) out.url = str(b.url, 'backends[].url');
        if (b.service !== undefined) {
          out.service = { namespace: str(b.service.namespace, 'service.namespace', 253), name: str(b.service.name, 'service.name', 253) };
          if (typeof b.service.port === 'number') out.service.port = b.service.port;
        }
        return out;
      }),
      certManager: (Array.isArray(o.certManager) ? o.certManager : []).map((x) => {
        const c = x as CertManagerCertificate;
        return {
          source: str(c?.source, 'certManager[].source'),
          secret: str(c.secret, 'certManager[].secret'),
          dnsNames: Array.isArray(c.dnsNames) ? c.dnsNames.map((d) => str(d, 'dnsNames[]', 253)) : [],
          issuer: str(c.issuer, 'certManager[].issuer'),
        };
      }),
      failures: (Array.isArray(o.failures) ? o.failures : []).map((x) => {
        const f = x as { source: string; reason: string };
        return { source: str(f?.source, 'failures[].source'), reason: str(f.reason, 'failures[].reason') };
      }),
    };
    objects.set(`agent|${key}`, x);
  }
  const sources: Source[] = [];
  for (const s of Array.isArray(b.sources) ? b.sources : []) {
    const x = s as Source;
    const out: Source = {
      name: str(x?.name, 'sources[].name', 253),
      status: x.status === 'ok' || x.status === 'stale' || x.status === 'error' ? x.status : 'error',
      objects: typeof x.objects === 'number' ? x.objects : 0,
    };
    if (typeof x.reason === 'string') out.reason = x.reason.slice(0, 1000);
    sources.push(out);
  }
  return { cluster, objects, sources };
}

/** The server side: hold the push as cluster `agent:<name>`'s objects. */
export function applyPush(m: Monitor, b: PushBody, make: (name: string) => ClusterState): { cluster: string; objects: number } {
  const p = parsePush(b);
  let c = m.clusters.get(p.cluster);
  if (c && c.kind !== 'agent') throw new PushError(`cluster '${p.cluster}' is not an agent's cluster here`);
  c ??= make(p.cluster);
  c.replaceAll('agent|', p.objects);
  for (const s of p.sources)
    m.sourceState(c, `agent:${s.name}`, s.status, { ...(s.reason !== undefined && { reason: s.reason }), objects: s.objects });
  m.sourceState(c, 'agent', 'ok', { objects: p.objects.size });
  c.ready = true;
  c.rescan();
  return { cluster: p.cluster, objects: p.objects.size };
}

/** The agent side: the cluster's objects as a push body. */
export function pushBody(c: ClusterState, cluster: string): PushBody {
  return {
    cluster,
    objects: c.snapshot().map(({ key, x }) => ({
      key: key.replace(/^[^|]*\|/, (p) => p),
      values: x.values.map((v) => ({ source: v.source, data: Buffer.from(v.data).toString('base64') })),
      backends: x.backends,
      certManager: x.certManager,
      failures: x.failures,
    })),
    sources: [...c.sources.values()],
  };
}
