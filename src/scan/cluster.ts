// Read what holds certificates from a Kubernetes API server: Secrets (not service-account tokens or Helm
// releases), ConfigMaps with PEM, the caBundle of webhook configurations, APIServices and CRD conversion
// webhooks (with the backend each caBundle must verify), the certificates issued to
// CertificateSigningRequests, ClusterTrustBundles, cert-manager Issuers/ClusterIssuers/Certificates when their
// CRDs exist, and the flags of the control plane's mirror pods in kube-system (kube-apiserver, etcd: what
// relations.ts checks the node files against). Read-only: only LIST calls, paginated (limit/continue), paced by
// QPS/burst, on src/kube's client over src/kube/kubeconfig.ts (kubectl's loading rules; @kubernetes/client-node
// is not loaded unless the user authenticates with an exec plugin or an auth-provider: docs/architecture.md).
// Each object is parsed alone as it streams in, reduced to its certificate-looking values, handed on as bytes
// keyed `namespace/Kind/name[key]` and dropped. A resource that fails (unreachable, forbidden) is one line in
// `failures` and the others are still read.
import {
  type Backend,
  backendOf,
  CERT_KEY,
  type CertManagerCertificate,
  type ClientConfig,
  type ClusterValue,
  keepStored,
  MAX_ENDPOINTS_PER_BACKEND,
  mayHoldPem,
  SKIPPED_SECRET_TYPES,
} from '../k8s/cluster-source.ts';
import { ApiError, KubeClient, type ListEachOptions } from '../kube/client.ts';
import { type LiteKubeConfig, redactProxy } from '../kube/kubeconfig.ts';
import { type ComponentFlags, mirrorPodFlags } from './components.ts';

export interface ClusterSourceOptions {
  /** Objects per LIST page (default 500). */
  pageSize?: number;
  /** Most values handed on in all (default 1,000,000): a "too many values" failure past it. */
  maxValues?: number;
  /** Most bytes of one value (default 4 MiB, a little over what etcd stores in one object). */
  maxValueBytes?: number;
  /** LIST calls per second, sustained (default 50), and how many may go at once before pacing starts (default 100). */
  qps?: number;
  burst?: number;
  /** Called after each page: the resource and how many of its objects were listed so far. */
  onProgress?: (resource: string, listed: number) => void;
  /**
   * Hand each value on as its page is read (and keep none in `values`): the caller parses and drops it. A value
   * read from protobuf is a view into the answer's buffers, valid only during the call: copy what is kept.
   */
  onValue?: (v: ClusterValue) => void;
}

export interface ClusterRead {
  /** The API server URL read from. */
  server: string;
  values: ClusterValue[];
  /** What could not be read, one line each. */
  failures: { source: string; reason: string }[];
  /**
   * The sources of those failures that left a gap in the read (the API server or a whole resource: unreachable,
   * refused credentials, forbidden; the value budget), not one object that was malformed or too large.
   */
  unread: string[];
  /** Objects listed per resource. */
  listed: Record<string, number>;
  /** Each webhook/APIService/conversion caBundle with its backend. */
  backends: Backend[];
  /** cert-manager Certificates, when the CRD exists. */
  certManager: CertManagerCertificate[];
  /** kube-apiserver and etcd flags from the kube-system mirror pods (kubeadm's static pods), by node. */
  components: ComponentFlags[];
}

/** The annotation the kubelet puts on the mirror pod of a static pod. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/** The kubeconfig as kubectl loads it, or the pod's service account (src/kube/kubeconfig.ts). */
export { apiServerEndpoint, loadKubeConfig as loadScanKubeConfig } from '../kube/kubeconfig.ts';

/** One line for a failed API call: the HTTP status and the server's message, or the network error. */
export function describeApiError(e: unknown): string {
  if (e instanceof ApiError) {
    const words: Record<number, string> = { 401: 'unauthorized (expired or wrong credentials)', 403: 'forbidden', 404: 'not found' };
    const msg = e.serverMessage ?? '';
    return `HTTP ${e.code} ${words[e.code] ?? ''}${msg ? `: ${msg}` : ''}`.replace(/\s+/g, ' ').trim();
  }
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause && !err.message?.includes(cause) ? ` (${cause})` : ''}`.replace(/\s+/g, ' ').trim();
}

const CERT_MANAGER_GROUP = 'cert-manager.io';

/** Connections to the API server: a LIST page and its prefetch, or this many small LISTs at once. */
const LIST_CONNECTIONS = 4;

/** Read every certificate-holding value from the cluster. Never throws for API failures: they land in `failures`. */
export async function readCluster(kc: LiteKubeConfig, o: ClusterSourceOptions = {}): Promise<ClusterRead> {
  const limit = o.pageSize ?? 500;
  const maxValues = o.maxValues ?? 1_000_000;
  const maxBytes = o.maxValueBytes ?? 4 * 1024 * 1024;
  // Kept-alive connections, not a handshake per page: a page and its prefetch for the large LISTs, and the
  // small LISTs after them go four at a time (each would otherwise wait a round trip for the one before).
  const client = new KubeClient(kc, {
    qps: o.qps ?? 50,
    burst: o.burst ?? 100,
    maxSockets: LIST_CONNECTIONS,
    timeoutMs: 120_000,
    userAgent: 'anchorage-scan',
  });
  const server = client.server;
  const proxy = kc.proxyUrl();
  const out: ClusterRead = { server, values: [], failures: [], unread: [], listed: {}, backends: [], certManager: [], components: [] };
  try {
    await readAll();
  } finally {
    client.close();
  }
  return out;

  async function readAll(): Promise<void> {
    let full = false;
    let count = 0;
    /** Values recorded by LISTs run beside others and not replayed yet: the value budget counts them too. */
    let pending = 0;
    /** `view`: a protobuf value (src/kube/protobuf.ts), valid only now: copied when kept in `values`. */
    const take = (source: string, data: Uint8Array, view = false): void => {
      if (full) return;
      if (data.length > maxBytes) {
        out.failures.push({ source, reason: `too large: ${data.length} bytes (at most ${maxBytes})` });
        return;
      }
      if (count >= maxValues) {
        full = true;
        out.failures.push({ source, reason: `too many values: stopped at ${maxValues}` });
        out.unread.push(source);
        return;
      }
      count++;
      if (o.onValue) o.onValue({ source, data });
      else out.values.push({ source, data: view ? Buffer.from(data) : data });
    };
    /**
     * Where a LIST's effects on the read go: `direct` applies them as the items stream in; a recorder keeps them
     * (the values and the few fields read from each object, never the objects) for `replay`, so LISTs that run at
     * once still hand on their values, backends and failures in one fixed order, whichever answer came first.
     */
    interface Sink {
      /** `view`: bytes valid only during the call (a protobuf value): a recorder keeps a copy. */
      take(source: string, data: Uint8Array, view?: boolean): void;
      fx(effect: () => void): void;
    }
    const direct: Sink = { take, fx: (effect) => effect() };
    const recorder = (): Sink & { replay(): void } => {
      let effects: (() => void)[] = [];
      return {
        take: (source, data, view = false) => {
          const kept = view ? Buffer.from(data) : data;
          pending++;
          effects.push(() => {
            pending--;
            take(source, kept);
          });
        },
        fx: (effect) => {
          effects.push(effect);
        },
        replay: () => {
          const todo = effects;
          effects = [];
          for (const effect of todo) effect();
        },
      };
    };

    // Unreachable or refused credentials fail every resource alike: one line, and the rest is not tried.
    let down = false;
    let downReported = false;
    /** Resolves false when the resource could not be read (its failure goes to `k` like every other effect). */
    async function list<T>(
      resource: string,
      path: string,
      each: (item: T) => void,
      lo: {
        query?: Record<string, string>;
        /** A 404 means the API is not served (an optional API): nothing to report. */
        absent?: boolean;
        /** Secrets and ConfigMaps: asked for in protobuf (src/kube/protobuf.ts), read here when so answered. */
        protobuf?: ListEachOptions<T>['protobuf'];
        /** Where the LIST's effects go (default: applied at once). */
        k?: Sink;
      } = {},
    ): Promise<boolean> {
      const { query = {}, absent = false, protobuf, k = direct } = lo;
      if (down) return false;
      try {
        const r = await client.listEach<T>(path, {
          query,
          pageSize: limit,
          onItem: (item) => {
            if (!full) each(item);
          },
          onPage: (n) => o.onProgress?.(resource, n),
          // Past the budget with what is recorded too: the replay reports "too many values" at the right value.
          stop: () => full || count + pending > maxValues,
          ...(protobuf && {
            protobuf: {
              kind: protobuf.kind,
              onItem: (item) => {
                if (!full) protobuf.onItem(item);
              },
            },
            // A malformed object is one line; the rest of the page is still read.
            onBadItem: (i, reason, name) =>
              k.fx(() =>
                out.failures.push({
                  source: name ? `${server} ${resource} ${name}` : `${server} ${resource} (an object of a page, #${i + 1})`,
                  reason: `malformed protobuf: ${reason}`,
                }),
              ),
          }),
        });
        k.fx(() => {
          out.listed[resource] = r.items;
        });
        return true;
      } catch (e) {
        const code = e instanceof ApiError ? e.code : undefined;
        if (absent && code === 404) return true;
        if (code === undefined || code === 401) {
          down = true;
          // Through a proxy, a transport error may be the proxy's: say which proxy was used.
          const via = code === undefined && proxy ? ` (through proxy ${redactProxy(proxy)})` : '';
          const reason = `${describeApiError(e)}${via}; nothing was read from the cluster after ${resource}`;
          // LISTs run at once all fail when the server goes: the first of them in the read's order says so.
          k.fx(() => {
            if (downReported) return;
            downReported = true;
            out.failures.push({ source: server, reason });
            out.unread.push(server);
          });
          return false;
        }
        const reason = describeApiError(e);
        k.fx(() => {
          out.failures.push({ source: `${server} ${resource}`, reason });
          out.unread.push(`${server} ${resource}`);
        });
        return false;
      }
    }
    /** LISTs run at once (each waits a round trip, not for the others), their effects replayed in this order. */
    async function together(lists: ((k: Sink) => Promise<boolean>)[]): Promise<(() => void)[]> {
      const sinks = lists.map(() => recorder());
      await Promise.all(lists.map((l, i) => l(sinks[i] as Sink)));
      return sinks.map((k) => () => k.replay());
    }
    type Meta = { metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> } };
    type Port = { name?: string; port?: number; targetPort?: number | string; protocol?: string };
    type Resolved = Pick<Backend, 'endpoints' | 'unresolved'>;
    /**
     * Each Service backend → its Service's port → the ready addresses of its EndpointSlices (two LISTs per
     * Service, the Services looked up LIST_CONNECTIONS at a time; their failures in the backends' order).
     */
    async function resolveServices(): Promise<void> {
      const keyOf = (b: Backend): string | undefined =>
        b.service ? `${b.service.namespace}/${b.service.name}:${b.service.port ?? 443}` : undefined;
      const wanted = new Map<string, NonNullable<Backend['service']>>();
      for (const b of out.backends) {
        const key = keyOf(b);
        if (key !== undefined && b.service && !wanted.has(key)) wanted.set(key, b.service);
      }
      const keys = [...wanted.keys()];
      const done = new Map<string, { r: Resolved; k: ReturnType<typeof recorder> }>();
      let next = 0;
      const lookups = async (): Promise<void> => {
        while (next < keys.length && !down) {
          const key = keys[next++] as string;
          const svc = wanted.get(key) as NonNullable<Backend['service']>;
          const k = recorder();
          done.set(key, { r: await resolveService(k, svc.namespace, svc.name, svc.port ?? 443), k });
        }
      };
      await Promise.all(Array.from({ length: Math.min(LIST_CONNECTIONS, keys.length) }, lookups));
      for (const b of out.backends) {
        const key = keyOf(b);
        const d = key === undefined ? undefined : done.get(key);
        if (!d) continue;
        d.k.replay();
        if (d.r.endpoints) b.endpoints = d.r.endpoints;
        if (d.r.unresolved) b.unresolved = d.r.unresolved;
      }
    }
    async function resolveService(k: Sink, ns: string, name: string, want: number): Promise<Resolved> {
      const services: (Meta & { spec?: { ports?: Port[] } })[] = [];
      const slices: { ports?: Port[]; endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[] }[] = [];
      const q = (s: string): string => encodeURIComponent(s);
      const read = await list<Meta & { spec?: { ports?: Port[] } }>(
        'services',
        `/api/v1/namespaces/${q(ns)}/services`,
        (x) => services.push(x),
        { query: { fieldSelector: `metadata.name=${name}` }, k },
      );
      if (!read) return { unresolved: 'the Service could not be read' };
      const port = services[0]?.spec?.ports?.find((p) => p.port === want);
      if (!services.length) return { unresolved: `no Service ${ns}/${name}` };
      if (!port) return { unresolved: `Service ${ns}/${name} has no port ${want}` };
      const sliced = await list<(typeof slices)[number]>(
        'endpointslices',
        `/apis/discovery.k8s.io/v1/namespaces/${q(ns)}/endpointslices`,
        (x) => slices.push(x),
        { query: { labelSelector: `kubernetes.io/service-name=${name}` }, k },
      );
      if (!sliced) return { unresolved: "the Service's EndpointSlices could not be read" };
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
    await list<Meta & { data?: Record<string, string> }>(
      'secrets',
      '/api/v1/secrets',
      (s) => {
        const data = s.data;
        if (!data) return;
        let base: string | undefined;
        for (const k in data) {
          const v = data[k] as string;
          // Neither named like a certificate nor holding PEM (seen in the base64 itself): dropped undecoded.
          if (!CERT_KEY.test(k) && !mayHoldPem(v)) continue;
          const bytes = Buffer.from(v, 'base64');
          base ??= `${s.metadata?.namespace ?? ''}/Secret/${s.metadata?.name ?? '?'}`;
          if (keepStored('Secret', 'data', k, bytes)) take(`${base}[${k}]`, bytes);
        }
      },
      {
        query: { fieldSelector: SKIPPED_SECRET_TYPES.map((t) => `type!=${t}`).join(',') },
        protobuf: {
          kind: 'Secret',
          // The values as bytes: a native search for PEM, no base64 (the same rule as above).
          onItem: (s) => {
            let base: string | undefined;
            for (const [k, v] of s.data) {
              if (!keepStored('Secret', 'data', k, v)) continue;
              base ??= `${s.metadata.namespace}/Secret/${s.metadata.name || '?'}`;
              take(`${base}[${k}]`, v, true);
            }
          },
        },
      },
    );
    await list<Meta & { data?: Record<string, string>; binaryData?: Record<string, string> }>(
      'configmaps',
      '/api/v1/configmaps',
      (c) => {
        const base = `${c.metadata?.namespace ?? ''}/ConfigMap/${c.metadata?.name ?? '?'}`;
        for (const [k, v] of Object.entries(c.data ?? {})) {
          const bytes = Buffer.from(v);
          if (keepStored('ConfigMap', 'data', k, bytes)) take(`${base}[${k}]`, bytes);
        }
        for (const [k, v] of Object.entries(c.binaryData ?? {})) {
          const bytes = Buffer.from(v, 'base64');
          if (keepStored('ConfigMap', 'binaryData', k, bytes)) take(`${base}[${k}]`, bytes);
        }
      },
      {
        protobuf: {
          kind: 'ConfigMap',
          onItem: (c) => {
            const base = `${c.metadata.namespace}/ConfigMap/${c.metadata.name || '?'}`;
            for (const [k, v] of c.data) if (keepStored('ConfigMap', 'data', k, v)) take(`${base}[${k}]`, v, true);
            for (const [k, v] of c.binaryData) if (keepStored('ConfigMap', 'binaryData', k, v)) take(`${base}[${k}]`, v, true);
          },
        },
      },
    );
    const backend = (k: Sink, source: string, cc: ClientConfig | undefined): void => {
      const b = backendOf(source, cc);
      if (!b) return;
      k.take(source, Buffer.from(cc?.caBundle ?? '', 'base64'));
      k.fx(() => out.backends.push(b));
    };
    const webhooks =
      (k: Sink, kind: string) => (w: { metadata?: { name?: string }; webhooks?: { name: string; clientConfig: ClientConfig }[] }) => {
        for (const h of w.webhooks ?? []) backend(k, `${kind}/${w.metadata?.name ?? '?'}[${h.name}.caBundle]`, h.clientConfig);
      };
    const crds = new Set<string>();
    type PodContainer = { name?: string; command?: string[]; args?: string[] };
    // The small LISTs, at once; their effects in the order they were read one by one before (the Service
    // lookups need the backends of the first four).
    const [webhooksV, webhooksM, apiServices, conversions, csrs, trustBundles, mirrorPods] = await together([
      (k) =>
        list(
          'validatingwebhookconfigurations',
          '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
          webhooks(k, 'ValidatingWebhookConfiguration'),
          { k },
        ),
      (k) =>
        list(
          'mutatingwebhookconfigurations',
          '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
          webhooks(k, 'MutatingWebhookConfiguration'),
          { k },
        ),
      (k) =>
        list<Meta & { spec?: { caBundle?: string; service?: { namespace?: string; name?: string; port?: number } } }>(
          'apiservices',
          '/apis/apiregistration.k8s.io/v1/apiservices',
          (a) => {
            const svc = a.spec?.service;
            backend(k, `APIService/${a.metadata?.name ?? '?'}[caBundle]`, {
              ...(a.spec?.caBundle !== undefined && { caBundle: a.spec.caBundle }),
              ...(svc?.namespace &&
                svc.name && { service: { namespace: svc.namespace, name: svc.name, ...(svc.port !== undefined && { port: svc.port }) } }),
            });
          },
          { k },
        ),
      (k) =>
        list<Meta & { spec?: { conversion?: { webhook?: { clientConfig?: ClientConfig } } } }>(
          'customresourcedefinitions',
          '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
          (d) => {
            crds.add(d.metadata?.name ?? '');
            backend(
              k,
              `CustomResourceDefinition/${d.metadata?.name ?? '?'}[conversion.caBundle]`,
              d.spec?.conversion?.webhook?.clientConfig,
            );
          },
          { k },
        ),
      (k) =>
        list<Meta & { status?: { certificate?: string } }>(
          'certificatesigningrequests',
          '/apis/certificates.k8s.io/v1/certificatesigningrequests',
          (r) => {
            const b = r.status?.certificate;
            if (b) k.take(`CertificateSigningRequest/${r.metadata?.name ?? '?'}[status.certificate]`, Buffer.from(b, 'base64'));
          },
          { k },
        ),
      // Beta in Kubernetes 1.33+, off unless the API server enables it: a 404 is "not served", not a failure.
      (k) =>
        list<Meta & { spec?: { trustBundle?: string } }>(
          'clustertrustbundles',
          '/apis/certificates.k8s.io/v1beta1/clustertrustbundles',
          (b) => {
            if (b.spec?.trustBundle) k.take(`ClusterTrustBundle/${b.metadata?.name ?? '?'}[trustBundle]`, Buffer.from(b.spec.trustBundle));
          },
          { absent: true, k },
        ),
      // The control plane's static pods, as their kubelets publish them (mirror pods): the flags the running
      // kube-apiserver and etcd were started with, by node.
      (k) =>
        list<Meta & { spec?: { nodeName?: string; containers?: PodContainer[] } }>(
          'pods',
          '/api/v1/namespaces/kube-system/pods',
          (p) => {
            if (p.metadata?.annotations?.[MIRROR_POD_ANNOTATION] === undefined) return;
            for (const c of p.spec?.containers ?? []) {
              const argv = [...(c.command ?? []), ...(c.args ?? [])].filter((a): a is string => typeof a === 'string');
              const f = mirrorPodFlags(`kube-system/Pod/${p.metadata?.name ?? '?'}[${c.name ?? '?'}]`, p.spec?.nodeName, argv);
              if (f) k.fx(() => out.components.push(f));
            }
          },
          { k },
        ),
    ]);
    for (const replay of [webhooksV, webhooksM, apiServices, conversions]) replay?.();
    await resolveServices();
    for (const replay of [csrs, trustBundles, mirrorPods]) replay?.();
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
    const issuerBundles = (k: Sink, kind: string) => (i: CmObject) => {
      const base = `${i.metadata?.namespace ? `${i.metadata.namespace}/` : ''}${kind}/${i.metadata?.name ?? '?'}`;
      const bundles: [string, string | undefined][] = [
        ['vault.caBundle', i.spec?.vault?.caBundle],
        ['acme.caBundle', i.spec?.acme?.caBundle],
        ['venafi.tpp.caBundle', i.spec?.venafi?.tpp?.caBundle],
      ];
      for (const [key, v] of bundles) if (v) k.take(`${base}[${key}]`, Buffer.from(v, 'base64'));
    };
    const certificates = (k: Sink) => (c: CmObject) => {
      const ns = c.metadata?.namespace ?? '';
      if (!c.spec?.secretName) return;
      const found: CertManagerCertificate = {
        source: `${ns}/Certificate/${c.metadata?.name ?? '?'}`,
        secret: `${ns}/Secret/${c.spec.secretName}`,
        dnsNames: (c.spec.dnsNames ?? []).map(String),
        issuer: `${c.spec.issuerRef?.kind ?? 'Issuer'}/${c.spec.issuerRef?.name ?? '?'}`,
      };
      k.fx(() => out.certManager.push(found));
    };
    const certManager = (
      [
        ['issuers', 'Issuer'],
        ['clusterissuers', 'ClusterIssuer'],
        ['certificates', 'Certificate'],
      ] as const
    ).filter(([plural]) => crds.has(`${plural}.${CERT_MANAGER_GROUP}`));
    const replays = await together(
      certManager.map(
        ([plural, kind]) =>
          (k: Sink) =>
            list<CmObject>(
              `${plural}.${CERT_MANAGER_GROUP}`,
              `/apis/${CERT_MANAGER_GROUP}/v1/${plural}`,
              kind === 'Certificate' ? certificates(k) : issuerBundles(k, kind),
              { k },
            ),
      ),
    );
    for (const replay of replays) replay();
  }
}
