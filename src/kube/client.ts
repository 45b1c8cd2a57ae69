// The controller runtime's API client: plain HTTPS (keep-alive, one connection pool) over what the kubeconfig or
// the in-cluster service account gives (@kubernetes/client-node's KubeConfig reads both), with a client-side
// QPS/burst limit, JSON in and out, server-side apply, and watch streams read line by line. Written against the
// API's wire semantics (410 Gone, bookmarks, resourceVersion) that the informer relies on.
import { Agent, request } from 'node:https';
import { ListStream } from '../k8s/list-stream.ts';
import type { HttpsAuth, KubeConfigLike } from './kubeconfig.ts';
import { decodeStatus, PROTOBUF_MEDIA_TYPE, type ProtoKind, ProtoListStream, type ProtoObject } from './protobuf.ts';

export interface ClientOptions {
  /** Requests per second allowed on average (default 100); 0 turns the limit off. */
  qps?: number;
  /** Requests allowed at once above the average (default 200). */
  burst?: number;
  /** Most sockets to the API server (default 32). */
  maxSockets?: number;
  /** Per-request timeout in ms for non-watch requests (default 30 s). */
  timeoutMs?: number;
  /** The user agent (default anchorage). */
  userAgent?: string;
}

/** An error the API server returned (its Status object's message), with the HTTP code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason?: string;
  /** The Status object's own message (what the server said, without the method and path). */
  readonly serverMessage?: string;
  constructor(code: number, message: string, reason?: string, serverMessage?: string) {
    super(message);
    this.code = code;
    this.reason = reason;
    if (serverMessage !== undefined) this.serverMessage = serverMessage;
  }
}

/** What `listEach` is told: the page size, the query, where each item goes. */
export interface ListEachOptions<T> {
  query?: Record<string, string>;
  /** Objects per page (default 500). */
  pageSize?: number;
  accept?: string;
  /** Per-page timeout in ms (default: the client's). */
  timeoutMs?: number;
  /** Each item, parsed alone as soon as its last byte is in. */
  onItem: (item: T) => void;
  /** After each page: how many items so far. */
  onPage?: (listed: number) => void;
  /** Checked before asking for another page: true stops the list (what was read stands). */
  stop?: () => boolean;
  /**
   * Ask for protobuf (a built-in Secret or ConfigMap list, as client-go does) and hand each item decoded by
   * src/kube/protobuf.ts here instead of to `onItem`: values as bytes, no base64, managedFields never read.
   * A server that answers JSON (it may: the JSON type is the second choice) still goes to `onItem`.
   */
  protobuf?: { kind: ProtoKind; onItem: (item: ProtoObject) => void };
  /** A protobuf item that does not decode: its index in the page, why, its name when readable. Without it, the page fails. */
  onBadItem?: (index: number, reason: string, name?: string) => void;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Accept headers that ask the API server for metadata only (no data, no spec): lists and watches of PartialObjectMetadata. */
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** Token bucket: `take()` resolves when a request may go. */
class RateLimiter {
  private tokens: number;
  private last = performance.now();
  private chain: Promise<void> = Promise.resolve();
  private readonly qps: number;
  private readonly burst: number;
  constructor(qps: number, burst: number) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
  }
  take(): Promise<void> {
    if (this.qps <= 0) return Promise.resolve();
    const next = this.chain.then(async () => {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
      this.last = now;
      if (this.tokens < 1) {
        const wait = ((1 - this.tokens) / this.qps) * 1000;
        await new Promise((r) => setTimeout(r, wait));
        this.tokens = 1;
        this.last = performance.now();
      }
      this.tokens -= 1;
    });
    this.chain = next;
    return next;
  }
}

export class KubeClient {
  readonly server: string;
  private readonly agent: Agent;
  private readonly limiter: RateLimiter;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private tls: HttpsAuth = { headers: {} };
  private tlsLoadedAt = Number.NEGATIVE_INFINITY;
  private readonly kc: KubeConfigLike;

  /** `kc`: a LiteKubeConfig (src/kube/kubeconfig.ts) or @kubernetes/client-node's KubeConfig. */
  constructor(kc: KubeConfigLike, o: ClientOptions = {}) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig: no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    // A proxy (the cluster's proxy-url, or HTTPS_PROXY as kubectl reads it): Node's agent tunnels with CONNECT.
    const proxy = kc.proxyUrl?.();
    this.agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 32, ...(proxy && { proxyEnv: { HTTPS_PROXY: proxy } }) });
    this.limiter = new RateLimiter(o.qps ?? 100, o.burst ?? 200);
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.userAgent = o.userAgent ?? 'anchorage';
  }

  /** TLS material and headers from the kubeconfig, re-read every minute (in-cluster tokens rotate). */
  private async auth(): Promise<HttpsAuth> {
    if (performance.now() - this.tlsLoadedAt < 60_000) return this.tls;
    const opts: Partial<HttpsAuth> = {};
    await this.kc.applyToHTTPSOptions(opts);
    this.tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      headers: opts.headers ?? {},
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: opts.servername,
    };
    this.tlsLoadedAt = performance.now();
    return this.tls;
  }

  /** Send one request; resolves with the response's status and parsed JSON body (undefined when empty). */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    accept = 'application/json',
  ): Promise<{ status: number; body: T }> {
    await this.limiter.take();
    const tls = await this.auth();
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.server}${path}`,
        {
          method,
          agent: this.agent,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized,
          ...(tls.servername ? { servername: tls.servername } : {}),
          timeout: this.timeoutMs,
          headers: {
            ...tls.headers,
            accept,
            'user-agent': this.userAgent,
            ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              const s = parsed as { message?: string; reason?: string } | undefined;
              reject(new ApiError(status, `${method} ${path}: ${status} ${s?.message ?? text.slice(0, 200)}`, s?.reason));
            } else resolve({ status, body: parsed as T });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async get<T>(path: string): Promise<T | undefined> {
    try {
      return (await this.request<T>('GET', path)).body;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  /**
   * Every item of a collection, page by page (`accept`: METADATA_LIST_ACCEPT for metadata only). `map` runs
   * on each page as it arrives, so a large list never holds every raw object at once.
   */
  async list<T>(
    path: string,
    query: Record<string, string> = {},
    pageSize = 500,
    accept?: string,
    map?: (item: T) => T,
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont = '';
    let rv = '';
    do {
      const q = new URLSearchParams({ ...query, limit: String(pageSize), ...(cont ? { continue: cont } : {}) });
      const r = (
        await this.request<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }>(
          'GET',
          `${path}?${q}`,
          undefined,
          undefined,
          accept,
        )
      ).body;
      if (map) for (const it of r.items ?? []) items.push(map(it));
      else items.push(...(r.items ?? []));
      cont = r.metadata.continue ?? '';
      rv = r.metadata.resourceVersion;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /**
   * Every item of a collection, streamed: each item is parsed alone and handed to `onItem` as soon as its last
   * byte is in (src/k8s/list-stream.ts), so no page is held whole, as bytes, text or objects. The next page is
   * asked for as soon as this one's `continue` token is in (Kubernetes writes metadata before the items): the
   * server prepares it while this process parses the items. Resolves with the number of items and the list's
   * resourceVersion (the first page's: every page of a paginated LIST is read at that one version).
   */
  async listEach<T>(path: string, o: ListEachOptions<T>): Promise<{ items: number; resourceVersion: string }> {
    let n = 0;
    let rv = '';
    const pageSize = o.pageSize ?? 500;
    // `after`: the page before, whose items must all be handed on first (the order is the server's).
    const fetchPage = (cont: string | undefined, after?: Promise<unknown>): Promise<void> => {
      let next: Promise<void> | undefined;
      const ask = (c: string | undefined): void => {
        if (next || !c || o.stop?.()) return;
        next = fetchPage(c, page);
        next.catch(() => {}); // seen when awaited below
      };
      const q = new URLSearchParams({ ...o.query, limit: String(pageSize), ...(cont ? { continue: cont } : {}) });
      const proto = o.protobuf;
      const page = this.streamGet<T>(
        `${path}?${q}`,
        (item) => {
          n++;
          o.onItem(item);
        },
        (head) => ask(head.metadata?.continue),
        proto ? `${PROTOBUF_MEDIA_TYPE}, application/json` : (o.accept ?? 'application/json'),
        o.timeoutMs ?? this.timeoutMs,
        after,
        proto && {
          kind: proto.kind,
          onItem: (item) => {
            n++;
            proto.onItem(item);
          },
          ...(o.onBadItem && {
            onBadItem: (i: number, reason: string, name?: string) => {
              n++;
              o.onBadItem?.(i, reason, name);
            },
          }),
        },
      );
      return page.then(async (p) => {
        rv ||= p.metadata?.resourceVersion ?? '';
        o.onPage?.(n);
        // The token came after the items (not Kubernetes' order): ask now.
        ask(p.metadata?.continue);
        if (next) await next;
      });
    };
    await fetchPage(undefined);
    return { items: n, resourceVersion: rv };
  }

  /** One GET of a LIST path, its items streamed to `onItem`; resolves with the answer without its items. */
  private async streamGet<T>(
    path: string,
    onItem: (item: T) => void,
    onHead: (head: { metadata?: { continue?: string } }) => void,
    accept: string,
    timeoutMs: number,
    /** Read nothing of the answer until this settles (the server has prepared it meanwhile). */
    after?: Promise<unknown>,
    /** Where the items of a protobuf answer go (when the server answers protobuf). */
    proto?: { kind: ProtoKind; onItem: (item: ProtoObject) => void; onBadItem?: (i: number, reason: string, name?: string) => void },
  ): Promise<{ metadata?: { continue?: string; resourceVersion?: string } }> {
    await this.limiter.take();
    const tls = await this.auth();
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.server}${path}`,
        {
          method: 'GET',
          agent: this.agent,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized,
          ...(tls.servername ? { servername: tls.servername } : {}),
          // No accept-encoding: gzip of a large LIST costs the server more than a loopback or LAN saves.
          headers: { ...tls.headers, accept, 'user-agent': this.userAgent },
        },
        (res) => {
          if (after) {
            res.pause();
            const go = (): void => {
              res.resume();
            };
            after.then(go, go);
          }
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status <= 299;
          // Content negotiation: protobuf when asked for and answered, JSON otherwise.
          const isProto = (res.headers['content-type'] ?? '').startsWith(PROTOBUF_MEDIA_TYPE);
          let stream: { write(d: Buffer): void; end(): unknown };
          if (isProto && proto) {
            const ps = new ProtoListStream(proto.kind, proto.onItem);
            ps.onHead = onHead;
            if (proto.onBadItem) ps.onBadItem = proto.onBadItem;
            stream = ps;
          } else {
            const js = new ListStream<T>(onItem);
            js.onHead = (h) => onHead(h as { metadata?: { continue?: string } });
            stream = js;
          }
          const errorBody: Buffer[] = [];
          let bytes = 0;
          /** The answer could not be read (a malformed item, or `onItem` threw): the rest of it is dropped. */
          let failed = false;
          res.on('data', (d: Buffer) => {
            if (failed) return;
            if (!ok) {
              bytes += d.length;
              if (bytes <= 64 * 1024) errorBody.push(d);
              return;
            }
            try {
              stream.write(d);
            } catch (e) {
              failed = true;
              const err = new Error(`GET ${path}: ${(e as Error).message}`);
              reject(err);
              // An answer already received whole has its keep-alive socket back in the agent's pool, maybe
              // serving another request: only the rest of its data is dropped. Otherwise the socket is this
              // request's and is closed (destroying a pooled one raised an error nobody listened to).
              if (!res.complete) req.destroy(err);
            }
          });
          res.on('error', reject);
          res.on('end', () => {
            if (failed) return;
            if (!ok) {
              const raw = Buffer.concat(errorBody);
              const text = raw.toString('utf8');
              let s: { message?: string; reason?: string } | undefined = isProto ? decodeStatus(raw) : undefined;
              if (!s)
                try {
                  s = JSON.parse(text) as typeof s;
                } catch {}
              const msg = typeof s?.message === 'string' ? s.message : undefined;
              reject(new ApiError(status, `GET ${path}: ${status} ${msg ?? text.slice(0, 200)}`, s?.reason, msg));
              return;
            }
            try {
              resolve(stream.end() as { metadata?: { continue?: string } });
            } catch (e) {
              reject(new Error(`GET ${path}: ${(e as Error).message}`));
            }
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Server-side apply of `obj` at `path` (the object's own URL) as `fieldManager`, taking over conflicting fields. */
  async apply<T>(path: string, obj: unknown, fieldManager: string, subresource = ''): Promise<T> {
    const q = new URLSearchParams({ fieldManager, force: 'true' });
    return (await this.request<T>('PATCH', `${path}${subresource ? `/${subresource}` : ''}?${q}`, obj, 'application/apply-patch+yaml'))
      .body;
  }

  async mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return (await this.request<T>('PATCH', path, patch, 'application/merge-patch+json')).body;
  }

  /** Delete; true when it was there. */
  async delete(path: string, precondition?: { uid?: string; resourceVersion?: string }): Promise<boolean> {
    try {
      await this.request(
        'DELETE',
        path,
        precondition ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: precondition } : undefined,
      );
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return false;
      throw e;
    }
  }

  /**
   * Open a watch; calls `onEvent` for each event and resolves when the server ends the stream (timeout), or
   * rejects on a transport error or an HTTP error (ApiError, 410 when the resourceVersion is too old).
   */
  async watch<T>(
    path: string,
    query: Record<string, string>,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
    /** METADATA_ACCEPT for metadata only. */
    accept = 'application/json',
  ): Promise<void> {
    await this.limiter.take();
    const tls = await this.auth();
    const q = new URLSearchParams({ ...query, watch: 'true' });
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.server}${path}?${q}`,
        {
          method: 'GET',
          agent: this.agent,
          signal,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized,
          ...(tls.servername ? { servername: tls.servername } : {}),
          headers: { ...tls.headers, accept, 'user-agent': this.userAgent },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let m = text.slice(0, 200);
              try {
                m = (JSON.parse(text) as { message?: string }).message ?? m;
              } catch {}
              reject(new ApiError(status, `watch ${path}: ${status} ${m}`));
            });
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            buf += d;
            for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line.trim()) continue;
              try {
                onEvent(JSON.parse(line) as WatchEvent<T>);
              } catch (e) {
                req.destroy(e as Error);
                return;
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', reject);
          res.on('aborted', () => reject(new Error(`watch ${path}: aborted`)));
        },
      );
      req.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The REST path of a resource: `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
export interface ResourceType {
  group: string;
  version: string;
  /** Plural resource name. */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export function resourcePath(t: ResourceType, namespace?: string, name?: string): string {
  const base = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${t.resource}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

export const CORE = {
  namespaces: { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false },
  configMaps: { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true },
  secrets: { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true },
  events: { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true },
  clusterTrustBundles: {
    group: 'certificates.k8s.io',
    version: 'v1beta1',
    resource: 'clustertrustbundles',
    kind: 'ClusterTrustBundle',
    namespaced: false,
  },
} satisfies Record<string, ResourceType>;
