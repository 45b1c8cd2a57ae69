// Two clusters (two harness control planes) in one `anchorage serve`, from two contexts of one
// kubeconfig: each Secret shows up under its own cluster only, the filters and /metrics keep them apart,
// and one cluster going away makes only that cluster stale.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type Cluster, startCluster, waitFor } from './cluster/harness.ts';
import { opensslCa, opensslIssue } from './support/openssl.ts';
import { api, type Proc, startCli } from './support/serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-fleet-'));
const fingerprint = (f: string): string =>
  (execFileSync('openssl', ['x509', '-in', f, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).split('=')[1] ?? '')
    .trim()
    .replaceAll(':', '')
    .toLowerCase();
let a: Cluster;
let b: Cluster;
let srv: Proc;

/** One kubeconfig with both admin contexts, renamed `alpha` and `beta` (both harnesses name theirs alike). */
function merged(): string {
  const out = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [] as unknown[],
    users: [] as unknown[],
    contexts: [] as unknown[],
    'current-context': 'alpha',
  };
  for (const [name, c] of [
    ['alpha', a],
    ['beta', b],
  ] as const) {
    const k = parse(readFileSync(c.admin, 'utf8'));
    out.clusters.push({ name, cluster: k.clusters[0].cluster });
    out.users.push({ name, user: k.users[0].user });
    out.contexts.push({ name, context: { cluster: name, user: name } });
  }
  const f = join(dir, 'fleet.conf');
  writeFileSync(f, stringify(out), { mode: 0o600 });
  return f;
}

beforeAll(async () => {
  // One after the other: two at once outlast the harness's start-up wait on a busy machine.
  a = await startCluster();
  b = await startCluster();
  opensslCa(dir, 'ca', '/CN=fleet CA');
  opensslIssue(dir, 'ca', 'one', '/CN=one.fleet', 'subjectAltName=DNS:one.fleet\n');
  opensslIssue(dir, 'ca', 'two', '/CN=two.fleet', 'subjectAltName=DNS:two.fleet\n');
  srv = await startCli([
    'serve',
    '--kubeconfig',
    merged(),
    '--context',
    'alpha',
    '--context',
    'beta',
    '--listen',
    '127.0.0.1:0',
    '--no-history',
  ]);
  await waitFor('ready', async () => (await api(srv.url, '/readyz')).status === 200, 180_000);
});

afterAll(async () => {
  await srv?.stop();
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('two clusters in one server', () => {
  it('lists both, each with its own CA', async () => {
    const cl = (await api(srv.url, '/api/v1/clusters')).body.items;
    expect(cl.map((x: { name: string }) => x.name).sort()).toEqual(['alpha', 'beta']);
    expect(cl.every((x: { status: string; kind: string }) => x.status === 'ok' && x.kind === 'kubeconfig')).toBe(true);
    const caA = fingerprint(join(a.nodeRoot, 'etc/kubernetes/pki/ca.crt'));
    const caB = fingerprint(join(b.nodeRoot, 'etc/kubernetes/pki/ca.crt'));
    expect(caA).not.toBe(caB);
    expect((await api(srv.url, `/api/v1/certificates/${caA}?cluster=alpha`)).status).toBe(200);
    expect((await api(srv.url, `/api/v1/certificates/${caA}?cluster=beta`)).status).toBe(404);
    expect((await api(srv.url, `/api/v1/certificates/${caB}?cluster=beta`)).status).toBe(200);
  });

  it('a Secret in each cluster shows up under that cluster only, in the API and /metrics', async () => {
    a.kubectl(['-n', 'default', 'create', 'secret', 'tls', 'one', '--cert', join(dir, 'one.crt'), '--key', join(dir, 'one.key')]);
    b.kubectl(['-n', 'default', 'create', 'secret', 'tls', 'two', '--cert', join(dir, 'two.crt'), '--key', join(dir, 'two.key')]);
    const one = fingerprint(join(dir, 'one.crt'));
    const two = fingerprint(join(dir, 'two.crt'));
    await waitFor(
      'both Secrets',
      async () =>
        (await api(srv.url, `/api/v1/certificates/${one}`)).status === 200 &&
        (await api(srv.url, `/api/v1/certificates/${two}`)).status === 200,
      60_000,
      100,
    );
    const inAlpha = (await api(srv.url, '/api/v1/certificates?cluster=alpha&limit=1000')).body.items.map(
      (x: { sha256: string }) => x.sha256,
    );
    const inBeta = (await api(srv.url, '/api/v1/certificates?cluster=beta&limit=1000')).body.items.map((x: { sha256: string }) => x.sha256);
    expect(inAlpha).toContain(one);
    expect(inAlpha).not.toContain(two);
    expect(inBeta).toContain(two);
    expect(inBeta).not.toContain(one);
    const m = (await api(srv.url, '/metrics')).text.split('\n');
    expect(m.some((l) => l.startsWith('x509_cert_not_after{') && l.includes('secret_name="one"') && l.includes('cluster="alpha"'))).toBe(
      true,
    );
    expect(m.some((l) => l.startsWith('x509_cert_not_after{') && l.includes('secret_name="two"') && l.includes('cluster="beta"'))).toBe(
      true,
    );
    expect(m.some((l) => l.includes('secret_name="one"') && l.includes('cluster="beta"'))).toBe(false);
  });

  it('one cluster going away makes only that one stale', async () => {
    await b.stopComponent('kube-apiserver');
    try {
      await waitFor(
        'beta stale',
        async () => (await api(srv.url, '/api/v1/clusters')).body.items.find((x: { name: string }) => x.name === 'beta').status !== 'ok',
        120_000,
      );
      const cl = (await api(srv.url, '/api/v1/clusters')).body.items;
      expect(cl.find((x: { name: string }) => x.name === 'alpha').status).toBe('ok');
      expect(cl.find((x: { name: string }) => x.name === 'beta').reason).toBeTruthy();
    } finally {
      await b.start('kube-apiserver');
    }
  });
});
