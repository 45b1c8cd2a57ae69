// `anchorage serve --dir` on the demo PKI, end to end through the CLI: every route of docs/api.md, the
// certificates as openssl reads them, filters and paging, acknowledgements, SSE when a file goes, the
// operations (renew through the API, checked by openssl), /metrics, restart with SQLite keeping history,
// the authentication rules (tokens, read-only, loopback, mTLS), and webhook notifications. Every part that
// writes history (the API, operations, restart, notifications) runs twice: on SQLite beside the folder
// (the default) and on PostgreSQL (`--store postgres://…`, Debian's server started by
// test/support/postgres.ts); the authentication rules run once, without history.
import { mkdtempSync, readFileSync, rmSync as rm, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorage, waitFor } from './cluster/harness.ts';
import { openssl, opensslCa, opensslIssue } from './support/openssl.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';
import { api, type Proc, sse, startCli, tlsApi } from './support/serve.ts';

const STORES = ['sqlite', 'postgres'] as const;
type StoreKind = (typeof STORES)[number];
let dir: string;
let srv: Proc;
/** `--store` for the store under test (none: SQLite beside the folder). */
let storeArgs: string[] = [];

/** A store for one part of the file: SQLite beside the folder, or a PostgreSQL server of its own. */
async function openStore(kind: StoreKind): Promise<{ args: string[]; close: () => Promise<void> }> {
  if (kind === 'sqlite') return { args: [], close: async () => undefined };
  const pg: Postgres = await startPostgres('serve-e2e-pg');
  return { args: ['--store', pg.url], close: () => pg.remove() };
}

/** What openssl says about a certificate file. */
function ossl(file: string): { sha256: string; serial: string; notAfter: Date; subject: string } {
  const out = openssl(
    dirname(file),
    'x509',
    '-in',
    file,
    '-noout',
    '-fingerprint',
    '-sha256',
    '-serial',
    '-enddate',
    '-subject',
    '-nameopt',
    'RFC2253',
  );
  const get = (k: string): string => (new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1] ?? '').trim();
  return {
    sha256: (/Fingerprint=(.*)$/m.exec(out)?.[1] ?? '').replace(/:/g, '').toLowerCase(),
    serial: get('serial').toLowerCase(),
    notAfter: new Date(get('notAfter')),
    subject: get('subject'),
  };
}

const serveArgs = (extra: string[] = []): string[] => [
  'serve',
  '--dir',
  dir,
  '--listen',
  '127.0.0.1:0',
  '--interval',
  '0.5',
  ...(extra.includes('--no-history') ? [] : storeArgs),
  ...extra,
];

/** A fresh demo folder for one part of the file. */
function freshDemo(): void {
  dir = mkdtempSync(join(tmpdir(), 'serve-e2e-'));
  const r = anchorage(['demo', '--dir', dir]);
  expect(r.code, r.stderr).toBe(0);
}

for (const storeKind of STORES)
  describe(`anchorage serve --dir on ${storeKind}: the API of docs/api.md`, () => {
    let store: { close: () => Promise<void> } | undefined;
    beforeAll(async () => {
      freshDemo();
      const st = await openStore(storeKind);
      store = st;
      storeArgs = st.args;
      srv = await startCli(serveArgs(['--allow-writes-on-loopback']));
      await waitFor('ready', async () => (await api(srv.url, '/readyz')).status === 200, 120_000);
    });

    afterAll(async () => {
      await srv?.stop();
      await store?.close();
      storeArgs = [];
      rm(dir, { recursive: true, force: true });
    });

    it('serves every route the page lists, and the OpenAPI document names each', async () => {
      const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'api.md'), 'utf8');
      const routes = [...doc.matchAll(/^\| `(GET|POST|DELETE) ([^`?]+)[^`]*`/gm)].map((m) => ({
        method: m[1] as string,
        path: (m[2] as string).trim(),
      }));
      expect(routes.length).toBeGreaterThanOrEqual(15);
      const oa = (await api<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(srv.url, '/api/v1/openapi.json')).body;
      expect(oa.openapi).toBe('3.1.0');
      const certs = (await api<{ items: { sha256: string }[] }>(srv.url, '/api/v1/certificates')).body.items;
      const sha = certs[0]?.sha256 as string;
      for (const r of routes) {
        if (r.path === '/assets/*') continue;
        expect(oa.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path} in openapi.json`).toBeDefined();
        if (r.method !== 'GET' || r.path === '/api/v1/events') continue;
        const res = await api(srv.url, r.path.replace('{sha256}', sha).replace('{id}', 'nope'));
        expect(res.status, `${r.method} ${r.path}: ${res.text.slice(0, 200)}`).toBe(r.path.includes('{id}') ? 404 : 200);
      }
      for (const p of ['/healthz', '/readyz', '/metrics']) expect((await api(srv.url, p)).status).toBe(200);
      // /metrics is streamed as it is made (chunked, no length known up front), not built as one text first.
      const m = await fetch(`${srv.url}/metrics`);
      expect(m.headers.get('content-length')).toBeNull();
      expect(m.headers.get('transfer-encoding')).toBe('chunked');
      expect(await m.text()).toMatch(/^# HELP x509_cert_not_after [^\n]*\n# TYPE x509_cert_not_after gauge\nx509_cert_not_after\{/);
    });

    it('lists each certificate as openssl reads it, with its PEM', async () => {
      const want = ossl(join(dir, 'apiserver.crt'));
      const list = (await api(srv.url, `/api/v1/certificates?q=${want.sha256.slice(0, 16)}`)).body;
      expect(list.total).toBe(1);
      const s = list.items[0];
      expect(s.sha256).toBe(want.sha256);
      expect(s.serial.replace(/^0+/, '')).toBe(want.serial.replace(/^0+/, ''));
      expect(Date.parse(s.notAfter)).toBe(want.notAfter.getTime());
      expect(s.role).toBe('apiserver');
      expect(s.keyType).toBe('ecdsa-p256');
      expect(s.sans).toContain('DNS:kubernetes.default.svc');
      expect(s.sans).toContain('IP:10.96.0.1');
      const d = (await api(srv.url, `/api/v1/certificates/${want.sha256}`)).body;
      expect(d.locations.map((l: { where: string }) => l.where)).toContain(join(dir, 'apiserver.crt'));
      expect(d.chain.length).toBeGreaterThanOrEqual(2);
      expect(d.keyLocations.map((l: { where: string }) => l.where)).toContain(join(dir, 'apiserver.key'));
      const pem = await api(srv.url, `/api/v1/certificates/${want.sha256}/pem`);
      expect(pem.headers.get('content-type')).toBe('application/x-pem-file');
      writeFileSync(join(dir, '.got.pem'), pem.text);
      expect(ossl(join(dir, '.got.pem')).sha256).toBe(want.sha256);
      unlinkSync(join(dir, '.got.pem'));
    });

    it('filters, sorts and pages; bad parameters are 400, unknown objects 404', async () => {
      const all = (await api(srv.url, '/api/v1/certificates?limit=1000')).body;
      const seen: string[] = [];
      let cont = '';
      for (let i = 0; i < 100; i++) {
        const p = (await api(srv.url, `/api/v1/certificates?limit=5${cont ? `&continue=${cont}` : ''}`)).body;
        expect(p.total).toBe(all.total);
        seen.push(...p.items.map((x: { sha256: string }) => x.sha256));
        if (!p.continue) break;
        cont = p.continue;
      }
      expect(seen).toEqual(all.items.map((x: { sha256: string }) => x.sha256));
      const desc = (await api(srv.url, '/api/v1/certificates?sort=-notAfter&limit=1000')).body.items.map((x: { notAfter: string }) =>
        Date.parse(x.notAfter),
      );
      expect(desc).toEqual([...desc].sort((a, b) => b - a));
      const cas = (await api(srv.url, '/api/v1/certificates?ca=true&limit=1000')).body.items;
      expect(cas.length).toBeGreaterThan(0);
      expect(cas.every((x: { isCA: boolean }) => x.isCA)).toBe(true);
      const expired = (await api(srv.url, `/api/v1/certificates?expiresBefore=${new Date().toISOString()}`)).body.items;
      expect(expired.length).toBeGreaterThanOrEqual(1);
      for (const bad of ['limit=0', 'limit=1001', 'health=fine', 'sort=name', 'ca=maybe', 'expiresBefore=soon', 'continue=xyz'])
        expect((await api(srv.url, `/api/v1/certificates?${bad}`)).status, bad).toBe(400);
      expect((await api(srv.url, `/api/v1/certificates/${'0'.repeat(64)}`)).status).toBe(404);
      expect((await api(srv.url, '/api/v1/certificates/nothex')).status).toBe(400);
      expect((await api(srv.url, '/api/v1/certificates?cluster=nope')).status).toBe(404);
      expect((await api(srv.url, '/api/v1/findings?state=gone')).status).toBe(400);
      expect((await api(srv.url, '/api/v1/nope')).body.error).toMatch(/no route/);
    });

    it("finds the demo's planted faults, and the graph and timeline hold its certificates", async () => {
      const ids = (await api(srv.url, '/api/v1/findings?limit=1000')).body.items.map((f: { id: string }) => f.id);
      for (const id of ['scan.key.ca-key-on-worker', 'scan.kubeconfig.ca-did-not-sign-server', 'x509.validity.expired'])
        expect(ids).toContain(id);
      const g = (await api(srv.url, '/api/v1/graph')).body;
      const total = (await api(srv.url, '/api/v1/certificates?limit=1000')).body.total;
      expect(g.nodes.filter((n: { kind: string }) => n.kind !== 'consumer').length).toBe(total);
      expect(g.edges.some((e: { kind: string }) => e.kind === 'signs')).toBe(true);
      const worker = (await api(srv.url, '/api/v1/graph?node=worker-1')).body;
      expect(worker.nodes.length).toBeGreaterThan(0);
      expect(worker.nodes.length).toBeLessThan(g.nodes.length);
      const tl = (await api(srv.url, '/api/v1/timeline')).body.items.map((x: { notAfter: string }) => Date.parse(x.notAfter));
      expect(tl).toEqual([...tl].sort((a, b) => a - b));
      const nodes = (await api(srv.url, '/api/v1/nodes')).body.items;
      expect(nodes.map((n: { node: string }) => n.node).sort()).toEqual(['cp-1', 'worker-1']);
      // The planted CA key on the worker is a file the manifest does not list.
      const w = nodes.find((n: { node: string }) => n.node === 'worker-1');
      expect(w.files).toContainEqual(expect.objectContaining({ path: '/etc/kubernetes/pki/ca.key', state: 'extra' }));
    });

    it('acknowledges a finding for at most 90 days, and removes the acknowledgement', async () => {
      const f = (await api(srv.url, '/api/v1/findings?id=scan.key.ca-key-on-worker')).body.items[0];
      const path = `/api/v1/findings/${f.key}/ack`;
      expect(
        (await api(srv.url, path, { method: 'POST', body: { reason: 'x', until: new Date(Date.now() + 91 * 86_400_000).toISOString() } }))
          .status,
      ).toBe(400);
      expect(
        (await api(srv.url, path, { method: 'POST', body: { reason: '', until: new Date(Date.now() + 86_400_000).toISOString() } })).status,
      ).toBe(400);
      expect((await api(srv.url, path, { method: 'POST', body: 'not json' })).status).toBe(400);
      expect(
        (
          await api(srv.url, '/api/v1/findings/nope/ack', {
            method: 'POST',
            body: { reason: 'r', until: new Date(Date.now() + 86_400_000).toISOString() },
          })
        ).status,
      ).toBe(404);
      const until = new Date(Date.now() + 7 * 86_400_000).toISOString();
      const a = await api(srv.url, path, { method: 'POST', body: { reason: 'rotation booked for Monday', until } });
      expect(a.status).toBe(200);
      expect(a.body.ack).toMatchObject({ reason: 'rotation booked for Monday', until, by: 'loopback' });
      const acked = (await api(srv.url, '/api/v1/findings?state=acknowledged')).body.items.map((x: { key: string }) => x.key);
      expect(acked).toContain(f.key);
      expect((await api(srv.url, '/api/v1/findings?state=open&limit=1000')).body.items.map((x: { key: string }) => x.key)).not.toContain(
        f.key,
      );
      const metrics = (await api(srv.url, '/metrics')).text;
      expect(metrics).toMatch(/anchorage_findings_acknowledged\{id="scan\.key\.ca-key-on-worker",severity="error",cluster="dir"\} 1/);
      const d = await api(srv.url, path, { method: 'DELETE' });
      expect(d.status).toBe(200);
      expect(d.body.ack).toBeUndefined();
      expect((await api(srv.url, '/api/v1/findings?state=acknowledged')).body.total).toBe(0);
    });

    it('exposes the x509-certificate-exporter series with the values openssl reads', async () => {
      const want = ossl(join(dir, 'apiserver.crt'));
      const text = (await api(srv.url, '/metrics')).text;
      const line = text
        .split('\n')
        .find((l) => l.startsWith('x509_cert_not_after{') && l.includes(`filepath="${join(dir, 'apiserver.crt')}"`));
      expect(line).toBeDefined();
      expect(Number(line?.split(' ').pop())).toBe(want.notAfter.getTime() / 1000);
      expect(line).toContain(`serial_number="${BigInt(`0x${want.serial}`).toString(10)}"`);
      expect(line).toContain('subject_CN="kube-apiserver"');
      const expired = text
        .split('\n')
        .find((l) => l.startsWith('x509_cert_expired{') && l.includes('/worker-1/var/lib/kubelet/pki/kubelet.crt"'));
      expect(expired?.endsWith(' 1')).toBe(true);
      expect(text).toMatch(/^anchorage_findings\{id="scan\.key\.ca-key-on-worker",severity="error",cluster="dir"\} 1$/m);
      expect(text).toMatch(/^x509_source_up\{cluster="dir",source_kind="dir",source_name="dir:.*"\} 1$/m);
    });

    it('streams a removed certificate and its resolved findings over SSE, and keeps them as resolved', async () => {
      const file = join(dir, 'kubelet-client-worker-1.pem');
      const sha = ossl(file).sha256;
      const events = await sse(
        srv.url,
        (es) =>
          es.some((e) => e.event === 'certificate' && e.data.deleted && e.data.sha256 === sha) &&
          es.some((e) => e.event === 'finding' && e.data.sha256 === sha && e.data.resolvedAt),
        { onOpen: () => unlinkSync(file) },
      );
      const resolved = events.filter((e) => e.event === 'finding' && e.data.sha256 === sha);
      expect(resolved.length).toBeGreaterThan(0);
      const listed = (await api(srv.url, '/api/v1/findings?state=resolved&limit=1000')).body.items;
      expect(listed.filter((f: { sha256?: string }) => f.sha256 === sha).length).toBe(resolved.filter((e) => e.data.resolvedAt).length);
      expect((await api(srv.url, `/api/v1/certificates/${sha}`)).status).toBe(404);
    });

    it('plans a renewal, runs it (openssl sees the new certificate), refuses a stale plan with 409', async () => {
      const storeCert = join(dir, 'cluster', 'store', 'apiserver@cp-1.crt');
      const before = ossl(storeCert);
      const plan = await api(srv.url, '/api/v1/operations', {
        method: 'POST',
        body: { kind: 'pki.renew', args: { certs: ['apiserver'] } },
      });
      expect(plan.status, plan.text).toBe(200);
      expect(plan.body.state).toBe('planned');
      expect(plan.body.plan.steps.map((s: { target: string }) => s.target)).toEqual(['apiserver@cp-1']);
      expect(ossl(storeCert).sha256).toBe(before.sha256);
      expect((await api(srv.url, `/api/v1/operations/${plan.body.id}`)).body.state).toBe('planned');
      const stale = await api(srv.url, '/api/v1/operations', {
        method: 'POST',
        body: { kind: 'pki.renew', args: { certs: ['apiserver'] } },
      });
      const run = await api(srv.url, `/api/v1/operations/${plan.body.id}/run`, { method: 'POST' });
      expect(run.status, run.text).toBe(200);
      expect(run.body.state).toBe('done');
      const after = ossl(storeCert);
      expect(after.sha256).not.toBe(before.sha256);
      expect(after.subject).toBe(before.subject);
      await waitFor(
        'the new certificate in the API',
        async () => (await api(srv.url, `/api/v1/certificates/${after.sha256}`)).status === 200,
        60_000,
      );
      expect((await api(srv.url, `/api/v1/operations/${plan.body.id}/run`, { method: 'POST' })).status).toBe(409);
      expect((await api(srv.url, `/api/v1/operations/${stale.body.id}/run`, { method: 'POST' })).status).toBe(409);
      // Every kind with bad arguments (docs/api.md names what each takes): 400 (409 for a phase out of turn)
      // and one line saying which argument and what it takes.
      const bad: [unknown, number, RegExp][] = [
        [{ kind: 'pki.nope' }, 400, /^kind: "pki.nope" is not one of pki.renew, pki.rotate-ca, nodes.push, bundles.sync$/],
        [{ kind: 7 }, 400, /^kind: missing$/],
        [{ kind: 'pki.renew', args: [1] }, 400, /^args: an object$/],
        [{ kind: 'pki.renew', args: { certs: ['nope'] } }, 400, /^args.certs: unknown certificate 'nope' \(one of: all, /],
        [{ kind: 'pki.renew', args: { certs: 'apiserver' } }, 400, /^args.certs: a list of names$/],
        [{ kind: 'pki.renew', args: { cert: ['apiserver'] } }, 400, /^args.cert: pki.renew takes certs, nodes$/],
        [{ kind: 'pki.renew', args: { nodes: ['nope'] } }, 400, /^args.nodes: no node 'nope'$/],
        [{ kind: 'pki.rotate-ca', args: { ca: 'front' } }, 400, /^args.ca: 'front' is not a CA of this cluster$/],
        [{ kind: 'pki.rotate-ca', args: { ca: 1 } }, 400, /^args.ca: a string, not 1$/],
        [{ kind: 'pki.rotate-ca', args: { action: 'later' } }, 400, /^args.action: 'next' or 'rollback', not "later"$/],
        [
          { kind: 'pki.rotate-ca', args: { phase: 'soon' } },
          400,
          /^args.phase: one of new-ca, bundle, reissue, done, rollback, not "soon"$/,
        ],
        [{ kind: 'pki.rotate-ca', args: { phase: 'done' } }, 409, /^args.phase: the next phase of ca is new-ca, not done$/],
        [{ kind: 'nodes.push', args: { nodes: 'cp-1' } }, 400, /^args.nodes: a list of names$/],
        [{ kind: 'nodes.push', args: { node: ['cp-1'] } }, 400, /^args.node: nodes.push takes nodes$/],
        [{ kind: 'bundles.sync' }, 400, /^bundles.sync: not available on a --dir server/],
        [{ kind: 'bundles.sync', args: { bundle: 'x' } }, 400, /^args.bundle: bundles.sync takes no arguments$/],
        [{ kind: 'bundles.sync', args: { 'a\nb': 1 } }, 400, /^args.a\\nb: bundles.sync takes no arguments$/],
        [{ kind: 'bundles.sync', args: 'all' }, 400, /^args: an object$/],
      ];
      for (const [body, status, error] of bad) {
        const r = await api(srv.url, '/api/v1/operations', { method: 'POST', body });
        expect(r.status, JSON.stringify(body)).toBe(status);
        expect(r.body.error, JSON.stringify(body)).toMatch(error);
        expect(r.body.error).not.toMatch(/\n/);
      }
      const rot = await api(srv.url, '/api/v1/operations', { method: 'POST', body: { kind: 'pki.rotate-ca', args: { ca: 'ca' } } });
      expect(rot.body.plan.summary).toBe('rotate ca: none → new-ca');
    });

    it('keeps history across a restart', async () => {
      // The renewal above changed the folder: wait (bounded) until the findings stop changing before the restart.
      const snapshot = async (): Promise<string> =>
        JSON.stringify(
          ((await api(srv.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[])
            .map((f) => `${f.key}@${f.firstSeen}`)
            .sort(),
        );
      let last = await snapshot();
      await waitFor(
        'the findings to settle',
        async () => {
          await new Promise((r) => setTimeout(r, 1500));
          const now = await snapshot();
          const same = now === last;
          last = now;
          return same;
        },
        120_000,
      );
      const before = (await api(srv.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[];
      const resolvedBefore = (await api(srv.url, '/api/v1/findings?state=resolved&limit=1000')).body.total;
      expect(resolvedBefore).toBeGreaterThan(0);
      await srv.stop();
      srv = await startCli(serveArgs(['--allow-writes-on-loopback']));
      await waitFor('ready', async () => (await api(srv.url, '/readyz')).status === 200, 120_000);
      const after = new Map(
        ((await api(srv.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[]).map((f) => [
          f.key,
          f.firstSeen,
        ]),
      );
      const kept = before.filter((f) => after.has(f.key));
      expect(kept.length).toBeGreaterThan(0);
      for (const f of kept) expect(after.get(f.key), f.key).toBe(f.firstSeen);
      expect((await api(srv.url, '/api/v1/findings?state=resolved&limit=1000')).body.total).toBeGreaterThanOrEqual(resolvedBefore);
    });
  });

describe('anchorage serve: authentication', () => {
  beforeAll(() => {
    storeArgs = [];
    freshDemo();
  });
  afterAll(() => {
    rm(dir, { recursive: true, force: true });
  });
  const reader = 'reader-token-0123456789';
  const writer = 'writer-token-0123456789';

  it('bearer tokens: none 401, reader reads, a reader writing 403, writer writes; --read-only refuses writes', async () => {
    const s = await startCli(serveArgs(['--no-history', '--read-token', `pass:${reader}`, '--write-token', `env:SERVE_TEST_WRITER`]), {
      env: { SERVE_TEST_WRITER: writer },
    });
    try {
      await waitFor('ready', async () => (await api(s.url, '/readyz')).status === 200, 120_000);
      expect((await api(s.url, '/api/v1/clusters')).status).toBe(401);
      expect((await api(s.url, '/api/v1/clusters', { token: 'wrong-token-0123456789' })).status).toBe(401);
      expect((await api(s.url, '/api/v1/clusters', { token: reader })).status).toBe(200);
      expect((await api(s.url, '/metrics')).status).toBe(200);
      const op = { method: 'POST', body: { kind: 'pki.rotate-ca', args: {} } };
      expect((await api(s.url, '/api/v1/operations', { ...op, token: reader })).status).toBe(403);
      expect((await api(s.url, '/api/v1/operations', { ...op, token: writer })).status).toBe(200);
    } finally {
      await s.stop();
    }
    const ro = await startCli(serveArgs(['--no-history', '--write-token', `pass:${writer}`, '--read-only']));
    try {
      expect(
        (await api(ro.url, '/api/v1/operations', { method: 'POST', body: { kind: 'pki.rotate-ca' }, token: writer })).body.error,
      ).toMatch(/read-only/);
    } finally {
      await ro.stop();
    }
  });

  it('without tokens or client CA: loopback only, and readers unless --allow-writes-on-loopback; a policy for a cluster group', async () => {
    const r = anchorage(['serve', '--dir', dir, '--listen', '0.0.0.0:0', '--no-history']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/loopback only/);
    // A re-judging share out of range: one line, exit 2.
    const j = anchorage(['serve', '--dir', dir, '--listen', '127.0.0.1:0', '--no-history', '--judge-cpu', '0']);
    expect(j.code).toBe(2);
    expect(j.stderr.trim()).toBe("error: --judge-cpu: '0' is not a number from 0.01 to 1");
    // With a policy for the cluster group d* (the --dir cluster is `dir`) that disables one lint.
    const policy = join(tmpdir(), `serve-policy-${process.pid}.yaml`);
    writeFileSync(policy, 'lints:\n  disabled: [x509.validity.expired]\n');
    // A demo folder of its own: the renewal test above repairs the shared one's node trees (the planted CA key goes).
    const fresh = mkdtempSync(join(tmpdir(), 'serve-e2e-policy-'));
    const d = anchorage(['demo', '--dir', fresh]);
    expect(d.code, d.stderr).toBe(0);
    const s = await startCli([
      'serve',
      '--dir',
      fresh,
      '--listen',
      '127.0.0.1:0',
      '--interval',
      '0.5',
      '--no-history',
      '--cluster-policy',
      `d*=${policy}`,
    ]);
    try {
      expect((await api(s.url, '/api/v1/operations', { method: 'POST', body: { kind: 'pki.rotate-ca' } })).status).toBe(403);
      await waitFor('ready', async () => (await api(s.url, '/readyz')).status === 200, 120_000);
      const ids = (await api(s.url, '/api/v1/findings?limit=1000')).body.items.map((f: { id: string }) => f.id);
      expect(ids).toContain('scan.key.ca-key-on-worker');
      expect(ids).not.toContain('x509.validity.expired');
    } finally {
      await s.stop();
      rm(policy, { force: true });
      rm(fresh, { recursive: true, force: true });
    }
  });

  it('mTLS: a client certificate from --client-ca reads; O=anchorage:writers writes; none is 401', async () => {
    const pki = mkdtempSync(join(tmpdir(), 'serve-mtls-'));
    try {
      opensslCa(pki, 'ca', '/CN=serve test CA');
      opensslIssue(pki, 'ca', 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
      opensslIssue(pki, 'ca', 'reader', '/CN=alice', 'extendedKeyUsage=clientAuth\n');
      opensslIssue(pki, 'ca', 'writer', '/O=anchorage:writers/CN=bob', 'extendedKeyUsage=clientAuth\n');
      const f = (n: string): string => readFileSync(join(pki, n), 'utf8');
      const s = await startCli(
        serveArgs([
          '--no-history',
          '--tls-cert',
          join(pki, 'server.crt'),
          '--tls-key',
          join(pki, 'server.key'),
          '--client-ca',
          join(pki, 'ca.crt'),
          '--listen',
          '127.0.0.1:0',
        ]),
      );
      try {
        expect(s.url).toMatch(/^https:/);
        const ca = f('ca.crt');
        expect((await tlsApi(`${s.url}/api/v1/clusters`, { ca })).status).toBe(401);
        expect((await tlsApi(`${s.url}/api/v1/clusters`, { ca, cert: f('reader.crt'), key: f('reader.key') })).status).toBe(200);
        const body = JSON.stringify({ kind: 'pki.rotate-ca' });
        expect(
          (await tlsApi(`${s.url}/api/v1/operations`, { ca, cert: f('reader.crt'), key: f('reader.key'), method: 'POST', body })).status,
        ).toBe(403);
        expect(
          (await tlsApi(`${s.url}/api/v1/operations`, { ca, cert: f('writer.crt'), key: f('writer.key'), method: 'POST', body })).status,
        ).toBe(200);
      } finally {
        await s.stop();
      }
    } finally {
      rm(pki, { recursive: true, force: true });
    }
  });
});

for (const storeKind of STORES)
  describe(`anchorage serve on ${storeKind}: webhook notifications`, () => {
    it('posts each opened error finding once, its resolution once, and nothing again after a restart', async () => {
      const store = await openStore(storeKind);
      const d2 = mkdtempSync(join(tmpdir(), 'serve-hook-'));
      const got: { text: string; attachments: { footer: string; color: string }[] }[] = [];
      const hook = createServer((req, res) => {
        let b = '';
        req.on('data', (c: Buffer) => {
          b += c.toString();
        });
        req.on('end', () => {
          got.push(JSON.parse(b));
          res.end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      let s: Proc | undefined;
      try {
        expect(anchorage(['demo', '--dir', d2]).code).toBe(0);
        const args = [
          'serve',
          '--dir',
          d2,
          '--listen',
          '127.0.0.1:0',
          '--interval',
          '0.5',
          '--webhook',
          hookUrl,
          '--notify-severity',
          'error',
          ...store.args,
        ];
        s = await startCli(args);
        await waitFor('ready', async () => (await api((s as Proc).url, '/readyz')).status === 200, 120_000);
        const errors = (await api(s.url, '/api/v1/findings?severity=error&limit=1000')).body.items as { key: string; sha256?: string }[];
        const opened = (): string[] => got.filter((m) => m.text.startsWith('[ERROR]')).map((m) => m.attachments[0]?.footer ?? '');
        await waitFor('one message per error finding', () => opened().length >= errors.length, 60_000);
        expect(opened().sort()).toEqual(errors.map((f) => `anchorage finding ${f.key}`).sort());
        const file = join(d2, 'kubelet-client-worker-1.pem');
        const sha = ossl(file).sha256;
        const gone = errors.filter((f) => f.sha256 === sha).map((f) => `anchorage finding ${f.key}`);
        expect(gone.length).toBeGreaterThan(0);
        unlinkSync(file);
        const resolved = (): string[] => got.filter((m) => m.text.startsWith('[RESOLVED]')).map((m) => m.attachments[0]?.footer ?? '');
        await waitFor('resolutions', () => gone.every((g) => resolved().includes(g)), 60_000);
        expect(resolved().sort()).toEqual(gone.sort());
        const before = got.length;
        await s.stop();
        s = await startCli(args);
        await waitFor('ready again', async () => (await api((s as Proc).url, '/readyz')).status === 200, 120_000);
        // Something new after the restart: its message comes after anything the restart would have re-sent.
        unlinkSync(join(d2, 'apiserver.key'));
        writeFileSync(join(d2, 'apiserver.key'), readFileSync(join(d2, 'ca.key')));
        await waitFor('the new finding', () => got.length > before, 60_000);
        const first = new Set(errors.map((f) => `anchorage finding ${f.key}`));
        const after = got.slice(before);
        expect(after.filter((m) => m.text.startsWith('[ERROR]') && first.has(m.attachments[0]?.footer ?? ''))).toEqual([]);
        expect(after.some((m) => m.text.includes('scan.key.mismatch'))).toBe(true);
      } finally {
        await s?.stop();
        hook.close();
        await store.close();
        rm(d2, { recursive: true, force: true });
      }
    });
  });
