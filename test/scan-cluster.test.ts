// `anchorage scan --kubeconfig` against a real control plane (test/cluster/harness.ts): seeded Secrets,
// ConfigMaps and webhook configurations, good and broken, each found under `namespace/Kind/name[key]`;
// pagination, the Secret types skipped by field selector, and failing sources (forbidden, unreachable) that
// cost one line each while the scan goes on.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import type { ScanReport } from '../src/scan/scan.ts';
import { anchorage, anchorageAsync, type Cluster, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { delayRelay } from './support/delay-relay.ts';
import { opensslCa, opensslIssue } from './support/openssl.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-scan-cluster-'));
const ossl = (...a: string[]): string => execFileSync('openssl', a, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const fingerprint = (f: string): string =>
  (ossl('x509', '-in', f, '-noout', '-fingerprint', '-sha256').split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase();
const NS = 'scan-test';

let c: Cluster;
let clean: { code: number; report: ScanReport; stderr: string };
let caCrt: string;
let caKey: string;
let webhookServer: ChildProcess | undefined;
let serviceServer: ChildProcess | undefined;
// A Service backend's endpoint: an address on a veth pair of this machine (the API server refuses loopback
// addresses in an EndpointSlice), named after this process so parallel runs do not meet.
const svcIf = `ascan${process.pid % 100_000}`;
const svcIp = `10.213.${((process.pid >> 8) % 250) + 1}.${(process.pid % 250) + 1}`;
let svcPort: number;
let webhookPort: number;
let hang: TcpServer;
let hangPort: number;
const sockets = new Set<import('node:net').Socket>();

function scanJson(args: string[]): { code: number; report: ScanReport; stderr: string } {
  const r = anchorage(['scan', ...args, '-o', 'json']);
  if (r.code !== 0 && r.code !== 1 && r.code !== 3) throw new Error(`scan exited ${r.code}: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as ScanReport, stderr: r.stderr };
}
function kubectl(...args: string[]): string {
  const r = c.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  // ClusterTrustBundles are beta and off by default: the feature gate and the API group version turn them on.
  c = await startCluster({
    apiserverArgs: ['--feature-gates=ClusterTrustBundle=true', '--runtime-config=certificates.k8s.io/v1beta1=true'],
  });
  // Before anything is seeded: the cluster `pki init` made, through its API and its node tree together.
  await waitFor('kube-root-ca.crt in default', () => c.kubectl(['-n', 'default', 'get', 'configmap', 'kube-root-ca.crt']).code === 0);
  clean = scanJson(['--kubeconfig', c.admin, c.pkiDir]);
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

  // Wrong credentials: a client certificate from the rogue CA (the API server answers 401).
  ossl(
    'x509',
    '-req',
    '-in',
    'nobody.csr',
    '-CA',
    'rogue.crt',
    '-CAkey',
    'rogue.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-out',
    'stranger.crt',
  );
  writeFileSync(
    join(dir, 'stranger.conf'),
    writeKubeconfig({
      clusterName: 'c',
      server: c.apiUrl,
      caPem: readFileSync(caCrt, 'utf8'),
      userName: 'stranger',
      clientCertPem: read('stranger.crt'),
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
  // Webhook backends. A Service backend whose serving certificate (in a Secret) the cluster CA signed, while
  // rogue-hook's caBundle is the rogue CA: predicted to fail. Two `url` backends on a real HTTPS server here.
  copyFileSync(caCrt, join(dir, 'cluster-ca.crt'));
  copyFileSync(caKey, join(dir, 'cluster-ca.key'));
  const serving = 'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n';
  opensslIssue(dir, 'cluster-ca', 'hook', '/CN=hook.scan-test.svc', `subjectAltName=DNS:hook.scan-test.svc\n${serving}`);
  kubectl('-n', NS, 'create', 'secret', 'tls', 'hook-serving', `--cert=${join(dir, 'hook.crt')}`, `--key=${join(dir, 'hook.key')}`);
  opensslIssue(dir, 'cluster-ca', 'local', '/CN=local-webhook', `subjectAltName=IP:127.0.0.1\n${serving}`);
  // openssl's own TLS server, in its own process (the scan runs while this one waits in spawnSync).
  webhookPort = await freePort();
  webhookServer = spawn(
    'openssl',
    ['s_server', '-accept', `127.0.0.1:${webhookPort}`, '-cert', 'local.crt', '-key', 'local.key', '-www', '-quiet'],
    { cwd: dir, stdio: 'ignore' },
  );
  await waitFor(
    'openssl s_server',
    () => spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${webhookPort}`], { input: '', timeout: 5000 }).status === 0,
    30_000,
  );
  const urlHook = (name: string, bundle: string) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      {
        name: 'url.scan-test.example.com',
        clientConfig: { url: `https://127.0.0.1:${webhookPort}/validate`, caBundle: Buffer.from(bundle).toString('base64') },
        rules: [{ apiGroups: ['example.com'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['widgets'] }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  });
  // The Service `hook` resolves (EndpointSlice) to an openssl server serving hook.crt: rogue-hook's caBundle is
  // checked by a real handshake there, and svc-good's (the cluster CA) verifies it.
  execFileSync('ip', ['link', 'add', svcIf, 'type', 'veth', 'peer', 'name', `${svcIf}p`]);
  execFileSync('ip', ['addr', 'add', `${svcIp}/32`, 'dev', svcIf]);
  execFileSync('ip', ['link', 'set', svcIf, 'up']);
  svcPort = await freePort(svcIp);
  serviceServer = spawn(
    'openssl',
    ['s_server', '-accept', `${svcIp}:${svcPort}`, '-cert', 'hook.crt', '-key', 'hook.key', '-www', '-quiet'],
    { cwd: dir, stdio: 'ignore' },
  );
  await waitFor(
    'openssl s_server on the Service endpoint',
    () => spawnSync('openssl', ['s_client', '-connect', `${svcIp}:${svcPort}`], { input: '', timeout: 5000 }).status === 0,
    30_000,
  );
  const svcGood = hook('ValidatingWebhookConfiguration', 'svc-good');
  (svcGood.webhooks[0] as { clientConfig: { caBundle: string } }).clientConfig.caBundle = readFileSync(caCrt).toString('base64');
  writeFileSync(
    join(dir, 'service.yaml'),
    [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'hook', namespace: NS },
        spec: { ports: [{ name: 'https', port: 443, targetPort: svcPort }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'hook-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'hook' } },
        addressType: 'IPv4',
        ports: [{ name: 'https', port: svcPort, protocol: 'TCP' }],
        endpoints: [{ addresses: [svcIp], conditions: { ready: true } }],
      },
      svcGood,
    ]
      .map((h) => stringify(h))
      .join('---\n'),
  );
  kubectl('apply', '-f', join(dir, 'service.yaml'));

  // A TCP port that accepts and never speaks TLS: an endpoint that hangs.
  hang = createTcpServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  hangPort = await freePort();
  await new Promise<void>((r) => hang.listen(hangPort, '127.0.0.1', r));

  // A ClusterTrustBundle with the cluster CA and a CA that expires in a day (the API server refuses non-CA
  // certificates in one); a ConfigMap bundle that carries a leaf beside the cluster CA.
  opensslCa(dir, 'shortlived', '/CN=short-lived CA', 1);
  const ctb = {
    apiVersion: 'certificates.k8s.io/v1beta1',
    kind: 'ClusterTrustBundle',
    metadata: { name: 'scan-test-bundle' },
    spec: { trustBundle: readFileSync(caCrt, 'utf8') + read('shortlived.crt') },
  };
  writeFileSync(join(dir, 'mixed.pem'), readFileSync(caCrt, 'utf8') + read('web.crt'));
  kubectl('-n', NS, 'create', 'configmap', 'mixed-bundle', `--from-file=ca-bundle.crt=${join(dir, 'mixed.pem')}`);
  // cert-manager's CRDs (group cert-manager.io, version v1, its kinds and plurals), schema-free: only what the
  // scan lists. A Certificate whose Secret (good-tls) lacks one of its names; an Issuer with a Vault caBundle.
  const cmCrd = (kind: string, plural: string, scope: 'Namespaced' | 'Cluster') => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.cert-manager.io` },
    spec: {
      group: 'cert-manager.io',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      scope,
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  });
  writeFileSync(
    join(dir, 'more.yaml'),
    [
      urlHook('url-good', readFileSync(caCrt, 'utf8')),
      urlHook('url-rogue', read('rogue.crt')),
      ctb,
      cmCrd('Certificate', 'certificates', 'Namespaced'),
      cmCrd('Issuer', 'issuers', 'Namespaced'),
      cmCrd('ClusterIssuer', 'clusterissuers', 'Cluster'),
    ]
      .map((h) => stringify(h))
      .join('---\n'),
  );
  kubectl('apply', '-f', join(dir, 'more.yaml'));
  await waitFor('the cert-manager CRDs to be served', () => c.kubectl(['get', 'clusterissuers.cert-manager.io']).code === 0);
  writeFileSync(
    join(dir, 'cm.yaml'),
    [
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'web', namespace: NS },
        spec: {
          secretName: 'good-tls',
          dnsNames: ['web.scan-test.svc', 'www.scan-test.example'],
          issuerRef: { name: 'vault', kind: 'Issuer' },
        },
      },
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Issuer',
        metadata: { name: 'vault', namespace: NS },
        spec: {
          vault: {
            server: 'https://vault.example:8200',
            path: 'pki/sign/web',
            caBundle: Buffer.from(read('rogue.crt')).toString('base64'),
          },
        },
      },
      { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'selfsigned' }, spec: { selfSigned: {} } },
    ]
      .map((h) => stringify(h))
      .join('---\n'),
  );
  kubectl('apply', '-f', join(dir, 'cm.yaml'));

  // A service account bound only to the documented ClusterRole, with a token from `kubectl create token`.
  kubectl('-n', NS, 'create', 'serviceaccount', 'scanner');
  kubectl('create', 'clusterrolebinding', 'anchorage-scan-sa', '--clusterrole=anchorage-scan', `--serviceaccount=${NS}:scanner`);
  const token = kubectl('-n', NS, 'create', 'token', 'scanner', '--duration=1h').trim();
  writeFileSync(join(dir, 'sa-token'), token);
  writeFileSync(
    join(dir, 'sa.conf'),
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: c.apiUrl, 'certificate-authority-data': Buffer.from(readFileSync(caCrt)).toString('base64') } },
      ],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
      'current-context': 'sa',
    }),
  );

  // The controller-manager publishes the cluster CA into every namespace.
  await waitFor('kube-root-ca.crt in the test namespace', () => c.kubectl(['-n', NS, 'get', 'configmap', 'kube-root-ca.crt']).code === 0);
}, 600_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  // Not started when the cluster never came up: then there is nothing to close (and close's callback would never come).
  if (hang) await new Promise((r) => hang.close(r));
  webhookServer?.kill();
  serviceServer?.kill();
  spawnSync('ip', ['link', 'del', svcIf]);
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('anchorage scan --kubeconfig on a real API server', () => {
  it('a clean cluster from pki init (its API, its API server endpoint and its node tree): no error-level finding', () => {
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(clean.report.endpoints).toEqual([
      expect.objectContaining({ for: 'apiserver', verified: true, clientCert: { accepted: true, reason: expect.any(String) } }),
    ]);
    // The cluster CA seen in the tree and published by the controller-manager is one certificate.
    const ca = clean.report.certificates.find((x) => x.sha256 === fingerprint(caCrt));
    expect(ca?.locations.map((l) => l.source)).toContain('default/ConfigMap/kube-root-ca.crt[ca.crt]');
  });

  it('finds the seeded objects by namespace/Kind/name[key], across pages, and skips Helm releases', () => {
    const { report, stderr } = scanJson(['--kubeconfig', c.admin, '--page-size', '2']);
    expect(stderr).toBe('');
    const web = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'web.crt')));
    expect(web?.locations.map((l) => l.source).sort()).toEqual([
      `${NS}/ConfigMap/mixed-bundle[ca-bundle.crt]`,
      `${NS}/Secret/good-tls[tls.crt]`,
      `${NS}/Secret/mismatch[tls.crt]`,
    ]);
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
      'ValidatingWebhookConfiguration/url-rogue[url.scan-test.example.com.caBundle]',
      `${NS}/ConfigMap/rogue-bundle[ca.crt]`,
      `${NS}/Issuer/vault[vault.caBundle]`,
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
    expect(
      report.findings
        .filter((f) => f.severity === 'error')
        .map((f) => f.id)
        .sort(),
    ).toEqual([
      'scan.bundle.non-ca',
      'scan.cabundle.backend-untrusted',
      'scan.cabundle.backend-untrusted',
      'scan.cabundle.backend-untrusted',
      'scan.key.mismatch',
    ]);
  });

  it('checks each caBundle against its backend: Service backends by their serving Secret, url backends by a real handshake', () => {
    const { report } = scanJson(['--kubeconfig', c.admin]);
    const untrusted = report.findings.filter((f) => f.id === 'scan.cabundle.backend-untrusted');
    const hookSource = 'ValidatingWebhookConfiguration/rogue-hook[hook.scan-test.example.com.caBundle]';
    // The Service resolved to its EndpointSlice's address: the handshake there is the verdict.
    expect(untrusted.find((f) => f.locations[0] === hookSource)?.locations).toEqual([hookSource, `tls://${svcIp}:${svcPort}`]);
    expect(untrusted.find((f) => f.locations[0] === hookSource)?.sha256).toBe(fingerprint(join(dir, 'hook.crt')));
    expect(report.relations.find((r) => r.consumer === hookSource)).toMatchObject({ basis: 'handshake', verdict: 'fails' });
    const svcGood = report.relations.find(
      (r) => r.consumer === 'ValidatingWebhookConfiguration/svc-good[hook.scan-test.example.com.caBundle]',
    );
    expect(svcGood).toMatchObject({
      server: `service ${NS}/hook (hook.${NS}.svc) at ${svcIp}:${svcPort}`,
      basis: 'handshake',
      verdict: 'ok',
      anchors: [fingerprint(caCrt)],
    });
    expect(report.endpoints.filter((e) => e.endpoint === `${svcIp}:${svcPort}`).map((e) => [e.name, e.chain[0]])).toContainEqual([
      `hook.${NS}.svc`,
      fingerprint(join(dir, 'hook.crt')),
    ]);
    expect(untrusted.map((f) => f.locations[0])).toContain(
      'MutatingWebhookConfiguration/rogue-mutator[hook.scan-test.example.com.caBundle]',
    );
    const rogueUrl = untrusted.find(
      (f) => f.locations[0] === 'ValidatingWebhookConfiguration/url-rogue[url.scan-test.example.com.caBundle]',
    );
    expect(rogueUrl?.locations[1]).toBe(`tls://127.0.0.1:${webhookPort}`);
    expect(rogueUrl?.sha256).toBe(fingerprint(join(dir, 'local.crt')));
    const good = report.relations.find((r) => r.consumer === 'ValidatingWebhookConfiguration/url-good[url.scan-test.example.com.caBundle]');
    expect(good).toMatchObject({ basis: 'handshake', verdict: 'ok', anchors: [fingerprint(caCrt)] });
    // No serving certificate for api.scan-test.svc or convert.scan-test.svc anywhere: said, not guessed.
    const unchecked = report.findings.filter((f) => f.id === 'scan.cabundle.backend-unchecked').map((f) => f.locations[0]);
    expect(unchecked.sort()).toEqual([
      'APIService/v1.scan.example.com[caBundle]',
      'CustomResourceDefinition/widgets.scan.example.org[conversion.caBundle]',
    ]);
  });

  it('reads ClusterTrustBundles and cert-manager objects; a bundle with a non-CA or expired certificate, a stale cert-manager Secret', () => {
    const { report } = scanJson(['--kubeconfig', c.admin]);
    const ctb = 'ClusterTrustBundle/scan-test-bundle[trustBundle]';
    const short = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'shortlived.crt')));
    expect(short?.locations).toEqual([{ source: ctb, at: expect.stringMatching(/^block 2/) }]);
    const nonCa = report.findings.filter((f) => f.id === 'scan.bundle.non-ca');
    expect(nonCa.map((f) => [f.sha256, f.locations])).toEqual([
      [fingerprint(join(dir, 'web.crt')), [expect.stringMatching(/^scan-test\/ConfigMap\/mixed-bundle\[ca-bundle\.crt\] \[block 2/)]],
    ]);
    const rogue = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'rogue.crt')));
    expect(rogue?.locations.map((l) => l.source)).toContain(`${NS}/Issuer/vault[vault.caBundle]`);
    const stale = report.findings.filter((f) => f.id === 'scan.cert-manager.secret-stale');
    expect(stale).toHaveLength(1);
    expect(stale[0]?.locations).toEqual([`${NS}/Certificate/web`, `${NS}/Secret/good-tls[tls.crt]`]);
    expect(stale[0]?.why).toContain('www.scan-test.example');
    // Two days on, the short-lived CA in the bundle has expired.
    const later = scanJson(['--kubeconfig', c.admin, '--at', new Date(Date.now() + 2 * 86400_000).toISOString()]).report;
    const expired = later.findings.filter((f) => f.id === 'scan.bundle.expired');
    expect(expired.map((f) => f.sha256)).toEqual([fingerprint(join(dir, 'shortlived.crt'))]);
    expect(expired[0]?.locations).toEqual([expect.stringMatching(/^ClusterTrustBundle\/scan-test-bundle\[trustBundle\] \[block 2/)]);
  });

  it('the API server is an endpoint: its chain, the kubeconfig CA and the client certificate, by handshake', () => {
    const { report } = scanJson(['--kubeconfig', c.admin]);
    const api = report.endpoints.find((e) => e.for === 'apiserver');
    expect(api).toMatchObject({ endpoint: `127.0.0.1:${c.apiPort}`, reached: true, verified: true, clientCert: { accepted: true } });
    expect(api?.chain[0]).toBe(fingerprint(join(c.nodeRoot, 'etc/kubernetes/pki/apiserver.crt')));
    expect(report.relations).toContainEqual(
      expect.objectContaining({ consumer: 'kubeconfig cluster anchorage-test', server: `127.0.0.1:${c.apiPort}`, verdict: 'ok' }),
    );
    // The rogue-CA kubeconfig: the same server, a CA that did not sign it.
    writeFileSync(
      join(dir, 'rogue-ca.conf'),
      readFileSync(c.admin, 'utf8').replace(
        /certificate-authority-data: \S+/,
        `certificate-authority-data: ${Buffer.from(readFileSync(join(dir, 'rogue.crt'))).toString('base64')}`,
      ),
    );
    const rogue = scanJson(['--kubeconfig', join(dir, 'rogue-ca.conf')]);
    // The client library refuses the server too: every LIST is one line, and the handshake says why.
    expect(rogue.report.findings.filter((f) => f.id === 'scan.endpoint.untrusted').map((f) => f.locations)).toEqual([
      [`tls://127.0.0.1:${c.apiPort}`, 'kubeconfig cluster anchorage-test'],
    ]);
  });

  it('--endpoint: etcd refuses a client certificate from the wrong CA and takes the right one; a hanging endpoint is one line', () => {
    const P = join(c.nodeRoot, 'etc/kubernetes/pki');
    const etcd = c.etcd.url.replace('https://', '');
    const base = ['--endpoint', etcd, '--endpoint-ca', join(P, 'etcd/ca.crt')];
    const wrong = scanJson([
      ...base,
      '--client-cert',
      join(P, 'apiserver-kubelet-client.crt'),
      '--client-key',
      join(P, 'apiserver-kubelet-client.key'),
    ]);
    expect(wrong.report.endpoints[0]).toMatchObject({ endpoint: etcd, reached: true, verified: true, clientCert: { accepted: false } });
    expect(wrong.report.findings.filter((f) => f.id === 'scan.endpoint.client-cert-rejected').map((f) => f.locations[0])).toEqual([
      `tls://${etcd}`,
    ]);
    expect(wrong.report.endpoints[0]?.chain[0]).toBe(fingerprint(join(P, 'etcd/server.crt')));
    const right = scanJson([
      ...base,
      '--client-cert',
      join(P, 'apiserver-etcd-client.crt'),
      '--client-key',
      join(P, 'apiserver-etcd-client.key'),
    ]);
    expect(right.report.endpoints[0]?.clientCert).toEqual({ accepted: true, reason: expect.any(String) });
    expect(right.report.findings.filter((f) => f.id.startsWith('scan.endpoint.'))).toEqual([]);
    // etcd's serving certificate names localhost and the node's IPs, not "etcd.invalid".
    const misnamed = scanJson(['--endpoint', `${etcd}=etcd.invalid`]);
    expect(misnamed.report.findings.filter((f) => f.id === 'scan.endpoint.name-mismatch').map((f) => f.locations)).toEqual([
      [`tls://${etcd}`],
    ]);

    const hung = scanJson(['--endpoint', `127.0.0.1:${hangPort}`, '--endpoint-timeout', '1', join(dir, 'web.crt')]);
    expect(hung.stderr.trim().split('\n')).toEqual([`warning: tls://127.0.0.1:${hangPort}: no TLS handshake within 1 s`]);
    expect(hung.report.skipped).toEqual([{ source: `tls://127.0.0.1:${hangPort}`, reason: 'no TLS handshake within 1 s' }]);
    expect(hung.report.certificates.map((x) => x.sha256)).toEqual([fingerprint(join(dir, 'web.crt'))]);
    // The named endpoint alone, not reached: no finding, and an incomplete scan (3), where a reached one is 0.
    expect(scanJson(['--endpoint', `127.0.0.1:${hangPort}`, '--endpoint-timeout', '1']).code).toBe(3);
    expect(right.code).toBe(0);
  });

  it('-o sarif and -o html', () => {
    const sarif = JSON.parse(anchorage(['scan', '--kubeconfig', c.admin, '-o', 'sarif']).stdout);
    expect(sarif.version).toBe('2.1.0');
    const results = sarif.runs[0].results as {
      ruleId: string;
      level: string;
      locations: { logicalLocations?: { fullyQualifiedName: string }[] }[];
    }[];
    const mismatch = results.find((r) => r.ruleId === 'scan.key.mismatch');
    expect(mismatch?.level).toBe('error');
    expect(mismatch?.locations[0]?.logicalLocations?.[0]?.fullyQualifiedName).toBe(`${NS}/Secret/mismatch[tls.key]`);
    const html = anchorage(['scan', '--kubeconfig', c.admin, '-o', 'html']).stdout;
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    // Self-contained: nothing to run, nothing loaded from elsewhere.
    expect(html).not.toMatch(/<script|\s(src|href)=|url\((?!#)/i);
  });

  it('the documented read-only ClusterRole is enough: a user and a service account token bound only to it read all the admin reads', () => {
    const admin = scanJson(['--kubeconfig', c.admin]).report;
    const all = admin.certificates.map((x) => x.sha256).sort();
    expect(admin.skipped.filter((k) => !k.source.includes('/Secret/corrupt['))).toEqual([]);
    const scanner = scanJson(['--kubeconfig', join(dir, 'scanner.conf')]);
    expect(scanner.stderr).toBe('');
    expect(scanner.report.certificates.map((x) => x.sha256).sort()).toEqual(all);
    const sa = scanJson(['--kubeconfig', join(dir, 'sa.conf')]);
    expect(sa.stderr).toBe('');
    expect(sa.report.certificates.map((x) => x.sha256).sort()).toEqual(all);
    expect(sa.report.findings.map((f) => f.id).sort()).toEqual(admin.findings.map((f) => f.id).sort());
  });

  it('--in-cluster: the service account files a pod gets (mounted in a private mount namespace) and KUBERNETES_SERVICE_*', () => {
    const main = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
    const nodeBin = join(import.meta.dirname, '..', 'node_modules', '.bin', 'node');
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    const script = [
      'set -e',
      'mount -t tmpfs scan-test /run',
      `mkdir -p ${sa}`,
      `cp "$1" ${sa}/token`,
      `cp "$2" ${sa}/ca.crt`,
      `printf %s ${NS} > ${sa}/namespace`,
      'shift 2',
      'exec "$@"',
    ].join('\n');
    const r = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
        'sh',
        join(dir, 'sa-token'),
        caCrt,
        existsSync(nodeBin) ? nodeBin : process.execPath,
        main,
        'scan',
        '--in-cluster',
        '-o',
        'json',
      ],
      {
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(c.apiPort) },
      },
    );
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report.certificates.map((x) => x.sha256)).toContain(fingerprint(join(dir, 'web.crt')));
    expect(report.endpoints.find((e) => e.for === 'apiserver')).toMatchObject({ reached: true, verified: true });
    const outside = anchorage(['scan', '--in-cluster']);
    expect(outside.code).toBe(2);
    expect(outside.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the small LISTs go at once; answers that come back out of order (a relay delaying each connection by its own time) give the same report', async () => {
    // The first connection (the Secrets' pages) answers last: the webhook, APIService, CRD, CSR and pod LISTs that
    // follow share the others and finish in another order than they were sent in.
    const relay = await delayRelay({ host: '127.0.0.1', port: c.apiPort }, [80, 0, 45, 10, 60]);
    try {
      const conf = join(dir, 'relayed.conf');
      writeFileSync(conf, readFileSync(c.admin, 'utf8').replaceAll(`127.0.0.1:${c.apiPort}`, `127.0.0.1:${relay.port}`));
      const relayed = await anchorageAsync(['scan', '--kubeconfig', conf, '-o', 'json']);
      const direct = anchorage(['scan', '--kubeconfig', c.admin, '-o', 'json']);
      expect([relayed.code, relayed.stderr]).toEqual([direct.code, direct.stderr]);
      const report = (text: string): Omit<ScanReport, 'generatedAt' | 'at'> => {
        // The relay's port is where the API server was reached (its endpoint): the rest must be the same.
        const {
          generatedAt: _g,
          at: _a,
          ...rest
        } = JSON.parse(text.replaceAll(`127.0.0.1:${relay.port}`, `127.0.0.1:${c.apiPort}`)) as ScanReport;
        return rest;
      };
      expect(report(relayed.stdout)).toEqual(report(direct.stdout));
      // A page and its prefetch, the API server's own handshake, and the small LISTs on connections of their own.
      expect(relay.connections()).toBeGreaterThanOrEqual(5);
      // The places in the order the read names them (docs/scan-schema.md): ConfigMaps, then validating and mutating
      // webhooks, APIServices, CRD conversion webhooks, then cert-manager issuers.
      const rogue = report(relayed.stdout).certificates.find((x) => x.sha256 === fingerprint(join(dir, 'rogue.crt')));
      expect(rogue?.locations.map((l) => l.source)).toEqual([
        `${NS}/ConfigMap/rogue-bundle[ca.crt]`,
        'ValidatingWebhookConfiguration/rogue-hook[hook.scan-test.example.com.caBundle]',
        'ValidatingWebhookConfiguration/url-rogue[url.scan-test.example.com.caBundle]',
        'MutatingWebhookConfiguration/rogue-mutator[hook.scan-test.example.com.caBundle]',
        'APIService/v1.scan.example.com[caBundle]',
        'CustomResourceDefinition/widgets.scan.example.org[conversion.caBundle]',
        `${NS}/Issuer/vault[vault.caBundle]`,
      ]);
    } finally {
      await relay.close();
    }
  });

  it('an API server that stops taking new connections while the small LISTs go at once: one line, said by the first of them in the read order', async () => {
    // Three connections: the API server's own handshake and the Secrets' pages (one or two); the small LISTs need
    // more and those are reset, while the kept-alive ones still answer.
    const relay = await delayRelay({ host: '127.0.0.1', port: c.apiPort }, [0], { accept: 3 });
    try {
      const conf = join(dir, 'refusing.conf');
      writeFileSync(conf, readFileSync(c.admin, 'utf8').replaceAll(`127.0.0.1:${c.apiPort}`, `127.0.0.1:${relay.port}`));
      const r = await anchorageAsync(['scan', '--kubeconfig', conf, '-o', 'json']);
      // Several LISTs failed at once; one line says the cluster read stopped, naming the first of them.
      expect(relay.refused()).toBeGreaterThanOrEqual(2);
      // The seeded cluster's broken objects are error findings: 1 wins over 3 (docs/scan-schema.md, exit codes).
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^warning: https:\/\/127\.0\.0\.1:\d+: .*; nothing was read from the cluster after (validatingwebhookconfigurations|mutatingwebhookconfigurations|apiservices|customresourcedefinitions|certificatesigningrequests|clustertrustbundles|pods)$/,
        ),
      ]);
      const report = JSON.parse(r.stdout) as ScanReport;
      // The one gap in the read, beside the seeded corrupt Secret (read, and skipped as it always is).
      expect(report.skipped).toEqual([
        { source: `https://127.0.0.1:${relay.port}`, reason: expect.stringContaining('nothing was read from the cluster after') },
        { source: `${NS}/Secret/corrupt[tls.crt]`, reason: expect.any(String) },
      ]);
      // What was read before stays in the report.
      const web = report.certificates.find((x) => x.sha256 === fingerprint(join(dir, 'web.crt')));
      expect(web?.locations.map((l) => l.source)).toContain(`${NS}/Secret/good-tls[tls.crt]`);
    } finally {
      await relay.close();
    }
  });

  it('a forbidden or unreachable API is one line per resource; files given beside it are still scanned', () => {
    const forbidden = scanJson(['--kubeconfig', join(dir, 'nobody.conf')]);
    // Nothing found, but nothing could be read either: 3, the scan is incomplete (docs/scan-schema.md).
    expect(forbidden.code).toBe(3);
    const lines = forbidden.stderr.trim().split('\n');
    expect(lines).toHaveLength(9);
    for (const l of lines) expect(l).toMatch(/^warning: https:\/\/127\.0\.0\.1:\d+ \w+: HTTP 403 forbidden: .*"nobody" cannot list/);
    // One line per resource in the read's order, whichever answer came first (the small LISTs go at once).
    expect(lines.map((l) => /^warning: \S+ (\w+):/.exec(l)?.[1])).toEqual([
      'secrets',
      'configmaps',
      'validatingwebhookconfigurations',
      'mutatingwebhookconfigurations',
      'apiservices',
      'customresourcedefinitions',
      'certificatesigningrequests',
      'clustertrustbundles',
      'pods',
    ]);
    expect(forbidden.report.skipped).toHaveLength(9);

    const down = scanJson([join(dir, 'web.crt'), '--kubeconfig', join(dir, 'unreachable.conf')]);
    expect(down.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^warning: https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*nothing was read from the cluster/),
    ]);
    expect(down.report.skipped).toHaveLength(1);
    expect(down.report.certificates.map((x) => x.sha256)).toEqual([fingerprint(join(dir, 'web.crt'))]);

    const stranger = scanJson([join(dir, 'web.crt'), '--kubeconfig', join(dir, 'stranger.conf')]);
    expect(stranger.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^warning: https:\/\/127\.0\.0\.1:\d+: HTTP 401 unauthorized/),
    ]);
    expect(stranger.report.endpoints[0]?.clientCert?.accepted).toBe(false);
    expect(stranger.report.findings.filter((f) => f.id === 'scan.endpoint.client-cert-rejected').map((f) => f.locations)).toEqual([
      [`tls://127.0.0.1:${c.apiPort}`, 'kubeconfig cluster c'],
    ]);

    const badContext = anchorage(['scan', '--kubeconfig', c.admin, '--context', 'nope']);
    expect(badContext.code).toBe(2);
    expect(badContext.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: --context: no context named 'nope'/)]);
  });
  it('reads the kube-apiserver and etcd flags from the kube-system mirror pods: relations with the node files follow what they run with', () => {
    // The harness runs the components as processes (no kubelet, no static pods): a Node and the mirror pods its
    // kubelet would publish for kubeadm's static pods, as kubeadm writes them, with three planted mistakes: the
    // cluster CA as --etcd-cafile, the front-proxy client as --kubelet-client-certificate, and the front-proxy
    // CA as --client-ca-file.
    const P = '/etc/kubernetes/pki';
    const mirror = (name: string, command: string[]) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-cp-1`,
        namespace: 'kube-system',
        labels: { component: name, tier: 'control-plane' },
        annotations: { 'kubernetes.io/config.mirror': 'scan-test', 'kubernetes.io/config.source': 'file' },
      },
      spec: {
        nodeName: 'cp-1',
        hostNetwork: true,
        priorityClassName: 'system-node-critical',
        tolerations: [{ effect: 'NoExecute', operator: 'Exists' }],
        containers: [{ name, image: `registry.k8s.io/${name}:v1.36.3`, command }],
      },
    });
    const apiFlags = [
      '--advertise-address=127.0.0.1',
      `--client-ca-file=${P}/front-proxy-ca.crt`,
      `--etcd-cafile=${P}/ca.crt`,
      `--etcd-certfile=${P}/apiserver-etcd-client.crt`,
      `--etcd-keyfile=${P}/apiserver-etcd-client.key`,
      '--etcd-servers=https://127.0.0.1:2379',
      `--kubelet-client-certificate=${P}/front-proxy-client.crt`,
      `--kubelet-client-key=${P}/front-proxy-client.key`,
      `--proxy-client-cert-file=${P}/front-proxy-client.crt`,
      `--requestheader-client-ca-file=${P}/front-proxy-ca.crt`,
      '--requestheader-allowed-names=front-proxy-client',
      `--tls-cert-file=${P}/apiserver.crt`,
      `--tls-private-key-file=${P}/apiserver.key`,
    ];
    writeFileSync(
      join(dir, 'mirror.yaml'),
      [
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'cp-1' } },
        mirror('kube-apiserver', ['kube-apiserver', ...apiFlags]),
        mirror('etcd', ['etcd', `--cert-file=${P}/etcd/server.crt`, `--trusted-ca-file=${P}/etcd/ca.crt`, '--client-cert-auth=true']),
      ]
        .map((o) => stringify(o))
        .join('---\n'),
    );
    kubectl('apply', '-f', join(dir, 'mirror.yaml'));
    try {
      const { report } = scanJson(['--kubeconfig', c.admin, c.pkiDir]);
      const pki = (f: string): string => join(c.nodeRoot, 'etc/kubernetes/pki', f);
      const opensslOk = (ca: string, leaf: string, purpose: string, host?: string): boolean =>
        spawnSync('openssl', ['verify', '-CAfile', ca, '-purpose', purpose, ...(host ? ['-verify_ip', host] : []), leaf]).status === 0;
      const rel = (consumer: string, server: RegExp) => report.relations.filter((r) => r.consumer === consumer && server.test(r.server));
      const apiPod = 'kube-system/Pod/kube-apiserver-cp-1[kube-apiserver]';
      // apiserver → etcd with the pod's --etcd-cafile: the cluster CA did not sign etcd's serving certificate.
      const etcd = rel(`kube-apiserver on cp-1 (--etcd-cafile ${P}/ca.crt)`, /^etcd on cp-1/);
      expect(etcd.map((r) => r.verdict)).toEqual(['fails']);
      expect(etcd[0]?.why).toContain(`flags from ${apiPod}, kube-system/Pod/etcd-cp-1[etcd]`);
      expect(opensslOk(pki('ca.crt'), pki('etcd/server.crt'), 'sslserver', '127.0.0.1')).toBe(false);
      // The clean scan (kubeadm's defaults, no pods yet) judged the same files with etcd/ca.crt: ok.
      expect(
        clean.report.relations.filter((r) => r.consumer.startsWith('kube-apiserver on cp-1 (--etcd-cafile')).map((r) => r.verdict),
      ).toEqual(['ok']);
      // apiserver → kubelet: the front-proxy client certificate is not from the kubelets' client CA.
      const kubelet = report.relations.filter((r) =>
        r.server.startsWith(`kube-apiserver on cp-1 as kubelet client (cp-1:${P}/front-proxy-client.crt)`),
      );
      expect(kubelet.map((r) => [r.consumer.replace(/ \(.*$/, ''), r.verdict]).sort()).toEqual([
        ['kubelet on cp-1', 'fails'],
        ['kubelet on worker-1', 'fails'],
      ]);
      expect(opensslOk(pki('ca.crt'), pki('front-proxy-client.crt'), 'sslclient')).toBe(false);
      // Every kubeconfig client certificate in the trees against the pod's --client-ca-file (the front-proxy CA).
      const clients = report.relations.filter((r) => r.consumer === `kube-apiserver on cp-1 (--client-ca-file ${P}/front-proxy-ca.crt)`);
      expect(clients.length).toBeGreaterThanOrEqual(4);
      expect(clients.every((r) => r.verdict === 'fails')).toBe(true);
      expect(clients.map((r) => r.server)).toContainEqual(expect.stringMatching(/^kubeconfig user cp-1:\/etc\/kubernetes\/admin\.conf /));
      // What the pod's flags got right still verifies: the front proxy, etcd's view of the apiserver's client.
      expect(
        rel(`kube-apiserver on cp-1 (--requestheader-client-ca-file ${P}/front-proxy-ca.crt)`, /^front proxy client/)[0]?.verdict,
      ).toBe('ok');
      expect(rel(`etcd on cp-1 (--trusted-ca-file ${P}/etcd/ca.crt)`, /as etcd client/)[0]?.verdict).toBe('ok');
      const found = report.findings.filter((f) => f.id === 'scan.relation.handshake-fails');
      expect(found.find((f) => f.why.includes('--etcd-cafile'))?.locations).toEqual([pki('etcd/server.crt'), pki('ca.crt')]);
    } finally {
      kubectl('-n', 'kube-system', 'delete', 'pod', 'kube-apiserver-cp-1', 'etcd-cp-1', '--grace-period=0', '--force', '--wait=false');
      kubectl('delete', 'node', 'cp-1', '--wait=false');
    }
  });
});
