// `anchorage scan` end to end: a node tree made by `pki init` scans clean; faults planted with openssl
// (a rogue CA with the cluster CA's name, a key that is not the certificate's, a CA key on a worker, a
// kubeconfig trusting the rogue CA, a kubelet certificate the rogue CA signed) are each found at the right
// file; the recorded broken-PKI fixtures give exactly the finding that explains their failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { walkInputs } from '../src/cli/files.ts';
import { type ComponentFlags, mirrorPodFlags } from '../src/scan/components.ts';
import { type ScanReport, scan } from '../src/scan/scan.ts';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'anchorage-scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(node, [main, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const ossl = (...args: string[]): string =>
  execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const scanJson = (...args: string[]): { code: number; report: ScanReport } => {
  const r = cli(['scan', ...args, '-o', 'json']);
  if (r.code !== 0 && r.code !== 1) throw new Error(`scan exited ${r.code}: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as ScanReport };
};
const sha256Of = (pemFile: string): string =>
  (ossl('x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256').split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase();

const CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
clusterName: small
controlPlaneEndpoint: cp.example.com:6443
kubernetesVersion: v1.36.3
layout: kubeadm
keyAlgorithm: ecdsa-p256
controlPlane:
  - { name: cp-1, ips: [10.0.0.11] }
  - { name: cp-2, ips: [10.0.0.12] }
workers:
  - { name: worker-1, ips: [10.0.1.1] }
  - { name: worker-2, ips: [10.0.1.2] }
`;

const clean = join(dir, 'clean');
const broken = join(dir, 'broken');
const n = (...p: string[]): string => join(broken, 'nodes', ...p);

beforeAll(() => {
  writeFileSync(join(dir, 'cluster.yaml'), CONFIG);
  const r = cli(['pki', 'init', '--config', 'cluster.yaml', '--out', clean]);
  if (r.code !== 0) throw new Error(r.stderr);
  execFileSync('cp', ['-r', clean, broken]);
  // 1. The cluster CA's key copied onto a worker.
  copyFileSync(n('cp-1', 'etc/kubernetes/pki/ca.key'), n('worker-1', 'etc/kubernetes/pki/ca.key'));
  // 2. admin.conf on cp-1 carries some other key beside its client certificate.
  ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key');
  replaceField(n('cp-1', 'etc/kubernetes/admin.conf'), 'client-key-data', readFileSync(join(dir, 'other.key')));
  // 3. A rogue CA with the cluster CA's name; cp-2's admin.conf trusts it.
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'rogue.key',
    '-out',
    'rogue.crt',
    '-subj',
    '/CN=kubernetes',
    '-days',
    '3650',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,digitalSignature',
  );
  replaceField(n('cp-2', 'etc/kubernetes/admin.conf'), 'certificate-authority-data', readFileSync(join(dir, 'rogue.crt')));
  // 4. worker-2's kubelet serving certificate (and its key) issued by the rogue CA.
  const kubeletKey = n('worker-2', 'var/lib/kubelet/pki/kubelet.key');
  ossl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    kubeletKey,
    '-subj',
    '/O=system:nodes/CN=system:node:worker-2',
    '-out',
    'w2.csr',
  );
  writeFileSync(
    join(dir, 'w2.ext'),
    'subjectAltName=DNS:worker-2,IP:10.0.1.2\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  ossl(
    'x509',
    '-req',
    '-in',
    'w2.csr',
    '-CA',
    'rogue.crt',
    '-CAkey',
    'rogue.key',
    '-CAcreateserial',
    '-days',
    '100',
    '-extfile',
    'w2.ext',
    '-out',
    n('worker-2', 'var/lib/kubelet/pki/kubelet.crt'),
  );
  // 5. worker-1's kubelet serving certificate, same key, signed by the cluster CA for a month that has passed.
  const caDir = n('cp-1', 'etc/kubernetes/pki');
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\norganizationName=optional\n',
  );
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  ossl('req', '-new', '-key', n('worker-1', 'var/lib/kubelet/pki/kubelet.key'), '-subj', '/CN=worker-1', '-out', 'w1.csr');
  writeFileSync(
    join(dir, 'w1.ext'),
    'subjectAltName=DNS:worker-1,IP:10.0.1.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  // openssl x509 -req cannot set dates in the past; openssl ca can.
  ossl(
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-cert',
    join(caDir, 'ca.crt'),
    '-keyfile',
    join(caDir, 'ca.key'),
    '-in',
    'w1.csr',
    '-startdate',
    '20250101000000Z',
    '-enddate',
    '20250201000000Z',
    '-extfile',
    'w1.ext',
    '-notext',
    '-out',
    n('worker-1', 'var/lib/kubelet/pki/kubelet.crt'),
  );
  // 6. cp-2's API server certificate, same key, without the service IP 10.96.0.1 in its SANs.
  const cp2 = n('cp-2', 'etc/kubernetes/pki');
  ossl('req', '-new', '-key', join(cp2, 'apiserver.key'), '-subj', '/CN=kube-apiserver', '-out', 'api2.csr');
  writeFileSync(
    join(dir, 'api2.ext'),
    'subjectAltName=DNS:cp-2,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:cp.example.com,IP:10.0.0.12\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  ossl(
    'x509',
    '-req',
    '-in',
    'api2.csr',
    '-CA',
    join(cp2, 'ca.crt'),
    '-CAkey',
    join(cp2, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '300',
    '-extfile',
    'api2.ext',
    '-out',
    join(cp2, 'apiserver.crt'),
  );
  // 7. cp-1's front-proxy client on a 1024-bit RSA key.
  ossl(
    'req',
    '-new',
    '-newkey',
    'rsa:1024',
    '-nodes',
    '-keyout',
    join(caDir, 'front-proxy-client.key'),
    '-subj',
    '/CN=front-proxy-client',
    '-out',
    'fp.csr',
  );
  writeFileSync(join(dir, 'fp.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  ossl(
    'x509',
    '-req',
    '-in',
    'fp.csr',
    '-CA',
    join(caDir, 'front-proxy-ca.crt'),
    '-CAkey',
    join(caDir, 'front-proxy-ca.key'),
    '-CAcreateserial',
    '-days',
    '300',
    '-extfile',
    'fp.ext',
    '-out',
    join(caDir, 'front-proxy-client.crt'),
  );
  // 8. worker-1's kubelet.conf: a client certificate without the system:nodes group.
  ossl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'nogroup.key',
    '-subj',
    '/CN=system:node:worker-1',
    '-out',
    'nogroup.csr',
  );
  writeFileSync(join(dir, 'nogroup.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  ossl(
    'x509',
    '-req',
    '-in',
    'nogroup.csr',
    '-CA',
    join(caDir, 'ca.crt'),
    '-CAkey',
    join(caDir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '300',
    '-extfile',
    'nogroup.ext',
    '-out',
    'nogroup.crt',
  );
  replaceField(n('worker-1', 'etc/kubernetes/kubelet.conf'), 'client-certificate-data', readFileSync(join(dir, 'nogroup.crt')));
  replaceField(n('worker-1', 'etc/kubernetes/kubelet.conf'), 'client-key-data', readFileSync(join(dir, 'nogroup.key')));
}, 180_000);

function replaceField(file: string, field: string, value: Buffer): void {
  const text = readFileSync(file, 'utf8');
  const re = new RegExp(`${field}: \\S+`);
  expect(re.test(text)).toBe(true);
  writeFileSync(file, text.replace(re, `${field}: ${value.toString('base64')}`));
}

describe('anchorage scan on a pki init node tree', () => {
  it('a clean tree: no error, no warning, exit 0; each certificate once with every place and its role', () => {
    const { code, report } = scanJson(clean);
    expect(code).toBe(0);
    expect(report.schema).toBe('anchorage.scan/v1');
    expect(report.findings.filter((f) => f.severity !== 'notice')).toEqual([]);
    const ca = report.certificates.find((c) => c.sha256 === sha256Of(join(clean, 'nodes/cp-1/etc/kubernetes/pki/ca.crt')));
    expect(ca?.role).toBe('ca');
    expect(ca?.selfSigned).toBe(true);
    // The cluster CA sits in every node's ca.crt and in every kubeconfig.
    for (const node of ['cp-1', 'cp-2', 'worker-1', 'worker-2']) {
      expect(ca?.locations).toContainEqual({
        source: join(clean, 'nodes', node, 'etc/kubernetes/pki/ca.crt'),
        node,
        nodePath: '/etc/kubernetes/pki/ca.crt',
      });
      expect(
        ca?.locations.some((l) => l.node === node && l.nodePath === '/etc/kubernetes/kubelet.conf' && /^clusters\[/.test(l.at ?? '')),
      ).toBe(true);
    }
    expect(new Set(report.certificates.map((c) => c.sha256)).size).toBe(report.certificates.length);
    const apiserver = report.certificates.find((c) => c.sha256 === sha256Of(join(clean, 'nodes/cp-1/etc/kubernetes/pki/apiserver.crt')));
    expect(apiserver?.role).toBe('apiserver');
    expect(apiserver?.issuedBy).toEqual([ca?.sha256]);
    expect(apiserver?.keyLocations).toContain(join(clean, 'nodes/cp-1/etc/kubernetes/pki/apiserver.key'));
  });

  it('planted faults: each found with the right file', () => {
    const { code, report } = scanJson(broken);
    expect(code).toBe(1);
    const by = (id: string) => report.findings.filter((f) => f.id === id);
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect([...new Set(errors.map((f) => f.id))].sort()).toEqual([
      'k8s.apiserver.missing-san',
      'k8s.role.kubelet-client-subject',
      'scan.chain.wrong-ca',
      'scan.key.ca-key-on-worker',
      'scan.key.mismatch',
      'scan.kubeconfig.ca-did-not-sign-server',
      'x509.key.rsa-too-small',
      'x509.validity.expired',
    ]);
    // Each planted fault at its file, and nothing else at error level.
    const at = (id: string): string[] => by(id).flatMap((f) => f.locations);
    expect(at('x509.validity.expired')).toEqual([n('worker-1', 'var/lib/kubelet/pki/kubelet.crt')]);
    expect(at('k8s.apiserver.missing-san')).toEqual([n('cp-2', 'etc/kubernetes/pki/apiserver.crt')]);
    expect(by('k8s.apiserver.missing-san')[0]?.why).toContain('10.96.0.1');
    expect(at('x509.key.rsa-too-small')).toEqual([n('cp-1', 'etc/kubernetes/pki/front-proxy-client.crt')]);
    expect(at('k8s.role.kubelet-client-subject')).toEqual([
      expect.stringMatching(new RegExp(`^${n('worker-1', 'etc/kubernetes/kubelet.conf')} \\[users\\[.*\\]\\.client-certificate-data`)),
    ]);
    expect(errors).toHaveLength(8);
    expect(by('scan.key.ca-key-on-worker')[0]?.locations).toEqual([n('worker-1', 'etc/kubernetes/pki/ca.key')]);
    expect(by('scan.key.ca-key-on-worker')[0]?.sha256).toBe(sha256Of(n('cp-1', 'etc/kubernetes/pki/ca.crt')));
    expect(by('scan.key.mismatch')[0]?.locations[0]).toMatch(
      new RegExp(`^${n('cp-1', 'etc/kubernetes/admin.conf')} \\[users\\[.*\\]\\.client-key-data`),
    );
    const kc = by('scan.kubeconfig.ca-did-not-sign-server')[0];
    expect(kc?.sha256).toBe(sha256Of(join(dir, 'rogue.crt')));
    expect(kc?.locations).toEqual([
      expect.stringMatching(/cp-2\/etc\/kubernetes\/admin\.conf \[clusters\[small\]/),
      n('cp-2', 'etc/kubernetes/pki/apiserver.crt'),
    ]);
    const wrong = by('scan.chain.wrong-ca')[0];
    expect(wrong?.sha256).toBe(sha256Of(n('worker-2', 'var/lib/kubelet/pki/kubelet.crt')));
    expect(wrong?.locations).toEqual([n('worker-2', 'var/lib/kubelet/pki/kubelet.crt'), n('worker-2', 'etc/kubernetes/pki/ca.crt')]);
    const same = by('scan.ca.same-name-different-key');
    expect(same).toHaveLength(1);
    expect(same[0]?.severity).toBe('warning');
    for (const f of report.findings) {
      expect(f.why.length).toBeGreaterThan(10);
      expect(f.fix.length).toBeGreaterThan(10);
    }
  });

  it('the table groups by severity; --fail-on warning; yaml; bad input is one line, exit 2', () => {
    const t = cli(['scan', broken]);
    expect(t.code).toBe(1);
    expect(t.stdout.indexOf('ERROR (8)')).toBeGreaterThanOrEqual(0);
    expect(t.stdout.indexOf('ERROR (8)')).toBeLessThan(t.stdout.indexOf('WARNING ('));
    expect(t.stdout).toMatch(/why: +the private key of CA CN=kubernetes is on worker node worker-1/);
    expect(cli(['scan', clean]).code).toBe(0);
    expect(cli(['scan', clean, '--fail-on', 'notice']).code).toBe(1);
    const sarif = JSON.parse(cli(['scan', broken, '-o', 'sarif']).stdout);
    const onWorker = sarif.runs[0].results.find((r: { ruleId: string }) => r.ruleId === 'scan.key.ca-key-on-worker');
    expect(onWorker.level).toBe('error');
    expect(onWorker.locations[0].physicalLocation.artifactLocation.uri).toBe(`file://${n('worker-1', 'etc/kubernetes/pki/ca.key')}`);
    const html = cli(['scan', broken, '-o', 'html']).stdout;
    const json = scanJson(broken).report;
    // One box per certificate, one arrow per verified issuer edge.
    expect(html.match(/<rect /g)).toHaveLength(json.certificates.length);
    expect(html.match(/<line /g)).toHaveLength(json.certificates.reduce((k, x) => k + x.issuedBy.length, 0));
    expect(html).not.toMatch(/<script|\s(src|href)=/i);
    const y = cli(['scan', clean, '-o', 'yaml']);
    expect((parseYaml(y.stdout) as ScanReport).schema).toBe('anchorage.scan/v1');
    for (const bad of [
      ['scan', join(dir, 'nope')],
      ['scan', clean, '-o', 'xml'],
      ['scan', clean, '--fail-on', 'fatal'],
    ]) {
      const r = cli(bad);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

// The control plane's own connections, predicted from the node trees and the components' flags (a kubeadm
// static pod manifest, an etcd manifest, a kubelet config). The oracle of each verdict is openssl verify
// with the same CA file, purpose and host.
describe('control-plane relations: apiserver → etcd, apiserver → kubelet, the front proxy', () => {
  const pki = (tree: string, node: string, f: string): string => join(tree, 'nodes', node, 'etc/kubernetes/pki', f);
  const opensslOk = (ca: string, leaf: string, purpose: 'sslserver' | 'sslclient', host?: string): boolean =>
    spawnSync('openssl', ['verify', '-CAfile', ca, '-purpose', purpose, ...(host ? ['-verify_ip', host] : []), leaf], { encoding: 'utf8' })
      .status === 0;

  it('a clean tree (kubeadm defaults): every relation verifies, as openssl says', () => {
    const { report } = scanJson(clean);
    const rel = (consumer: RegExp, server: RegExp) => report.relations.filter((r) => consumer.test(r.consumer) && server.test(r.server));
    const etcd = rel(/^kube-apiserver on cp-1 \(--etcd-cafile/, /^etcd on cp-1/);
    expect(etcd).toHaveLength(1);
    expect(etcd[0]?.verdict).toBe('ok');
    expect(opensslOk(pki(clean, 'cp-1', 'etcd/ca.crt'), pki(clean, 'cp-1', 'etcd/server.crt'), 'sslserver', '127.0.0.1')).toBe(true);
    expect(rel(/^etcd on cp-2 \(--trusted-ca-file/, /as etcd client/)[0]?.verdict).toBe('ok');
    // The apiserver's kubelet client certificate against every node's kubelet client CA.
    for (const node of ['cp-1', 'cp-2', 'worker-1', 'worker-2'])
      expect(rel(/^kubelet on /, /^kube-apiserver on cp-1 as kubelet client/).map((r) => r.consumer)).toContainEqual(
        expect.stringContaining(`kubelet on ${node} `),
      );
    // kubeadm gives the apiserver no --kubelet-certificate-authority: said, not judged.
    expect(rel(/^kube-apiserver on cp-1$/, /^kubelet on worker-1/)[0]).toMatchObject({ verdict: 'unchecked' });
    expect(rel(/--requestheader-client-ca-file/, /^front proxy client/).map((r) => r.verdict)).toEqual(['ok', 'ok']);
    expect(report.relations.filter((r) => r.verdict === 'fails')).toEqual([]);
  });

  it('flags from a static pod manifest, an etcd manifest and a kubelet config: each wrong CA and name is found', () => {
    const tree = join(dir, 'relations');
    execFileSync('cp', ['-r', clean, tree]);
    const manifests = join(tree, 'nodes', 'cp-1', 'etc/kubernetes/manifests');
    execFileSync('mkdir', ['-p', manifests, join(tree, 'nodes', 'worker-1', 'var/lib/kubelet')]);
    const P = '/etc/kubernetes/pki';
    // kubeadm's manifest shape (one `- --flag=value` line per flag), with three planted mistakes: the cluster CA
    // as --etcd-cafile, a kubelet CA that is the front-proxy CA, an allowed name the proxy client does not carry.
    writeFileSync(
      join(manifests, 'kube-apiserver.yaml'),
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n    - kube-apiserver\n${[
        `--etcd-cafile=${P}/ca.crt`,
        `--etcd-certfile=${P}/apiserver-etcd-client.crt`,
        '--etcd-servers=https://127.0.0.1:2379',
        `--kubelet-client-certificate=${P}/apiserver-kubelet-client.crt`,
        `--kubelet-certificate-authority=${P}/front-proxy-ca.crt`,
        `--proxy-client-cert-file=${P}/front-proxy-client.crt`,
        `--requestheader-client-ca-file=${P}/front-proxy-ca.crt`,
        '--requestheader-allowed-names=aggregator',
      ]
        .map((f) => `    - ${f}`)
        .join('\n')}\n    image: registry.k8s.io/kube-apiserver:v1.36.3\n    name: kube-apiserver\n`,
    );
    writeFileSync(
      join(manifests, 'etcd.yaml'),
      `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - etcd\n    - --cert-file=${P}/etcd/server.crt\n    - --trusted-ca-file=${P}/etcd/ca.crt\n    name: etcd\n`,
    );
    // worker-1's kubelet checks clients against the etcd CA: the apiserver's kubelet client is refused there.
    writeFileSync(
      join(tree, 'nodes', 'worker-1', 'var/lib/kubelet/config.yaml'),
      `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  x509:\n    clientCAFile: ${P}/front-proxy-ca.crt\n`,
    );
    execFileSync('cp', [pki(tree, 'cp-1', 'front-proxy-ca.crt'), pki(tree, 'worker-1', 'front-proxy-ca.crt')]);
    const { report } = scanJson(tree);
    const failing = report.relations.filter((r) => r.verdict === 'fails');
    // What openssl says of the same files.
    expect(opensslOk(pki(tree, 'cp-1', 'ca.crt'), pki(tree, 'cp-1', 'etcd/server.crt'), 'sslserver', '127.0.0.1')).toBe(false);
    expect(opensslOk(pki(tree, 'cp-1', 'etcd/ca.crt'), pki(tree, 'cp-1', 'apiserver-etcd-client.crt'), 'sslclient')).toBe(true);
    expect(opensslOk(pki(tree, 'worker-1', 'front-proxy-ca.crt'), pki(tree, 'cp-1', 'apiserver-kubelet-client.crt'), 'sslclient')).toBe(
      false,
    );
    expect(failing.map((r) => [r.consumer, r.server.replace(/ \(.*$/, '')]).sort()).toEqual(
      [
        [`kube-apiserver on cp-1 (--etcd-cafile ${P}/ca.crt)`, 'etcd on cp-1'],
        // Both apiservers (cp-2 with kubeadm's defaults) call worker-1's kubelet.
        [`kubelet on worker-1 (clientCAFile ${P}/front-proxy-ca.crt)`, 'kube-apiserver on cp-1 as kubelet client'],
        [`kubelet on worker-1 (clientCAFile ${P}/front-proxy-ca.crt)`, 'kube-apiserver on cp-2 as kubelet client'],
        ...['cp-1', 'cp-2', 'worker-1', 'worker-2'].map((node) => [
          `kube-apiserver on cp-1 (--kubelet-certificate-authority ${P}/front-proxy-ca.crt)`,
          `kubelet on ${node}`,
        ]),
        ['kube-apiserver on cp-1 (--requestheader-allowed-names)', 'front proxy client'],
      ].sort(),
    );
    const found = report.findings.filter((f) => f.id === 'scan.relation.handshake-fails');
    expect(found).toHaveLength(failing.length);
    const etcdFinding = found.find((f) => f.why.includes('--etcd-cafile'));
    expect(etcdFinding?.sha256).toBe(sha256Of(pki(tree, 'cp-1', 'etcd/server.crt')));
    expect(etcdFinding?.locations).toEqual([pki(tree, 'cp-1', 'etcd/server.crt'), pki(tree, 'cp-1', 'ca.crt')]);
    expect(found.find((f) => f.why.includes('allowed-names'))?.locations).toEqual([pki(tree, 'cp-1', 'front-proxy-client.crt')]);
    // The manifests are read for their flags, not reported as unreadable inputs.
    expect(report.skipped.filter((x) => /manifests|config\.yaml/.test(x.source))).toEqual([]);
  });

  it("flags read from the cluster's mirror pods come before a manifest among the files; --client-ca-file and --tls-cert-file are judged", () => {
    // The tree of the test above: its kube-apiserver manifest on cp-1 names the cluster CA as --etcd-cafile. The
    // mirror pod (what the apiserver runs with now, src/scan/cluster.ts) names etcd's CA: the pod wins. It names
    // the front-proxy CA as --client-ca-file: every kubeconfig client certificate in the trees fails against it.
    const tree = join(dir, 'relations');
    const P = '/etc/kubernetes/pki';
    const pod = 'kube-system/Pod/kube-apiserver-cp-1[kube-apiserver]';
    const flags = mirrorPodFlags(pod, 'cp-1', [
      '/usr/local/bin/kube-apiserver',
      `--etcd-cafile=${P}/etcd/ca.crt`,
      `--etcd-certfile=${P}/apiserver-etcd-client.crt`,
      '--etcd-servers=https://127.0.0.1:2379',
      '--client-ca-file',
      `${P}/front-proxy-ca.crt`,
      `--tls-cert-file=${P}/apiserver.crt`,
    ]);
    expect(flags?.component).toBe('kube-apiserver');
    expect(flags?.flags.get('client-ca-file')).toBe(`${P}/front-proxy-ca.crt`);
    expect(mirrorPodFlags('kube-system/Pod/coredns-1[coredns]', 'cp-1', ['/coredns', '-conf', '/etc/coredns/Corefile'])).toBeUndefined();
    const inputs = [...walkInputs([tree])].flatMap((f) => (f.error === undefined ? [{ source: f.path, data: f.data }] : []));
    const report = scan(inputs, { now: new Date(), components: [flags as ComponentFlags] });
    const rel = (consumer: RegExp) => report.relations.filter((r) => consumer.test(r.consumer));
    const etcd = rel(/^kube-apiserver on cp-1 \(--etcd-cafile/);
    expect(etcd.map((r) => [r.consumer, r.verdict])).toEqual([[`kube-apiserver on cp-1 (--etcd-cafile ${P}/etcd/ca.crt)`, 'ok']]);
    expect(etcd[0]?.why).toContain(`(flags from ${pod}, `);
    expect(opensslOk(pki(tree, 'cp-1', 'etcd/ca.crt'), pki(tree, 'cp-1', 'etcd/server.crt'), 'sslserver', '127.0.0.1')).toBe(true);
    const clients = rel(/^kube-apiserver on cp-1 \(--client-ca-file /);
    expect(clients.length).toBeGreaterThan(0);
    expect(
      clients.every((r) => r.verdict === 'fails' && r.consumer === `kube-apiserver on cp-1 (--client-ca-file ${P}/front-proxy-ca.crt)`),
    ).toBe(true);
    // cp-2 runs with kubeadm's defaults (ca.crt): the same client certificates verify there.
    const cp2 = rel(/^kube-apiserver on cp-2 \(--client-ca-file /);
    expect(cp2.length).toBe(clients.length);
    expect(cp2.every((r) => r.verdict === 'ok')).toBe(true);
    const admin = clients.find((r) => r.server.startsWith(`kubeconfig user cp-1:/etc/kubernetes/admin.conf`));
    expect(admin).toBeDefined();
    const adminCert = join(dir, 'admin-client.crt');
    const kc = parseYaml(readFileSync(join(tree, 'nodes', 'cp-1', 'etc/kubernetes/admin.conf'), 'utf8')) as {
      users: { user: Record<string, string> }[];
    };
    writeFileSync(adminCert, Buffer.from(kc.users[0]?.user['client-certificate-data'] ?? '', 'base64'));
    expect(opensslOk(pki(tree, 'cp-1', 'front-proxy-ca.crt'), adminCert, 'sslclient')).toBe(false);
    expect(opensslOk(pki(tree, 'cp-1', 'ca.crt'), adminCert, 'sslclient')).toBe(true);
    // Kubeconfig CAs are judged against the certificate at the pod's --tls-cert-file on their node.
    expect(report.relations.filter((r) => /^\S*cp-1\/etc\/kubernetes\/admin\.conf/.test(r.consumer)).map((r) => r.verdict)).toContain('ok');
  });
});

describe('broken-PKI fixtures: scan gives exactly the finding that explains the recorded failure', () => {
  const fixtures = join(root, 'test', 'fixtures', 'broken-pki');
  for (const name of readdirSync(fixtures).sort()) {
    const fixture = JSON.parse(readFileSync(join(fixtures, name, 'failure.json'), 'utf8')) as {
      findings: string[];
      recordedAt: string;
      brokenFiles: string[];
    };
    it(name, () => {
      const { report } = scanJson(join(fixtures, name), '--at', fixture.recordedAt);
      const errors = report.findings.filter((f) => f.severity === 'error');
      expect(errors.map((f) => f.id).sort()).toEqual([...fixture.findings].sort());
      for (const e of errors) expect(e.locations.some((l) => fixture.brokenFiles.some((b) => l.endsWith(b)))).toBe(true);
    });
  }
});
