// The trust bundles controller. Every replica keeps list+watch caches of the bundles (ClusterBundle, Bundle, and
// trust-manager's Bundle when its CRD is installed), namespaces, ConfigMaps, Secrets and ClusterTrustBundles;
// ConfigMaps and Secrets are cached as metadata plus a digest of their data (no values in memory). The leader
// reconciles: sources are read fresh from the API, resolved (resolve.ts), rendered (render.ts), and each target
// that differs from what it should hold is written with server-side apply (ownership label, content-hash
// annotation, owner reference); targets of namespaces no longer selected are deleted, new namespaces get theirs
// on their add event, and a target edited or deleted by hand is restored from its watch event. A source that is
// missing or bad sets the Ready condition False with the reason, records an event and a log line, and leaves
// the targets as they were: never an empty bundle.
import { request as httpsRequest } from 'node:https';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ApiError, CORE, type KubeClient, type KubeObject, type ResourceType, resourcePath } from '../kube/client.ts';
import { Informer, type InformerEvent } from '../kube/informer.ts';
import type { Logger } from '../kube/log.ts';
import { WorkQueue } from '../kube/queue.ts';
import type { Certificate } from '../x509/certificate.ts';
import type { DefaultCAs } from './defaults.ts';
import { ownerValue } from './owner.ts';
import { pemOf, wireDigest } from './render.ts';
import { MAX_HTTPS_BYTES, type ResolveOptions, resolveBundle, SourceError, type SourceObject, type SourceReader } from './resolve.ts';
import { type Retiring, rotate } from './rotation.ts';
import {
  type BundleKind,
  type BundleRef,
  bundleId,
  FIELD_MANAGER,
  GROUP,
  HASH_ANNOTATION,
  matchesSelector,
  OWNER_LABEL,
  parseSpec,
  selectorString,
  specOf,
  TM_MIGRATED_ANNOTATION,
  TM_V1_GROUP,
  TM_V1_LABEL,
  TM_V2_GROUP,
  TM_V2_LABEL,
  VERSION,
} from './spec.ts';
import { bundleHash, desiredTargets, type TargetKind } from './targets.ts';

export const BUNDLE_TYPES: Record<BundleKind, ResourceType> = {
  ClusterBundle: { group: GROUP, version: VERSION, resource: 'clusterbundles', kind: 'ClusterBundle', namespaced: false },
  Bundle: { group: GROUP, version: VERSION, resource: 'bundles', kind: 'Bundle', namespaced: true },
  TrustManagerBundle: { group: TM_V1_GROUP, version: 'v1alpha1', resource: 'bundles', kind: 'Bundle', namespaced: false },
  TrustManagerClusterBundle: {
    group: TM_V2_GROUP,
    version: 'v1alpha2',
    resource: 'clusterbundles',
    kind: 'ClusterBundle',
    namespaced: false,
  },
};

const TM_KINDS: readonly BundleKind[] = ['TrustManagerBundle', 'TrustManagerClusterBundle'];
/** The other trust-manager kind of a trust-manager kind (a Bundle and the ClusterBundle trust-manager made from it). */
const counterpart = (k: BundleKind): BundleKind | undefined =>
  k === 'TrustManagerBundle' ? 'TrustManagerClusterBundle' : k === 'TrustManagerClusterBundle' ? 'TrustManagerBundle' : undefined;

export interface ControllerOptions {
  client: KubeClient;
  log: Logger;
  registry: Registry;
  /** Where ClusterBundle and trust-manager Bundle sources live unless a source names a namespace. */
  trustNamespace: string;
  defaultCAs?: DefaultCAs;
  /** Allow `https` sources (opt-in). */
  allowHttps?: boolean;
  /** Also reconcile trust-manager's Bundles and ClusterBundles (v1alpha1, v1alpha2; when their CRDs are installed). Default true. */
  trustManager?: boolean;
  /** Reconcile workers (default 4) and target writes in flight per reconcile (default 32). */
  workers?: number;
  writeConcurrency?: number;
  /** Enqueue every bundle this often (default 10 min). */
  resyncMs?: number;
}

/** A cached ConfigMap/Secret/ClusterTrustBundle: metadata and the digest of what it holds. */
interface Slim extends KubeObject {
  digest: string;
}

interface BundleObject extends KubeObject {
  spec?: unknown;
  status?: BundleStatus;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface BundleStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  caCount?: number;
  soonestExpiry?: string;
  defaultCAsVersion?: string;
  hash?: string;
  targetCount?: number;
  fingerprints?: string[];
  retiring?: Retiring[];
}

function slim(
  o: KubeObject & { data?: Record<string, string>; binaryData?: Record<string, string>; spec?: { trustBundle?: string } },
): Slim {
  const labels = o.metadata.labels;
  const annotations = o.metadata.annotations;
  const data = o.spec?.trustBundle !== undefined ? { trustBundle: o.spec.trustBundle } : o.data;
  return {
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      labels,
      deletionTimestamp: o.metadata.deletionTimestamp,
    },
    digest: wireDigest({ data, binaryData: o.binaryData, owner: labels?.[OWNER_LABEL], hash: annotations?.[HASH_ANNOTATION] }),
  };
}

/** A cached object's metadata: what the source and conflict checks read (no managedFields, no annotations). */
function meta(o: KubeObject): KubeObject {
  return {
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      resourceVersion: o.metadata.resourceVersion,
      labels: o.metadata.labels,
    },
  };
}

async function pMap<T>(items: readonly T[], limit: number, f: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (i < items.length) {
      const t = items[i++] as T;
      try {
        await f(t);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length) throw errors[0];
}

/** JSON with object keys sorted (the API server re-orders what it stores). */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>)
            .filter(([, y]) => y !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : x,
  );
}

function rv(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

export class BundleController {
  private readonly o: ControllerOptions;
  private readonly c: KubeClient;
  private readonly log: Logger;
  readonly bundles = new Map<BundleKind, Informer<BundleObject>>();
  namespaces!: Informer<KubeObject>;
  /** The targets (objects with the ownership label), as metadata and a digest of their data. */
  configMaps!: Informer<Slim>;
  secrets!: Informer<Slim>;
  /** Every ConfigMap and Secret, metadata only: possible sources, and objects a target would collide with. */
  configMapMeta!: Informer<KubeObject>;
  secretMeta!: Informer<KubeObject>;
  ctbs?: Informer<Slim>;
  private queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 120_000 });
  private workers?: Promise<void>;
  /** Target `Kind/ns/name` → the bundle (queue key) it belongs to and the digest it should have. */
  private readonly expected = new Map<string, { bundle: string; digest: string; writtenRv?: number }>();
  /** Last condition reason+message per bundle: events and status writes only when it changes. */
  private readonly httpsCache = new Map<string, { body: Uint8Array; at: number }>();
  private resync?: NodeJS.Timeout;
  private readonly m: {
    sync: Histogram;
    certs: Gauge;
    bytes: Gauge;
    expiry: Gauge;
    errors: Counter;
    targets: Gauge;
    writes: Counter;
  };

  constructor(o: ControllerOptions) {
    this.o = o;
    this.c = o.client;
    this.log = o.log.child({ controller: 'bundles' });
    const r = [o.registry];
    this.m = {
      sync: new Histogram({
        name: 'anchorage_bundle_sync_duration_seconds',
        help: 'Time to reconcile one bundle (resolve sources, write targets, status)',
        labelNames: ['kind'],
        buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
        registers: r,
      }),
      certs: new Gauge({
        name: 'anchorage_bundle_certificates',
        help: 'CA certificates in the bundle',
        labelNames: ['bundle'],
        registers: r,
      }),
      bytes: new Gauge({ name: 'anchorage_bundle_pem_bytes', help: 'Size of the bundle as PEM', labelNames: ['bundle'], registers: r }),
      expiry: new Gauge({
        name: 'anchorage_bundle_soonest_expiry_timestamp_seconds',
        help: 'notAfter of the CA in the bundle that expires first (Unix seconds)',
        labelNames: ['bundle'],
        registers: r,
      }),
      errors: new Counter({
        name: 'anchorage_bundle_sync_errors_total',
        help: 'Failed reconciles by reason',
        labelNames: ['bundle', 'reason'],
        registers: r,
      }),
      targets: new Gauge({
        name: 'anchorage_bundle_targets',
        help: 'Target objects the bundle is written to',
        labelNames: ['bundle'],
        registers: r,
      }),
      writes: new Counter({
        name: 'anchorage_bundle_target_writes_total',
        help: 'Target writes by operation',
        labelNames: ['op'],
        registers: r,
      }),
    };
  }

  /** Discover which APIs exist and start the caches (every replica); resolves when they are synced. */
  async start(): Promise<void> {
    const has = async (t: ResourceType): Promise<boolean> => {
      const r = await this.c.get<{ resources: { name: string }[] }>(`/apis/${t.group}/${t.version}`);
      return !!r?.resources.some((x) => x.name === t.resource);
    };
    const kinds: BundleKind[] = ['ClusterBundle', 'Bundle'];
    for (const k of kinds)
      if (!(await has(BUNDLE_TYPES[k]))) throw new Error(`the ${k} CRD (${GROUP}) is not installed: apply deploy/crds/ first`);
    if (this.o.trustManager !== false) for (const k of TM_KINDS) if (await has(BUNDLE_TYPES[k])) kinds.push(k);
    for (const k of kinds) {
      // managedFields are never read: not kept.
      const inf = new Informer<BundleObject>(this.c, BUNDLE_TYPES[k], {
        log: this.log,
        transform: (b) => ({ ...b, metadata: { ...b.metadata, managedFields: undefined } }),
      });
      inf.on((ev, obj, old) => this.onBundle(k, ev, obj, old));
      this.bundles.set(k, inf);
    }
    this.namespaces = new Informer<KubeObject>(this.c, CORE.namespaces, {
      log: this.log,
      transform: (n) => ({
        metadata: {
          name: n.metadata.name,
          labels: n.metadata.labels,
          deletionTimestamp: n.metadata.deletionTimestamp,
          resourceVersion: n.metadata.resourceVersion,
        },
      }),
    }).on((ev, n, old) => this.onNamespace(ev, n, old));
    // Targets: only objects with the ownership label, their data kept as a digest. A label removed by hand takes
    // the object out of the selection: the watch reports it deleted and the target is restored.
    const owned = { log: this.log, transform: slim, labelSelector: OWNER_LABEL };
    this.configMaps = new Informer<Slim>(this.c, CORE.configMaps, owned).on((ev, o) => this.onTarget('ConfigMap', ev, o));
    this.secrets = new Informer<Slim>(this.c, CORE.secrets, owned).on((ev, o) => this.onTarget('Secret', ev, o));
    // Everything else: metadata only (names, labels, resourceVersions; never a value, never a Secret's data).
    this.configMapMeta = new Informer<KubeObject>(this.c, CORE.configMaps, { log: this.log, metadataOnly: true, transform: meta }).on(
      (ev, o, old) => this.onSource('ConfigMap', ev, o, old),
    );
    this.secretMeta = new Informer<KubeObject>(this.c, CORE.secrets, {
      log: this.log,
      metadataOnly: true,
      transform: meta,
      fieldSelector: 'type!=kubernetes.io/service-account-token',
    }).on((ev, o, old) => this.onSource('Secret', ev, o, old));
    if (await has(CORE.clusterTrustBundles))
      this.ctbs = new Informer<Slim>(this.c, CORE.clusterTrustBundles, { log: this.log, transform: slim }).on((ev, o) =>
        this.onTarget('ClusterTrustBundle', ev, o),
      );
    const all = this.informers();
    for (const i of all) i.start();
    await Promise.all(all.map((i) => i.synced));
    this.log.info({ kinds, clusterTrustBundles: !!this.ctbs }, 'caches synced');
  }

  private informers(): Informer<KubeObject>[] {
    return [
      ...this.bundles.values(),
      this.namespaces,
      this.configMaps,
      this.secrets,
      this.configMapMeta,
      this.secretMeta,
      ...(this.ctbs ? [this.ctbs] : []),
    ] as Informer<KubeObject>[];
  }

  get synced(): boolean {
    const all = this.informers();
    return all.length > 0 && all.every((i) => i?.hasSynced);
  }

  /** Start reconciling (the leader): every bundle once, then on events. */
  startWorkers(): void {
    if (this.workers) return;
    this.queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 120_000 });
    this.enqueueAll();
    this.workers = this.queue.run(
      this.o.workers ?? 4,
      (k) => this.reconcile(k),
      (k, e, d) => {
        this.log.error({ bundle: k, err: (e as Error).message, retryInMs: d }, 'reconcile failed');
      },
    );
    this.resync = setInterval(() => this.enqueueAll(), this.o.resyncMs ?? 600_000);
    this.resync.unref();
  }

  async stopWorkers(): Promise<void> {
    clearInterval(this.resync);
    this.queue.shutdown();
    await this.workers;
    this.workers = undefined;
  }

  async stop(): Promise<void> {
    await this.stopWorkers();
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  /** Resolves when the queue is empty and nothing is being reconciled (tests, bench). */
  get idle(): boolean {
    return this.queue.length === 0;
  }

  private enqueueAll(kinds: BundleKind[] = [...this.bundles.keys()]): void {
    for (const k of kinds)
      for (const b of this.bundles.get(k)?.list() ?? [])
        this.queue.add(bundleId({ kind: k, name: b.metadata.name, namespace: b.metadata.namespace }));
  }

  // ---------- events ----------

  private onBundle(kind: BundleKind, ev: InformerEvent, obj: BundleObject, old?: BundleObject): void {
    // Status-only updates (ours) change neither generation nor spec: nothing to do. trust-manager's kinds also
    // follow their annotations (migrated, the JKS key) and owner references (which of the two is reconciled).
    const tm = TM_KINDS.includes(kind);
    if (
      ev === 'update' &&
      old &&
      old.metadata.generation === obj.metadata.generation &&
      (!tm ||
        (stableJson(old.metadata.annotations) === stableJson(obj.metadata.annotations) &&
          stableJson(old.metadata.ownerReferences) === stableJson(obj.metadata.ownerReferences)))
    )
      return;
    this.queue.add(bundleId({ kind, name: obj.metadata.name, namespace: obj.metadata.namespace }));
    const other = counterpart(kind);
    if (other && this.bundles.has(other)) this.queue.add(bundleId({ kind: other, name: obj.metadata.name }));
    // Bundles that use this one as a source follow it.
    this.enqueueDependents(kind, obj);
  }

  /**
   * Enqueue every bundle that uses `obj` as a `bundle` source, and theirs in turn (a bundle source is resolved from
   * the other bundle's sources, so a change to those sources reaches every bundle above it). Same kind, and for a
   * namespaced Bundle the same namespace; the visited set ends cycles (refused as SourceCycle when reconciled).
   */
  private enqueueDependents(kind: BundleKind, obj: BundleObject, seen = new Set<string>()): void {
    const id = bundleId({ kind, name: obj.metadata.name, namespace: obj.metadata.namespace });
    if (seen.has(id)) return;
    seen.add(id);
    for (const b of this.bundles.get(kind)?.list() ?? []) {
      if (b.metadata.namespace !== obj.metadata.namespace) continue;
      const spec = b.spec as { sources?: { bundle?: { name: string } }[] } | undefined;
      if (!spec?.sources?.some((s) => s.bundle?.name === obj.metadata.name)) continue;
      this.queue.add(bundleId({ kind, name: b.metadata.name, namespace: b.metadata.namespace }));
      this.enqueueDependents(kind, b, seen);
    }
  }

  private onNamespace(ev: InformerEvent, n: KubeObject, old?: KubeObject): void {
    if (
      ev === 'update' &&
      JSON.stringify(old?.metadata.labels) === JSON.stringify(n.metadata.labels) &&
      !!old?.metadata.deletionTimestamp === !!n.metadata.deletionTimestamp
    )
      return;
    this.enqueueAll(['ClusterBundle', ...TM_KINDS]);
  }

  /** A target changed: restore it when it is not what was written (a hand edit or deletion). */
  private onTarget(kind: TargetKind, ev: InformerEvent, o: Slim): void {
    const exp = this.expected.get(`${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    if (exp && (ev === 'delete' || o.digest !== exp.digest)) this.queue.add(exp.bundle);
  }

  /** A ConfigMap or Secret changed (metadata only): the bundles whose sources name or select it follow. */
  private onSource(kind: 'ConfigMap' | 'Secret', _ev: InformerEvent, o: KubeObject, old?: KubeObject): void {
    if (o.metadata.labels?.[OWNER_LABEL]) return; // a target (onTarget follows those)
    // Every bundle whose sources name or select it.
    for (const [k, inf] of this.bundles)
      for (const b of inf.list()) {
        const ref = this.refOf(k, b);
        if (!ref) continue;
        for (const s of ref.spec.sources) {
          const src = kind === 'ConfigMap' ? s.configMap : s.secret;
          if (!src) continue;
          const ns = ref.kind === 'Bundle' ? ref.namespace : (src.namespace ?? this.o.trustNamespace);
          if (ns !== o.metadata.namespace) continue;
          if (
            src.name === o.metadata.name ||
            (src.selector && (matchesSelector(src.selector, o.metadata.labels) || matchesSelector(src.selector, old?.metadata.labels)))
          ) {
            this.queue.add(bundleId(ref));
            this.enqueueDependents(k, b);
          }
        }
      }
  }

  // ---------- reading ----------

  private readonly specCache = new Map<string, { gen: string; ref?: BundleRef; error?: string }>();

  private refOf(kind: BundleKind, obj: BundleObject): BundleRef | undefined {
    const id = bundleId({ kind, name: obj.metadata.name, namespace: obj.metadata.namespace });
    const gen = `${obj.metadata.uid}/${obj.metadata.generation ?? obj.metadata.resourceVersion}`;
    const hit = this.specCache.get(id);
    if (hit?.gen === gen) return hit.ref;
    let ref: BundleRef | undefined;
    let error: string | undefined;
    try {
      const spec = specOf(kind, obj, this.o.trustNamespace);
      ref = {
        kind,
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        uid: obj.metadata.uid,
        generation: obj.metadata.generation,
        spec: parseSpec(spec, id),
      };
    } catch (e) {
      error = (e as Error).message;
    }
    this.specCache.set(id, { gen, ref, error });
    return ref;
  }

  private reader(): SourceReader {
    const decode = (
      kind: 'ConfigMap' | 'Secret',
      o: {
        metadata: { namespace?: string; name: string };
        type?: string;
        data?: Record<string, string>;
        binaryData?: Record<string, string>;
      },
    ): SourceObject => {
      const values: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.data ?? {})) values[k] = kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
      for (const [k, v] of Object.entries(o.binaryData ?? {})) values[k] = Buffer.from(v, 'base64').toString('utf8');
      return { namespace: o.metadata.namespace ?? '', name: o.metadata.name, type: o.type, values };
    };
    const type = (k: 'ConfigMap' | 'Secret'): ResourceType => (k === 'ConfigMap' ? CORE.configMaps : CORE.secrets);
    return {
      object: async (kind, ns, name) => {
        const o = await this.c.get<KubeObject>(resourcePath(type(kind), ns, name));
        return o ? decode(kind, o as never) : undefined;
      },
      objects: async (kind, ns, selector) => {
        const r = await this.c.list<KubeObject>(resourcePath(type(kind), ns), { labelSelector: selectorString(selector) });
        return r.items.map((o) => decode(kind, o as never));
      },
      bundle: async (kind, ns, name) => {
        const inf = this.bundles.get(kind);
        const obj = inf?.get(ns ? `${ns}/${name}` : name);
        return obj ? this.refOf(kind, obj) : undefined;
      },
      defaultCAs: () => this.o.defaultCAs,
      ...(this.o.allowHttps ? { https: (url: string) => this.fetchHttps(url) } : {}),
    };
  }

  private fetchHttps(url: string): Promise<Uint8Array> {
    const hit = this.httpsCache.get(url);
    if (hit && Date.now() - hit.at < 300_000) return Promise.resolve(hit.body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { timeout: 10_000 }, (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          res.resume();
          return reject(new Error(`HTTP ${res.statusCode}`));
        }
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (d: Buffer) => {
          n += d.length;
          if (n > MAX_HTTPS_BYTES) req.destroy(new Error(`too large: over ${MAX_HTTPS_BYTES} bytes`));
          else chunks.push(d);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          this.httpsCache.set(url, { body, at: Date.now() });
          resolve(body);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  // ---------- reconcile ----------

  private parseKey(key: string): { kind: BundleKind; namespace?: string; name: string } {
    const [kind, a, b] = key.split('/') as [BundleKind, string, string | undefined];
    return b === undefined ? { kind, name: a } : { kind, namespace: a, name: b };
  }

  async reconcile(key: string): Promise<void> {
    const start = performance.now();
    const k = this.parseKey(key);
    const obj = this.bundles.get(k.kind)?.get(k.namespace ? `${k.namespace}/${k.name}` : k.name);
    const owner = ownerValue(k);
    if (!obj || obj.metadata.deletionTimestamp) {
      await this.cleanup(key, owner, new Set());
      this.specCache.delete(key);
      for (const g of [this.m.certs, this.m.bytes, this.m.expiry, this.m.targets]) g.remove(key);
      return;
    }
    const by = this.supersededBy(k.kind, obj);
    if (by) {
      // The other trust-manager object of this name is the one reconciled: this one neither writes nor deletes.
      this.log.debug({ bundle: key, by }, 'superseded');
      return;
    }
    const ref = this.refOf(k.kind, obj);
    if (!ref) {
      await this.fail(obj, k.kind, key, new SourceError('InvalidSpec', this.specCache.get(key)?.error ?? 'invalid spec'));
      return;
    }
    let certs: Certificate[];
    let version: string | undefined;
    try {
      const r = await resolveBundle(ref, this.reader(), { trustNamespace: this.o.trustNamespace } satisfies ResolveOptions);
      certs = r.certs;
      version = r.defaultCAsVersion;
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      await this.fail(obj, k.kind, key, e);
      return;
    }
    // Rotation: CAs that left the sources stay for the grace period (rotation.ts, shared with the offline build).
    const now = new Date();
    const rot = await rotate({
      certs,
      previous: obj.status,
      graceSeconds: ref.spec.rotation?.gracePeriodSeconds ?? 0,
      now,
      previousPem: () => this.previousPem(ref, owner),
    });
    const { all, retiring } = rot;
    const hash = bundleHash(ref, all);
    let written: number;
    try {
      written = await this.writeTargets(ref, key, owner, all);
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      await this.fail(obj, k.kind, key, e);
      return;
    }
    const soonest = new Date(Math.min(...all.map((c) => c.notAfter.getTime())));
    const pemBytes = Buffer.byteLength(pemOf(all));
    this.m.certs.set({ bundle: key }, all.length);
    this.m.bytes.set({ bundle: key }, pemBytes);
    this.m.expiry.set({ bundle: key }, Math.floor(soonest.getTime() / 1000));
    this.m.targets.set({ bundle: key }, written);
    if (rot.nextChangeInMs !== undefined) this.queue.addAfter(key, Math.max(1000, rot.nextChangeInMs + 50));
    const message = `${all.length} CA certificates (${rot.retained} retiring) written to ${written} targets`;
    await this.setStatus(obj, k.kind, {
      observedGeneration: obj.metadata.generation,
      caCount: all.length,
      soonestExpiry: soonest.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...(version ? { defaultCAsVersion: version } : {}),
      hash,
      targetCount: written,
      fingerprints: rot.fingerprints,
      retiring,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Synced', message, lastTransitionTime: '', observedGeneration: obj.metadata.generation },
      ],
    });
    this.m.sync.observe({ kind: k.kind }, (performance.now() - start) / 1000);
  }

  /**
   * trust-manager keeps a Bundle (v1alpha1) and a ClusterBundle (v1alpha2) of one name: it copies each Bundle into a
   * ClusterBundle it controls, until the user marks the ClusterBundle migrated (trust-manager.io/migrated). Exactly
   * one of the two is reconciled: the Bundle while the ClusterBundle is its copy, the ClusterBundle once migrated or
   * when it has no Bundle. Returns the id of the one that supersedes `obj`, if any.
   */
  private supersededBy(kind: BundleKind, obj: BundleObject): string | undefined {
    const name = obj.metadata.name;
    if (kind === 'TrustManagerClusterBundle') {
      if (obj.metadata.annotations?.[TM_MIGRATED_ANNOTATION] !== undefined) return undefined;
      const owner = obj.metadata.ownerReferences?.find(
        (r) => r.controller && r.apiVersion === `${TM_V1_GROUP}/v1alpha1` && r.kind === 'Bundle',
      );
      const bundle = owner && this.bundles.get('TrustManagerBundle')?.get(owner.name);
      return bundle && bundle.metadata.uid === owner.uid ? bundleId({ kind: 'TrustManagerBundle', name: owner.name }) : undefined;
    }
    if (kind === 'TrustManagerBundle') {
      const cb = this.bundles.get('TrustManagerClusterBundle')?.get(name);
      return cb?.metadata.annotations?.[TM_MIGRATED_ANNOTATION] !== undefined
        ? bundleId({ kind: 'TrustManagerClusterBundle', name })
        : undefined;
    }
    return undefined;
  }

  /**
   * May `ref` take over a target that another owner wrote? Only between trust-manager's kinds: a target trust-manager
   * itself wrote for the bundle of that name (its label), or one Anchorage wrote for the other trust-manager object
   * of that name (a Bundle migrated to a ClusterBundle). A user switching from trust-manager keeps every target.
   */
  private mayTakeOver(ref: BundleRef, labels: Record<string, string> | undefined): boolean {
    if (!TM_KINDS.includes(ref.kind) || !labels) return false;
    const other = counterpart(ref.kind) as BundleKind;
    const ours = labels[OWNER_LABEL];
    if (ours !== undefined) return ours === ownerValue({ kind: other, name: ref.name });
    return labels[TM_V1_LABEL] === ref.name || labels[TM_V2_LABEL] === ref.name;
  }

  /** The bundle's previous PEM, read back from one of its current PEM targets (for rotation.ts). */
  private async previousPem(ref: BundleRef, owner: string): Promise<string | undefined> {
    const pemKey = (ref.spec.target.configMap ?? ref.spec.target.secret)?.data.find((d) => d.format === 'PEM')?.key;
    const cm = this.configMaps.list().find((o) => o.metadata.labels?.[OWNER_LABEL] === owner);
    const sec = this.secrets.list().find((o) => o.metadata.labels?.[OWNER_LABEL] === owner);
    if (pemKey && ref.spec.target.configMap && cm) {
      const o = await this.c.get<{ data?: Record<string, string> }>(resourcePath(CORE.configMaps, cm.metadata.namespace, cm.metadata.name));
      return o?.data?.[pemKey];
    }
    if (pemKey && ref.spec.target.secret && sec) {
      const o = await this.c.get<{ data?: Record<string, string> }>(resourcePath(CORE.secrets, sec.metadata.namespace, sec.metadata.name));
      const v = o?.data?.[pemKey];
      return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
    }
    if (ref.spec.target.clusterTrustBundle && this.ctbs) {
      const ctb = this.ctbs.list().find((o) => o.metadata.labels?.[OWNER_LABEL] === owner);
      if (!ctb) return undefined;
      const o = await this.c.get<{ spec?: { trustBundle?: string } }>(resourcePath(CORE.clusterTrustBundles, undefined, ctb.metadata.name));
      return o?.spec?.trustBundle;
    }
    return undefined;
  }

  private targetNamespaces(ref: BundleRef): string[] {
    if (ref.kind === 'Bundle') return [ref.namespace as string];
    return this.namespaces
      .list()
      .filter((n) => !n.metadata.deletionTimestamp && matchesSelector(ref.spec.target.namespaceSelector, n.metadata.labels))
      .map((n) => n.metadata.name);
  }

  private ownerRefs(ref: BundleRef, kind: BundleKind): unknown[] {
    if (!ref.uid) return [];
    const t = BUNDLE_TYPES[kind];
    return [
      { apiVersion: `${t.group}/${t.version}`, kind: t.kind, name: ref.name, uid: ref.uid, controller: true, blockOwnerDeletion: false },
    ];
  }

  /** Write every target that differs; delete the bundle's targets that should no longer exist. Returns the target count. */
  private async writeTargets(ref: BundleRef, key: string, owner: string, certs: Certificate[]): Promise<number> {
    if (ref.spec.target.clusterTrustBundle && ref.kind !== 'Bundle' && !this.ctbs)
      throw new SourceError(
        'ClusterTrustBundleUnavailable',
        'the API server does not serve certificates.k8s.io/v1beta1 ClusterTrustBundles',
      );
    const want = new Set<string>();
    const jobs = desiredTargets(ref, certs, {
      owner,
      namespaces: this.targetNamespaces(ref),
      ownerReferences: this.ownerRefs(ref, ref.kind),
    });
    const where = (kind: TargetKind): [ResourceType, Informer<Slim>, { get(key: string): KubeObject | undefined }] =>
      kind === 'ConfigMap'
        ? [CORE.configMaps, this.configMaps, this.configMapMeta]
        : kind === 'Secret'
          ? [CORE.secrets, this.secrets, this.secretMeta]
          : [CORE.clusterTrustBundles, this.ctbs as Informer<Slim>, this.ctbs as Informer<Slim>];
    const conflicts: string[] = [];
    await pMap(jobs, this.o.writeConcurrency ?? 32, async (j) => {
      const tkey = `${j.kind}/${j.namespace ?? ''}/${j.name}`;
      want.add(tkey);
      const [type, inf, all] = where(j.kind);
      const objKey = j.namespace ? `${j.namespace}/${j.name}` : j.name;
      const cached = inf.get(objKey);
      const existing = cached ?? all.get(objKey);
      const prevExp = this.expected.get(tkey);
      // Someone else's object of that name: never taken over (but trust-manager's, when switching from it).
      const otherOwner = existing?.metadata.labels?.[OWNER_LABEL];
      const takeOver = !!existing && otherOwner !== owner && this.mayTakeOver(ref, existing.metadata.labels);
      if (existing && otherOwner !== owner && !(prevExp?.bundle === key) && !takeOver) {
        conflicts.push(
          `${j.kind} ${j.namespace ? `${j.namespace}/` : ''}${j.name} exists and is not this bundle's (${otherOwner ? `owned by ${otherOwner}` : 'no ownership label'})`,
        );
        return;
      }
      this.expected.set(tkey, { bundle: key, digest: j.digest, writtenRv: prevExp?.digest === j.digest ? prevExp.writtenRv : undefined });
      if (cached?.digest === j.digest) return;
      // Our own write not yet in the cache: its watch event is on its way.
      if (prevExp?.digest === j.digest && prevExp.writtenRv !== undefined && rv(inf.resourceVersion) < prevExp.writtenRv) return;
      const path = resourcePath(type, j.namespace, j.name);
      if (takeOver) {
        // Replaced whole: trust-manager's labels and its controller owner reference go (an object has one controller).
        const res = (
          await this.c.request<KubeObject>('PUT', path, {
            ...j.body,
            metadata: { ...(j.body.metadata as object), resourceVersion: existing?.metadata.resourceVersion },
          })
        ).body;
        this.m.writes.inc({ op: 'takeover' });
        this.log.info({ bundle: key, target: tkey, from: otherOwner ?? 'trust-manager' }, 'target taken over');
        this.expected.set(tkey, { bundle: key, digest: j.digest, writtenRv: rv(res.metadata.resourceVersion) });
        return;
      }
      let res = await this.c.apply<KubeObject & { data?: Record<string, string>; binaryData?: Record<string, string> }>(
        path,
        j.body,
        FIELD_MANAGER,
      );
      this.m.writes.inc({ op: 'apply' });
      if (slim(res).digest !== j.digest) {
        // Keys another field manager added by hand: apply leaves them; a replace makes the target exactly ours.
        res = (
          await this.c.request<typeof res>('PUT', path, {
            ...j.body,
            metadata: { ...(j.body.metadata as object), resourceVersion: res.metadata.resourceVersion },
          })
        ).body;
        this.m.writes.inc({ op: 'replace' });
      }
      this.expected.set(tkey, { bundle: key, digest: j.digest, writtenRv: rv(res.metadata.resourceVersion) });
    });
    await this.cleanup(key, owner, want);
    if (conflicts.length) throw new SourceError('TargetConflict', conflicts.slice(0, 3).join('; '));
    return jobs.length - conflicts.length;
  }

  /** Delete the bundle's targets not in `keep` (all of them when the bundle is gone). */
  private async cleanup(key: string, owner: string, keep: Set<string>): Promise<void> {
    const stale: { kind: TargetKind; type: ResourceType; ns?: string; name: string }[] = [];
    const sets: [TargetKind, ResourceType, Informer<Slim> | undefined][] = [
      ['ConfigMap', CORE.configMaps, this.configMaps],
      ['Secret', CORE.secrets, this.secrets],
      ['ClusterTrustBundle', CORE.clusterTrustBundles, this.ctbs],
    ];
    for (const [kind, type, inf] of sets)
      for (const o of inf?.list() ?? []) {
        const tkey = `${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
        if (o.metadata.labels?.[OWNER_LABEL] === owner && !keep.has(tkey))
          stale.push({ kind, type, ns: o.metadata.namespace, name: o.metadata.name });
      }
    for (const [tkey, e] of this.expected) if (e.bundle === key && !keep.has(tkey)) this.expected.delete(tkey);
    await pMap(stale, this.o.writeConcurrency ?? 32, async (s) => {
      if (await this.c.delete(resourcePath(s.type, s.ns, s.name))) this.m.writes.inc({ op: 'delete' });
    });
  }

  // ---------- status, events ----------

  private async fail(obj: BundleObject, kind: BundleKind, key: string, e: SourceError): Promise<void> {
    this.m.errors.inc({ bundle: key, reason: e.reason });
    const prev = obj.status?.conditions?.find((c) => c.type === 'Ready' || c.type === 'Synced');
    const changed = !(prev?.status === 'False' && prev.reason === e.reason && prev.message === e.message);
    if (changed) this.log.warn({ bundle: key, reason: e.reason, message: e.message }, 'bundle not synced: previous targets kept');
    if (changed) await this.event(obj, kind, 'Warning', e.reason, e.message);
    await this.setStatus(obj, kind, {
      ...(obj.status ?? {}),
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: e.reason,
          message: e.message,
          lastTransitionTime: '',
          observedGeneration: obj.metadata.generation,
        },
      ],
    });
  }

  private async setStatus(obj: BundleObject, kind: BundleKind, nextStatus: BundleStatus): Promise<void> {
    let next = nextStatus;
    if (kind === 'TrustManagerBundle') return; // trust-manager's v1alpha1 status is left alone (trust-manager writes it)
    const prev = obj.status ?? {};
    const type = kind === 'TrustManagerClusterBundle' ? 'Synced' : 'Ready';
    const pc = prev.conditions?.find((c) => c.type === type);
    const nc = next.conditions?.[0] as Condition;
    nc.type = type;
    nc.lastTransitionTime = pc && pc.status === nc.status ? pc.lastTransitionTime : new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    // trust-manager's ClusterBundle status has its own schema: the Synced condition and defaultCAVersion.
    if (kind === 'TrustManagerClusterBundle')
      next = { conditions: [nc], ...(next.defaultCAsVersion ? { defaultCAVersion: next.defaultCAsVersion } : {}) } as BundleStatus;
    if (stableJson(prev) === stableJson(next)) return;
    const t = BUNDLE_TYPES[kind];
    try {
      await this.c.mergePatch(`${resourcePath(t, obj.metadata.namespace, obj.metadata.name)}/status`, { status: next });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
    // The informer sees this write too; keep the cached copy's status current meanwhile, so the next compare is right.
    obj.status = next;
  }

  private async event(obj: BundleObject, kind: BundleKind, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const t = BUNDLE_TYPES[kind];
    const ns = obj.metadata.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      await this.c.request('POST', resourcePath(CORE.events, ns), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${obj.metadata.name}.`, namespace: ns },
        involvedObject: {
          apiVersion: `${t.group}/${t.version}`,
          kind: t.kind,
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          uid: obj.metadata.uid,
        },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: 'anchorage-bundles' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not record an event');
    }
  }
}
