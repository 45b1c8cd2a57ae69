// What kubeadm puts in every certificate, for one fixed input: read from the tree the real kubeadm
// (v1.36.3, built by test/k8s/build.sh) writes with `kubeadm init phase certs all` + `kubeconfig all`,
// judged by openssl, with each certificate's kubeadm name taken from `kubeadm certs check-expiration` and
// `kubeadm certs renew`. Nothing is transcribed from kubeadm's source. The hard way has no binary to
// ask: its ca.conf profiles are below, transcribed with their typos. Nothing in the product reads this.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KeyUsage } from '../../src/x509/oids.ts';
import { kubeBinDir } from './k8s.ts';

const _ROOT = join(import.meta.dirname, '..', '..');

/**
 * The pinned kubeadm, through the one resolver (test/support/k8s.ts). Call it from a beforeAll (with
 * K8S_BUILD_TIMEOUT_MS), never at import time, so tests that do not need Go never build or wait for it.
 */
export async function kubeadmBinary(): Promise<string> {
  return join(await kubeBinDir(), 'kubeadm');
}

/**
 * Run kubeadm chrooted into `root` (--rootfs): check-expiration and renew read the kubeconfigs from
 * /etc/kubernetes with no flag to move them, so every tree kubeadm looks at is a root of its own.
 * chroot needs root; elsewhere a user namespace gives it (unshare --map-root-user).
 */
export function kubeadm(bin: string, root: string, args: string[]): string {
  const argv = ['--rootfs', root, ...args];
  const r =
    process.getuid?.() === 0
      ? spawnSync(bin, argv, { encoding: 'utf8', timeout: 60_000 })
      : spawnSync('unshare', ['--user', '--map-root-user', bin, ...argv], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubeadm ${argv.join(' ')} exited ${r.status}: ${r.stderr}${r.error ?? ''}`);
  return r.stdout;
}

/** kubeadm's config inside a root (see kubeadm()). */
export const KUBEADM_CONFIG_PATH = '/kubeadm.yaml';

/**
 * `kubeadm certs check-expiration -o <format>` on a node tree (a directory holding etc/kubernetes), for
 * KUBEADM_PARITY_INPUT. The tree is copied to a scratch root beside it (kubeadm needs its config inside
 * the root), so the tree itself is left exactly as it was.
 */
export function kubeadmCheckExpiration(bin: string, nodeTree: string, scratch: string, format = 'text'): string {
  rmSync(scratch, { recursive: true, force: true });
  cpSync(nodeTree, scratch, { recursive: true });
  writeFileSync(join(scratch, KUBEADM_CONFIG_PATH), kubeadmConfig('/etc/kubernetes/pki'));
  return kubeadm(bin, scratch, ['certs', 'check-expiration', '--config', KUBEADM_CONFIG_PATH, '-o', format]);
}

/** The fixed input both sides are given. */
export const KUBEADM_PARITY_INPUT = {
  nodeName: 'cp-1',
  advertiseAddress: '10.0.0.10',
  controlPlaneEndpoint: 'cp.example.com',
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
  certSANs: ['extra.example.com'],
  kubernetesVersion: 'v1.36.3',
  clusterName: 'kubernetes',
  /** kubeadm's default encryptionAlgorithm. */
  keyType: 'rsa-2048',
} as const;

/** KUBEADM_PARITY_INPUT as an Anchorage cluster config. */
export const KUBEADM_PARITY_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
clusterName: kubernetes
controlPlaneEndpoint: cp.example.com
kubernetesVersion: v1.36.3
dnsDomain: cluster.local
serviceCIDR: 10.96.0.0/12
keyAlgorithm: rsa-2048
certSANs: [extra.example.com]
controlPlane: [{name: cp-1, ips: [10.0.0.10]}]
`;

/** KUBEADM_PARITY_INPUT as a kubeadm config whose certificatesDir is `certDir` (an offline config: kubeadm never asks a cluster). */
export function kubeadmConfig(certDir: string, encryptionAlgorithm = 'RSA-2048'): string {
  const I = KUBEADM_PARITY_INPUT;
  return [
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: InitConfiguration',
    `localAPIEndpoint: {advertiseAddress: ${I.advertiseAddress}, bindPort: 6443}`,
    `nodeRegistration: {name: ${I.nodeName}, criSocket: unix:///var/run/containerd/containerd.sock}`,
    '---',
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: ClusterConfiguration',
    `kubernetesVersion: ${I.kubernetesVersion}`,
    `clusterName: ${I.clusterName}`,
    `controlPlaneEndpoint: ${I.controlPlaneEndpoint}`,
    `certificatesDir: ${certDir}`,
    `encryptionAlgorithm: ${encryptionAlgorithm}`,
    `networking: {serviceSubnet: ${I.serviceSubnet}, dnsDomain: ${I.dnsDomain}}`,
    `apiServer: {certSANs: [${I.certSANs.join(', ')}]}`,
    '',
  ].join('\n');
}

// ---- a certificate's profile, as openssl prints it

export interface Profile {
  subjectLine: string;
  cn: string;
  o: string[];
  dns: string[];
  ip: string[];
  keyUsage: string[];
  keyUsageCritical: boolean;
  eku: string[];
  ca: boolean;
  pathLen: number | undefined;
  basicConstraintsCritical: boolean;
  notBefore: Date;
  notAfter: Date;
  keyType: string;
}

const KU_NAMES: Record<string, KeyUsage> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
};
const EKU_NAMES: Record<string, string> = { 'TLS Web Server Authentication': 'serverAuth', 'TLS Web Client Authentication': 'clientAuth' };
const sorted = (a: readonly string[]): string[] => [...a].sort();

/** IPs in one spelling (openssl writes ::1 as 0:0:0:0:0:0:0:1). */
export const normIp = (ip: string): string => (ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip);

function openssl(args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** `openssl x509 -noout -subject -ext subjectAltName,keyUsage,extendedKeyUsage,basicConstraints -dates`, plus the key from -text. */
export function opensslProfile(pemFile: string): Profile {
  const out = openssl([
    'x509',
    '-in',
    pemFile,
    '-noout',
    '-subject',
    '-ext',
    'subjectAltName,keyUsage,extendedKeyUsage,basicConstraints',
    '-dates',
  ]);
  const lines = out.split('\n');
  const subjectLine = lines.find((l) => l.startsWith('subject='))?.trim() ?? '';
  const attrs = subjectLine
    .slice('subject='.length)
    .split(/, | \+ /)
    .map((a) => a.split(' = ') as [string, string]);
  const exts = new Map<string, { critical: boolean; value: string }>();
  lines.forEach((l, i) => {
    const m = /^X509v3 (.+?):( critical)?\s*$/.exec(l);
    if (m?.[1]) exts.set(m[1], { critical: m[2] !== undefined, value: (lines[i + 1] ?? '').trim() });
  });
  const list = (name: string): string[] => (exts.get(name)?.value ?? '').split(', ').filter(Boolean);
  const sans = list('Subject Alternative Name');
  const bc = exts.get('Basic Constraints')?.value ?? '';
  const date = (k: string): Date => new Date(lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? '');
  const text = openssl(['x509', '-in', pemFile, '-noout', '-text']);
  const alg = /Public Key Algorithm: (\S+)/.exec(text)?.[1];
  const bits = /Public-Key: \((\d+) bit\)/.exec(text)?.[1];
  const curve = /NIST CURVE: (\S+)/.exec(text)?.[1];
  return {
    subjectLine,
    cn: attrs.find(([t]) => t === 'CN')?.[1] ?? '',
    o: attrs.filter(([t]) => t === 'O').map(([, v]) => v),
    dns: sorted(sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4))),
    ip: sorted(sans.filter((s) => s.startsWith('IP Address:')).map((s) => normIp(s.slice(11)))),
    keyUsage: sorted(list('Key Usage').map((k) => KU_NAMES[k] ?? k)),
    keyUsageCritical: exts.get('Key Usage')?.critical ?? false,
    eku: sorted(list('Extended Key Usage').map((k) => EKU_NAMES[k] ?? k)),
    ca: bc.startsWith('CA:TRUE'),
    pathLen: /pathlen:(\d+)/.test(bc) ? Number(/pathlen:(\d+)/.exec(bc)?.[1]) : undefined,
    basicConstraintsCritical: exts.get('Basic Constraints')?.critical ?? false,
    notBefore: date('notBefore'),
    notAfter: date('notAfter'),
    keyType:
      alg === 'rsaEncryption' ? `rsa-${bits}` : alg === 'id-ecPublicKey' && curve === 'P-256' ? 'ecdsa-p256' : `${alg}/${bits}/${curve}`,
  };
}

/** The client certificate a kubeconfig embeds, as PEM. */
export function kubeconfigClientCert(path: string): string {
  const kc = parseYaml(readFileSync(path, 'utf8')) as { users?: { user?: Record<string, string> }[] };
  const data = kc.users?.[0]?.user?.['client-certificate-data'];
  if (!data) throw new Error(`${path}: no client-certificate-data`);
  return Buffer.from(data, 'base64').toString('utf8');
}

// ---- kubeadm's tree

/** One certificate in kubeadm's tree: a PEM file, or a kubeconfig that embeds it. */
export interface KubeadmCert {
  /** Where it is on a node (/etc/kubernetes/pki/apiserver.crt, /etc/kubernetes/admin.conf). */
  file: string;
  kind: 'certificate' | 'kubeconfig';
  /** kubeadm's name: the one check-expiration lists it under (for a leaf, the one `certs renew <name>` rewrites it for); '' for kubelet.conf, which kubeadm leaves to the kubelet. */
  name: string;
  mode: number;
  /** Node path of the CA certificate that issued it; its own path when self-signed. */
  issuer: string;
  profile: Profile;
  /** A PEM file holding just this certificate. */
  pem: string;
}

export interface KubeadmTree {
  /** The root kubeadm ran in: etc/kubernetes under it is the node's /etc/kubernetes. */
  root: string;
  /** Just before and just after kubeadm wrote the tree (ms since the epoch). */
  started: number;
  finished: number;
  /** Every certificate kubeadm wrote, CAs first. */
  certs: KubeadmCert[];
  /** Every other file, with its mode: private keys, sa.key and sa.pub. */
  others: { file: string; mode: number }[];
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Run `kubeadm init phase certs all` and `kubeadm init phase kubeconfig all` for KUBEADM_PARITY_INPUT in
 * the root `dir` and read back what they wrote. Names: the CAs and leaves `kubeadm certs check-expiration`
 * lists; each leaf is tied to its file by renewing it alone (`kubeadm certs renew <name>`) and seeing which
 * file changed, and its CA by the caName kubeadm reports for it.
 */
export function kubeadmTree(bin: string, dir: string): KubeadmTree {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, KUBEADM_CONFIG_PATH), kubeadmConfig('/etc/kubernetes/pki'));
  const run = (...args: string[]): string => kubeadm(bin, dir, [...args, '--config', KUBEADM_CONFIG_PATH]);
  const started = Math.floor(Date.now() / 1000) * 1000;
  run('init', 'phase', 'certs', 'all');
  run('init', 'phase', 'kubeconfig', 'all');
  const finished = Date.now();

  const files = walk(join(dir, 'etc', 'kubernetes'));
  const nodePath = (p: string): string => `/${relative(dir, p)}`;
  const pemDir = join(dir, 'pem');
  mkdirSync(pemDir, { recursive: true });
  const certs: KubeadmCert[] = [];
  const others: KubeadmTree['others'] = [];
  for (const p of files) {
    const mode = statSync(p).mode & 0o777;
    const kind = p.endsWith('.crt') ? 'certificate' : p.endsWith('.conf') ? 'kubeconfig' : undefined;
    if (!kind) {
      others.push({ file: nodePath(p), mode });
      continue;
    }
    const pem = join(pemDir, `${certs.length}.pem`);
    writeFileSync(pem, kind === 'certificate' ? readFileSync(p, 'utf8') : kubeconfigClientCert(p));
    certs.push({ file: nodePath(p), kind, name: '', mode, issuer: '', profile: opensslProfile(pem), pem });
  }
  // Issuers: the one CA whose certificate verifies it.
  const cas = certs.filter((c) => c.profile.ca);
  for (const c of certs) {
    const by = cas.filter((ca) => spawnSync('openssl', ['verify', '-partial_chain', '-CAfile', ca.pem, c.pem]).status === 0);
    if (by.length !== 1) throw new Error(`${c.file}: verified by ${by.length} of kubeadm's CAs`);
    c.issuer = (by[0] as KubeadmCert).file;
  }

  // Names, from kubeadm itself.
  const expiration = JSON.parse(run('certs', 'check-expiration', '-o', 'json')) as {
    certificates: { name: string; caName: string }[];
    certificateAuthorities: { name: string }[];
  };
  for (const leaf of expiration.certificates) {
    const before = new Map(files.map((p) => [p, sha(p)]));
    run('certs', 'renew', leaf.name);
    const changed = files.filter((p) => (p.endsWith('.crt') || p.endsWith('.conf')) && sha(p) !== before.get(p));
    if (changed.length !== 1) throw new Error(`kubeadm certs renew ${leaf.name} rewrote ${changed.length} certificates`);
    const c = certs.find((x) => x.file === nodePath(changed[0] as string)) as KubeadmCert;
    c.name = leaf.name;
    const ca = certs.find((x) => x.file === c.issuer) as KubeadmCert;
    if (ca.name && ca.name !== leaf.caName) throw new Error(`${ca.file} is both ${ca.name} and ${leaf.caName}`);
    ca.name = leaf.caName;
  }
  const caNames = sorted(expiration.certificateAuthorities.map((x) => x.name));
  if (sorted(cas.map((c) => c.name)).join() !== caNames.join()) throw new Error(`kubeadm's CAs are ${caNames.join(', ')}`);
  certs.sort((a, b) => Number(b.profile.ca) - Number(a.profile.ca));
  return { root: dir, started, finished, certs, others };
}

/**
 * What Anchorage adds to kubeadm's tree on a control-plane node: the kubelet serving certificate, which
 * kubeadm leaves to the kubelet (self-signed); Anchorage signs it with the cluster CA, with the
 * kubelet-serving signer's rules (O=system:nodes, CN=system:node:<name>, DNS/IP SANs, serverAuth).
 */
export const KUBELET_SERVING = {
  name: 'kubelet-serving',
  file: '/var/lib/kubelet/pki/kubelet.crt',
  issuer: '/etc/kubernetes/pki/ca.crt',
  cn: 'system:node:cp-1',
  o: ['system:nodes'],
  sans: { dns: ['cp-1'], ip: ['10.0.0.10'] },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extKeyUsage: ['serverAuth'],
} as const;

const NONE_SANS = { dns: [], ip: [] } as const;

// ---- Kubernetes the Hard Way (kelseyhightower/kubernetes-the-hard-way ca.conf; kubernetes-pki.md) ----

/** The tutorial's environment, mapped onto an Anchorage config: controller `server`, workers node-0 and node-1. */
export const HARD_WAY_PARITY_INPUT = {
  server: { name: 'server', ip: '10.0.0.10', hostname: 'server.kubernetes.local' },
  workers: [
    { name: 'node-0', ip: '10.0.1.10' },
    { name: 'node-1', ip: '10.0.1.11' },
  ],
  controlPlaneEndpoint: 'server.kubernetes.local:6443',
  serviceCIDR: '10.32.0.0/24',
  certSANs: ['api-server.kubernetes.local'],
  /** ca.conf signs for 3653 days. */
  validity: '3653d',
} as const;

/** HARD_WAY_PARITY_INPUT as an Anchorage cluster config (ECDSA keys to keep tests fast; upstream uses RSA-4096). */
export const HARD_WAY_PARITY_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
layout: hard-way
keyAlgorithm: ecdsa-p256
controlPlaneEndpoint: server.kubernetes.local:6443
serviceCIDR: 10.32.0.0/24
certSANs: [api-server.kubernetes.local]
validity: {ca: 3653d, leaf: 3653d}
controlPlane: [{name: server, ips: [10.0.0.10], hostnames: [server.kubernetes.local]}]
workers: [{name: node-0, ips: [10.0.1.10]}, {name: node-1, ips: [10.0.1.11]}]
`;

export interface HardWayCert {
  name: string;
  /** Node (in HARD_WAY_PARITY_INPUT) and path where the layout keeps it. */
  node: string;
  file: string;
  kind: 'certificate' | 'kubeconfig';
  ca: boolean;
  cn: string;
  /** O exactly as ca.conf writes it, typos included. */
  upstreamO: readonly string[];
  eku: readonly ('serverAuth' | 'clientAuth')[];
  keyUsage: readonly KeyUsage[];
  /** SANs exactly as ca.conf writes them, typos included. */
  upstreamSans: { readonly dns: readonly string[]; readonly ip: readonly string[] };
  /** The upstream typos Anchorage corrects: each `from` must be absent and each `to` present. */
  typoFixes?: readonly { field: 'O' | 'DNS'; from: string; to: string }[];
  /** Other deliberate differences from ca.conf, with the reason. */
  deviations?: readonly { drop?: string; add?: { dns?: readonly string[]; ip?: readonly string[] }; why: string }[];
  /** What Anchorage issues: upstream with the typo fixes and deviations applied (a test checks the derivation). */
  anchorage: { o: readonly string[]; sans: { readonly dns: readonly string[]; readonly ip: readonly string[] } };
}

const HW_LEAF_KU: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment'];
const BOTH = ['clientAuth', 'serverAuth'] as const;
const nodeCert = (n: { name: string; ip: string }): HardWayCert => ({
  name: `kubelet@${n.name}`,
  node: n.name,
  file: '/var/lib/kubelet/kubelet.crt',
  kind: 'certificate',
  ca: false,
  cn: `system:node:${n.name}`,
  upstreamO: ['system:nodes'],
  eku: BOTH,
  keyUsage: HW_LEAF_KU,
  upstreamSans: { dns: [n.name], ip: ['127.0.0.1'] },
  deviations: [{ add: { ip: [n.ip] }, why: "the node's address from the config: the apiserver reaches kubelets by InternalIP" }],
  anchorage: { o: ['system:nodes'], sans: { dns: [n.name], ip: ['127.0.0.1', n.ip] } },
});
const proxyCert = (node: string): HardWayCert => ({
  name: `kube-proxy@${node}`,
  node,
  file: '/var/lib/kube-proxy/kubeconfig',
  kind: 'kubeconfig',
  ca: false,
  cn: 'system:kube-proxy',
  upstreamO: ['system:node-proxier'],
  eku: BOTH,
  keyUsage: HW_LEAF_KU,
  upstreamSans: { dns: ['kube-proxy'], ip: ['127.0.0.1'] },
  anchorage: { o: ['system:node-proxier'], sans: { dns: ['kube-proxy'], ip: ['127.0.0.1'] } },
});

/** ca.conf's profiles (subject C/ST/L attributes are not reproduced: Anchorage writes CN and O only). RSA-4096 upstream; here the config's key algorithm. */
export const HARD_WAY_PARITY: readonly HardWayCert[] = [
  {
    name: 'ca',
    node: 'server',
    file: '/var/lib/kubernetes/ca.crt',
    kind: 'certificate',
    ca: true,
    cn: 'CA',
    upstreamO: [],
    eku: [],
    keyUsage: ['keyCertSign', 'cRLSign'],
    upstreamSans: NONE_SANS,
    anchorage: { o: [], sans: NONE_SANS },
  },
  {
    name: 'kube-api-server',
    node: 'server',
    file: '/var/lib/kubernetes/kube-api-server.crt',
    kind: 'certificate',
    ca: false,
    cn: 'kubernetes',
    upstreamO: [],
    eku: BOTH,
    keyUsage: HW_LEAF_KU,
    upstreamSans: {
      dns: [
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster',
        'kubernetes.svc.cluster.local',
        'server.kubernetes.local',
        'api-server.kubernetes.local',
      ],
      ip: ['127.0.0.1', '10.32.0.1'],
    },
    typoFixes: [{ field: 'DNS', from: 'kubernetes.svc.cluster.local', to: 'kubernetes.default.svc.cluster.local' }],
    deviations: [
      {
        drop: 'kubernetes.default.svc.cluster',
        why: 'a partial name no cluster resolver answers; the FQDN kubernetes.default.svc.<dnsDomain> replaces it',
      },
      { add: { ip: ['10.0.0.10'] }, why: "the controller's address from the config" },
    ],
    anchorage: {
      o: [],
      sans: {
        dns: [
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
          'server.kubernetes.local',
          'api-server.kubernetes.local',
        ],
        ip: ['127.0.0.1', '10.32.0.1', '10.0.0.10'],
      },
    },
  },
  {
    name: 'service-accounts',
    node: 'server',
    file: '/var/lib/kubernetes/service-accounts.crt',
    kind: 'certificate',
    ca: false,
    cn: 'service-accounts',
    upstreamO: [],
    eku: ['clientAuth'],
    keyUsage: HW_LEAF_KU,
    upstreamSans: NONE_SANS,
    anchorage: { o: [], sans: NONE_SANS },
  },
  {
    name: 'kube-controller-manager',
    node: 'server',
    file: '/var/lib/kubernetes/kube-controller-manager.kubeconfig',
    kind: 'kubeconfig',
    ca: false,
    cn: 'system:kube-controller-manager',
    upstreamO: ['system:kube-controller-manager'],
    eku: BOTH,
    keyUsage: HW_LEAF_KU,
    upstreamSans: { dns: ['kube-controller-manager'], ip: ['127.0.0.1'] },
    anchorage: { o: ['system:kube-controller-manager'], sans: { dns: ['kube-controller-manager'], ip: ['127.0.0.1'] } },
  },
  {
    name: 'kube-scheduler',
    node: 'server',
    file: '/var/lib/kubernetes/kube-scheduler.kubeconfig',
    kind: 'kubeconfig',
    ca: false,
    cn: 'system:kube-scheduler',
    upstreamO: ['system:system:kube-scheduler'],
    eku: BOTH,
    keyUsage: HW_LEAF_KU,
    upstreamSans: { dns: ['kube-scheduler'], ip: ['127.0.0.1'] },
    typoFixes: [{ field: 'O', from: 'system:system:kube-scheduler', to: 'system:kube-scheduler' }],
    anchorage: { o: ['system:kube-scheduler'], sans: { dns: ['kube-scheduler'], ip: ['127.0.0.1'] } },
  },
  {
    name: 'admin',
    node: 'server',
    file: '/var/lib/kubernetes/admin.kubeconfig',
    kind: 'kubeconfig',
    ca: false,
    cn: 'admin',
    upstreamO: ['system:masters'],
    eku: ['clientAuth'],
    keyUsage: HW_LEAF_KU,
    upstreamSans: NONE_SANS,
    anchorage: { o: ['system:masters'], sans: NONE_SANS },
  },
  ...HARD_WAY_PARITY_INPUT.workers.flatMap((n) => [nodeCert(n), proxyCert(n.name)]),
];
