// Read what holds certificates from a Kubernetes API server: Secrets (not service-account tokens or Helm
// releases), ConfigMaps with PEM, the caBundle of webhook configurations, APIServices and CRD conversion
// webhooks (with the backend each caBundle must verify), the certificates issued to
// CertificateSigningRequests, ClusterTrustBundles, and cert-manager Issuers/ClusterIssuers/Certificates when
// their CRDs exist. Read-only: only LIST calls, paginated (limit/continue), paced by QPS/burst. Each object's certificate-looking values are handed on as bytes, keyed
// `namespace/Kind/name[key]`; the rest of the object is dropped as each page is processed. A resource that
// fails (unreachable, forbidden) is one line in `failures` and the others are still read.
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
// The kubeconfig half of the client (kubectl's loading rules, exec/token/cert auth, proxies) without its
// generated API classes: those cost start-up time, and their typed (de)serialisation and gzip cost a
// large LIST 10x the raw request (docs/benchmarks.md, scan section). LISTs are plain GETs below.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { InputError } from '../common/errors.ts';
import { ListStream } from './list-stream.ts';

export interface ClusterSourceOptions {
  /** Kubeconfig file(s), as kubectl's --kubeconfig; default: KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string;
  context?: string;
  /** Objects per LIST page (default 500). */
  pageSize?: number;
  /** Most values handed on in all (default 1,000,000): a "too large" failure past it. */
  maxValues?: number;
  /** Most bytes of one value (default 4 MiB, a little over what etcd stores in one object). */
  maxValueBytes?: number;
  /** LIST calls per second, sustained (default 50), and how many may go at once before pacing starts (default 100). */
  qps?: number;
  burst?: number;
  /** Called after each page: the resource and how many of its objects were listed so far. */
  onProgress?: (resource: string, listed: number) => void;
  /** Read the service account a pod runs as (KUBERNETES_SERVICE_HOST/PORT and its token, CA and namespace files). */
  inCluster?: boolean;
  /** Hand each value on as its page is read (and keep none in `values`): the caller parses and drops it. */
  onValue?: (v: ClusterValue) => void;
}

/** The server a caBundle must verify: a webhook's or APIService's backend. */
export interface Backend {
  /** The caBundle value's source (`ValidatingWebhookConfiguration/name[hook.caBundle]`). */
  source: string;
  /** A `url` backend (webhooks only). */
  url?: string;
  /** A Service backend: the API server dials `<name>.<namespace>.svc` and checks that name. */
  service?: { namespace: string; name: string; port?: number };
  /** The Service's ready endpoints for that port (from its EndpointSlices), where the API server's call lands. */
  endpoints?: { host: string; port: number }[];
  /** Why the Service did not resolve to an endpoint (no such Service, no ready endpoint, not readable). */
  unresolved?: string;
}

/** A cert-manager Certificate: the Secret it keeps and the names it asks for. */
export interface CertManagerCertificate {
  source: string;
  secret: string;
  dnsNames: string[];
  issuer: string;
}

export interface ClusterValue {
  /** `namespace/Kind/name[key]`, or `Kind/name[key]` for cluster-scoped objects. */
  source: string;
  data: Uint8Array;
}

export interface ClusterRead {
  /** The API server URL read from. */
  server: string;
  values: ClusterValue[];
  /** What could not be read, one line each. */
  failures: { source: string; reason: string }[];
  /** Objects listed per resource. */
  listed: Record<string, number>;
  /** Each webhook/APIService/conversion caBundle with its backend. */
  backends: Backend[];
  /** cert-manager Certificates, when the CRD exists. */
  certManager: CertManagerCertificate[];
}

/** Most endpoints of one Service probed: enough to see a mixed rollout, bounded for a Service of 1,000 pods. */
export const MAX_ENDPOINTS_PER_BACKEND = 3;

/** Secret types that never hold certificates: skipped by field selector, so they never leave the server. */
export const SKIPPED_SECRET_TYPES = ['kubernetes.io/service-account-token', 'helm.sh/release.v1'];

/** Where a pod's service account token is mounted (its ca.crt and namespace beside it). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const CERT_KEY = /(\.(crt|pem|cer|der|key|p12|pfx|jks)|^ca|cert|key|bundle|truststore|keystore)$/i;
const PEM = Buffer.from('-----BEGIN ');
/** `-----BEGIN` as it reads in base64 at each of the three byte alignments: a value none of them appears in
 * holds no PEM and is dropped without being decoded (large opaque Secrets cost a search, not a copy). */
const PEM_B64 = [0, 1, 2].map((s) => PEM.subarray(s, s + 9).toString('base64'));
export const mayHoldPem = (b64: string): boolean => PEM_B64.some((p) => b64.includes(p));

/** Load the kubeconfig as kubectl would. Bad input (missing file, unknown context) is an InputError. */
export function loadKubeConfig(o: Pick<ClusterSourceOptions, 'kubeconfig' | 'context' | 'inCluster'>): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (o.inCluster) {
      if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
        throw new InputError('--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)');
      if (!existsSync(SERVICE_ACCOUNT_TOKEN))
        throw new InputError(`--in-cluster: ${SERVICE_ACCOUNT_TOKEN}: no such file (no service account token mounted)`);
      kc.loadFromCluster();
    } else if (o.kubeconfig !== undefined) {
      for (const f of o.kubeconfig.split(':')) if (f && !existsSync(f)) throw new InputError(`--kubeconfig: ${f}: no such file`);
      // Several files joined by ':' merge as kubectl merges KUBECONFIG.
      if (o.kubeconfig.includes(':')) {
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = o.kubeconfig;
        try {
          kc.loadFromDefault();
        } finally {
          if (saved === undefined) delete process.env.KUBECONFIG;
          else process.env.KUBECONFIG = saved;
        }
      } else kc.loadFromFile(o.kubeconfig);
    } else kc.loadFromDefault();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`kubeconfig: ${(e as Error).message.split('\n')[0]}`);
  }
  if (o.context !== undefined) {
    if (!kc.getContextObject(o.context)) throw new InputError(`--context: no context named '${o.context}' in the kubeconfig`);
    kc.setCurrentContext(o.context);
  }
  if (!kc.getCurrentCluster()) throw new InputError('kubeconfig: no current cluster (set a current-context or pass --context)');
  return kc;
}

/** One line for a failed API call: the HTTP status and the server's message, or the network error. */
export function describeApiError(e: unknown): string {
  const err = e as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string; message?: string } };
  if (typeof err.code === 'number') {
    let msg = '';
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      msg = typeof body?.message === 'string' ? body.message : '';
    } catch {}
    const words: Record<number, string> = { 401: 'unauthorized (expired or wrong credentials)', 403: 'forbidden', 404: 'not found' };
    return `HTTP ${err.code} ${words[err.code] ?? ''}${msg ? `: ${msg}` : ''}`.replace(/\s+/g, ' ').trim();
  }
  const cause = err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause && !err.message?.includes(cause) ? ` (${cause})` : ''}`.replace(/\s+/g, ' ').trim();
}

interface Page<T> {
  items?: T[];
  metadata?: { continue?: string };
}

/** An API error shaped as describeApiError reads it: the HTTP status and the body. */
class ApiError extends Error {
  readonly code: number;
  readonly body: string;
  constructor(code: number, body: string) {
    super(`HTTP ${code}`);
    this.code = code;
    this.body = body;
  }
}

/**
 * GET a LIST path of the API server with the kubeconfig's credentials; each item is handed to `onItem` as it
 * arrives (ListStream) and the rest of the answer is returned. `onHead` gets the part before the items (with
 * `metadata.continue`) as soon as it is in.
 */
async function getList<T>(
  kc: KubeConfig,
  server: string,
  path: string,
  agent: Agent,
  onItem: (item: T) => void,
  onHead?: (head: Page<T>) => void,
  timeoutMs = 120_000,
): Promise<Page<T>> {
  const opts: import('node:https').RequestOptions = { agent };
  await kc.applyToHTTPSOptions(opts);
  const url = `${server.replace(/\/+$/, '')}${path}`;
  return new Promise<Page<T>>((resolve, reject) => {
    // No Accept-Encoding: gzip of a large LIST costs the server more than the loopback or LAN saves.
    const req = request(url, { ...opts, method: 'GET', headers: { ...opts.headers, Accept: 'application/json' } }, (res) => {
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) <= 299;
      const stream = new ListStream<T>(onItem);
      if (onHead) stream.onHead = (h) => onHead(h as Page<T>);
      const errorBody: Buffer[] = [];
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
        if (!ok) {
          if (n <= 64 * 1024) errorBody.push(d);
          return;
        }
        try {
          stream.write(d);
        } catch (e) {
          req.destroy(new Error(`${url}: ${(e as Error).message}`));
        }
      });
      res.on('end', () => {
        if (!ok) return reject(new ApiError(res.statusCode ?? 0, Buffer.concat(errorBody).toString('utf8')));
        try {
          resolve(stream.end() as Page<T>);
        } catch {
          reject(new Error(`${url}: the answer is not JSON`));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A token bucket: `burst` calls at once, then `qps` per second. */
function pacer(qps: number, burst: number): () => Promise<void> {
  let tokens = burst;
  let last = Date.now();
  return async () => {
    for (;;) {
      const now = Date.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * qps);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - tokens) / qps) * 1000)));
    }
  };
}

type ClientConfig = { caBundle?: string; url?: string; service?: { namespace: string; name: string; port?: number } };

const CERT_MANAGER_GROUP = 'cert-manager.io';

/** Read every certificate-holding value from the cluster. Never throws for API failures: they land in `failures`. */
export async function readCluster(kc: KubeConfig, o: ClusterSourceOptions = {}): Promise<ClusterRead> {
  const limit = o.pageSize ?? 500;
  const maxValues = o.maxValues ?? 1_000_000;
  const maxBytes = o.maxValueBytes ?? 4 * 1024 * 1024;
  const qps = o.qps ?? 50;
  const wait = pacer(qps, o.burst ?? 100);
  const server = kc.getCurrentCluster()?.server ?? '';
  const out: ClusterRead = { server, values: [], failures: [], listed: {}, backends: [], certManager: [] };
  // One connection for the whole read (a page and its prefetch at most): not a TLS handshake per page.
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  try {
    await readAll();
  } finally {
    agent.destroy();
  }
  return out;

  async function readAll(): Promise<void> {
    let full = false;
    let count = 0;
    const take = (source: string, data: Uint8Array): void => {
      if (full) return;
      if (data.length > maxBytes) {
        out.failures.push({ source, reason: `too large: ${data.length} bytes (at most ${maxBytes})` });
        return;
      }
      if (count >= maxValues) {
        full = true;
        out.failures.push({ source, reason: `too many values: stopped at ${maxValues}` });
        return;
      }
      count++;
      if (o.onValue) o.onValue({ source, data });
      else out.values.push({ source, data });
    };

    // Unreachable or refused credentials fail every resource alike: one line, and the rest is not tried.
    let down = false;
    /** `absent`: a 404 means the API is not served (an optional API): nothing to report. */
    async function list<T>(resource: string, path: string, each: (item: T) => void, absent = false): Promise<void> {
      if (down) return;
      let n = 0;
      const sep = path.includes('?') ? '&' : '?';
      // The next page is asked for as soon as this one's `continue` token is in (Kubernetes writes metadata
      // before the items): the server prepares it while this process parses the items as they stream in.
      const fetchPage = (c: string | undefined): Promise<Page<T>> => {
        let next: Promise<Page<T>> | undefined;
        const page = (async () => {
          await wait();
          return getList<T>(
            kc,
            server,
            `${path}${sep}limit=${limit}${c ? `&continue=${encodeURIComponent(c)}` : ''}`,
            agent,
            (item) => {
              if (full) return;
              each(item);
              n++;
            },
            (head) => {
              const cont = head.metadata?.continue;
              if (cont && !full) {
                next = fetchPage(cont);
                next.catch(() => {}); // seen when awaited below
              }
            },
          );
        })();
        return page.then(async (p) => {
          o.onProgress?.(resource, n);
          const cont = p.metadata?.continue;
          // The token arrived after the items (not Kubernetes' order): ask now.
          if (!next && cont && !full) next = fetchPage(cont);
          if (next) await next;
          return p;
        });
      };
      try {
        await fetchPage(undefined);
        out.listed[resource] = n;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (absent && code === 404) return;
        if (typeof code !== 'number' || code === 401) {
          down = true;
          out.failures.push({ source: server, reason: `${describeApiError(e)}; nothing was read from the cluster after ${resource}` });
          return;
        }
        out.failures.push({ source: `${server} ${resource}`, reason: describeApiError(e) });
      }
    }
    type Meta = { metadata?: { name?: string; namespace?: string } };
    type Port = { name?: string; port?: number; targetPort?: number | string; protocol?: string };
    /** Each Service backend → its Service's port → the ready addresses of its EndpointSlices (two LISTs per Service). */
    async function resolveServices(): Promise<void> {
      const seen = new Map<string, Pick<Backend, 'endpoints' | 'unresolved'>>();
      for (const b of out.backends) {
        if (!b.service || down) continue;
        const { namespace: ns, name } = b.service;
        const want = b.service.port ?? 443;
        const key = `${ns}/${name}:${want}`;
        let r = seen.get(key);
        if (!r) {
          r = await resolveService(ns, name, want);
          seen.set(key, r);
        }
        if (r.endpoints) b.endpoints = r.endpoints;
        if (r.unresolved) b.unresolved = r.unresolved;
      }
    }
    async function resolveService(ns: string, name: string, want: number): Promise<Pick<Backend, 'endpoints' | 'unresolved'>> {
      const services: (Meta & { spec?: { ports?: Port[] } })[] = [];
      const slices: { ports?: Port[]; endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[] }[] = [];
      const before = out.failures.length;
      const q = (s: string): string => encodeURIComponent(s);
      await list<Meta & { spec?: { ports?: Port[] } }>(
        'services',
        `/api/v1/namespaces/${q(ns)}/services?fieldSelector=${q(`metadata.name=${name}`)}`,
        (x) => services.push(x),
      );
      if (out.failures.length > before) return { unresolved: 'the Service could not be read' };
      const port = services[0]?.spec?.ports?.find((p) => p.port === want);
      if (!services.length) return { unresolved: `no Service ${ns}/${name}` };
      if (!port) return { unresolved: `Service ${ns}/${name} has no port ${want}` };
      await list<(typeof slices)[number]>(
        'endpointslices',
        `/apis/discovery.k8s.io/v1/namespaces/${q(ns)}/endpointslices?labelSelector=${q(`kubernetes.io/service-name=${name}`)}`,
        (x) => slices.push(x),
      );
      if (out.failures.length > before) return { unresolved: "the Service's EndpointSlices could not be read" };
      const endpoints: { host: string; port: number }[] = [];
      for (const sl of slices) {
        // The slice's port for this Service port: by name (a Service with one unnamed port: the only one).
        const p = sl.ports?.find((x) => (x.name ?? '') === (port.name ?? ''));
        if (typeof p?.port !== 'number') continue;
        for (const e of sl.endpoints ?? []) {
          if (e.conditions?.ready === false) continue;
          for (const a of e.addresses ?? []) if (endpoints.length < MAX_ENDPOINTS_PER_BACKEND) endpoints.push({ host: a, port: p.port });
        }
      }
      return endpoints.length ? { endpoints } : { unresolved: `Service ${ns}/${name} has no ready endpoint` };
    }
    const fieldSelector = SKIPPED_SECRET_TYPES.map((t) => `type!=${t}`).join(',');
    await list<Meta & { data?: Record<string, string> }>(
      'secrets',
      `/api/v1/secrets?fieldSelector=${encodeURIComponent(fieldSelector)}`,
      (s) => {
        const base = `${s.metadata?.namespace ?? ''}/Secret/${s.metadata?.name ?? '?'}`;
        for (const [k, v] of Object.entries(s.data ?? {})) {
          if (!CERT_KEY.test(k) && !mayHoldPem(v)) continue;
          const data = Buffer.from(v, 'base64');
          if (CERT_KEY.test(k) || data.includes(PEM)) take(`${base}[${k}]`, data);
        }
      },
    );
    await list<Meta & { data?: Record<string, string>; binaryData?: Record<string, string> }>('configmaps', '/api/v1/configmaps', (c) => {
      const base = `${c.metadata?.namespace ?? ''}/ConfigMap/${c.metadata?.name ?? '?'}`;
      for (const [k, v] of Object.entries(c.data ?? {})) if (v.includes('-----BEGIN ')) take(`${base}[${k}]`, Buffer.from(v));
      for (const [k, v] of Object.entries(c.binaryData ?? {})) if (CERT_KEY.test(k)) take(`${base}[${k}]`, Buffer.from(v, 'base64'));
    });
    const backend = (source: string, cc: ClientConfig | undefined): void => {
      if (!cc?.caBundle) return;
      take(source, Buffer.from(cc.caBundle, 'base64'));
      const b: Backend = { source };
      if (cc.url) b.url = cc.url;
      if (cc.service) {
        b.service = { namespace: cc.service.namespace, name: cc.service.name };
        if (cc.service.port !== undefined) b.service.port = cc.service.port;
      }
      out.backends.push(b);
    };
    const webhooks = (kind: string) => (w: { metadata?: { name?: string }; webhooks?: { name: string; clientConfig: ClientConfig }[] }) => {
      for (const h of w.webhooks ?? []) backend(`${kind}/${w.metadata?.name ?? '?'}[${h.name}.caBundle]`, h.clientConfig);
    };
    await list(
      'validatingwebhookconfigurations',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      webhooks('ValidatingWebhookConfiguration'),
    );
    await list(
      'mutatingwebhookconfigurations',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      webhooks('MutatingWebhookConfiguration'),
    );
    await list<Meta & { spec?: { caBundle?: string; service?: { namespace?: string; name?: string; port?: number } } }>(
      'apiservices',
      '/apis/apiregistration.k8s.io/v1/apiservices',
      (a) => {
        const svc = a.spec?.service;
        backend(`APIService/${a.metadata?.name ?? '?'}[caBundle]`, {
          ...(a.spec?.caBundle !== undefined && { caBundle: a.spec.caBundle }),
          ...(svc?.namespace &&
            svc.name && { service: { namespace: svc.namespace, name: svc.name, ...(svc.port !== undefined && { port: svc.port }) } }),
        });
      },
    );
    const crds = new Set<string>();
    await list<Meta & { spec?: { conversion?: { webhook?: { clientConfig?: ClientConfig } } } }>(
      'customresourcedefinitions',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      (d) => {
        crds.add(d.metadata?.name ?? '');
        backend(`CustomResourceDefinition/${d.metadata?.name ?? '?'}[conversion.caBundle]`, d.spec?.conversion?.webhook?.clientConfig);
      },
    );
    await resolveServices();
    await list<Meta & { status?: { certificate?: string } }>(
      'certificatesigningrequests',
      '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      (r) => {
        const b = r.status?.certificate;
        if (b) take(`CertificateSigningRequest/${r.metadata?.name ?? '?'}[status.certificate]`, Buffer.from(b, 'base64'));
      },
    );
    // Beta in Kubernetes 1.33+, off unless the API server enables it: a 404 is "not served", not a failure.
    await list<Meta & { spec?: { trustBundle?: string } }>(
      'clustertrustbundles',
      '/apis/certificates.k8s.io/v1beta1/clustertrustbundles',
      (b) => {
        if (b.spec?.trustBundle) take(`ClusterTrustBundle/${b.metadata?.name ?? '?'}[trustBundle]`, Buffer.from(b.spec.trustBundle));
      },
      true,
    );
    // cert-manager: only when its CRDs are installed (the CRD list said so).
    type CmObject = {
      metadata?: { name?: string; namespace?: string };
      spec?: {
        secretName?: string;
        dnsNames?: string[];
        issuerRef?: { name?: string; kind?: string };
        ca?: { secretName?: string };
        vault?: { caBundle?: string };
        acme?: { caBundle?: string };
        venafi?: { tpp?: { caBundle?: string } };
      };
    };
    const issuerBundles = (kind: string) => (i: CmObject) => {
      const base = `${i.metadata?.namespace ? `${i.metadata.namespace}/` : ''}${kind}/${i.metadata?.name ?? '?'}`;
      const bundles: [string, string | undefined][] = [
        ['vault.caBundle', i.spec?.vault?.caBundle],
        ['acme.caBundle', i.spec?.acme?.caBundle],
        ['venafi.tpp.caBundle', i.spec?.venafi?.tpp?.caBundle],
      ];
      for (const [k, v] of bundles) if (v) take(`${base}[${k}]`, Buffer.from(v, 'base64'));
    };
    for (const [plural, kind] of [
      ['issuers', 'Issuer'],
      ['clusterissuers', 'ClusterIssuer'],
      ['certificates', 'Certificate'],
    ] as const) {
      if (!crds.has(`${plural}.${CERT_MANAGER_GROUP}`)) continue;
      await list<CmObject>(
        `${plural}.${CERT_MANAGER_GROUP}`,
        `/apis/${CERT_MANAGER_GROUP}/v1/${plural}`,
        kind === 'Certificate'
          ? (c) => {
              const ns = c.metadata?.namespace ?? '';
              if (!c.spec?.secretName) return;
              out.certManager.push({
                source: `${ns}/Certificate/${c.metadata?.name ?? '?'}`,
                secret: `${ns}/Secret/${c.spec.secretName}`,
                dnsNames: (c.spec.dnsNames ?? []).map(String),
                issuer: `${c.spec.issuerRef?.kind ?? 'Issuer'}/${c.spec.issuerRef?.name ?? '?'}`,
              });
            }
          : issuerBundles(kind),
      );
    }
  }
}

/** The API server as a TLS endpoint: where it is and what the kubeconfig trusts and presents. */
export interface ApiServerEndpoint {
  host: string;
  port: number;
  servername?: string;
  /** PEM of the kubeconfig's certificate-authority(-data); undefined when it has none (system roots). */
  ca?: string;
  cert?: string;
  key?: string;
}

export function apiServerEndpoint(kc: KubeConfig): ApiServerEndpoint | undefined {
  const c = kc.getCurrentCluster();
  if (!c?.server) return undefined;
  let u: URL;
  try {
    u = new URL(c.server);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const read = (data: string | undefined, file: string | undefined): string | undefined => {
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    if (file && existsSync(file)) return readFileSync(file, 'utf8');
    return undefined;
  };
  const e: ApiServerEndpoint = { host, port: u.port ? Number(u.port) : 443 };
  if (c.tlsServerName) e.servername = c.tlsServerName;
  const ca = read(c.caData, c.caFile);
  if (ca) e.ca = ca;
  const user = kc.getCurrentUser();
  const cert = read(user?.certData, user?.certFile);
  const key = read(user?.keyData, user?.keyFile);
  if (cert && key) {
    e.cert = cert;
    e.key = key;
  }
  return e;
}
