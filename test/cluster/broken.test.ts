// Deliberately broken PKIs make the real components fail. Each failure is recorded under
// test/fixtures/broken-pki/<case>/ (the broken certificates, their CAs and what the component said), the
// ground truth a scanner's findings are checked against. UPDATE_FIXTURES=1 rewrites the observed lines.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../src/x509/build.ts';
import { Certificate } from '../../src/x509/certificate.ts';
import { generateKey } from '../../src/x509/keys.ts';
import { scanPem } from '../../src/x509/pem.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { type Cluster, startCluster, tlsGet, waitFor } from './harness.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'broken-pki');

interface Fixture {
  case: string;
  description: string;
  brokenFiles: string[];
  component: string;
  /** Regular expression the component's error must match. */
  expected: string;
  observed: string;
  /** Lint ids a static scan of the broken files must report (checked in test/fixtures.test.ts). */
  findings: string[];
  /** When the fixture was made: scans of it run at this time. */
  recordedAt: string;
}

const certAt = (p: string): Certificate => new Certificate((scanPem(readFileSync(p, 'latin1'))[0] as { der: Uint8Array }).der);
const keyAt = (p: string): KeyObject => createPrivateKey(readFileSync(p));
const pem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }) as string;

/** Replace a leaf: same subject and SANs unless changed, new key, signed by `ca`. */
function reissue(P: string, name: string, ca: string, change: { sansIp?: string[]; notBefore?: Date; notAfter?: Date } = {}): void {
  const old = certAt(join(P, `${name}.crt`));
  const kp = generateKey('ecdsa-p256');
  const now = Date.now();
  const c = issueCertificate({
    profile: {
      subject: old.subjectRdns,
      sans: { dns: old.sans.dns, ip: change.sansIp ?? old.sans.ip },
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: old.extKeyUsage ?? [],
      validity: { notBefore: change.notBefore ?? new Date(now - 300_000), notAfter: change.notAfter ?? new Date(now + 365 * 86400_000) },
    },
    publicKey: kp.publicKey,
    issuer: { cert: certAt(join(P, `${ca}.crt`)), key: keyAt(join(P, `${ca}.key`)) },
  });
  writeFileSync(join(P, `${name}.crt`), c.toPem());
  writeFileSync(join(P, `${name}.key`), pem(kp.privateKey), { mode: 0o600 });
}

function record(c: Cluster, f: Omit<Fixture, 'observed' | 'recordedAt'>, observed: string, files: Record<string, string>): void {
  const dir = join(FIXTURES, f.case);
  const path = join(dir, 'failure.json');
  expect(observed).toMatch(new RegExp(f.expected));
  if (process.env.UPDATE_FIXTURES || !existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, `${JSON.stringify({ ...f, observed, recordedAt: new Date().toISOString() }, null, 2)}\n`);
    // Certificates only: keys never go into the repository.
    for (const [name, from] of Object.entries(files))
      writeFileSync(join(dir, name), readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki', from)));
  }
  const saved = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
  expect(saved.expected).toBe(f.expected);
  expect(saved.findings).toEqual(f.findings);
  expect(saved.observed).toMatch(new RegExp(saved.expected));
}

const firstLine = (text: string, re: RegExp): string => text.split('\n').find((l) => re.test(l)) ?? '';

describe('deliberately broken PKIs make the real components fail', () => {
  beforeAll(async () => {
    await kubeBinDir();
  }, K8S_BUILD_TIMEOUT_MS);
  it('front-proxy client signed by the cluster CA: the API server does not accept proxied identities from it', async () => {
    const c = await startCluster({ tamper: (P) => reissue(P, 'front-proxy-client', 'ca') });
    try {
      const P = join(c.nodeRoot, 'etc/kubernetes/pki');
      const r = await tlsGet(`${c.apiUrl}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
        method: 'POST',
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
        headers: { 'content-type': 'application/json', 'X-Remote-User': 'proxied-bob' },
        ca: readFileSync(join(P, 'ca.crt'), 'utf8'),
        cert: readFileSync(join(P, 'front-proxy-client.crt'), 'utf8'),
        key: readFileSync(join(P, 'front-proxy-client.key'), 'utf8'),
      });
      // Not proxied-bob: the request-header authenticator rejected the certificate, the x509 one took it.
      const user = JSON.parse(r.body).status.userInfo.username as string;
      record(
        c,
        {
          case: 'front-proxy-client-wrong-ca',
          description:
            'front-proxy-client.crt signed by the cluster CA instead of front-proxy-ca: aggregated API servers and the request-header authenticator reject the proxy',
          brokenFiles: ['front-proxy-client.crt'],
          component: 'kube-apiserver (request-header authentication)',
          expected: '^authenticated as front-proxy-client, not as the proxied user proxied-bob$',
          findings: ['k8s.role.wrong-signer'],
        },
        `authenticated as ${user}, not as the proxied user proxied-bob`,
        { 'front-proxy-client.crt': 'front-proxy-client.crt', 'front-proxy-ca.crt': 'front-proxy-ca.crt', 'ca.crt': 'ca.crt' },
      );
    } finally {
      await c.stop();
    }
  }, 300_000);

  it("apiserver's etcd client certificate from the cluster CA: etcd refuses the API server", async () => {
    const c = await startCluster({ tamper: (P) => reissue(P, 'apiserver-etcd-client', 'ca'), expectFailure: true });
    try {
      let line = '';
      // etcd logs every refused connection; the API server's retries also show up as resets mid-handshake
      // ("read: connection reset by peer", seen under CI load), so wait for the refusal that names the CA.
      await waitFor('etcd to reject the API server for its CA', () => {
        line = firstLine(c.log('etcd'), /rejected connection.*certificate signed by unknown authority/);
        return line !== '';
      });
      const msg = (JSON.parse(line) as { error: string }).error;
      record(
        c,
        {
          case: 'apiserver-etcd-client-wrong-ca',
          description:
            'apiserver-etcd-client.crt signed by the cluster CA instead of etcd-ca: etcd rejects the API server, which never becomes ready',
          brokenFiles: ['apiserver-etcd-client.crt'],
          component: 'etcd',
          expected: 'certificate signed by unknown authority',
          findings: ['k8s.role.wrong-signer'],
        },
        msg,
        { 'apiserver-etcd-client.crt': 'apiserver-etcd-client.crt', 'etcd-ca.crt': 'etcd/ca.crt', 'ca.crt': 'ca.crt' },
      );
      expect(c.kubectl(['get', '--raw', '/readyz']).code).not.toBe(0);
    } finally {
      await c.stop();
    }
  }, 300_000);

  it('expired apiserver certificate: clients refuse the API server', async () => {
    const day = 86400_000;
    const c = await startCluster({
      tamper: (P) => reissue(P, 'apiserver', 'ca', { notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) }),
      expectFailure: true,
    });
    try {
      let err = '';
      await waitFor('kubectl to fail on the expired certificate', () => {
        err = c.kubectl(['get', 'namespaces']).stderr;
        return /expired/.test(err);
      });
      record(
        c,
        {
          case: 'apiserver-expired',
          description: 'apiserver.crt expired yesterday: every client (kubectl, kubelets, controllers) refuses the API server',
          brokenFiles: ['apiserver.crt'],
          component: 'kubectl',
          expected: 'x509: certificate has expired or is not yet valid',
          findings: ['x509.validity.expired'],
        },
        firstLine(err, /expired/),
        { 'apiserver.crt': 'apiserver.crt', 'ca.crt': 'ca.crt' },
      );
    } finally {
      await c.stop();
    }
  }, 300_000);

  it('apiserver certificate without the service IP: in-cluster clients (kubernetes.default → 10.96.0.1) refuse it', async () => {
    const c = await startCluster({ tamper: (P) => reissue(P, 'apiserver', 'ca', { sansIp: ['127.0.0.1'] }) });
    try {
      const r = c.kubectl(['--tls-server-name=10.96.0.1', 'get', 'namespaces']);
      expect(r.code).not.toBe(0);
      record(
        c,
        {
          case: 'apiserver-missing-service-ip-san',
          description:
            'apiserver.crt lacks the first service IP (10.96.0.1): pods reaching the API through the kubernetes Service fail TLS',
          brokenFiles: ['apiserver.crt'],
          component: 'kubectl --tls-server-name=10.96.0.1 (what an in-cluster client checks)',
          expected: 'x509: certificate is valid for .*not 10\\.96\\.0\\.1',
          findings: ['k8s.apiserver.missing-san'],
        },
        firstLine(r.stderr, /x509/),
        { 'apiserver.crt': 'apiserver.crt', 'ca.crt': 'ca.crt' },
      );
      // The same check against an intact PKI succeeds: see cluster.test.ts.
    } finally {
      await c.stop();
    }
  }, 300_000);
});
