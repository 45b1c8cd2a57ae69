// A list+watch cache of one resource: list (paged), then watch from the list's resourceVersion with bookmarks
// (so a quiet stream still moves its resourceVersion forward), re-opening the watch when the server ends it.
// When the server says the resourceVersion is gone (HTTP 410, or an ERROR event with code 410) it lists again
// and reports what changed meanwhile, deletes included, so no event is lost across the gap.
import {
  ApiError,
  type KubeClient,
  type KubeObject,
  METADATA_ACCEPT,
  METADATA_LIST_ACCEPT,
  type ResourceType,
  resourcePath,
  type WatchEvent,
} from './client.ts';
import type { Logger } from './log.ts';
import type { ProtoKind, ProtoObject } from './protobuf.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubeObject> {
  /** Only objects of this namespace (default: all). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Ask for metadata only (PartialObjectMetadata: no data, no spec): what watching for names, labels and changes
   * needs, at a fraction of the bytes and memory, and never a Secret's values.
   */
  metadataOnly?: boolean;
  /** Applied to every object before it is cached (drop what the handlers never read: less memory). */
  transform?: (o: T) => T;
  /**
   * Secrets or ConfigMaps: LIST in protobuf (as client-go asks for built-in types: values as bytes, no base64,
   * managedFields never read), each item made into what is cached by `map`, in place of `transform` (its values
   * are views valid only during the call: copy what is kept). Watch events stay JSON and go through `transform`.
   */
  protobuf?: { kind: ProtoKind; map: (item: ProtoObject) => T };
  /**
   * Cache only each object's resourceVersion (what a relist compares), for handlers that keep what they need
   * themselves: `get`, `list` and the objects handed with updates and relists' deletes then hold only the
   * name, namespace and resourceVersion (a map of 100,000 strings instead of 100,000 objects).
   */
  versionsOnly?: boolean;
  /**
   * The cache's keys are this and the object's key (`namespace/name`, see objectKey), and each handler gets
   * its object's as a fourth argument: a handler keeping objects by such a key holds the same string, not a
   * second one. `get` still takes the object's key.
   */
  keyPrefix?: string;
  /** Seconds the server keeps one watch open (default 300). */
  watchTimeoutSeconds?: number;
  log?: Logger;
  /** Called when a list or watch fails (before the retry), with the error: callers mark their source stale. */
  onError?: (e: Error) => void;
  /** Called after each successful list and each watch that opened and ended cleanly. */
  onHealthy?: () => void;
}

export function objectKey(o: KubeObject): string {
  // join makes one flat string; a template literal makes a rope of several (a cache of 100k keys holds them).
  return o.metadata.namespace ? [o.metadata.namespace, o.metadata.name].join('/') : o.metadata.name;
}

/**
 * A resourceVersion as a versions-only cache holds it: a number when it is one written without leading zeros
 * (what the API server's are, from etcd's revision; a small integer is held in the map itself, where a string
 * costs 24 bytes), else the string. `versionText` gives back the same string.
 */
type Version = string | number | undefined;
const DECIMAL = /^[1-9][0-9]{0,14}$/;
const version = (rv: string | undefined): Version => (rv !== undefined && DECIMAL.test(rv) ? Number(rv) : rv);
const versionText = (v: Version): string | undefined => (typeof v === 'number' ? String(v) : v);

/** The object a versions-only cache stands for: its name and namespace (from its key) and resourceVersion. */
function stub<T extends KubeObject>(objKey: string, v: Version): T {
  const resourceVersion = versionText(v);
  const slash = objKey.indexOf('/');
  const metadata =
    slash < 0 ? { name: objKey, resourceVersion } : { name: objKey.slice(slash + 1), namespace: objKey.slice(0, slash), resourceVersion };
  return { metadata } as T;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  /** The cache when `versionsOnly`: each object's resourceVersion. */
  private readonly versions = new Map<string, Version>();
  private readonly handlers: ((ev: InformerEvent, obj: T, old: T | undefined, key: string) => void)[] = [];
  private rv = '';
  private abort = new AbortController();
  private syncedResolve!: () => void;
  /** Resolves when the first list is in the cache. */
  readonly synced: Promise<void> = new Promise((r) => {
    this.syncedResolve = r;
  });
  private running?: Promise<void>;
  /** How many times the informer listed (the first list and every relist after a 410). */
  lists = 0;
  /** Bookmarks seen. */
  bookmarks = 0;
  /** Watches opened, and the resourceVersion the last one started from (a bookmark's, after a quiet stream). */
  watches = 0;
  lastWatchFrom = '';
  hasSynced = false;
  /** Set when an item of a protobuf LIST did not decode: LISTs are asked for in JSON from then on. */
  private protobufBroken = false;

  private readonly client: KubeClient;
  readonly type: ResourceType;
  private readonly o: InformerOptions<T>;

  constructor(client: KubeClient, type: ResourceType, o: InformerOptions<T> = {}) {
    this.client = client;
    this.type = type;
    this.o = o;
  }

  on(handler: (ev: InformerEvent, obj: T, old: T | undefined, key: string) => void): this {
    this.handlers.push(handler);
    return this;
  }

  get(key: string): T | undefined {
    const k = this.keyOf(key);
    if (!this.o.versionsOnly) return this.cache.get(k);
    return this.versions.has(k) ? stub<T>(key, this.versions.get(k)) : undefined;
  }

  list(): T[] {
    if (!this.o.versionsOnly) return [...this.cache.values()];
    const cut = this.o.keyPrefix?.length ?? 0;
    return [...this.versions].map(([key, v]) => stub<T>(key.slice(cut), v));
  }

  /** The cache's key of an object's key (one flat string: 100,000 of them are held). */
  private keyOf(objKey: string): string {
    return this.o.keyPrefix ? [this.o.keyPrefix, objKey].join('') : objKey;
  }

  get size(): number {
    return this.o.versionsOnly ? this.versions.size : this.cache.size;
  }

  /** Cache the object (or its resourceVersion); the object it replaces, if any. */
  private put(key: string, obj: T): T | undefined {
    if (!this.o.versionsOnly) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      return old;
    }
    const had = this.versions.has(key);
    const v = this.versions.get(key);
    this.versions.set(key, version(obj.metadata.resourceVersion));
    return had ? stub<T>(objectKey(obj), v) : undefined;
  }

  get resourceVersion(): string {
    return this.rv;
  }

  start(): this {
    this.running ??= this.loop();
    return this;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private emit(ev: InformerEvent, obj: T, old: T | undefined, key: string): void {
    for (const h of this.handlers) {
      try {
        h(ev, obj, old, key);
      } catch (e) {
        this.o.log?.error({ err: (e as Error).message, resource: this.type.resource }, 'informer handler failed');
      }
    }
  }

  private query(): Record<string, string> {
    const q: Record<string, string> = {};
    if (this.o.labelSelector) q.labelSelector = this.o.labelSelector;
    if (this.o.fieldSelector) q.fieldSelector = this.o.fieldSelector;
    return q;
  }

  private path(): string {
    return resourcePath(this.type, this.o.namespace);
  }

  /**
   * List everything and reconcile the cache with it: adds and updates as each item arrives (the LIST is streamed,
   * src/kube/client.ts `listEach`: no page is held whole, as bytes, text or objects, and the event loop turns
   * between chunks, so the process keeps answering while 100,000 objects arrive), then deletes for what vanished.
   */
  private async relist(): Promise<void> {
    const seen = new Set<string>();
    const take = (obj: T): void => {
      const key = this.keyOf(objectKey(obj));
      seen.add(key);
      const old = this.put(key, obj);
      if (!old) this.emit('add', obj, undefined, key);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj, old, key);
    };
    const transform = this.o.transform;
    // An item our protobuf reader cannot decode fails this LIST; it is retried, and every later one, in JSON.
    const proto = this.protobufBroken ? undefined : this.o.protobuf;
    const r = await this.client.listEach<T>(this.path(), {
      query: this.query(),
      pageSize: 500,
      ...(this.o.metadataOnly && { accept: METADATA_LIST_ACCEPT }),
      onItem: (obj) => take(transform ? transform(obj) : obj),
      ...(proto && {
        protobuf: { kind: proto.kind, onItem: (item: ProtoObject) => take(proto.map(item)) },
        onBadItem: (i: number, reason: string, name?: string) => {
          this.protobufBroken = true;
          throw new Error(`${this.type.resource} ${name ?? `#${i + 1}`} does not decode from protobuf (${reason}): listing again in JSON`);
        },
      }),
      stop: () => this.abort.signal.aborted,
    });
    if (this.abort.signal.aborted) return;
    this.lists++;
    for (const [key, old] of this.cache)
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old, undefined, key);
      }
    const cut = this.o.keyPrefix?.length ?? 0;
    for (const [key, v] of this.versions)
      if (!seen.has(key)) {
        this.versions.delete(key);
        this.emit('delete', stub<T>(key.slice(cut), v), undefined, key);
      }
    this.rv = r.resourceVersion;
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.syncedResolve();
    }
  }

  private apply(e: WatchEvent<T>): void {
    if (e.type === 'BOOKMARK') {
      this.bookmarks++;
      this.rv = e.object.metadata.resourceVersion ?? this.rv;
      return;
    }
    if (e.type === 'ERROR') {
      const s = e.object as unknown as { code?: number; message?: string };
      throw new ApiError(s.code ?? 500, `watch ${this.type.resource}: ${s.message ?? 'error event'}`);
    }
    const obj = this.o.transform ? this.o.transform(e.object) : e.object;
    const key = this.keyOf(objectKey(obj));
    this.rv = obj.metadata.resourceVersion ?? this.rv;
    if (e.type === 'DELETED') {
      this.cache.delete(key);
      this.versions.delete(key);
      this.emit('delete', obj, undefined, key);
      return;
    }
    const old = this.put(key, obj);
    this.emit(old ? 'update' : 'add', obj, old, key);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let backoff = 200;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
          this.o.onHealthy?.();
        }
        const timeout = this.o.watchTimeoutSeconds ?? 300;
        this.watches++;
        this.lastWatchFrom = this.rv;
        await this.client.watch<T>(
          this.path(),
          {
            ...this.query(),
            resourceVersion: this.rv,
            allowWatchBookmarks: 'true',
            timeoutSeconds: String(timeout),
          },
          (e) => this.apply(e),
          signal,
          this.o.metadataOnly ? METADATA_ACCEPT : undefined,
        );
        backoff = 200;
        this.o.onHealthy?.();
      } catch (e) {
        if (signal.aborted) break;
        this.o.onError?.(e as Error);
        if (e instanceof ApiError && e.code === 410) {
          this.o.log?.info({ resource: this.type.resource }, 'watch expired (410 Gone): listing again');
          needList = true;
          continue;
        }
        this.o.log?.warn({ resource: this.type.resource, err: (e as Error).message }, 'watch failed: retrying');
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
