// The Kubernetes CSR signer on the real control plane (test/cluster/harness.ts): `anchorage ca k8s-signer`
// runs as a process against kube-apiserver v1.36.3 with a CA store made by the CLI. CSRs made by openssl are
// created with kubectl under the signer name anchorage.dev/<ca>; the signer approves nothing (an unapproved
// and a denied CSR stay unsigned); `kubectl certificate approve` gets one signed: the certificate in
// status.certificate verifies with `openssl verify` against the CA's root, carries the requested names,
// usage and lifetime, and is in the transparency log (`ca log verify --cert`). Names outside the policy,
// an unknown CA and a usage the signer does not issue end in a Failed condition with the reason, audited.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorage, type Cluster, startCluster, waitFor } from './cluster/harness.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';
import { openssl } from './support/openssl.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const dir = mkdtempSync(join(tmpdir(), 'ca2-k8s-signer-'));
const db = `sqlite:${join(dir, 'ca.db')}`;
const kek = `file:${join(dir, 'kek')}`;
let c: Cluster;
let signer: ChildProcess | undefined;
let signerLog = '';

const ca = (...args: string[]) => anchorage(['ca', ...args, '--db', db, '--kek', kek]);

function makeCsr(name: string, san: string, cn = ''): string {
  openssl(
    dir,
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    cn ? `/CN=${cn}` : '/',
    '-addext',
    `subjectAltName=${san}`,
  );
  return readFileSync(join(dir, `${name}.csr`), 'utf8');
}

function createCsrObject(name: string, signerName: string, csrPem: string, usages: string[], expirationSeconds = 3600): void {
  const manifest = JSON.stringify({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(csrPem).toString('base64'), signerName, usages, expirationSeconds },
  });
  const r = spawnSync(join(c.bin, 'kubectl'), ['--kubeconfig', c.admin, 'create', '-f', '-'], { input: manifest, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

const csrJson = (name: string) =>
  JSON.parse(c.kubectl(['get', 'csr', name, '-o', 'json']).stdout) as {
    status: { certificate?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
  };

async function failedCondition(name: string): Promise<{ reason?: string; message?: string }> {
  let cond: { type: string; reason?: string; message?: string } | undefined;
  await waitFor(
    `a Failed condition on ${name}`,
    () => {
      cond = csrJson(name).status.conditions?.find((x) => x.type === 'Failed');
      return cond !== undefined;
    },
    60_000,
  );
  return cond as { reason?: string; message?: string };
}

describe('anchorage ca k8s-signer on a real control plane', () => {
  beforeAll(async () => {
    await kubeBinDir();
  }, K8S_BUILD_TIMEOUT_MS);
  // biome-ignore lint/suspicious/noDuplicateTestHooks: a cold build gets its own 45 minutes; the cluster keeps 10
  beforeAll(async () => {
    expect(anchorage(['ca', 'kek', '--out', join(dir, 'kek')]).code).toBe(0);
    const created = ca('create', 'web', '--allow-dns', '*.web.svc', '--max-days', '30');
    expect(created.stderr).toBe('');
    expect(ca('chain', 'web', '--root-only', '--out', join(dir, 'web-root.pem')).code).toBe(0);
    c = await startCluster();
    signer = spawn(
      NODE,
      [
        join(ROOT, 'src/cli/main.ts'),
        'ca',
        'k8s-signer',
        '--kubeconfig',
        c.admin,
        '--db',
        db,
        '--kek',
        kek,
        '--health-port',
        '0',
        '--health-host',
        '127.0.0.1',
        '--identity',
        'ca2-signer-test',
        '--publish-namespace',
        'default',
        '--publish-interval',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    signer.stdout?.on('data', (d: Buffer) => {
      signerLog += d.toString();
    });
    signer.stderr?.on('data', (d: Buffer) => {
      signerLog += d.toString();
    });
    await waitFor(
      'the signer to hold its Lease',
      () =>
        c.kubectl(['get', 'lease', '-n', 'kube-system', 'anchorage-ca-signer', '-o', 'jsonpath={.spec.holderIdentity}']).stdout ===
        'ca2-signer-test',
    );
  }, 600_000);
  afterAll(async () => {
    if (signer && signer.exitCode === null) {
      const exited = new Promise((r) => signer?.once('exit', r));
      signer.kill('SIGTERM');
      await exited;
    }
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs nothing until the cluster approves; then signs under the CA policy, verified by openssl', async () => {
    createCsrObject(
      'api-web',
      'anchorage.dev/web',
      makeCsr('api', 'DNS:api.web.svc', 'api.web.svc'),
      ['digital signature', 'server auth'],
      7200,
    );
    createCsrObject('idle-web', 'anchorage.dev/web', makeCsr('idle', 'DNS:idle.web.svc'), ['server auth']);
    createCsrObject('denied-web', 'anchorage.dev/web', makeCsr('denied', 'DNS:denied.web.svc'), ['server auth']);
    expect(c.kubectl(['certificate', 'deny', 'denied-web']).code).toBe(0);
    expect(csrJson('api-web').status.certificate).toBeUndefined();
    expect(c.kubectl(['certificate', 'approve', 'api-web']).code).toBe(0);
    let b64 = '';
    await waitFor(
      'status.certificate of api-web',
      () => {
        b64 = csrJson('api-web').status.certificate ?? '';
        return b64 !== '';
      },
      60_000,
    );
    const pem = Buffer.from(b64, 'base64').toString('utf8');
    // The CA is a root: status.certificate holds the leaf only (the root is the anchor, not part of the chain).
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    writeFileSync(join(dir, 'api.crt'), pem);
    expect(openssl(dir, 'verify', '-CAfile', 'web-root.pem', '-purpose', 'sslserver', 'api.crt')).toContain('api.crt: OK');
    const text = openssl(dir, 'x509', '-in', 'api.crt', '-noout', '-ext', 'subjectAltName,extendedKeyUsage', '-dates', '-subject');
    expect(text).toContain('DNS:api.web.svc');
    expect(text).toContain('TLS Web Server Authentication');
    expect(text).not.toContain('TLS Web Client Authentication');
    const date = (k: string) => new Date(new RegExp(`${k}=(.+)`).exec(text)?.[1] as string).getTime();
    expect((date('notAfter') - date('notBefore')) / 1000).toBe(7200 + 60); // expirationSeconds, backdated 60 s
    // The key in the certificate is the one the CSR was made with.
    expect(openssl(dir, 'x509', '-in', 'api.crt', '-noout', '-pubkey')).toBe(openssl(dir, 'pkey', '-in', 'api.key', '-pubout'));
    // The issuance is in the transparency log.
    expect(ca('log', 'export', '--out', join(dir, 'log.json')).code).toBe(0);
    const v = anchorage(['ca', 'log', 'verify', join(dir, 'log.json'), '--cert', join(dir, 'api.crt')]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/certificate [0-9a-f]+ included at index \d+/);
    // Who asked: the Kubernetes user of the CSR.
    expect(ca('audit', 'web', '-o', 'json').stdout).toContain('"requester": "k8s:kubernetes-admin"');
    // The signer approved nothing: the unapproved CSR is still pending, the denied one unsigned.
    const idle = csrJson('idle-web').status;
    expect(idle.certificate).toBeUndefined();
    expect(idle.conditions ?? []).toEqual([]);
    const denied = csrJson('denied-web').status;
    expect(denied.certificate).toBeUndefined();
    expect(denied.conditions?.map((x) => x.type)).toEqual(['Denied']);
  });

  it('fails, with the reason, a CSR outside the policy, for an unknown CA, or with a usage it does not issue', async () => {
    createCsrObject('evil-web', 'anchorage.dev/web', makeCsr('evil', 'DNS:evil.example.com'), ['server auth']);
    createCsrObject('long-web', 'anchorage.dev/web', makeCsr('long', 'DNS:long.web.svc'), ['client auth'], 40 * 86400);
    createCsrObject('nope', 'anchorage.dev/nope', makeCsr('nope', 'DNS:a.web.svc'), ['server auth']);
    createCsrObject('codesign-web', 'anchorage.dev/web', makeCsr('codesign', 'DNS:c.web.svc'), ['code signing']);
    for (const n of ['evil-web', 'long-web', 'nope', 'codesign-web']) expect(c.kubectl(['certificate', 'approve', n]).code).toBe(0);
    const evil = await failedCondition('evil-web');
    expect(evil.reason).toBe('SignerValidationFailure');
    expect(evil.message).toContain('DNS name evil.example.com is outside the policy');
    expect((await failedCondition('long-web')).message).toContain('40 days is over the maximum of 30');
    expect((await failedCondition('nope')).message).toContain("unknown CA 'nope'");
    expect((await failedCondition('codesign-web')).message).toContain('usages code signing are not issued by this signer');
    for (const n of ['evil-web', 'long-web', 'nope', 'codesign-web']) expect(csrJson(n).status.certificate).toBeUndefined();
    // Policy refusals are audited (the usage refusal never reached a CA).
    const audit = JSON.parse(ca('audit', '-o', 'json').stdout) as { outcome: string; reason: string | null }[];
    const refused = audit.filter((a) => a.outcome === 'refused').map((a) => a.reason ?? '');
    expect(refused.some((r) => r.includes('evil.example.com'))).toBe(true);
    expect(refused.some((r) => r.includes("unknown CA 'nope'"))).toBe(true);
    expect(signerLog).not.toMatch(/BEGIN (EC )?PRIVATE KEY/);
  });
  it('publishes the trust bundle as a ConfigMap: old and new roots during a rotation, then signs with the new key', async () => {
    const bundle = () => c.kubectl(['get', 'configmap', '-n', 'default', 'anchorage-ca-web', '-o', 'jsonpath={.data.ca\\.crt}']).stdout;
    const count = (pem: string) => (pem.match(/BEGIN CERTIFICATE/g) ?? []).length;
    await waitFor('the bundle ConfigMap', () => count(bundle()) === 1, 60_000);
    expect(bundle()).toBe(readFileSync(join(dir, 'web-root.pem'), 'utf8'));
    expect(ca('rotate', 'begin', 'web').code).toBe(0);
    await waitFor('both roots in the bundle ConfigMap', () => count(bundle()) === 2, 60_000);
    expect(bundle()).toBe(ca('bundle', 'web').stdout);
    writeFileSync(join(dir, 'bundle.pem'), bundle());
    expect(ca('rotate', 'switch', 'web').code).toBe(0);
    createCsrObject('new-web', 'anchorage.dev/web', makeCsr('new', 'DNS:new.web.svc'), ['client auth']);
    expect(c.kubectl(['certificate', 'approve', 'new-web']).code).toBe(0);
    let b64 = '';
    await waitFor(
      'status.certificate of new-web',
      () => {
        b64 = csrJson('new-web').status.certificate ?? '';
        return b64 !== '';
      },
      60_000,
    );
    writeFileSync(join(dir, 'new.crt'), Buffer.from(b64, 'base64'));
    // The new key signed it: the old root alone refuses it, the published bundle (old + new) accepts it and the old one.
    expect(spawnSync('openssl', ['verify', '-CAfile', 'web-root.pem', 'new.crt'], { cwd: dir }).status).not.toBe(0);
    expect(openssl(dir, 'verify', '-CAfile', 'bundle.pem', '-purpose', 'sslclient', 'new.crt')).toContain('new.crt: OK');
    expect(openssl(dir, 'verify', '-CAfile', 'bundle.pem', 'api.crt')).toContain('api.crt: OK');
  });
});
