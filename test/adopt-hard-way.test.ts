// `pki adopt` on Kubernetes the Hard Way: the node trees `pki init` writes in its hard-way layout, and the
// certificate folder the tutorial's own steps make (openssl with its ca.conf profiles, typos and C/ST/L
// included; kubeconfigs by the real kubectl). Every file's role and node recognised; check-expiration,
// renew and rotate-ca then work on it, renewal keeping each certificate's names and key type (openssl checks).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readKubeconfig } from '../src/k8s/kubeconfig.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { scanPem } from '../src/x509/pem.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';
import { HARD_WAY_PARITY_CONFIG } from './support/kubeadm-parity.ts';
import { tempDirs } from './support/temp.ts';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function ok(args: string[]): string {
  const r = run(args);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.err}${r.out}`);
  return r.out;
}
const tempDir = tempDirs();
const tmp = (p: string) => tempDir(`adopt-hw-${p}-`);

function certOf(path: string): Certificate {
  const text = readFileSync(path, 'latin1');
  if (!text.includes('BEGIN CERTIFICATE')) {
    const e = readKubeconfig(text).embedded.find((x) => x.field === 'client-certificate-data');
    if (!e) throw new Error(`${path}: no client certificate`);
    return new Certificate((scanPem(Buffer.from(e.data).toString('latin1'))[0] as { der: Uint8Array }).der);
  }
  return new Certificate((scanPem(text)[0] as { der: Uint8Array }).der);
}
const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', encoding: 'utf8' });
/** openssl verify of a certificate (or a kubeconfig's) against a CA file. */
function verifies(ca: string, path: string, dir: string): void {
  const leaf = join(dir, 'leaf.pem');
  writeFileSync(leaf, certOf(path).toPem());
  openssl(['verify', '-CAfile', ca, leaf]);
}
/** RFC 2253 subject as openssl prints it (every attribute, in order). */
const subjectOf = (c: Certificate, dir: string): string => {
  const f = join(dir, 'subj.pem');
  writeFileSync(f, c.toPem());
  return openssl(['x509', '-in', f, '-noout', '-subject', '-nameopt', 'RFC2253']).trim();
};

describe('the hard-way node trees `pki init` writes', () => {
  const base = tmp('init');
  const orig = join(base, 'orig');
  const out = join(base, 'adopted');
  beforeAll(() => {
    writeFileSync(join(base, 'cluster.yaml'), HARD_WAY_PARITY_CONFIG);
    ok(['pki', 'init', '--config', join(base, 'cluster.yaml'), '--out', orig]);
  });

  it('adopts every node, every file recognised, the config equivalent to the one they were made from', () => {
    ok(['pki', 'adopt', ...['server', 'node-0', 'node-1'].map((n) => join(orig, 'nodes', n)), '--out', out]);
    const c = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(c).toMatchObject({
      layout: 'hard-way',
      controlPlaneEndpoint: 'server.kubernetes.local:6443',
      keyAlgorithm: 'ecdsa-p256',
      certSANs: ['api-server.kubernetes.local'],
      controlPlane: [{ name: 'server', ips: ['10.0.0.10'] }],
      workers: [
        { name: 'node-0', ips: ['10.0.1.10'] },
        { name: 'node-1', ips: ['10.0.1.11'] },
      ],
      validity: { ca: '87672h', leaf: '87672h' },
    });
    const adopted = JSON.parse(readFileSync(join(out, 'adopted.json'), 'utf8'));
    expect(adopted.differences).toEqual([]);
    expect(adopted.missing).toEqual([]);
    expect(adopted.files.filter((f: { status: string }) => f.status === 'unknown')).toEqual([]);
    // Same certificates, so the same check-expiration for every node as on the directory `pki init` wrote.
    const json = (dir: string) =>
      JSON.parse(ok(['pki', 'check-expiration', '--dir', dir, '--all-nodes', '-o', 'json'])).nodes.map(
        (n: { certificates: object[]; certificateAuthorities: object[] }) => ({
          ...n,
          certificates: n.certificates.map((x) => ({ ...x, residualTime: 0 })),
          certificateAuthorities: n.certificateAuthorities.map((x) => ({ ...x, residualTime: 0 })),
        }),
      );
    expect(json(out)).toEqual(json(orig));
  });

  it('renew all keeps every name; rotate-ca runs through every phase (openssl verifies the result)', () => {
    const r = ok(['pki', 'renew', 'all', '--dir', out]);
    expect(r).toMatch(/renewed 9 certificate/);
    const file = 'nodes/server/var/lib/kubernetes/kube-api-server.crt';
    const renewed = certOf(join(out, file));
    const old = certOf(join(orig, file));
    expect([renewed.subject, renewed.sans, renewed.keyInfo]).toEqual([old.subject, old.sans, old.keyInfo]);
    expect(renewed.serialNumber).not.toBe(old.serialNumber);
    for (let i = 0; i < 4; i++) ok(['pki', 'rotate-ca', 'ca', '--dir', out]);
    const ca = join(out, 'nodes/server/var/lib/kubernetes/ca.crt');
    expect(scanPem(readFileSync(ca, 'latin1'))).toHaveLength(1);
    expect(certOf(ca).sha256).not.toBe(certOf(join(orig, 'nodes/server/var/lib/kubernetes/ca.crt')).sha256);
    for (const f of ['nodes/server/var/lib/kubernetes/kube-api-server.crt', 'nodes/node-1/var/lib/kubelet/kubeconfig'])
      verifies(ca, join(out, f), base);
  });
});

describe("the hard way's own certificate folder: openssl with ca.conf's profiles, kubeconfigs by kubectl", () => {
  const jump = tmp('jumpbox');
  const scratch = tmp('scratch');
  const out = join(tmp('out'), 'adopted');
  const leaves = [
    'admin',
    'node-0',
    'node-1',
    'kube-proxy',
    'kube-scheduler',
    'kube-controller-manager',
    'kube-api-server',
    'service-accounts',
  ];
  const before: Record<string, { subject: string; sans: unknown; key: unknown }> = {};
  beforeAll(async () => {
    const bin = await kubeBinDir();
    writeFileSync(join(jump, 'ca.conf'), caConf());
    // The tutorial's RSA-4096 for the CA and the API server; other sizes and an ECDSA admin on purpose, so that
    // renewal is seen to keep each certificate's own key type (the config's keyAlgorithm is the API server's).
    const keyArgs = (n: string): string[] =>
      n === 'admin'
        ? ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', join(jump, `${n}.key`)]
        : ['genrsa', '-out', join(jump, `${n}.key`), n === 'kube-api-server' ? '4096' : '2048'];
    openssl(['genrsa', '-out', join(jump, 'ca.key'), '4096']);
    openssl([
      'req',
      '-x509',
      '-new',
      '-sha512',
      '-noenc',
      '-key',
      join(jump, 'ca.key'),
      '-days',
      '3653',
      '-config',
      join(jump, 'ca.conf'),
      '-out',
      join(jump, 'ca.crt'),
    ]);
    for (const n of leaves) {
      openssl(keyArgs(n));
      openssl([
        'req',
        '-new',
        '-key',
        join(jump, `${n}.key`),
        '-sha256',
        '-config',
        join(jump, 'ca.conf'),
        '-section',
        n,
        '-out',
        join(jump, `${n}.csr`),
      ]);
      openssl([
        'x509',
        '-req',
        '-days',
        '3653',
        '-in',
        join(jump, `${n}.csr`),
        '-copy_extensions',
        'copyall',
        '-sha256',
        '-CA',
        join(jump, 'ca.crt'),
        '-CAkey',
        join(jump, 'ca.key'),
        '-CAcreateserial',
        '-out',
        join(jump, `${n}.crt`),
      ]);
    }
    const kubectl = (args: string[]) => execFileSync(join(bin, 'kubectl'), args, { cwd: jump, stdio: 'pipe' });
    for (const [kc, user, server] of [
      ['node-0', 'system:node:node-0', 'https://server.kubernetes.local:6443'],
      ['node-1', 'system:node:node-1', 'https://server.kubernetes.local:6443'],
      ['kube-proxy', 'system:kube-proxy', 'https://server.kubernetes.local:6443'],
      ['kube-controller-manager', 'system:kube-controller-manager', 'https://server.kubernetes.local:6443'],
      ['kube-scheduler', 'system:kube-scheduler', 'https://server.kubernetes.local:6443'],
      ['admin', 'admin', 'https://127.0.0.1:6443'],
    ] as const) {
      const f = `--kubeconfig=${kc}.kubeconfig`;
      kubectl([
        'config',
        'set-cluster',
        'kubernetes-the-hard-way',
        '--certificate-authority=ca.crt',
        '--embed-certs=true',
        `--server=${server}`,
        f,
      ]);
      kubectl(['config', 'set-credentials', user, `--client-certificate=${kc}.crt`, `--client-key=${kc}.key`, '--embed-certs=true', f]);
      kubectl(['config', 'set-context', 'default', '--cluster=kubernetes-the-hard-way', `--user=${user}`, f]);
      kubectl(['config', 'use-context', 'default', f]);
    }
    // A stray certificate in the folder: listed as unknown, never silently ignored.
    writeFileSync(join(jump, 'stray.pem'), readFileSync(join(jump, 'ca.crt')));
    for (const n of leaves) {
      const c = certOf(join(jump, `${n}.crt`));
      before[n] = { subject: subjectOf(c, scratch), sans: c.sans, key: c.keyInfo };
    }
  }, K8S_BUILD_TIMEOUT_MS);

  it('check-expiration reads the folder as it is: every node, every certificate', () => {
    const r = JSON.parse(ok(['pki', 'check-expiration', '--dir', jump, '--all-nodes', '-o', 'json']));
    const names = (node: string) =>
      r.nodes.find((n: { node: string }) => n.node === node).certificates.map((c: { name: string }) => c.name);
    expect(names('server')).toEqual(['admin', 'kube-api-server', 'kube-controller-manager', 'kube-scheduler', 'service-accounts']);
    expect(names('node-0')).toEqual(['kube-proxy', 'kubelet']);
    expect(
      r.nodes.flatMap((n: { certificates: { missing: boolean }[] }) => n.certificates).some((c: { missing: boolean }) => c.missing),
    ).toBe(false);
  });

  it("adopt recognises every file's role and node; a worker without an IP is asked for in one line", () => {
    const noIp = run(['pki', 'adopt', jump, '--out', join(jump, '..', 'nope')]);
    expect(noIp.code).toBe(2);
    expect(noIp.err).toMatch(/node server carries no IP .* --node-ip server=IP/);
    ok(['pki', 'adopt', `server@10.0.0.10=${jump}`, '--node-ip', 'node-0=10.0.1.10', '--node-ip', 'node-1=10.0.1.11', '--out', out]);
    const c = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(c).toMatchObject({
      clusterName: 'kubernetes-the-hard-way',
      layout: 'hard-way',
      controlPlaneEndpoint: 'server.kubernetes.local:6443',
      apiServerPort: 6443,
      keyAlgorithm: 'rsa-4096',
      validity: { ca: '87672h', leaf: '87672h' },
      controlPlane: [{ name: 'server', ips: ['10.0.0.10'] }],
      workers: [
        { name: 'node-0', ips: ['10.0.1.10'] },
        { name: 'node-1', ips: ['10.0.1.11'] },
      ],
    });
    const adopted = JSON.parse(readFileSync(join(out, 'adopted.json'), 'utf8'));
    const roles = adopted.files.map(
      (f: { node: string; path: string; id?: string; status: string }) => `${f.node} ${f.path} ${f.id ?? '-'} ${f.status}`,
    );
    expect(roles.sort()).toEqual(
      [
        'server /var/lib/kubernetes/ca.crt ca adopted',
        'server /var/lib/kubernetes/ca.key ca adopted',
        'server /var/lib/kubernetes/kube-api-server.crt kube-api-server@server adopted',
        'server /var/lib/kubernetes/kube-api-server.key kube-api-server@server adopted',
        'server /var/lib/kubernetes/service-accounts.crt service-accounts@server adopted',
        'server /var/lib/kubernetes/service-accounts.key service-accounts@server adopted',
        'server /var/lib/kubernetes/admin.kubeconfig admin@server adopted',
        'server /var/lib/kubernetes/kube-controller-manager.kubeconfig kube-controller-manager@server adopted',
        'server /var/lib/kubernetes/kube-scheduler.kubeconfig kube-scheduler@server adopted',
        'server /jumpbox/stray.pem - unknown',
        ...['node-0', 'node-1'].flatMap((n) => [
          `${n} /var/lib/kubelet/ca.crt ca adopted`,
          `${n} /var/lib/kubelet/kubelet.crt kubelet@${n} adopted`,
          `${n} /var/lib/kubelet/kubelet.key kubelet@${n} adopted`,
          `${n} /var/lib/kubelet/kubeconfig kubelet@${n} adopted`,
          `${n} /var/lib/kube-proxy/kubeconfig kube-proxy@${n} adopted`,
        ]),
      ].sort(),
    );
    // ca.conf's typos and the SANs `pki init` would add are reported, not silently changed.
    expect(adopted.differences.map((d: { id: string }) => d.id).sort()).toEqual(
      ['kube-api-server@server', 'kube-scheduler@server', 'kubelet@node-0', 'kubelet@node-1'].sort(),
    );
    expect(adopted.externalCAs).toEqual([]);
  });

  it('renew all keeps every subject (C, ST, L and the O typo included), SAN and key type; openssl verifies each against the CA', () => {
    const r = ok(['pki', 'renew', 'all', '--dir', out]);
    expect(r).toMatch(/renewed 9 certificate/);
    const where: Record<string, string> = {
      admin: 'server/var/lib/kubernetes/admin.kubeconfig',
      'kube-api-server': 'server/var/lib/kubernetes/kube-api-server.crt',
      'service-accounts': 'server/var/lib/kubernetes/service-accounts.crt',
      'kube-controller-manager': 'server/var/lib/kubernetes/kube-controller-manager.kubeconfig',
      'kube-scheduler': 'server/var/lib/kubernetes/kube-scheduler.kubeconfig',
      'node-0': 'node-0/var/lib/kubelet/kubelet.crt',
      'node-1': 'node-1/var/lib/kubelet/kubeconfig',
      'kube-proxy': 'node-1/var/lib/kube-proxy/kubeconfig',
    };
    for (const n of leaves) {
      const c = certOf(join(out, 'nodes', where[n] as string));
      expect({ n, subject: subjectOf(c, scratch), sans: c.sans, key: c.keyInfo }).toEqual({ n, ...before[n] });
      expect(c.serialNumber).not.toBe(certOf(join(jump, `${n}.crt`)).serialNumber);
      verifies(join(jump, 'ca.crt'), join(out, 'nodes', where[n] as string), scratch);
    }
    expect(before['kube-scheduler']?.subject).toContain('O=system:system:kube-scheduler');
    expect(before.admin?.key).toMatchObject({ algorithm: 'EC', curve: 'P-384' });
  });

  it('rotate-ca runs through every phase; the leaves then verify against the new CA only', () => {
    for (const phase of ['new-ca', 'bundle', 'reissue', 'done'])
      expect(ok(['pki', 'rotate-ca', 'ca', '--dir', out])).toContain(`phase ${phase}`);
    const ca = join(out, 'nodes/server/var/lib/kubernetes/ca.crt');
    expect(scanPem(readFileSync(ca, 'latin1'))).toHaveLength(1);
    expect(certOf(ca).sha256).not.toBe(certOf(join(jump, 'ca.crt')).sha256);
    // The new CA keeps the old one's name (C=US, ST=Washington, L=Seattle, CN=CA).
    expect(subjectOf(certOf(ca), scratch)).toBe(subjectOf(certOf(join(jump, 'ca.crt')), scratch));
    for (const f of [
      'server/var/lib/kubernetes/kube-api-server.crt',
      'node-0/var/lib/kubelet/kubeconfig',
      'server/var/lib/kubernetes/admin.kubeconfig',
    ])
      verifies(ca, join(out, 'nodes', f), scratch);
    expect(subjectOf(certOf(join(out, 'nodes/server/var/lib/kubernetes/kube-scheduler.kubeconfig')), scratch)).toBe(
      before['kube-scheduler']?.subject,
    );
  });
});

/**
 * The tutorial's ca.conf profiles as an openssl config: one CA (C/ST/L/CN), and per certificate its subject
 * (with the scheduler's O typo), CA:FALSE, its EKU, critical digitalSignature+keyEncipherment and its SANs
 * (with the API server's two partial names). Written from the tutorial's published profiles (subjects, usages, SANs), not copied.
 */
function caConf(): string {
  const loc = ['C = US', 'ST = Washington', 'L = Seattle'];
  const leaf = (name: string, subject: string[], eku: string, sans?: string): string =>
    [
      `[${name}]`,
      `distinguished_name = ${name}_dn`,
      'prompt = no',
      `req_extensions = ${name}_ext`,
      `[${name}_ext]`,
      'basicConstraints = CA:FALSE',
      `extendedKeyUsage = ${eku}`,
      'keyUsage = critical, digitalSignature, keyEncipherment',
      ...(sans ? [`subjectAltName = ${sans}`] : []),
      'subjectKeyIdentifier = hash',
      `[${name}_dn]`,
      ...subject,
      '',
    ].join('\n');
  const both = 'clientAuth, serverAuth';
  return [
    '[req]',
    'distinguished_name = ca_dn',
    'prompt = no',
    'x509_extensions = ca_ext',
    '[ca_ext]',
    'basicConstraints = CA:TRUE',
    'keyUsage = cRLSign, keyCertSign',
    '[ca_dn]',
    ...loc,
    'CN = CA',
    '',
    leaf('admin', ['CN = admin', 'O = system:masters'], 'clientAuth'),
    leaf('service-accounts', ['CN = service-accounts'], 'clientAuth'),
    ...['node-0', 'node-1'].map((n) => leaf(n, [`CN = system:node:${n}`, 'O = system:nodes', ...loc], both, `DNS:${n}, IP:127.0.0.1`)),
    leaf('kube-proxy', ['CN = system:kube-proxy', 'O = system:node-proxier', ...loc], both, 'DNS:kube-proxy, IP:127.0.0.1'),
    leaf(
      'kube-controller-manager',
      ['CN = system:kube-controller-manager', 'O = system:kube-controller-manager', ...loc],
      both,
      'DNS:kube-controller-manager, IP:127.0.0.1',
    ),
    leaf(
      'kube-scheduler',
      ['CN = system:kube-scheduler', 'O = system:system:kube-scheduler', ...loc],
      both,
      'DNS:kube-scheduler, IP:127.0.0.1',
    ),
    leaf(
      'kube-api-server',
      ['CN = kubernetes', ...loc],
      both,
      'IP:127.0.0.1, IP:10.32.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster, DNS:kubernetes.svc.cluster.local, DNS:server.kubernetes.local, DNS:api-server.kubernetes.local',
    ),
  ].join('\n');
}
