// A Kubernetes cluster as a source: informers (src/kube: LIST, then WATCH with bookmarks, relisting after
// 410) on the resources `scan` reads. Loaded only when a cluster is watched (the kubeconfig library costs
// start-up time).
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { Informer } from '../kube/informer.ts';
import type { Logger } from '../kube/log.ts';
import type { ClusterState } from './cluster.ts';
import { type Extracted, extract, extractProto, protoMetadata, slimMetadata, WATCHED } from './extract.ts';
import type { Monitor } from './monitor.ts';
import type { Stoppable } from './sources.ts';

/**
 * A cluster through informers on every resource `scan` reads. Each event replaces that one object's
 * values; the cluster scans again after its debounce. A resource whose API is not served (404: no
 * ClusterTrustBundles, no cert-manager) is skipped; one that fails (403, unreachable) is stale with the
 * reason while the informer retries with backoff.
 */
export function watchCluster(
  m: Monitor,
  c: ClusterState,
  client: KubeClient,
  log?: Logger,
): Stoppable & { informers: Informer<KubeObject>[] } {
  const informers: Informer<KubeObject>[] = [];
  const abort = new AbortController();
  const start = async (): Promise<void> => {
    // Optional APIs: ask once whether they are served.
    const served = async (group: string, version: string, resource: string): Promise<boolean> => {
      try {
        const r = await client.request<{ resources?: { name: string }[] }>('GET', group ? `/apis/${group}/${version}` : `/api/${version}`);
        return (r.body.resources ?? []).some((x) => x.name === resource);
      } catch {
        return false;
      }
    };
    const waits: Promise<void>[] = [];
    for (const w of WATCHED) {
      if (abort.signal.aborted) return;
      if (w.optional && !(await served(w.type.group, w.type.version, w.type.resource))) continue;
      const name = w.type.resource;
      const kind = w.type.kind;
      m.sourceState(c, name, 'stale', { reason: 'listing' });
      const inf = new Informer<KubeObject>(client, w.type, {
        ...(w.fieldSelector && { fieldSelector: w.fieldSelector }),
        // The cache keeps each object's resourceVersion only; the handler takes what scan reads from the
        // object as it passes (the cluster holds that), nothing else is kept.
        versionsOnly: true,
        // The cluster's key of an object (`secrets|namespace/name`) is the cache's: one string held, not two.
        keyPrefix: `${name}|`,
        transform: (o) => {
          const obj = o as KubeObject & Record<string, unknown>;
          return { metadata: slimMetadata(obj), x: extract(kind, obj) } as KubeObject;
        },
        // Secrets and ConfigMaps, the bulk of a cluster, are listed in protobuf as `scan` reads them: no base64
        // text, no managedFields, no page held whole (docs/benchmarks.md, serve at 100,000 Secrets).
        ...((kind === 'Secret' || kind === 'ConfigMap') && {
          protobuf: { kind, map: (p) => ({ metadata: protoMetadata(p), x: extractProto(kind, p) }) as KubeObject },
        }),
        ...(log && { log }),
        onError: (e) =>
          m.sourceState(c, name, c.sources.get(name)?.lastSuccess ? 'stale' : 'error', { reason: e.message.split('\n')[0] as string }),
        onHealthy: () => m.sourceState(c, name, 'ok', { objects: inf.size }),
      });
      inf.on((ev, obj, _old, key) => {
        const o = obj as KubeObject & { x?: Extracted };
        c.setObject(key, ev === 'delete' ? undefined : o.x);
        // The cluster holds the values now: a first LIST's items (all of them, until the last is handed over)
        // keep only their name and resourceVersion.
        o.x = undefined;
        const s = c.sources.get(name);
        if (s && s.objects !== inf.size && inf.hasSynced) c.setSource(name, s.status, { objects: inf.size });
      });
      informers.push(inf);
      inf.start();
      waits.push(inf.synced);
    }
    await Promise.all(waits);
  };
  const first = start().then(() => {
    c.rescan();
  });
  return {
    informers,
    first,
    stop: async () => {
      abort.abort();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
