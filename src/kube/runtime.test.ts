// The controller runtime against a real kube-apiserver (test/cluster/harness.ts): the informer keeps its cache
// right across watch expiry (410 Gone after an etcd compaction) and sees bookmarks; the work queue de-duplicates
// and backs off; two leader-election candidates elect one leader and fail over.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, tlsGet, waitFor } from '../../test/cluster/harness.ts';
import { K8S_BUILD_TIMEOUT_MS } from '../../test/support/k8s.ts';
import { parseYaml } from '../common/yaml.ts';
import { issueCertificate } from '../x509/build.ts';
import { Certificate } from '../x509/certificate.ts';
import { generateKey } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';
import { CORE, KubeClient, type KubeObject } from './client.ts';
import { Informer } from './informer.ts';
import { LeaderElector } from './leader.ts';
import { WorkQueue } from './queue.ts';
import { newRegistry, startHealthServer } from './server.ts';

let cluster: Cluster;
let client: KubeClient;

/** A loopback TCP relay to the API server that the test can cut (every connection dropped, new ones refused). */
interface Relay {
  port: number;
  cut(): void;
  mend(): void;
  close(): Promise<void>;
}
async function relay(target: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((s) => {
    if (!open) return s.destroy();
    const up = connect(target, '127.0.0.1');
    sockets.add(s).add(up);
    s.pipe(up).pipe(s);
    const end = (): void => {
      s.destroy();
      up.destroy();
      sockets.delete(s);
      sockets.delete(up);
    };
    s.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    mend() {
      open = true;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function clientAt(server: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.admin);
  const c = kc.getCurrentCluster();
  if (!c) throw new Error('no cluster');
  kc.clusters = kc.clusters.map((x) => (x.name === c.name ? { ...x, server } : x));
  return new KubeClient(kc, { qps: 0 });
}

/** etcd's current revision and a compaction to it, through etcd's JSON gateway with the harness's client certificate. */
async function compactEtcd(): Promise<void> {
  const e = cluster.etcd;
  const tls = { ca: readFileSync(e.ca, 'utf8'), cert: readFileSync(e.cert, 'utf8'), key: readFileSync(e.key, 'utf8') };
  const r = await tlsGet(`${e.url}/v3/kv/range`, {
    ...tls,
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
  });
  const rev = (JSON.parse(r.body) as { header: { revision: string } }).header.revision;
  const c = await tlsGet(`${e.url}/v3/kv/compaction`, { ...tls, method: 'POST', body: JSON.stringify({ revision: rev, physical: true }) });
  if (c.status !== 200) throw new Error(`compaction: ${c.status} ${c.body}`);
}

beforeAll(async () => {
  // ConfigMaps without the watch cache: their watches go to etcd, where a compaction makes an old resourceVersion 410.
  cluster = await startCluster({ apiserverArgs: ['--watch-cache-sizes=configmaps#0'] });
  client = clientAt(cluster.apiUrl);
}, K8S_BUILD_TIMEOUT_MS);

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

describe('informer', () => {
  it('keeps its cache right across a cut connection and a 410 Gone relist, deletes included', async () => {
    const ns = 'informer-test';
    expect(cluster.kubectl(['create', 'namespace', ns]).code).toBe(0);
    for (const n of ['a', 'b', 'c']) expect(cluster.kubectl(['create', 'configmap', n, '-n', ns, `--from-literal=v=${n}`]).code).toBe(0);
    const r = await relay(cluster.apiPort);
    const c = clientAt(`https://127.0.0.1:${r.port}`);
    const events: string[] = [];
    const inf = new Informer<KubeObject & { data?: Record<string, string> }>(c, CORE.configMaps, {
      namespace: ns,
      fieldSelector: 'metadata.name!=kube-root-ca.crt',
    }).on((ev, o) => events.push(`${ev} ${o.metadata.name}`));
    // The same through a cache of resourceVersions only: the same events, names and resourceVersions.
    const versionEvents: string[] = [];
    const versions = new Informer<KubeObject>(c, CORE.configMaps, {
      namespace: ns,
      fieldSelector: 'metadata.name!=kube-root-ca.crt',
      versionsOnly: true,
      keyPrefix: 'configmaps|',
    }).on((ev, o, _old, key) => versionEvents.push(`${ev} ${key} ${o.metadata.namespace}/${o.metadata.name}`));
    inf.start();
    versions.start();
    await inf.synced;
    await versions.synced;
    expect(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    expect(inf.lists).toBe(1);
    // Seen live through the watch.
    expect(cluster.kubectl(['create', 'configmap', 'd', '-n', ns]).code).toBe(0);
    await waitFor('d in the cache', () => inf.get(`${ns}/d`) !== undefined, 30_000, 50);
    // Cut the informer off, change things it cannot see, compact etcd past its resourceVersion, let it back.
    r.cut();
    expect(cluster.kubectl(['delete', 'configmap', 'a', '-n', ns]).code).toBe(0);
    expect(cluster.kubectl(['create', 'configmap', 'e', '-n', ns]).code).toBe(0);
    expect(cluster.kubectl(['patch', 'configmap', 'b', '-n', ns, '-p', '{"data":{"v":"B"}}']).code).toBe(0);
    await compactEtcd();
    r.mend();
    await waitFor(
      'the cache after the relist',
      () =>
        inf
          .list()
          .map((o) => o.metadata.name)
          .sort()
          .join() === 'b,c,d,e' && inf.get(`${ns}/b`)?.data?.v === 'B',
      60_000,
      100,
    );
    expect(inf.lists).toBeGreaterThanOrEqual(2);
    expect(events).toContain('delete a');
    expect(events).toContain('add e');
    expect(events).toContain('update b');
    await waitFor(
      'the versions-only cache after the relist',
      () =>
        versions
          .list()
          .map((o) => o.metadata.name)
          .sort()
          .join() === 'b,c,d,e' && versions.get(`${ns}/b`)?.metadata.resourceVersion === inf.get(`${ns}/b`)?.metadata.resourceVersion,
      60_000,
      100,
    );
    expect(versions.size).toBe(4);
    for (const o of versions.list())
      expect(o.metadata).toEqual({
        name: o.metadata.name,
        namespace: ns,
        resourceVersion: inf.get(`${ns}/${o.metadata.name}`)?.metadata.resourceVersion,
      });
    expect(versionEvents).toContain(`delete configmaps|${ns}/a ${ns}/a`);
    expect(versionEvents).toContain(`add configmaps|${ns}/e ${ns}/e`);
    expect(versionEvents).toContain(`update configmaps|${ns}/b ${ns}/b`);
    await versions.stop();
    await inf.stop();
    c.close();
    await r.close();
  }, 120_000);
});

describe('informer: a LIST of several pages', () => {
  it('hands every object over as the pages stream in, with turns of the event loop during the hand-over', async () => {
    const ns = 'informer-slices';
    const n = 2_345; // five pages of 500
    expect(cluster.kubectl(['create', 'namespace', ns]).code).toBe(0);
    const items = Array.from({ length: n }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${i}`, namespace: ns },
      data: { i: String(i) },
    }));
    const created = cluster.kubectl(
      ['create', '-f', '-', '-o', 'name'],
      undefined,
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    );
    expect(created.code, created.stderr).toBe(0);
    const adds: string[] = [];
    let turnAt = -1; // how many adds had been handed over when an immediate queued at the first add ran
    const inf = new Informer<KubeObject>(client, CORE.configMaps, {
      namespace: ns,
      fieldSelector: 'metadata.name!=kube-root-ca.crt',
      versionsOnly: true,
    }).on((ev, o) => {
      if (ev !== 'add') return;
      if (adds.length === 0) setImmediate(() => (turnAt = adds.length));
      adds.push(o.metadata.name ?? '');
    });
    inf.start();
    await inf.synced;
    expect(adds).toHaveLength(n);
    expect(new Set(adds)).toEqual(new Set(items.map((x) => x.metadata.name)));
    expect(inf.size).toBe(n);
    expect(inf.lists).toBe(1);
    // The event loop turned during the hand-over, not only after it.
    expect(turnAt).toBeGreaterThan(0);
    expect(turnAt).toBeLessThan(n);
    await inf.stop();
  }, 300_000);
});

/**
 * A TLS proxy in front of the real API server (its serving certificate from the cluster CA, so the admin
 * kubeconfig trusts it) that forwards every request with the admin's client certificate and, in protobuf answers
 * only, breaks the ObjectMeta of the object named `name`: its name field gets wire type 7, which no protobuf
 * reader can skip. JSON answers and watches pass through unchanged.
 */
async function corruptingProxy(name: string): Promise<{ url: string; corrupted: () => number; close(): Promise<void> }> {
  const kc = parseYaml(readFileSync(cluster.admin, 'utf8')) as { users: { user: Record<string, string> }[] };
  const user = kc.users[0]?.user ?? {};
  const b64 = (v: string | undefined): string => Buffer.from(v ?? '', 'base64').toString('utf8');
  const ca = readFileSync(join(cluster.nodeRoot, 'etc', 'kubernetes', 'pki', 'ca.crt'), 'utf8');
  const caKey = createPrivateKey(readFileSync(join(cluster.nodeRoot, 'etc', 'kubernetes', 'pki', 'ca.key')));
  const kp = generateKey('ecdsa-p256');
  const serving = issueCertificate({
    profile: { subject: 'CN=corrupting proxy', sans: { ip: ['127.0.0.1'] }, extKeyUsage: ['serverAuth'], validity: { days: 1 } },
    publicKey: kp.publicKey,
    issuer: { cert: new Certificate((scanPem(ca)[0] as { der: Uint8Array }).der), key: caKey },
  });
  // Field 1 (name), wire type 2, its length, the name: the tag byte becomes field 1 with wire type 7.
  const needle = Buffer.concat([Buffer.from([0x0a, name.length]), Buffer.from(name)]);
  let corrupted = 0;
  const server = createHttpsServer({ cert: serving.toPem(), key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) }, (req, res) => {
    const up = httpsRequest(
      `${cluster.apiUrl}${req.url}`,
      {
        method: req.method,
        headers: { ...req.headers, host: `127.0.0.1:${cluster.apiPort}` },
        ca,
        cert: b64(user['client-certificate-data']),
        key: b64(user['client-key-data']),
      },
      (ur) => {
        const proto = (ur.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf');
        if (!proto) {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        ur.on('data', (d: Buffer) => parts.push(d));
        ur.on('end', () => {
          const body = Buffer.concat(parts);
          const at = body.indexOf(needle);
          if (at >= 0) {
            body[at] = 0x0f;
            corrupted++;
          }
          const headers = { ...ur.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(ur.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}`,
    corrupted: () => corrupted,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('informer: protobuf LIST with an object the reader cannot decode', () => {
  it('lists again in JSON, says why, and misses no object', async () => {
    const ns = 'informer-proto-fallback';
    expect(cluster.kubectl(['create', 'namespace', ns]).code).toBe(0);
    for (const n of ['before-it', 'corrupt-me', 'after-it'])
      expect(cluster.kubectl(['create', 'secret', 'generic', n, '-n', ns, `--from-literal=tls.crt=${n}`]).code).toBe(0);
    const proxy = await corruptingProxy('corrupt-me');
    const c = clientAt(proxy.url);
    const errors: string[] = [];
    const mapped: string[] = [];
    const inf = new Informer<KubeObject>(c, CORE.secrets, {
      namespace: ns,
      protobuf: {
        kind: 'Secret',
        map: (p) => {
          mapped.push(p.metadata.name);
          return { metadata: { name: p.metadata.name, namespace: p.metadata.namespace, resourceVersion: p.metadata.resourceVersion } };
        },
      },
      onError: (e) => errors.push(e.message),
    });
    inf.start();
    // Without the fallback every LIST would be asked in protobuf again and fail the same way: never synced.
    let timer: NodeJS.Timeout | undefined;
    const synced = await Promise.race([
      inf.synced.then(() => true),
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), 60_000);
      }),
    ]);
    clearTimeout(timer);
    expect(synced, `never synced: ${errors.join('; ')}`).toBe(true);
    // The first LIST was answered in protobuf and broken by the proxy; the informer said so and listed in JSON.
    expect(proxy.corrupted()).toBe(1);
    expect(errors.some((e) => /corrupt-me|#3/.test(e) && /does not decode from protobuf/.test(e) && /listing again in JSON/.test(e))).toBe(
      true,
    );
    expect(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['after-it', 'before-it', 'corrupt-me']);
    expect(inf.lists).toBe(1);
    await inf.stop();
    c.close();
    await proxy.close();
  }, 300_000);
});

describe('informer bookmarks', () => {
  it("resumes a dropped watch from a bookmark's resourceVersion, without listing again", async () => {
    const ns = 'bookmark-test';
    expect(cluster.kubectl(['create', 'namespace', ns]).code).toBe(0);
    expect(cluster.kubectl(['create', 'namespace', `${ns}-elsewhere`]).code).toBe(0);
    expect(cluster.kubectl(['create', 'secret', 'generic', 's1', '-n', ns, '--from-literal=v=1']).code).toBe(0);
    const r = await relay(cluster.apiPort);
    const c = clientAt(`https://127.0.0.1:${r.port}`);
    // The real client, watched: the resourceVersion each watch asks to start from.
    const starts: string[] = [];
    const watch = c.watch.bind(c);
    c.watch = ((path, query, onEvent, signal, accept) => {
      starts.push(query.resourceVersion ?? '');
      return watch(path, query, onEvent, signal, accept);
    }) as typeof c.watch;
    // Secrets go through the API server's watch cache (this cluster turns it off for ConfigMaps only), which sends a
    // bookmark 2 s before a watch's timeout.
    const inf = new Informer<KubeObject>(c, CORE.secrets, { namespace: ns, watchTimeoutSeconds: 4 });
    inf.start();
    await inf.synced;
    const listed = BigInt(inf.resourceVersion);
    // Changes the informer does not see (another namespace) move the cluster's resourceVersion past its list.
    let elsewhere = 0n;
    for (const n of ['a', 'b', 'c']) {
      const out = cluster.kubectl([
        'create',
        'secret',
        'generic',
        n,
        '-n',
        `${ns}-elsewhere`,
        '-o',
        'jsonpath={.metadata.resourceVersion}',
      ]);
      expect(out.code).toBe(0);
      elsewhere = BigInt(out.stdout.trim());
    }
    // Bounded, generous: on a loaded machine the API server's bookmark timer can miss a few 4 s watches in a row.
    await waitFor('a bookmark past those changes', () => inf.bookmarks > 0 && BigInt(inf.resourceVersion) >= elsewhere, 180_000, 50);
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['s1']);
    // Cut the connection mid-watch; what the informer holds now came from a bookmark, not from an object.
    const atCut = inf.resourceVersion;
    const before = starts.length;
    r.cut();
    expect(BigInt(atCut)).toBeGreaterThan(listed);
    expect(cluster.kubectl(['create', 'secret', 'generic', 's2', '-n', ns, '--from-literal=v=2']).code).toBe(0);
    r.mend();
    await waitFor('s2 through the resumed watch', () => inf.get(`${ns}/s2`) !== undefined, 60_000, 50);
    // The watch re-opened from the bookmark's resourceVersion and no list happened: s2 came as a watch event.
    expect(starts.length).toBeGreaterThan(before);
    expect(starts[before]).toBe(atCut);
    expect(inf.lists).toBe(1);
    await inf.stop();
    c.close();
    await r.close();
  }, 300_000);
});

describe('work queue', () => {
  it('queues a key once however often it is added, and again when added while being processed', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 5; i++) q.add('x');
    q.add('y');
    expect(q.length).toBe(2);
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const run = q.run(2, async (k) => {
      seen.push(k);
      if (k === 'x' && seen.filter((s) => s === 'x').length === 1) {
        q.add('x'); // while processing: queued again after done, not handed to the second worker
        q.add('x');
        await gate;
      }
    });
    await waitFor('y processed', () => seen.includes('y'), 5_000, 5);
    expect(seen.filter((s) => s === 'x')).toHaveLength(1);
    release();
    await waitFor('x again', () => seen.filter((s) => s === 'x').length === 2, 5_000, 5);
    q.shutdown();
    await run;
    expect(seen.filter((s) => s === 'x')).toHaveLength(2);
  });

  it('backs off a failing key exponentially and resets on success', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 40 });
    let calls = 0;
    const delays: number[] = [];
    q.add('k');
    const run = q.run(
      1,
      async () => {
        calls++;
        if (calls <= 4) throw new Error('boom');
      },
      (_k, _e, d) => delays.push(d),
    );
    await waitFor('success after 4 failures', () => calls === 5, 5_000, 5);
    q.shutdown();
    await run;
    expect(delays).toEqual([10, 20, 40, 40]);
    expect(q.failuresOf('k')).toBe(0);
  });
});

describe('leader election', () => {
  it('elects one of two candidates and fails over when the leader stops, gracefully or not', async () => {
    const mk = (id: string): { e: LeaderElector; leading: () => boolean } => {
      let leading = false;
      const e = new LeaderElector(client, {
        namespace: 'kube-system',
        name: 'anchorage-test-leader',
        identity: id,
        leaseDurationSeconds: 3,
        renewDeadlineSeconds: 2,
        retryPeriodSeconds: 0.3,
        onStartedLeading: () => {
          leading = true;
        },
        onStoppedLeading: () => {
          leading = false;
        },
      });
      return { e, leading: () => leading };
    };
    const a = mk('a');
    const b = mk('b');
    a.e.start();
    b.e.start();
    await waitFor('a leader', () => a.leading() || b.leading(), 30_000, 50);
    // Several renew periods later there is still exactly one.
    for (let i = 0; i < 10; i++) {
      expect(Number(a.leading()) + Number(b.leading())).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
    }
    const [first, second] = a.leading() ? [a, b] : [b, a];
    const holder = (): string =>
      cluster.kubectl(['get', 'lease', '-n', 'kube-system', 'anchorage-test-leader', '-o', 'jsonpath={.spec.holderIdentity}']).stdout;
    expect(holder()).toBe(first === a ? 'a' : 'b');
    await first.e.stop(); // graceful: releases the Lease
    expect(first.leading()).toBe(false);
    await waitFor('failover', () => second.leading(), 30_000, 50);
    expect(holder()).toBe(second === a ? 'a' : 'b');
    // A third candidate waits while the second renews, and takes over once the second stops renewing without release.
    const c = mk('c');
    c.e.start();
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.leading()).toBe(false);
    // Crash-like stop: abort the loop without the release (what a killed process leaves).
    (second.e as unknown as { abort: AbortController }).abort.abort();
    await waitFor('takeover after the lease expired', () => c.leading(), 30_000, 50);
    expect(holder()).toBe('c');
    await c.e.stop();
  }, 120_000);
});

describe('health server', () => {
  it('serves /healthz, /readyz with the failing check named, and /metrics', async () => {
    let ready = false;
    const reg = newRegistry();
    const s = await startHealthServer({ port: 0, registry: reg, ready: { informers: () => ready } });
    const get = async (p: string): Promise<{ status: number; body: string }> => {
      const r = await fetch(`http://127.0.0.1:${s.port}${p}`);
      return { status: r.status, body: await r.text() };
    };
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok' });
    expect(await get('/readyz')).toEqual({ status: 503, body: 'not ready: informers' });
    ready = true;
    expect((await get('/readyz')).status).toBe(200);
    const m = await get('/metrics');
    expect(m.status).toBe(200);
    expect(m.body).toContain('anchorage_process_cpu_seconds_total');
    await s.close();
  });
});
