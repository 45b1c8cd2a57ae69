// `anchorage scan --kubeconfig` against a real control plane (test/cluster/harness.ts): seeded Secrets,
// ConfigMaps and webhook configurations, good and broken, each found under `namespace/Kind/name[key]`;
// pagination, the Secret types skipped by field selector, and failing sources (forbidden, unreachable) that
// cost one line each while the scan goes on.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import type { ScanReport } from '../src/scan/scan.ts';
import { anchorage, type Cluster, freePort, startCluster, waitFor } from './cluster/harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-scan-cluster-'));
const ossl = (...a: string[]): string => execFileSync('openssl', a, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fingerprint = (f: string): string =>
  (ossl('x509', '-in', f, '-noout', '-fingerprint', '-sha256').split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase();
const NS = 'scan-test';

let c: Cluster;
let caCrt: string;
let caKey: string;

function scanJson(args: string[]): { code: number; report: ScanReport; stderr: string } {
  const r = anchorage(['scan', ...args, '-o', 'json']);
  if (r.code !== 0 && r.code !== 1) throw new Error(`scan exited ${r.code}: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as ScanReport, stderr: r.stderr };
}
function kubectl(...args: string[]): string {
  const r = c.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  c = await startCluster();
  caCrt = join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt');
  caKey = join(c.nodeRoot, 'etc/kubernetes/pki/ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  // A serving certificate from the cluster CA, and some other key.
  ossl('req', '-new', ...ec, '-keyout', 'web.key', '-out', 'web.csr', '-subj', '/CN=web.scan-test.svc');
  writeFileSync(
    join(dir, 'web.ext'),
    'subjectAltName=DNS:web.scan-test.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  ossl(
    'x509',
    '-req',
    '-in',
    'web.csr',
    '-CA',
    caCrt,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    'web.ext',
    '-out',
    'web.crt',
  );
  ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key');
  // A rogue CA with the cluster CA's name.
  ossl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'rogue.key',
    '-out',
    'rogue.crt',
    '-subj',
    '/CN=kubernetes',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,digitalSignature',
  );
  // A user the API server knows but RBAC grants nothing.
  ossl('req', '-new', ...ec, '-keyout', 'nobody.key', '-out', 'nobody.csr', '-subj', '/CN=nobody');
  ossl('x509', '-req', '-in', 'nobody.csr', '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-days', '30', '-out', 'nobody.crt');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  writeFileSync(
    join(dir, 'nobody.conf'),
    writeKubeconfig({
      clusterName: 'c',
      server: c.apiUrl,
      caPem: readFileSync(caCrt, 'utf8'),
      userName: 'nobody',
      clientCertPem: read('nobody.crt'),
      clientKeyPem: read('nobody.key'),
    }),
  );
  writeFileSync(
    join(dir, 'unreachable.conf'),
    writeKubeconfig({
      clusterName: 'c',
      server: `https://127.0.0.1:${await freePort()}`,
      caPem: readFileSync(caCrt, 'utf8'),
      userName: 'admin',
      clientCertPem: read('nobody.crt'),
      clientKeyPem: read('nobody.key'),
    }),
  );

  // A user with only the ClusterRole docs/scan-schema.md documents.
  ossl('req', '-new', ...ec, '-keyout', 'scanner.key', '-out', 'scanner.csr', '-subj', '/CN=scanner');
  ossl('x509', '-req', '-in', 'scanner.csr', '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-days', '30', '-out', 'scanner.crt');
  writeFileSync(
    join(dir, 'scanner.conf'),
    writeKubeconfig({
      clusterName: 'c',
      server: c.apiUrl,
      caPem: readFileSync(caCrt, 'utf8'),
      userName: 'scanner',
      clientCertPem: read('scanner.crt'),
      clientKeyPem: read('scanner.key'),
    }),
  );
  const role = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(
    readFileSync(join(import.meta.dirname, '..', 'docs', 'scan-schema.md'), 'utf8'),
  )?.[1];
  if (!role) throw new Error('docs/scan-schema.md lost its ClusterRole');
  writeFileSync(join(dir, 'role.yaml'), role);
  kubectl('apply', '-f', join(dir, 'role.yaml'));
  kubectl('create', 'clusterrolebinding', 'anchorage-scan', '--clusterrole=anchorage-scan', '--user=scanner');

  kubectl('create', 'namespace', NS);
  kubectl('-n', NS, 'create', 'secret', 'tls', 'good-tls', `--cert=${join(dir, 'web.crt')}`, `--key=${join(dir, 'web.key')}`);
  // kubectl refuses a TLS Secret whose key does not match: a generic one carries the same keys.
  kubectl(
    '-n',
    NS,
    'create',
    'secret',
    'generic',
    'mismatch',
    `--from-file=tls.crt=${join(dir, 'web.crt')}`,
    `--from-file=tls.key=${join(dir, 'other.key')}`,
  );
  writeFileSync(join(dir, 'corrupt.pem'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
  kubectl('-n', NS, 'create', 'secret', 'generic', 'corrupt', `--from-file=tls.crt=${join(dir, 'corrupt.pem')}`);
  kubectl(
    '-n',
    NS,
    'create',
    'secret',
    'generic',
    'helm-rel',
    '--type=helm.sh/release.v1',
    `--from-file=release=${join(dir, 'rogue.crt')}`,
  );
  for (let i = 0; i < 5; i++) kubectl('-n', NS, 'create', 'secret', 'generic', `filler-${i}`, '--from-literal=password=not-a-certificate');
  kubectl('-n', NS, 'create', 'configmap', 'rogue-bundle', `--from-file=ca.crt=${join(dir, 'rogue.crt')}`);
  const hook = (kind: string, name: string) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name },
    webhooks: [
      {
        name: 'hook.scan-test.example.com',
        clientConfig: {
          service: { namespace: NS, name: 'hook', path: '/validate' },
          caBundle: Buffer.from(read('rogue.crt')).toString('base64'),
        },
        rules: [{ apiGroups: ['example.com'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['widgets'] }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  });
  const rogueB64 = Buffer.from(read('rogue.crt')).toString('base64');
  const apiService = {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: 'v1.scan.example.com' },
    spec: {
      group: 'scan.example.com',
      version: 'v1',
      service: { namespace: NS, name: 'api' },
      caBundle: rogueB64,
      groupPriorityMinimum: 100,
      versionPriority: 10,
    },
  };
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.scan.example.org' },
    spec: {
      group: 'scan.example.org',
      names: { kind: 'Widget', plural: 'widgets', singular: 'widget' },
      scope: 'Namespaced',
      versions: ['v1', 'v2'].map((v, i) => ({
        name: v,
        served: true,
        storage: i === 0,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      })),
      conversion: {
        strategy: 'Webhook',
        webhook: { conversionReviewVersions: ['v1'], clientConfig: { service: { namespace: NS, name: 'convert' }, caBundle: rogueB64 } },
      },
    },
  };
  // A client certificate issued through the API: the controller-manager signs it with the cluster CA.
  ossl('req', '-new', ...ec, '-keyout', 'carol.key', '-out', 'carol.csr', '-subj', '/CN=carol');
  const csr = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: 'carol' },
    spec: {
      request: Buffer.from(read('carol.csr')).toString('base64'),
      signerName: 'kubernetes.io/kube-apiserver-client',
      usages: ['client auth'],
      expirationSeconds: 3600,
    },
  };
  writeFileSync(
    join(dir, 'hooks.yaml'),
    [hook('ValidatingWebhookConfiguration', 'rogue-hook'), hook('MutatingWebhookConfiguration', 'rogue-mutator'), apiService, crd, csr]
      .map((h) => stringify(h))
      .join('---\n'),
  );
  kubectl('apply', '-f', join(dir, 'hooks.yaml'));
  kubectl('certificate', 'approve', 'carol');
  await waitFor(
    'the CSR to be signed',
    () => c.kubectl(['get', 'csr', 'carol', '-o', 'jsonpath={.status.certificate}']).stdout.trim() !== '',
  );
  writeFileSync(
    join(dir, 'carol.crt'),
    Buffer.from(kubectl('get', 'csr', 'carol', '-o', 'jsonpath={.status.certificate}').trim(), 'base64'),
  );
  // The controller-manager publishes the cluster CA into every namespace.
  await waitFor('kube-root-ca.crt in the test namespace', () => c.kubectl(['-n', NS, 'get', 'configmap', 'kube-root-ca.crt']).code === 0);
}, 600_000);

afterAll(async () => {
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('anchorage scan --kubeconfig on a real API server', () => {
  it('finds the seeded objects by namespace/Kind/name[key], across pages, and skips Helm releases', () => {
    const { report, stderr } = scanJson(['--kubeconfig', c.admin, '--page-size', '2']);
    expect(stderr).toBe('');
    const web = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'web.crt')));
    expect(web?.locations.map((l) => l.source).sort()).toEqual([`${NS}/Secret/good-tls[tls.crt]`, `${NS}/Secret/mismatch[tls.crt]`]);
    expect(web?.issuedBy).toEqual([fingerprint(caCrt)]);
    expect(web?.keyLocations).toEqual([`${NS}/Secret/good-tls[tls.key]`]);
    const ca = report.certificates.find((x) => x.sha256 === fingerprint(caCrt));
    expect(ca?.locations.map((l) => l.source)).toContain(`${NS}/ConfigMap/kube-root-ca.crt[ca.crt]`);
    const rogue = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'rogue.crt')));
    expect(rogue?.locations.map((l) => l.source).sort()).toEqual([
      'APIService/v1.scan.example.com[caBundle]',
      'CustomResourceDefinition/widgets.scan.example.org[conversion.caBundle]',
      'MutatingWebhookConfiguration/rogue-mutator[hook.scan-test.example.com.caBundle]',
      'ValidatingWebhookConfiguration/rogue-hook[hook.scan-test.example.com.caBundle]',
      `${NS}/ConfigMap/rogue-bundle[ca.crt]`,
    ]);
    const carol = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'carol.crt')));
    expect(carol?.locations).toEqual([{ source: 'CertificateSigningRequest/carol[status.certificate]' }]);
    expect(carol?.issuedBy).toEqual([fingerprint(caCrt)]);
    expect(JSON.stringify(report)).not.toContain('helm-rel');
    expect(JSON.stringify(report)).not.toContain('filler-');
    expect(report.skipped).toContainEqual({ source: `${NS}/Secret/corrupt[tls.crt]`, reason: expect.any(String) });
  });

  it('reports the broken objects: a key that is not its certificate, a rogue CA with the cluster CA name', () => {
    const { code, report } = scanJson(['--kubeconfig', c.admin]);
    expect(code).toBe(1);
    const mismatch = report.findings.filter((f) => f.id === 'scan.key.mismatch');
    expect(mismatch).toHaveLength(1);
    expect(mismatch[0]?.locations).toEqual([`${NS}/Secret/mismatch[tls.key]`, `${NS}/Secret/mismatch[tls.crt]`]);
    const same = report.findings.filter((f) => f.id === 'scan.ca.same-name-different-key');
    expect(same).toHaveLength(1);
    expect(same[0]?.locations).toEqual(
      expect.arrayContaining([
        `${NS}/ConfigMap/kube-root-ca.crt[ca.crt]`,
        `${NS}/ConfigMap/rogue-bundle[ca.crt]`,
        'ValidatingWebhookConfiguration/rogue-hook[hook.scan-test.example.com.caBundle]',
      ]),
    );
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => f.id)).toEqual(['scan.key.mismatch']);
  });

  it('the documented read-only ClusterRole is enough: nothing forbidden, the same inventory as the admin', () => {
    const admin = scanJson(['--kubeconfig', c.admin]).report;
    const scanner = scanJson(['--kubeconfig', join(dir, 'scanner.conf')]);
    expect(scanner.stderr).toBe('');
    expect(scanner.report.certificates.map((x) => x.sha256).sort()).toEqual(admin.certificates.map((x) => x.sha256).sort());
  });

  it('a forbidden or unreachable API is one line per resource; files given beside it are still scanned', () => {
    const forbidden = scanJson(['--kubeconfig', join(dir, 'nobody.conf')]);
    expect(forbidden.code).toBe(0);
    const lines = forbidden.stderr.trim().split('\n');
    expect(lines).toHaveLength(7);
    for (const l of lines) expect(l).toMatch(/^warning: https:\/\/127\.0\.0\.1:\d+ \w+: HTTP 403 forbidden: .*"nobody" cannot list/);
    expect(forbidden.report.skipped).toHaveLength(7);

    const down = scanJson([join(dir, 'web.crt'), '--kubeconfig', join(dir, 'unreachable.conf')]);
    expect(down.stderr.trim().split('\n')).toHaveLength(7);
    expect(down.report.certificates.map((x) => x.sha256)).toEqual([fingerprint(join(dir, 'web.crt'))]);

    const badContext = anchorage(['scan', '--kubeconfig', c.admin, '--context', 'nope']);
    expect(badContext.code).toBe(2);
    expect(badContext.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: --context: no context named 'nope'/)]);
  });
});
