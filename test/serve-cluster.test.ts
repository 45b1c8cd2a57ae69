// `anchorage serve --kubeconfig` against a real control plane (test/cluster/harness.ts): a Secret created,
// changed and deleted shows up in the API, on SSE and in /metrics; the API server going away marks the
// sources stale with the reason while the server keeps serving, and they recover; a forbidden resource is
// one stale source; an agent pushes the same cluster to another server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import { KubeClient, type KubeObject } from '../src/kube/client.ts';
import { LiteKubeConfig } from '../src/kube/kubeconfig.ts';
import type { ProtoObject } from '../src/kube/protobuf.ts';
import { type Extracted, extract, extractProto } from '../src/monitor/extract.ts';
import { type Cluster, startCluster, waitFor } from './cluster/harness.ts';
import { opensslCa, opensslIssue } from './support/openssl.ts';
import { api, type Proc, sse, startCli } from './support/serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-cluster-'));
const ossl = (...a: string[]): string => execFileSync('openssl', a, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fingerprint = (f: string): string =>
  (ossl('x509', '-in', f, '-noout', '-fingerprint', '-sha256').split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase();
const notAfter = (f: string): number => Date.parse(ossl('x509', '-in', f, '-noout', '-enddate').split('=')[1]?.trim() ?? '') / 1000;

let c: Cluster;
let srv: Proc;
let context: string;
const figures: string[] = [];

function writeJson(name: string, o: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(o));
  return f;
}

function kubectl(...args: string[]): string {
  const r = c.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
async function clusterOf(url: string, name: string, token?: string): Promise<any> {
  return (await api(url, '/api/v1/clusters', token === undefined ? {} : { token })).body.items.find(
    (x: { name: string }) => x.name === name,
  );
}

beforeAll(async () => {
  c = await startCluster();
  context = kubectl('config', 'current-context', '--kubeconfig', c.admin).trim();
  opensslCa(dir, 'ca', '/CN=serve live CA');
  opensslIssue(dir, 'ca', 'web1', '/CN=web1.serve-test.svc', 'subjectAltName=DNS:web1.serve-test.svc\n');
  opensslIssue(dir, 'ca', 'web2', '/CN=web2.serve-test.svc', 'subjectAltName=DNS:web2.serve-test.svc\n');
  srv = await startCli([
    'serve',
    '--kubeconfig',
    c.admin,
    '--listen',
    '127.0.0.1:0',
    '--store',
    `sqlite:${join(dir, 'h.sqlite')}`,
    '--endpoint-interval',
    '2',
  ]);
  await waitFor('ready', async () => (await api(srv.url, '/readyz')).status === 200, 180_000);
});

afterAll(async () => {
  if (srv) console.log(`serve stderr (tail):\n${srv.err().slice(-4000)}`);
  await srv?.stop();
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Secrets and ConfigMaps read from protobuf (what serve lists them in)', () => {
  it('give the values the JSON of the same objects gives: same sources, the bytes that were written', async () => {
    const ns = 'serve-proto';
    kubectl('create', 'namespace', ns);
    // Certificates of their own (the other tests follow web1 and web2 in and out of the cluster).
    opensslCa(dir, 'pca', '/CN=serve proto CA');
    opensslIssue(dir, 'pca', 'p1', '/CN=p1.serve-proto.svc', 'subjectAltName=DNS:p1.serve-proto.svc\n');
    const pem = (f: string): string => readFileSync(join(dir, f), 'utf8');
    const chain = pem('p1.crt') + pem('pca.crt');
    // Only CA certificates where a bundle may be (a leaf there is a finding the other tests would count).
    writeFileSync(join(dir, 'pca.der'), execFileSync('openssl', ['x509', '-in', join(dir, 'pca.crt'), '-outform', 'DER']));
    const objects = [
      {
        kind: 'Secret',
        metadata: { name: 'tls' },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': chain, 'tls.key': pem('p1.key') },
      },
      // PEM under a key no rule names, a non-PEM value, a DER certificate under a certificate key.
      { kind: 'Secret', metadata: { name: 'mixed' }, stringData: { 'bundle.pem': pem('pca.crt'), password: 'hunter2', '1': 'x' } },
      { kind: 'Secret', metadata: { name: 'der' }, data: { 'ca.crt': readFileSync(join(dir, 'pca.der')).toString('base64') } },
      { kind: 'Secret', metadata: { name: 'plain' }, stringData: { token: 'not a certificate' } },
      {
        kind: 'ConfigMap',
        metadata: { name: 'bundle' },
        data: { 'ca.pem': pem('pca.crt'), 'notes.txt': 'no certificate here', 'unicode.pem': `# ✓ ünïcode\n${pem('pca.crt')}` },
        binaryData: { 'ca.crt': readFileSync(join(dir, 'pca.der')).toString('base64'), 'blob.bin': 'AAEC' },
      },
    ];
    for (const o of objects) kubectl('create', '-n', ns, '-f', writeJson(`${o.metadata.name}-${o.kind}.json`, { apiVersion: 'v1', ...o }));
    const client = new KubeClient(LiteKubeConfig.load({ kubeconfig: c.admin }), { qps: 0 });
    const canon = (x: Extracted) => ({
      values: x.values
        .map((v) => ({ source: v.source, data: Buffer.from(v.data).toString('base64') }))
        .sort((a, b) => (a.source < b.source ? -1 : 1)),
      failures: x.failures,
    });
    try {
      for (const kind of ['Secret', 'ConfigMap'] as const) {
        const path = `/api/v1/namespaces/${ns}/${kind === 'Secret' ? 'secrets' : 'configmaps'}`;
        const json = (await client.list<KubeObject & Record<string, unknown>>(path)).items;
        const proto: [string, Extracted][] = [];
        const r = await client.listEach<KubeObject>(path, {
          onItem: () => {
            throw new Error('answered in JSON');
          },
          protobuf: { kind, onItem: (p: ProtoObject) => proto.push([p.metadata.name, extractProto(kind, p)]) },
        });
        expect(r.items).toBe(json.length);
        expect(r.resourceVersion).toMatch(/^[0-9]+$/);
        expect(proto.map(([n]) => n).sort()).toEqual(json.map((o) => o.metadata.name).sort());
        for (const [name, x] of proto)
          expect(canon(x), name).toEqual(canon(extract(kind, json.find((o) => o.metadata.name === name) as never)));
      }
      // And what was written, byte for byte (the oracle is the files, not either reader).
      const secrets: Extracted[] = [];
      await client.listEach<KubeObject>(`/api/v1/namespaces/${ns}/secrets`, {
        onItem: () => {},
        protobuf: { kind: 'Secret', onItem: (p) => secrets.push(extractProto('Secret', p)) },
      });
      const got = Object.fromEntries(secrets.flatMap((x) => x.values.map((v) => [v.source, Buffer.from(v.data)])));
      expect(Object.keys(got).sort()).toEqual(
        [`${ns}/Secret/der[ca.crt]`, `${ns}/Secret/mixed[bundle.pem]`, `${ns}/Secret/tls[tls.crt]`, `${ns}/Secret/tls[tls.key]`].sort(),
      );
      expect(got[`${ns}/Secret/tls[tls.crt]`]?.toString('utf8')).toBe(chain);
      expect(got[`${ns}/Secret/tls[tls.key]`]?.toString('utf8')).toBe(pem('p1.key'));
      expect(got[`${ns}/Secret/mixed[bundle.pem]`]?.toString('utf8')).toBe(pem('pca.crt'));
      expect(got[`${ns}/Secret/der[ca.crt]`]?.equals(readFileSync(join(dir, 'pca.der')))).toBe(true);
    } finally {
      client.close();
      kubectl('delete', 'secrets,configmaps', '--all', '-n', ns);
      kubectl('delete', 'namespace', ns, '--wait=false');
    }
  });
});

describe('anchorage serve on a live cluster', () => {
  it('watches every resource scan reads, and holds the cluster CA and the API server certificate', async () => {
    const cl = await clusterOf(srv.url, context);
    expect(cl.kind).toBe('kubeconfig');
    expect(cl.status).toBe('ok');
    const names = cl.sources.map((s: { name: string }) => s.name);
    for (const r of [
      'secrets',
      'configmaps',
      'validatingwebhookconfigurations',
      'mutatingwebhookconfigurations',
      'apiservices',
      'customresourcedefinitions',
      'certificatesigningrequests',
    ])
      expect(names).toContain(r);
    expect(names.some((n: string) => n.startsWith('endpoint:127.0.0.1:'))).toBe(true);
    const ca = fingerprint(join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt'));
    // kube-controller-manager publishes kube-root-ca.crt into each namespace on its own schedule, which
    // under load can come after serve's first LIST: the watch must bring it in (bounded wait).
    await waitFor(
      'the cluster CA seen in a kube-root-ca.crt ConfigMap',
      async () => {
        const d = await api(srv.url, `/api/v1/certificates/${ca}`);
        return (
          d.status === 200 &&
          d.body.locations.some(
            (l: { kind: string; where: string }) => l.kind === 'configmap' && l.where.includes('/ConfigMap/kube-root-ca.crt[ca.crt]'),
          )
        );
      },
      120_000,
    );
    const apiCert = fingerprint(join(c.nodeRoot, 'etc/kubernetes/pki/apiserver.crt'));
    await waitFor(
      'the API server certificate seen on its endpoint',
      async () => {
        const a = await api(srv.url, `/api/v1/certificates/${apiCert}`);
        return a.status === 200 && a.body.locations.some((l: { kind: string }) => l.kind === 'endpoint');
      },
      120_000,
    );
    const a = await api(srv.url, `/api/v1/certificates/${apiCert}`);
    expect(a.body.chain).toEqual([apiCert, ca]);
  });

  it('a Secret created, changed and deleted shows up in the API, on SSE and in /metrics', async () => {
    kubectl('create', 'namespace', 'serve-test');
    const sha1 = fingerprint(join(dir, 'web1.crt'));
    const sha2 = fingerprint(join(dir, 'web2.crt'));
    const metricLine = async (): Promise<string | undefined> =>
      (await api(srv.url, '/metrics')).text
        .split('\n')
        .find(
          (l) => l.startsWith('x509_cert_not_after{') && l.includes('secret_namespace="serve-test"') && l.includes('secret_key="tls.crt"'),
        );
    let t0 = Date.now();
    const created = await sse(srv.url, (es) => es.some((e) => e.event === 'certificate' && e.data.sha256 === sha1), {
      onOpen: () => {
        t0 = Date.now();
        kubectl('-n', 'serve-test', 'create', 'secret', 'tls', 'web', '--cert', join(dir, 'web1.crt'), '--key', join(dir, 'web1.key'));
      },
    });
    figures.push(`created → SSE event: ${Date.now() - t0} ms`);
    expect(created.find((e) => e.event === 'certificate' && e.data.sha256 === sha1)?.data.cluster).toBe(context);
    const got = (await api(srv.url, `/api/v1/certificates/${sha1}`)).body;
    expect(got.locations.map((l: { where: string }) => l.where)).toContain(
      'serve-test/Secret/web [tls.crt]'.replace(' [', '[').replace('web[', 'web['),
    );
    expect(got.locations.find((l: { namespace?: string }) => l.namespace === 'serve-test')?.kind).toBe('secret');
    const line1 = await metricLine();
    expect(line1).toContain('secret_name="web"');
    expect(Number(line1?.split(' ').pop())).toBe(notAfter(join(dir, 'web1.crt')));
    // Changed: the same Secret now holds web2.
    t0 = Date.now();
    const yaml = kubectl(
      '-n',
      'serve-test',
      'create',
      'secret',
      'tls',
      'web',
      '--cert',
      join(dir, 'web2.crt'),
      '--key',
      join(dir, 'web2.key'),
      '--dry-run=client',
      '-o',
      'yaml',
    );
    writeFileSync(join(dir, 'web2.yaml'), yaml);
    kubectl('apply', '-f', join(dir, 'web2.yaml'));
    await waitFor('web2 in the API', async () => (await api(srv.url, `/api/v1/certificates/${sha2}`)).status === 200, 60_000, 100);
    figures.push(`changed → API: ${Date.now() - t0} ms`);
    expect((await api(srv.url, `/api/v1/certificates/${sha1}`)).status).toBe(404);
    expect(Number((await metricLine())?.split(' ').pop())).toBe(notAfter(join(dir, 'web2.crt')));
    // Deleted.
    t0 = Date.now();
    kubectl('-n', 'serve-test', 'delete', 'secret', 'web');
    await waitFor('web2 gone', async () => (await api(srv.url, `/api/v1/certificates/${sha2}`)).status === 404, 60_000, 100);
    figures.push(`deleted → API: ${Date.now() - t0} ms`);
    expect(await metricLine()).toBeUndefined();
  });

  it('a non-CA certificate in a caBundle is a finding that resolves when the webhook goes', async () => {
    const web = readFileSync(join(dir, 'web1.crt')).toString('base64');
    writeFileSync(
      join(dir, 'hook.yaml'),
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: serve-test }
webhooks:
- name: x.serve-test.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  rules: [{ apiGroups: ['x.dev'], apiVersions: [v1], operations: [CREATE], resources: [things] }]
  clientConfig: { caBundle: ${web}, service: { namespace: serve-test, name: hook } }
`,
    );
    kubectl('apply', '-f', join(dir, 'hook.yaml'));
    const where = 'ValidatingWebhookConfiguration/serve-test[x.serve-test.dev.caBundle]';
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
    const open = async (): Promise<any[]> =>
      (await api(srv.url, '/api/v1/findings?id=scan.bundle.non-ca&limit=1000')).body.items.filter((f: { locations: string[] }) =>
        f.locations.some((l) => l.includes(where)),
      );
    await waitFor('scan.bundle.non-ca', async () => (await open()).length === 1, 60_000, 100);
    expect((await api(srv.url, '/metrics')).text).toMatch(
      new RegExp(
        `^anchorage_findings\\{id="scan\\.bundle\\.non-ca",severity="error",cluster="${context.replace(/[.@]/g, '\\$&')}"\\} 1$`,
        'm',
      ),
    );
    kubectl('delete', 'validatingwebhookconfiguration', 'serve-test');
    await waitFor('resolved', async () => (await open()).length === 0, 60_000, 100);
    const resolved = (await api(srv.url, '/api/v1/findings?id=scan.bundle.non-ca&state=resolved')).body.items;
    expect(
      resolved.some((f: { locations: string[]; resolvedAt?: string }) => f.locations.some((l) => l.includes(where)) && f.resolvedAt),
    ).toBe(true);
  });

  it('the API server going away: sources stale with the reason, the API keeps serving, then recovers', async () => {
    const before = (await api(srv.url, '/api/v1/certificates?limit=1')).body.total;
    await c.stopComponent('kube-apiserver');
    try {
      await waitFor('stale', async () => (await clusterOf(srv.url, context)).status !== 'ok', 120_000);
      const cl = await clusterOf(srv.url, context);
      const bad = cl.sources.filter((s: { status: string }) => s.status !== 'ok');
      expect(bad.length).toBeGreaterThan(0);
      expect(bad.every((s: { reason?: string }) => typeof s.reason === 'string' && s.reason.length > 0)).toBe(true);
      expect(cl.reason).toBeTruthy();
      expect((await api(srv.url, '/api/v1/certificates?limit=1')).body.total).toBe(before);
      expect((await api(srv.url, '/metrics')).text).toMatch(/^anchorage_source_up\{cluster="[^"]+",source="[^"]+"\} 0$/m);
    } finally {
      await c.start('kube-apiserver');
    }
    await waitFor('recovered', async () => (await clusterOf(srv.url, context)).status === 'ok', 180_000);
  });

  it('a resource the credentials may not list is one stale source; the rest is read', async () => {
    const pki = join(c.nodeRoot, 'etc/kubernetes/pki');
    ossl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'lim.key',
      '-out',
      'lim.csr',
      '-subj',
      '/CN=serve-limited',
    );
    ossl('x509', '-req', '-in', 'lim.csr', '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-out', 'lim.crt', '-days', '1');
    writeFileSync(
      join(dir, 'rbac.yaml'),
      `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: serve-limited }
rules:
- apiGroups: ['', 'admissionregistration.k8s.io', 'apiregistration.k8s.io', 'apiextensions.k8s.io', 'certificates.k8s.io']
  resources: [secrets, validatingwebhookconfigurations, mutatingwebhookconfigurations, apiservices, customresourcedefinitions, certificatesigningrequests]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: serve-limited }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: serve-limited }
subjects: [{ kind: User, name: serve-limited, apiGroup: rbac.authorization.k8s.io }]
`,
    );
    kubectl('apply', '-f', join(dir, 'rbac.yaml'));
    const kc = join(dir, 'limited.conf');
    writeFileSync(
      kc,
      writeKubeconfig({
        clusterName: 'limited',
        server: c.apiUrl,
        caPem: readFileSync(join(pki, 'ca.crt'), 'utf8'),
        userName: 'serve-limited',
        clientCertPem: readFileSync(join(dir, 'lim.crt'), 'utf8'),
        clientKeyPem: readFileSync(join(dir, 'lim.key'), 'utf8'),
        contextName: 'limited',
      }),
    );
    const s = await startCli(['serve', '--kubeconfig', kc, '--listen', '127.0.0.1:0', '--no-history']);
    try {
      await waitFor(
        'configmaps forbidden',
        async () => {
          // Both settled: the forbidden source errored and the allowed one finished its first LIST (under
          // load the 403 comes back long before the Secrets are read).
          const cl = await clusterOf(s.url, 'limited');
          const status = (n: string) => cl?.sources.find((x: { name: string }) => x.name === n)?.status;
          return status('configmaps') === 'error' && status('secrets') === 'ok';
        },
        120_000,
      );
      const cl = await clusterOf(s.url, 'limited');
      const cm = cl.sources.find((x: { name: string }) => x.name === 'configmaps');
      expect(cm.reason).toMatch(/403|forbidden/i);
      expect(cl.sources.find((x: { name: string }) => x.name === 'secrets').status).toBe('ok');
      expect(cl.status).toBe('stale');
    } finally {
      await s.stop();
    }
  });

  it('an agent pushes the cluster to a server that cannot reach it', async () => {
    const token = 'agent-token-0123456789abcdef';
    const central = await startCli([
      'serve',
      '--accept-agents',
      '--agent-token',
      `pass:${token}`,
      '--read-token',
      'pass:reader-token-0123456789',
      '--listen',
      '127.0.0.1:0',
      '--no-history',
    ]);
    try {
      // A reader may not push.
      expect(
        (
          await api(central.url, '/api/v1/agent/push', {
            method: 'POST',
            body: { cluster: 'x', objects: [] },
            token: 'reader-token-0123456789',
          })
        ).status,
      ).toBe(403);
      const t0 = Date.now();
      const agent = await startCli(
        ['agent', '--kubeconfig', c.admin, '--server', central.url, '--token', `pass:${token}`, '--cluster', 'remote', '--once'],
        { waitUrl: false },
      );
      expect(await agent.exited).toBe(0);
      figures.push(`agent: first push done ${Date.now() - t0} ms after start`);
      const cl = await clusterOf(central.url, 'remote', 'reader-token-0123456789');
      expect(cl.kind).toBe('agent');
      const remote = new Set(
        (
          (await api(central.url, '/api/v1/certificates?cluster=remote&limit=1000', { token: 'reader-token-0123456789' })).body.items as {
            sha256: string;
          }[]
        ).map((x) => x.sha256),
      );
      const local = ((await api(srv.url, `/api/v1/certificates?limit=1000`)).body.items as { sha256: string; locations: number }[]).map(
        (x) => x.sha256,
      );
      // Everything the watching server holds from the API's objects, the agent pushed (the API server's
      // endpoint probe is the watching server's own).
      const ca = fingerprint(join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt'));
      expect(remote.has(ca)).toBe(true);
      expect(local.filter((s) => !remote.has(s)).length).toBeLessThanOrEqual(1);
    } finally {
      await central.stop();
    }
    console.log(`serve-cluster figures: ${figures.join('; ')}`);
  });
});
