// The admission webhook on the shared controller runtime (src/kube). Every replica serves AdmissionReviews over
// HTTPS (a serving leaf from the shared serving CA, swapped in place on rotation) from caches of namespaces,
// pods and Services. The leader (a Lease) keeps the serving CA and the caBundles right, issues per-pod
// identities (a work queue over pods), signs PodCertificateRequests for its signer name where the cluster has
// that API, and reports pods that should carry trust but do not (admitted while the webhook was down: the
// webhook configuration's failurePolicy is Ignore), as a log line, an Event on the pod and a metric.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ApiError, CORE, type KubeClient, type KubeObject, type ResourceType, resourcePath } from '../kube/client.ts';
import { Informer, objectKey, sleep } from '../kube/informer.ts';
import type { Logger } from '../kube/log.ts';
import { WorkQueue } from '../kube/queue.ts';
import { parseCsr } from '../x509/csr.ts';
import { renewAt } from './certs.ts';
import { IDENTITY_SECRET, type WebhookConfig } from './config.ts';
import {
  CsrIssuer,
  type Issuer,
  identityNames,
  identitySecret,
  type PodFacts,
  readIdentitySecret,
  SecretIssuer,
  sameNames,
  selectingServices,
  writeIdentitySecret,
} from './identity.ts';
import { mutatePod, type PodLike } from './mutate.ts';
import { MAX_REVIEW_BYTES, review } from './review.ts';
import { Serving } from './serving.ts';

export const PODS: ResourceType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true };
export const SERVICES: ResourceType = { group: '', version: 'v1', resource: 'services', kind: 'Service', namespaced: true };
export const PCRS: ResourceType = {
  group: 'certificates.k8s.io',
  version: 'v1beta1',
  resource: 'podcertificaterequests',
  kind: 'PodCertificateRequest',
  namespaced: true,
};

export interface WebhookOptions {
  client: KubeClient;
  log: Logger;
  registry: Registry;
  config: WebhookConfig;
  /** The webhook's own namespace (never mutated; the serving CA lives there). */
  namespace: string;
  host: string;
  port: number;
  /** Path the AdmissionReviews are POSTed to. */
  path: string;
  serving: {
    secretName: string;
    webhookConfigurations: string[];
    dnsNames: string[];
    ips: string[];
    caSeconds: number;
    leafSeconds: number;
  };
  /** Seconds between the leader's serving/caBundle checks and every replica's CA reload (default 10). */
  resyncSeconds?: number;
  workers?: number;
  /** Sign PodCertificateRequests (when the API exists). Default true. */
  podCertificates?: boolean;
}

interface SlimPod extends KubeObject {
  spec: PodLike['spec'] & { serviceAccountName?: string; nodeName?: string };
}
interface SlimService extends KubeObject {
  selector?: Record<string, string>;
}
interface Pcr extends KubeObject {
  spec: {
    signerName: string;
    podName: string;
    podUID: string;
    serviceAccountName: string;
    nodeName: string;
    maxExpirationSeconds?: number;
    pkixPublicKey?: string;
    stubPKCS10Request?: string;
  };
  status?: { certificateChain?: string; conditions?: { type: string; status: string }[] };
}

export class Webhook {
  private readonly o: WebhookOptions;
  config: WebhookConfig;
  readonly serving: Serving;
  issuer?: Issuer;
  readonly namespaces: Informer<KubeObject>;
  readonly pods: Informer<SlimPod>;
  readonly services: Informer<SlimService>;
  pcrs?: Informer<Pcr>;
  private server?: Server;
  port = 0;
  private readonly queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 60_000 });
  private leading = false;
  private readonly abort = new AbortController();
  private loops: Promise<unknown>[] = [];
  /** Pod UIDs already reported as missed. */
  private readonly reported = new Set<string>();
  private readonly missed = new Map<string, string>();
  private readonly m: {
    admissions: Counter<'result'>;
    latency: Histogram<'result'>;
    missed: Gauge;
    identities: Counter<'result'>;
    pcrs: Counter<'result'>;
  };

  constructor(o: WebhookOptions) {
    this.o = o;
    this.config = o.config;
    const { client, log } = o;
    this.serving = new Serving({ client, log, namespace: o.namespace, ...o.serving });
    this.issuer = this.makeIssuer(o.config);
    this.namespaces = new Informer<KubeObject>(client, CORE.namespaces, {
      log,
      transform: (n) => ({
        metadata: { name: n.metadata.name, resourceVersion: n.metadata.resourceVersion, labels: n.metadata.labels ?? {} },
      }),
    });
    this.pods = new Informer<SlimPod>(client, PODS, { log, transform: slimPod });
    this.services = new Informer<SlimService>(client, SERVICES, {
      log,
      transform: (s) => ({
        metadata: { name: s.metadata.name, namespace: s.metadata.namespace, resourceVersion: s.metadata.resourceVersion },
        selector: (s as { spec?: { selector?: Record<string, string> } }).spec?.selector ?? {},
      }),
    });
    const r = o.registry;
    this.m = {
      admissions: new Counter({
        name: 'anchorage_webhook_admissions_total',
        help: 'AdmissionReviews answered, by result',
        labelNames: ['result'],
        registers: [r],
      }),
      latency: new Histogram({
        name: 'anchorage_webhook_admission_duration_seconds',
        help: 'Time from request to answer',
        labelNames: ['result'],
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers: [r],
      }),
      missed: new Gauge({
        name: 'anchorage_webhook_missed_pods',
        help: 'Pods that should carry the trust bundle and do not (admitted while the webhook was down)',
        registers: [r],
      }),
      identities: new Counter({
        name: 'anchorage_webhook_identities_total',
        help: 'Pod identity certificates issued, by result',
        labelNames: ['result'],
        registers: [r],
      }),
      pcrs: new Counter({
        name: 'anchorage_webhook_podcertificaterequests_total',
        help: 'PodCertificateRequests answered, by result',
        labelNames: ['result'],
        registers: [r],
      }),
    };
    this.pods.on((ev, pod) => {
      if (ev === 'delete') {
        this.reported.delete(pod.metadata.uid ?? '');
        this.missed.delete(pod.metadata.uid ?? '');
        this.m.missed.set(this.missed.size);
        return;
      }
      if (pod.metadata.annotations?.[IDENTITY_SECRET]) this.queue.add(objectKey(pod));
      if (this.leading) void this.checkMissed(pod);
    });
    this.services.on((_ev, svc) => {
      // Names follow the Services: re-check every identity pod of the namespace.
      for (const p of this.pods.list())
        if (p.metadata.namespace === svc.metadata.namespace && p.metadata.annotations?.[IDENTITY_SECRET]) this.queue.add(objectKey(p));
    });
  }

  private excludedSet?: Set<string>;
  get excluded(): Set<string> {
    this.excludedSet ??= new Set(['kube-system', this.o.namespace, ...this.config.trust.excludeNamespaces]);
    return this.excludedSet;
  }

  get synced(): boolean {
    return this.namespaces.hasSynced && this.pods.hasSynced && this.services.hasSynced && this.serving.leaf !== undefined;
  }

  private makeIssuer(c: WebhookConfig): Issuer | undefined {
    const i = c.identity.issuer;
    if (i?.secret) return new SecretIssuer(this.o.client, i.secret);
    if (i?.csr) return new CsrIssuer(this.o.client, i.csr, this.o.namespace);
    return undefined;
  }

  setConfig(c: WebhookConfig): void {
    if (JSON.stringify(c.identity.issuer) !== JSON.stringify(this.config.identity.issuer)) {
      this.issuer = this.makeIssuer(c);
      void this.issuer
        ?.refresh()
        .catch((e: Error) => this.o.log.warn({ issuer: this.issuer?.describe(), err: e.message }, 'identity issuer not ready'));
    }
    this.config = c;
    this.excludedSet = undefined;
    this.o.log.info({ bundles: Object.keys(c.trust.bundles), mode: c.trust.mode }, 'configuration reloaded');
  }

  /** Caches, the serving CA and leaf, the HTTPS server. */
  async start(): Promise<void> {
    this.namespaces.start();
    this.pods.start();
    this.services.start();
    await this.serving.load();
    this.serving.refreshLeaf();
    if (this.issuer)
      await this.issuer
        .refresh()
        .catch((e: Error) => this.o.log.warn({ issuer: this.issuer?.describe(), err: e.message }, 'identity issuer not ready'));
    // Answer only once the namespace labels are known: an opted-out namespace must never be injected by a cold cache.
    await Promise.all([this.namespaces.synced, this.pods.synced, this.services.synced]);
    await this.listen();
    this.loops.push(this.replicaLoop());
  }

  private async listen(): Promise<void> {
    const leaf = this.serving.leaf;
    if (!leaf) throw new Error('no serving certificate');
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
      const t0 = performance.now();
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'POST' || url !== this.o.path) {
        res
          .writeHead(url === this.o.path ? 405 : 404, { 'content-type': 'text/plain' })
          .end(url === this.o.path ? 'POST only' : 'not found');
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (d: Buffer) => {
        if (over) return;
        size += d.length;
        if (size > MAX_REVIEW_BYTES) {
          over = true;
          this.count('invalid', t0);
          res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end(`too large: more than ${MAX_REVIEW_BYTES} bytes`);
          req.destroy();
          return;
        }
        chunks.push(d);
      });
      req.on('end', () => {
        if (over) return;
        // One chunk (a body under the TLS record size, the usual case) is read in place, not copied.
        const a = review(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), {
          config: this.config,
          excluded: this.excluded,
          issuerReady: this.issuer?.ready() ?? false,
          labelsOf: (ns) => this.namespaces.get(ns)?.metadata.labels,
        });
        res.writeHead(a.status, { 'content-type': a.status === 200 ? 'application/json' : 'text/plain' }).end(a.body);
        this.count(a.result, t0);
        const level = a.result === 'invalid' || a.result === 'error' ? 'warn' : a.result === 'denied' ? 'info' : 'debug';
        // The line's object is made only when the line is written (debug is off by default: every admitted pod).
        if (this.o.log.isLevelEnabled(level))
          this.o.log[level]({ ...a.info, result: a.result, ms: +(performance.now() - t0).toFixed(3) }, 'admission');
      });
      req.on('error', () => undefined);
    });
    // The API server's webhook timeout is at most 30 s: never hold a request longer.
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private count(result: string, t0: number): void {
    this.m.admissions.inc({ result });
    this.m.latency.observe({ result }, (performance.now() - t0) / 1000);
  }

  /** Every replica: reload the serving CA, swap the leaf when it changed, refresh the issuer. */
  private async replicaLoop(): Promise<void> {
    const every = (this.o.resyncSeconds ?? 10) * 1000;
    while (!this.abort.signal.aborted) {
      await sleep(every, this.abort.signal);
      if (this.abort.signal.aborted) break;
      try {
        if (this.leading) await this.serving.reconcile();
        else await this.serving.load();
        if (this.serving.refreshLeaf() && this.serving.leaf)
          this.server?.setSecureContext({ cert: this.serving.leaf.certPem, key: this.serving.leaf.keyPem });
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'serving certificate upkeep failed');
      }
      if (this.issuer)
        await this.issuer
          .refresh()
          .catch((e: Error) => this.o.log.warn({ issuer: this.issuer?.describe(), err: e.message }, 'identity issuer not ready'));
    }
  }

  /** The leader's work: caBundles now, identities, PodCertificateRequests, missed pods. */
  async startLeading(): Promise<void> {
    this.leading = true;
    try {
      await this.serving.reconcile();
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'serving CA / caBundle upkeep failed');
    }
    for (const p of this.pods.list()) {
      if (p.metadata.annotations?.[IDENTITY_SECRET]) this.queue.add(objectKey(p));
      void this.checkMissed(p);
    }
    this.loops.push(
      this.queue.run(
        this.o.workers ?? 4,
        (k) => this.reconcileIdentity(k),
        (key, e, retryIn) => {
          this.m.identities.inc({ result: 'error' });
          this.o.log.warn({ pod: key, err: (e as Error).message, retryIn }, 'identity not issued: retrying');
        },
      ),
    );
    if (this.o.podCertificates !== false) await this.startPcrSigner();
  }

  // ---------- missed pods ----------

  private async checkMissed(pod: SlimPod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    if (this.reported.has(uid) || pod.metadata.deletionTimestamp) return;
    const ns = pod.metadata.namespace ?? '';
    let m: ReturnType<typeof mutatePod>;
    try {
      m = mutatePod(pod as PodLike, {
        config: this.config,
        namespace: ns,
        namespaceLabels: this.namespaces.get(ns)?.metadata.labels ?? {},
        excluded: this.excluded,
        // Only the trust part matters here: a ready issuer keeps a deny policy for identity from hiding the pod.
        issuerReady: true,
      });
    } catch {
      return;
    }
    if (m.bundle === undefined) return;
    this.reported.add(uid);
    this.missed.set(uid, `${ns}/${pod.metadata.name}`);
    this.m.missed.set(this.missed.size);
    const msg = `pod admitted without the trust bundle '${m.bundle}' (the webhook was down or not yet registered): recreate it to inject`;
    this.o.log.warn({ pod: `${ns}/${pod.metadata.name}`, uid, bundle: m.bundle }, 'missed pod: admitted without trust');
    await this.event(pod, 'Warning', 'TrustNotInjected', msg);
  }

  private async event(pod: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      await this.o.client.request('POST', resourcePath(CORE.events, ns), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${pod.metadata.name}.`, namespace: ns },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace: ns, uid: pod.metadata.uid },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: 'anchorage-webhook' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'could not record an event');
    }
  }

  // ---------- identities ----------

  private facts(pod: SlimPod): PodFacts {
    return {
      name: pod.metadata.name,
      namespace: pod.metadata.namespace ?? '',
      uid: pod.metadata.uid ?? '',
      serviceAccount: pod.spec?.serviceAccountName ?? 'default',
      labels: pod.metadata.labels ?? {},
    };
  }

  private servicesOf(f: PodFacts): string[] {
    return selectingServices(
      f,
      this.services
        .list()
        .filter((s) => s.metadata.namespace === f.namespace)
        .map((s) => ({ name: s.metadata.name, ...(s.selector && { selector: s.selector }) })),
    );
  }

  private async reconcileIdentity(key: string): Promise<void> {
    const pod = this.pods.get(key);
    const secretName = pod?.metadata.annotations?.[IDENTITY_SECRET];
    if (!pod || !secretName || pod.metadata.deletionTimestamp || !this.issuer) return;
    const f = this.facts(pod);
    const names = identityNames(f, this.servicesOf(f), this.config.identity);
    const path = resourcePath(CORE.secrets, f.namespace, secretName);
    const existing = await this.o.client.get<{
      metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; ownerReferences?: { uid: string }[] };
      data?: Record<string, string>;
    }>(path);
    const cur = readIdentitySecret(existing, f.uid);
    if (!cur.ours) {
      this.o.log.warn({ pod: key, secret: secretName }, 'identity secret exists and belongs to another pod: left alone');
      return;
    }
    const now = Date.now();
    if (cur.leaf && sameNames(cur.leaf, names) && now < renewAt(cur.leaf, 2 / 3)) {
      this.queue.addAfter(key, Math.min(renewAt(cur.leaf, 2 / 3) - now + 50, 2 ** 31 - 1));
      return;
    }
    if (!this.issuer.ready()) await this.issuer.refresh();
    const issued = await this.issuer.issue(names, this.config.identity.lifetimeSeconds, this.config.identity.keyType);
    await writeIdentitySecret(this.o.client, identitySecret(f, secretName, issued), existing?.metadata);
    const leaf = issued.chain[0];
    this.m.identities.inc({ result: cur.leaf ? 'renewed' : 'issued' });
    this.o.log.info(
      {
        pod: key,
        secret: secretName,
        serial: leaf?.serialNumber,
        notAfter: leaf?.notAfter.toISOString(),
        dns: names.dns.length,
        renewed: !!cur.leaf,
      },
      cur.leaf ? 'identity renewed' : 'identity issued',
    );
    if (leaf) this.queue.addAfter(key, Math.min(renewAt(leaf, 2 / 3) - Date.now() + 50, 2 ** 31 - 1));
  }

  // ---------- PodCertificateRequests ----------

  private async startPcrSigner(): Promise<void> {
    const signer = this.config.identity.podCertificateSigner;
    const has = await this.o.client
      .get<{ resources?: { name: string }[] }>('/apis/certificates.k8s.io/v1beta1')
      .then((r) => !!r?.resources?.some((x) => x.name === 'podcertificaterequests'))
      .catch(() => false);
    if (!has) {
      this.o.log.info('no PodCertificateRequest API (certificates.k8s.io/v1beta1) in this cluster: that signer stays off');
      return;
    }
    const pcrs = new Informer<Pcr>(this.o.client, PCRS, { log: this.o.log });
    this.pcrs = pcrs;
    const q = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 30_000 });
    pcrs.on((ev, p) => {
      if (ev !== 'delete' && p.spec.signerName === signer && !p.status?.certificateChain && !p.status?.conditions?.length)
        q.add(objectKey(p));
    });
    pcrs.start();
    this.loops.push(
      q.run(
        2,
        (k) => this.signPcr(k),
        (key, e) => {
          this.m.pcrs.inc({ result: 'error' });
          this.o.log.warn({ pcr: key, err: (e as Error).message }, 'PodCertificateRequest not signed: retrying');
        },
      ),
    );
    this.abort.signal.addEventListener('abort', () => {
      q.shutdown();
      void pcrs.stop();
    });
    this.o.log.info({ signer }, 'signing PodCertificateRequests');
  }

  private async signPcr(key: string): Promise<void> {
    const p = this.pcrs?.get(key);
    if (!p || p.status?.certificateChain || p.status?.conditions?.length) return;
    const ns = p.metadata.namespace ?? '';
    const path = `${resourcePath(PCRS, ns, p.metadata.name)}/status`;
    const now = new Date();
    const cond = (type: string, reason: string, message: string) => ({
      type,
      status: 'True',
      reason,
      message,
      lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      observedGeneration: p.metadata.generation ?? 1,
    });
    const deny = async (reason: string, message: string, type = 'Denied'): Promise<void> => {
      await this.o.client.request('PUT', path, { ...p, status: { conditions: [cond(type, reason, message)] } });
      this.m.pcrs.inc({ result: type.toLowerCase() });
      this.o.log.warn({ pcr: key, reason, message }, `PodCertificateRequest ${type.toLowerCase()}`);
    };
    const pod = this.pods.get(`${ns}/${p.spec.podName}`) ?? (await this.o.client.get<SlimPod>(resourcePath(PODS, ns, p.spec.podName)));
    if (!pod || pod.metadata.uid !== p.spec.podUID)
      return deny('PodNotFound', `pod ${ns}/${p.spec.podName} with UID ${p.spec.podUID} does not exist`);
    if (!(this.issuer instanceof SecretIssuer)) return deny('NoIssuer', 'this signer needs an identity issuer held in a Secret', 'Failed');
    let publicKey: Uint8Array;
    try {
      if (p.spec.stubPKCS10Request) publicKey = parseCsr(Buffer.from(p.spec.stubPKCS10Request, 'base64')).spki;
      else if (p.spec.pkixPublicKey) publicKey = Buffer.from(p.spec.pkixPublicKey, 'base64');
      else return deny('InvalidRequest', 'no stubPKCS10Request or pkixPublicKey');
    } catch (e) {
      return deny('InvalidRequest', `unreadable request: ${(e as Error).message}`.slice(0, 200));
    }
    const f = { ...this.facts(pod), serviceAccount: p.spec.serviceAccountName };
    const names = identityNames(f, this.servicesOf(f), this.config.identity);
    const seconds = Math.max(3600, Math.min(this.config.identity.lifetimeSeconds, p.spec.maxExpirationSeconds ?? 86400));
    if (!this.issuer.ready()) await this.issuer.refresh();
    // Exactly `seconds` long: the API server checks the lifetime against the request's bounds.
    const issued = await this.issuer.issue(names, seconds, this.config.identity.keyType, publicKey, 0);
    const leaf = issued.chain[0];
    if (!leaf) throw new Error('issuer returned no certificate');
    const t = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    // Without the CA's own (self-signed) root: the chain is what a TLS peer is sent.
    const chain = issued.chain.filter((c, i) => i === 0 || !c.selfSigned);
    try {
      await this.o.client.request('PUT', path, {
        ...p,
        status: {
          certificateChain: chain.map((c) => c.toPem()).join(''),
          notBefore: t(leaf.notBefore),
          notAfter: t(leaf.notAfter),
          beginRefreshAt: t(new Date(renewAt(leaf, 2 / 3))),
          conditions: [cond('Issued', 'Issued', `issued by ${this.issuer.describe()}`)],
        },
      });
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) throw new Error('the request changed meanwhile: retrying');
      throw e;
    }
    this.m.pcrs.inc({ result: 'issued' });
    this.o.log.info({ pcr: key, pod: `${ns}/${p.spec.podName}`, serial: leaf.serialNumber }, 'PodCertificateRequest signed');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.shutdown();
    await Promise.all([this.namespaces.stop(), this.pods.stop(), this.services.stop(), this.pcrs?.stop()]);
    await new Promise<void>((r) => {
      if (!this.server) return r();
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
    await Promise.allSettled(this.loops);
  }
}

/** What the caches keep of a pod: metadata, the spec fields the mutation and the identity read. */
function slimPod(p: SlimPod): SlimPod {
  const s = (p.spec ?? {}) as SlimPod['spec'] & Record<string, unknown>;
  const slim = (cs: unknown) =>
    Array.isArray(cs)
      ? cs.map((c: { name?: string; env?: { name?: string }[]; volumeMounts?: { name?: string; mountPath?: string }[] }) => ({
          name: c.name,
          env: (c.env ?? []).map((e) => ({ name: e.name })),
          volumeMounts: (c.volumeMounts ?? []).map((m) => ({ name: m.name, mountPath: m.mountPath })),
        }))
      : undefined;
  return {
    metadata: {
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      uid: p.metadata.uid,
      resourceVersion: p.metadata.resourceVersion,
      labels: p.metadata.labels ?? {},
      annotations: p.metadata.annotations ?? {},
      ...(p.metadata.deletionTimestamp && { deletionTimestamp: p.metadata.deletionTimestamp }),
    },
    spec: {
      containers: slim(s.containers) ?? [],
      ...(s.initContainers ? { initContainers: slim(s.initContainers) } : {}),
      volumes: (Array.isArray(s.volumes) ? s.volumes : []).map((v: { name?: unknown }) => ({ name: v.name })),
      ...(s.serviceAccountName ? { serviceAccountName: s.serviceAccountName } : {}),
      ...(s.nodeName ? { nodeName: s.nodeName } : {}),
    },
  };
}
