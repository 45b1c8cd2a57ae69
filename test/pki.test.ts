// End to end: `anchorage pki` as an operator runs it, judged by openssl and by Anchorage's own parser
// and trust engine (verifyChain). Configs are written per test into a temporary directory.
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readKubeconfig } from '../src/k8s/kubeconfig.ts';
import { parseClusterConfig } from '../src/pki/config.ts';
import { buildPlan, type Plan, type PlannedCert } from '../src/pki/plan.ts';
import type { Manifest, ManifestFile } from '../src/pki/store.ts';
import { verifyChain } from '../src/trust/verify.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { nameGetAll } from '../src/x509/name.ts';
import { OID } from '../src/x509/oids.ts';
import { scanPem } from '../src/x509/pem.ts';
import { kubeBinDir } from './cluster/harness.ts';
import {
  HARD_WAY_PARITY,
  HARD_WAY_PARITY_CONFIG,
  KUBEADM_PARITY,
  KUBEADM_PARITY_CONFIG,
  KUBEADM_PARITY_INPUT,
  KUBEADM_SA_FILES,
  type ParityCert,
} from './support/kubeadm-parity.ts';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const tmp = mkdtempSync(join(tmpdir(), 'anchorage-pki-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------- helpers

function cli(args: string[], cwd = tmp): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(node, [main, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(args: string[], cwd = tmp): string {
  const r = cli(args, cwd);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
function ossl(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function osslOk(args: string[], input?: string): string {
  const r = ossl(args, input);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A fresh directory holding `cluster.yaml`; returns [configPath, outDir]. */
function cluster(name: string, yaml: string): { config: string; out: string; dir: string } {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'cluster.yaml');
  writeFileSync(config, yaml);
  return { config, out: join(dir, 'pki'), dir };
}
const planOf = (yaml: string): Plan => buildPlan(parseClusterConfig(yaml));
const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const sorted = (a: readonly string[]): string[] => [...a].sort();
const spkiHash = (k: KeyObject): string => sha256(createPublicKey(k).export({ type: 'spki', format: 'der' }));
const certOf = (pem: string): Certificate => {
  const b = scanPem(pem).find((x) => x.label === 'CERTIFICATE');
  if (!b) throw new Error('no certificate in PEM');
  return new Certificate(b.der);
};
const certsOf = (pem: string): Certificate[] =>
  scanPem(pem)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new Certificate(b.der));
/** IPs in one spelling (openssl writes ::1 as 0:0:0:0:0:0:0:1). */
const normIp = (ip: string): string => (ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Every private key a file holds: PEM blocks, and client-key-data inside kubeconfigs. */
function privateKeysIn(path: string): KeyObject[] {
  const text = readFileSync(path, 'utf8');
  const keys = scanPem(text)
    .filter((b) => b.label.endsWith('PRIVATE KEY'))
    .map((b) => createPrivateKey({ key: Buffer.from(b.der), format: 'der', type: b.label === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs8' }));
  if (/client-key-data:/.test(text))
    for (const e of readKubeconfig(text).embedded.filter((x) => x.field === 'client-key-data'))
      keys.push(createPrivateKey(Buffer.from(e.data).toString('utf8')));
  return keys;
}

function kubeconfigParts(path: string): { cert: string; key: string; ca: string } {
  const kc = readKubeconfig(readFileSync(path, 'utf8'));
  const get = (f: string): string => {
    const e = kc.embedded.find((x) => x.field === f);
    if (!e) throw new Error(`${path}: no ${f}`);
    return Buffer.from(e.data).toString('utf8');
  };
  return { cert: get('client-certificate-data'), key: get('client-key-data'), ca: get('certificate-authority-data') };
}

let scratchN = 0;
/** Write PEM text to a scratch file for openssl. */
function scratch(pem: string): string {
  const dir = join(tmp, 'scratch');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, `${scratchN++}.pem`);
  writeFileSync(p, pem);
  return p;
}

// ---------------------------------------------------------------- a certificate's profile, two ways

interface Profile {
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

const KU_NAMES: Record<string, string> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
};
const EKU_NAMES: Record<string, string> = { 'TLS Web Server Authentication': 'serverAuth', 'TLS Web Client Authentication': 'clientAuth' };

/** `openssl x509 -noout -subject -ext subjectAltName,keyUsage,extendedKeyUsage,basicConstraints -dates`, plus the key from -text. */
function viaOpenssl(pemFile: string): Profile {
  const out = osslOk([
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
  const text = osslOk(['x509', '-in', pemFile, '-noout', '-text']);
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

/** The same profile from Anchorage's own parser. */
function viaParser(c: Certificate): Profile {
  const o = nameGetAll(c.subjectRdns, OID.O);
  const cn = c.commonName ?? '';
  const parts = c.subjectRdns.map((rdn) => rdn.map((a) => `${a.name} = ${a.value}`).join(' + '));
  const k = c.keyInfo;
  return {
    subjectLine: `subject=${parts.join(', ')}`,
    cn,
    o,
    dns: sorted(c.sans.dns),
    ip: sorted(c.sans.ip.map(normIp)),
    keyUsage: sorted(c.keyUsage ?? []),
    keyUsageCritical: c.isCritical(OID.keyUsage),
    eku: sorted(c.extKeyUsage ?? []),
    ca: c.basicConstraints?.ca ?? false,
    pathLen: c.basicConstraints?.pathLen,
    basicConstraintsCritical: c.isCritical(OID.basicConstraints),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    keyType:
      k.algorithm === 'RSA'
        ? `rsa-${k.size}`
        : k.algorithm === 'EC' && k.curve === 'P-256'
          ? 'ecdsa-p256'
          : `${k.algorithm}/${k.size}/${k.curve}`,
  };
}

/** The certificate a node file holds: the PEM itself, or a kubeconfig's embedded client certificate. */
function certFile(path: string, kind: 'certificate' | 'kubeconfig'): { file: string; cert: Certificate } {
  if (kind === 'certificate') return { file: path, cert: certOf(readFileSync(path, 'utf8')) };
  const pem = kubeconfigParts(path).cert;
  return { file: scratch(pem), cert: certOf(pem) };
}

// ---------------------------------------------------------------- trees: leaves, bundles, verification

type Purpose = 'server' | 'client';
interface Leaf {
  node: string;
  path: string;
  id: string;
  signer: string;
  purposes: Purpose[];
  file: string;
  cert: Certificate;
}
interface Bundle {
  node: string;
  path: string;
  ca: string;
  file: string;
  sha: string;
  certs: Certificate[];
}

/** Leaves and trust bundles of a PKI directory (or a snapshot holding nodes/ and manifest.json). */
function collect(dir: string, plan: Plan): { leaves: Leaf[]; bundles: Bundle[]; manifest: Manifest } {
  const manifest = readManifest(dir);
  const byId = new Map(plan.certs.map((p) => [p.id, p]));
  const leaves: Leaf[] = [];
  const bundles: Bundle[] = [];
  const leaf = (f: ManifestFile, pem: string, file: string): void => {
    const p = byId.get(f.role) as PlannedCert;
    const purposes: Purpose[] = [];
    if (p.extKeyUsage.includes('serverAuth')) purposes.push('server');
    if (p.extKeyUsage.includes('clientAuth')) purposes.push('client');
    leaves.push({ node: f.node, path: f.path, id: p.id, signer: p.signer as string, purposes, file, cert: certOf(pem) });
  };
  const bundle = (f: ManifestFile, ca: string, pem: string, file: string): void => {
    bundles.push({ node: f.node, path: f.path, ca, file, sha: sha256(pem), certs: certsOf(pem) });
  };
  for (const f of manifest.files) {
    const path = join(dir, 'nodes', f.node, f.path);
    if (f.kind === 'certificate') leaf(f, readFileSync(path, 'utf8'), path);
    else if (f.kind === 'ca-bundle') bundle(f, f.role, readFileSync(path, 'utf8'), path);
    else if (f.kind === 'kubeconfig') {
      const parts = kubeconfigParts(path);
      leaf(f, parts.cert, scratch(parts.cert));
      bundle(f, (byId.get(f.role) as PlannedCert).signer as string, parts.ca, scratch(parts.ca));
    }
  }
  return { leaves, bundles, manifest };
}

/** Verify each (leaf, bundle) pair for every purpose of the leaf, with openssl and with verifyChain; the failures. */
function verifyPairs(pairs: { leaf: Leaf; bundle: Bundle }[], partialChain: boolean): string[] {
  const failures: string[] = [];
  const groups = new Map<string, { bundle: Bundle; purpose: Purpose; leaves: Leaf[] }>();
  for (const { leaf, bundle } of pairs)
    for (const purpose of leaf.purposes) {
      const key = `${bundle.sha}|${purpose}`;
      const g = groups.get(key) ?? { bundle, purpose, leaves: [] };
      if (!g.leaves.includes(leaf)) g.leaves.push(leaf);
      groups.set(key, g);
    }
  for (const g of groups.values()) {
    const files = [...new Set(g.leaves.map((l) => l.file))];
    const r = ossl([
      'verify',
      '-CAfile',
      g.bundle.file,
      ...(partialChain ? ['-partial_chain'] : []),
      '-purpose',
      g.purpose === 'server' ? 'sslserver' : 'sslclient',
      ...files,
    ]);
    const okLines = new Set(r.stdout.split('\n'));
    for (const l of g.leaves)
      if (!okLines.has(`${l.file}: OK`))
        failures.push(`openssl: ${l.node}:${l.path} as ${g.purpose} against ${g.bundle.node}:${g.bundle.path}: ${r.stderr.trim()}`);
    for (const l of g.leaves) {
      const v = verifyChain({ leaf: l.cert, anchors: g.bundle.certs, purpose: g.purpose });
      if (!v.trusted)
        failures.push(
          `verifyChain: ${l.node}:${l.path} as ${g.purpose} against ${g.bundle.node}:${g.bundle.path}: ${v.reasons.join('; ')}`,
        );
    }
  }
  return failures;
}

/** Every leaf against the bundles of its own node for its signer. */
function verifyTree(dir: string, plan: Plan, partialChain: boolean): { failures: string[]; pairs: number } {
  const { leaves, bundles } = collect(dir, plan);
  const pairs: { leaf: Leaf; bundle: Bundle }[] = [];
  const failures: string[] = [];
  for (const leaf of leaves) {
    const own = bundles.filter((b) => b.node === leaf.node && b.ca === leaf.signer);
    if (own.length === 0) failures.push(`${leaf.node}:${leaf.path}: no bundle of ${leaf.signer} on its node`);
    for (const bundle of own) pairs.push({ leaf, bundle });
  }
  return { failures: [...failures, ...verifyPairs(pairs, partialChain)], pairs: pairs.length };
}

/** Every leaf of `ca` in `leafDir` against every bundle of `ca` on every node of `bundleDir`. */
function verifyCrossed(leafDir: string, bundleDir: string, plan: Plan, ca: string): { failures: string[]; pairs: number } {
  const leaves = collect(leafDir, plan).leaves.filter((l) => l.signer === ca);
  const bundles = collect(bundleDir, plan).bundles.filter((b) => b.ca === ca);
  const pairs = leaves.flatMap((leaf) => bundles.map((bundle) => ({ leaf, bundle })));
  return { failures: verifyPairs(pairs, true), pairs: pairs.length };
}

/** A copy of the node trees and manifest as they are now. */
function snapshot(out: string, label: string): string {
  const to = join(tmp, 'snapshots', label);
  cpSync(join(out, 'nodes'), join(to, 'nodes'), { recursive: true });
  cpSync(join(out, 'manifest.json'), join(to, 'manifest.json'));
  return to;
}

/** Contents of every file under a directory, by relative path. */
function contents(dir: string): Map<string, string> {
  return new Map(walk(dir).map((p) => [p.slice(dir.length), readFileSync(p, 'latin1')]));
}

const shaByFile = (m: Manifest): Map<string, string> => new Map(m.files.map((f) => [`${f.node}:${f.path}`, f.sha256]));
function changedFiles(a: Manifest, b: Manifest): string[] {
  const before = shaByFile(a);
  const after = shaByFile(b);
  expect(sorted([...after.keys()])).toEqual(sorted([...before.keys()]));
  return sorted([...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k));
}

// ================================================================= 1. kubeadm parity

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

describe('kubeadm layout: field-by-field parity with the kubeadm table (RSA-2048)', () => {
  const c = cluster('kubeadm', KUBEADM_PARITY_CONFIG);
  let t0 = 0;
  let t1 = 0;
  beforeAll(() => {
    t0 = Math.floor(Date.now() / 1000) * 1000;
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    t1 = Date.now();
  });
  const subjectLine = (row: ParityCert): string =>
    `subject=${[...(row.o.length ? [row.o.map((o) => `O = ${o}`).join(' + ')] : []), `CN = ${row.cn}`].join(', ')}`;

  it.each(KUBEADM_PARITY.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const { file, cert } = certFile(join(c.out, 'nodes', 'cp-1', row.file), row.kind);
    const expected: Omit<Profile, 'notBefore' | 'notAfter'> = {
      subjectLine: subjectLine(row),
      cn: row.cn,
      o: [...row.o],
      dns: sorted(row.sans.dns),
      ip: sorted(row.sans.ip.map(normIp)),
      keyUsage: sorted(row.keyUsage),
      keyUsageCritical: true,
      eku: sorted(row.extKeyUsage),
      ca: row.basicConstraints.ca,
      pathLen: undefined,
      basicConstraintsCritical: true,
      keyType: row.keyType,
    };
    for (const got of [viaOpenssl(file), viaParser(cert)]) {
      const { notBefore, notAfter, ...rest } = got;
      expect(rest).toEqual(expected);
      // NotBefore = issuance - 5 min; NotAfter = issuance + validity (certlist.go GetConfig, kubeconfig.go).
      expect(notBefore.getTime()).toBeGreaterThanOrEqual(t0 - row.backdateSeconds * 1000);
      expect(notBefore.getTime()).toBeLessThanOrEqual(t1 - row.backdateSeconds * 1000);
      expect(notAfter.getTime() - notBefore.getTime()).toBe((row.validityHours * 3600 + row.backdateSeconds) * 1000);
    }
    // Issued by the table's signer (or self-signed), with its key.
    const signerRow = KUBEADM_PARITY.find((r) => r.name === (row.signer ?? row.name)) as ParityCert;
    const signer = certOf(readFileSync(join(c.out, 'nodes', 'cp-1', signerRow.file), 'utf8'));
    expect(Buffer.from(cert.issuerRaw).equals(Buffer.from(signer.subjectRaw))).toBe(true);
    expect(cert.verifiedBy(signer.publicKey)).toBe(true);
    expect(osslOk(['x509', '-in', file, '-noout', '-issuer']).trim()).toBe(`issuer=CN = ${signerRow.cn}`);
  });

  it('writes no certificate the table does not list on cp-1', () => {
    const m = readManifest(c.out);
    const certFiles = m.files.filter((f) => ['certificate', 'ca-bundle', 'kubeconfig'].includes(f.kind)).map((f) => f.path);
    expect(sorted(certFiles)).toEqual(sorted(KUBEADM_PARITY.map((r) => r.file)));
    expect(m.nodes).toEqual([{ name: 'cp-1', roles: ['control-plane', 'etcd'] }]);
  });

  it('writes the service-account key pair in the cluster key type, no certificate', () => {
    const key = join(c.out, 'nodes', 'cp-1', KUBEADM_SA_FILES.key);
    const pub = readFileSync(join(c.out, 'nodes', 'cp-1', KUBEADM_SA_FILES.pub), 'utf8');
    expect(osslOk(['pkey', '-in', key, '-pubout'])).toBe(pub);
    expect(osslOk(['pkey', '-in', key, '-noout', '-text'])).toMatch(/^Private-Key: \(2048 bit, 2 primes\)/);
    expect(createPublicKey(pub).asymmetricKeyType).toBe('rsa');
  });
});

// ================================================================= 1b. against the real kubeadm

/** kubeadm from test/k8s/build.sh's cache (or $ANCHORAGE_KUBEADM), only when already built: this test never builds it. */
// The pinned kubeadm (test/k8s): built by `npm test`'s pretest, a cache hit here.
const kubeadm = join(kubeBinDir(), 'kubeadm');

describe('kubeadm layout: field by field against `kubeadm init phase certs/kubeconfig all`', () => {
  const I = KUBEADM_PARITY_INPUT;
  const ours = cluster('vs-kubeadm', KUBEADM_PARITY_CONFIG);
  const theirs = join(ours.dir, 'kubeadm');
  const certDir = join(theirs, 'pki');
  const kubeconfigDir = join(theirs, 'kubeconfig');
  beforeAll(() => {
    mkdirSync(theirs, { recursive: true });
    const config = join(theirs, 'kubeadm.yaml');
    writeFileSync(
      config,
      [
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
        'encryptionAlgorithm: RSA-2048',
        `networking: {serviceSubnet: ${I.serviceSubnet}, dnsDomain: ${I.dnsDomain}}`,
        `apiServer: {certSANs: [${I.certSANs.join(', ')}]}`,
        '',
      ].join('\n'),
    );
    for (const args of [
      ['init', 'phase', 'certs', 'all', '--config', config],
      ['init', 'phase', 'kubeconfig', 'all', '--config', config, '--kubeconfig-dir', kubeconfigDir],
    ]) {
      const r = spawnSync(kubeadm as string, args, { cwd: theirs, encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`kubeadm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    }
    ok(['pki', 'init', '--config', ours.config, '--out', ours.out]);
  });
  const theirPath = (file: string): string =>
    file.startsWith('/etc/kubernetes/pki/')
      ? join(certDir, file.slice('/etc/kubernetes/pki/'.length))
      : join(kubeconfigDir, file.slice('/etc/kubernetes/'.length));
  /** Everything but keys, serials and dates. */
  const comparable = (p: Profile): Omit<Profile, 'notBefore' | 'notAfter'> => {
    const { notBefore: _b, notAfter: _a, ...rest } = p;
    return rest;
  };

  it.each(KUBEADM_PARITY.filter((r) => !r.notKubeadm).map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const mine = certFile(join(ours.out, 'nodes', I.nodeName, row.file), row.kind);
    const real = certFile(theirPath(row.file), row.kind);
    expect(comparable(viaOpenssl(mine.file))).toEqual(comparable(viaOpenssl(real.file)));
    expect(comparable(viaParser(mine.cert))).toEqual(comparable(viaParser(real.cert)));
    // And both are what the table says.
    expect(viaParser(real.cert).o).toEqual(row.o);
    expect(viaParser(real.cert).dns).toEqual(sorted(row.sans.dns));
  });

  it('writes the same PKI files and the same kubeconfig clusters, users, contexts and servers', () => {
    const mine = join(ours.out, 'nodes', I.nodeName, 'etc', 'kubernetes');
    expect(sorted(walk(certDir).map((p) => p.slice(certDir.length)))).toEqual(
      sorted(walk(join(mine, 'pki')).map((p) => p.slice(join(mine, 'pki').length))),
    );
    const shape = (path: string): unknown => {
      const kc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
      const strip = (v: unknown): unknown =>
        Array.isArray(v)
          ? v.map(strip)
          : v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k.endsWith('-data') ? '<data>' : strip(x)]))
            : v;
      return strip(kc);
    };
    for (const f of ['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf']) {
      // Ours also writes an empty `preferences: {}` (client-go omits it): the same document for any reader.
      const { preferences, ...rest } = shape(join(mine, f)) as Record<string, unknown>;
      expect(preferences ?? {}).toEqual({});
      expect(rest).toEqual(shape(join(kubeconfigDir, f)));
    }
    expect(osslOk(['pkey', '-in', join(certDir, 'sa.key'), '-noout', '-text']).split('\n')[0]).toBe(
      osslOk(['pkey', '-in', join(mine, 'pki', 'sa.key'), '-noout', '-text']).split('\n')[0],
    );
  });
});

// ================================================================= 2. hard-way parity

describe('hard-way layout: parity with ca.conf, minus its two typos', () => {
  const c = cluster('hard-way', HARD_WAY_PARITY_CONFIG);
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
  });

  it.each(HARD_WAY_PARITY.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const { file, cert } = certFile(join(c.out, 'nodes', row.node, row.file), row.kind);
    for (const got of [viaOpenssl(file), viaParser(cert)]) {
      expect(got.cn).toBe(row.cn);
      expect(got.o).toEqual(row.anchorage.o);
      expect(got.dns).toEqual(sorted(row.anchorage.sans.dns));
      expect(got.ip).toEqual(sorted(row.anchorage.sans.ip.map(normIp)));
      expect(got.eku).toEqual(sorted(row.eku));
      expect(got.keyUsage).toEqual(sorted(row.keyUsage));
      expect(got.keyUsageCritical).toBe(true);
      expect(got.ca).toBe(row.ca);
      expect(got.notAfter.getTime() - got.notBefore.getTime()).toBe((3653 * 86400 + 300) * 1000);
      // ca.conf typos are absent, their corrections present.
      for (const t of row.typoFixes ?? []) {
        const values = t.field === 'O' ? got.o : got.dns;
        expect(values).not.toContain(t.from);
        expect(values).toContain(t.to);
      }
    }
  });

  it('no certificate anywhere in the tree carries either upstream typo', () => {
    const texts = walk(join(c.out, 'nodes'))
      .filter((p) => p.endsWith('.crt') || p.endsWith('kubeconfig'))
      .map((p) => (p.endsWith('.crt') ? p : scratch(kubeconfigParts(p).cert)))
      .map((p) => osslOk(['x509', '-in', p, '-noout', '-subject', '-ext', 'subjectAltName']));
    // ca.crt on each of the 3 nodes, 4 other certificates, 7 kubeconfigs.
    expect(texts).toHaveLength(3 + 4 + 7);
    const all = texts.join('\n');
    expect(all).not.toContain('system:system:kube-scheduler');
    expect(all).not.toContain('DNS:kubernetes.svc.cluster.local');
    expect(all).toContain('O = system:kube-scheduler');
    expect(all).toContain('DNS:kubernetes.default.svc.cluster.local');
  });

  it('every leaf verifies against the CA bundle of its node', () => {
    const r = verifyTree(c.out, planOf(HARD_WAY_PARITY_CONFIG), false);
    expect(r.failures).toEqual([]);
    // server: 5 leaves x (ca.crt + 3 kubeconfig CA data); each worker: 3 leaves x (ca.crt + 2 kubeconfig CA data).
    expect(r.pairs).toBe(5 * 4 + 2 * 3 * 3);
  });
});

// ================================================================= 3. tree and manifest

const TREE_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
clusterName: tree
controlPlaneEndpoint: cp.example.com:6443
keyAlgorithm: ecdsa-p256
rootCA: {enabled: true, commonName: Tree Root CA}
encryptionAtRest: {enabled: true}
controlPlane: [{name: cp-1, ips: [10.0.0.11]}, {name: cp-2, ips: [10.0.0.12]}]
workers: [{name: w-1, ips: [10.0.1.1]}, {name: w-2, ips: [10.0.1.2]}]
`;

describe('tree and manifest', () => {
  const c = cluster('tree', TREE_CONFIG);
  const plan = planOf(TREE_CONFIG);
  let manifest: Manifest;
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    manifest = readManifest(c.out);
  });
  const storeCert = (id: string): Certificate => certOf(readFileSync(join(c.out, 'store', `${id}.crt`), 'utf8'));

  it('every manifest file exists with the stated mode and SHA-256, and nothing else is in the trees', () => {
    expect(manifest.files).toHaveLength(plan.files.length);
    for (const f of manifest.files) {
      const p = join(c.out, 'nodes', f.node, f.path);
      expect(`${f.node}:${f.path} ${(statSync(p).mode & 0o777).toString(8)} ${sha256(readFileSync(p))}`).toBe(
        `${f.node}:${f.path} ${f.mode.slice(1)} ${f.sha256}`,
      );
    }
    expect(sorted(walk(join(c.out, 'nodes')))).toEqual(sorted(manifest.files.map((f) => join(c.out, 'nodes', f.node, f.path))));
  });

  it('private keys, kubeconfigs and the encryption config are 0600; certificates 0644', () => {
    const modes = new Map<string, Set<string>>();
    for (const f of manifest.files) modes.set(f.kind, (modes.get(f.kind) ?? new Set()).add(f.mode));
    expect(Object.fromEntries([...modes].map(([k, v]) => [k, [...v]]))).toEqual({
      'ca-bundle': ['0644'],
      certificate: ['0644'],
      'private-key': ['0600'],
      'public-key': ['0644'],
      kubeconfig: ['0600'],
      'encryption-config': ['0600'],
    });
    for (const p of walk(join(c.out, 'nodes'))) if (privateKeysIn(p).length) expect(statSync(p).mode & 0o777).toBe(0o600);
    for (const p of walk(join(c.out, 'store')))
      if (p.endsWith('.key') || p.endsWith('encryption-key')) expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(statSync(join(c.out, 'store')).mode & 0o777).toBe(0o700);
  });

  it('no CA private key is in a worker tree; the offline root key is only in DIR/store', () => {
    const caSpki = new Map(['ca', 'front-proxy-ca', 'etcd-ca', 'root-ca'].map((id) => [sha256(storeCert(id).spki), id]));
    const holders = (dir: string): string[] =>
      walk(dir).flatMap((p) =>
        privateKeysIn(p)
          .map((k) => caSpki.get(spkiHash(k)))
          .filter((id): id is string => id !== undefined)
          .map((id) => `${id} in ${p.slice(c.out.length)}`),
      );
    expect(holders(join(c.out, 'nodes', 'w-1'))).toEqual([]);
    expect(holders(join(c.out, 'nodes', 'w-2'))).toEqual([]);
    expect(sorted(holders(join(c.out, 'nodes', 'cp-1')))).toEqual([
      'ca in /nodes/cp-1/etc/kubernetes/pki/ca.key',
      'etcd-ca in /nodes/cp-1/etc/kubernetes/pki/etcd/ca.key',
      'front-proxy-ca in /nodes/cp-1/etc/kubernetes/pki/front-proxy-ca.key',
    ]);
    expect(holders(c.out).filter((h) => h.startsWith('root-ca '))).toEqual(['root-ca in /store/root-ca.key']);
    // The root certificate itself is not needed on nodes either: the bundles hold the cluster CAs.
    const rootSha = storeCert('root-ca').sha256;
    const { bundles } = collect(c.out, plan);
    expect(bundles.flatMap((b) => b.certs).some((x) => x.sha256 === rootSha)).toBe(false);
  });

  it("every kubeconfig's client certificate matches its key and chains to its CA data", () => {
    const kubeconfigs = manifest.files.filter((f) => f.kind === 'kubeconfig');
    // admin, controller-manager, scheduler, kubelet on both control-plane nodes, super-admin on cp-1, kubelet on each worker.
    expect(kubeconfigs).toHaveLength(2 * 4 + 1 + 2);
    for (const f of kubeconfigs) {
      const parts = kubeconfigParts(join(c.out, 'nodes', f.node, f.path));
      const certPem = scratch(parts.cert);
      const keyPem = scratch(parts.key);
      expect(osslOk(['x509', '-in', certPem, '-noout', '-pubkey'])).toBe(osslOk(['pkey', '-in', keyPem, '-pubout']));
      expect(spkiHash(createPrivateKey(parts.key))).toBe(sha256(certOf(parts.cert).spki));
      expect(osslOk(['verify', '-partial_chain', '-purpose', 'sslclient', '-CAfile', scratch(parts.ca), certPem]).trim()).toBe(
        `${certPem}: OK`,
      );
      expect(certsOf(parts.ca).map((x) => x.sha256)).toEqual([storeCert('ca').sha256]);
    }
  });

  it("every leaf on every node verifies against that node's CA bundles, for its purpose", () => {
    const r = verifyTree(c.out, plan, true);
    expect(r.failures).toEqual([]);
    // Leaves x bundles of their signer on their node. cp-1: 8 of ca (apiserver, apiserver-kubelet-client, kubelet serving,
    // 5 kubeconfigs) x 6 (ca.crt + 5 kubeconfig CA data), 1 x 1 of front-proxy-ca, 4 x 1 of etcd-ca; cp-2: 7 x 5 + 1 + 4;
    // each worker: 2 x 2.
    expect(r.pairs).toBe(8 * 6 + 1 + 4 + (7 * 5 + 1 + 4) + 2 * (2 * 2));
  });

  it('the cluster CAs chain to the offline root: full path verification, no partial chain', () => {
    const { leaves, bundles } = collect(c.out, plan);
    const rootFile = join(c.out, 'store', 'root-ca.crt');
    for (const ca of ['ca', 'front-proxy-ca', 'etcd-ca']) {
      const bundle = bundles.find((b) => b.node === 'cp-1' && b.ca === ca && b.path.startsWith('/etc/kubernetes/pki/')) as Bundle;
      const files = leaves.filter((l) => l.node === 'cp-1' && l.signer === ca).map((l) => l.file);
      expect(files.length).toBeGreaterThan(0);
      const out = osslOk(['verify', '-CAfile', rootFile, '-untrusted', bundle.file, ...files]);
      expect(out.trim().split('\n')).toEqual(files.map((f) => `${f}: OK`));
      expect(ossl(['verify', '-CAfile', bundle.file, files[0] as string]).code).not.toBe(0);
    }
    expect(viaOpenssl(join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki/ca.crt'))).toMatchObject({ ca: true, pathLen: 0, cn: 'kubernetes' });
  });

  it('the purpose is checked: a client certificate is no server, a server certificate no client', () => {
    const { leaves, bundles } = collect(c.out, plan);
    const bundle = bundles.find((b) => b.node === 'cp-1' && b.path === '/etc/kubernetes/pki/ca.crt') as Bundle;
    const client = leaves.find((l) => l.id === 'apiserver-kubelet-client@cp-1') as Leaf;
    const server = leaves.find((l) => l.id === 'apiserver@cp-1') as Leaf;
    expect(verifyPairs([{ leaf: { ...client, purposes: ['server'] }, bundle }], true)).toHaveLength(2);
    expect(verifyPairs([{ leaf: { ...server, purposes: ['client'] }, bundle }], true)).toHaveLength(2);
  });

  it('sa.key and sa.pub are one pair, the same on every control-plane node', () => {
    const pubs = ['cp-1', 'cp-2'].map((n) => {
      const dir = join(c.out, 'nodes', n, 'etc/kubernetes/pki');
      const pub = readFileSync(join(dir, 'sa.pub'), 'utf8');
      expect(osslOk(['pkey', '-in', join(dir, 'sa.key'), '-pubout'])).toBe(pub);
      return pub;
    });
    expect(pubs[0]).toBe(pubs[1]);
    expect(existsSync(join(c.out, 'nodes', 'w-1', 'etc/kubernetes/pki/sa.key'))).toBe(false);
  });
});

// ================================================================= 4. idempotence

const IDEM_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
controlPlaneEndpoint: cp.example.com
keyAlgorithm: ecdsa-p256
controlPlane: [{name: cp-1, ips: [10.0.0.10]}]
workers: [{name: w-1, ips: [10.0.1.1]}, {name: w-2, ips: [10.0.1.2]}]
`;

interface InitSummary {
  issued: number;
  reissued: number;
  kept: number;
  external: number;
  decisions: { id: string; action: string; reason?: string }[];
}
const initJson = (config: string, out: string, ...extra: string[]): InitSummary =>
  JSON.parse(ok(['pki', 'init', '--config', config, '--out', out, '-o', 'json', ...extra])) as InitSummary;
const notKept = (s: InitSummary): InitSummary['decisions'] => s.decisions.filter((d) => d.action !== 'kept');

describe('idempotence', () => {
  const c = cluster('idem', IDEM_CONFIG);
  const plan = planOf(IDEM_CONFIG);
  beforeAll(() => {
    initJson(c.config, c.out);
  });

  it('a second init keeps everything: no byte of the store or the trees changes', () => {
    const before = readManifest(c.out);
    const nodes = contents(join(c.out, 'nodes'));
    const store = contents(join(c.out, 'store'));
    const s = initJson(c.config, c.out);
    expect([s.issued, s.reissued, s.kept, s.external]).toEqual([0, 0, plan.certs.length, 0]);
    expect(changedFiles(before, readManifest(c.out))).toEqual([]);
    expect(contents(join(c.out, 'nodes'))).toEqual(nodes);
    expect(contents(join(c.out, 'store'))).toEqual(store);
  });

  it('deleting one leaf from the store re-creates only it', () => {
    const before = readManifest(c.out);
    rmSync(join(c.out, 'store', 'apiserver@cp-1.crt'));
    const s = initJson(c.config, c.out);
    expect(notKept(s)).toEqual([{ id: 'apiserver@cp-1', action: 'issued', reason: 'missing' }]);
    expect(changedFiles(before, readManifest(c.out))).toEqual([
      'cp-1:/etc/kubernetes/pki/apiserver.crt',
      'cp-1:/etc/kubernetes/pki/apiserver.key',
    ]);
  });

  it("changing a worker's IP re-issues only that worker's kubelet serving certificate", () => {
    const before = readManifest(c.out);
    const moved = cluster('idem-moved', IDEM_CONFIG.replace('10.0.1.1]', '10.0.1.99]'));
    const s = initJson(moved.config, c.out);
    expect(notKept(s)).toEqual([{ id: 'kubelet-serving@w-1', action: 'reissued', reason: 'SANs differ from the plan' }]);
    expect(changedFiles(before, readManifest(c.out))).toEqual([
      'w-1:/var/lib/kubelet/pki/kubelet.crt',
      'w-1:/var/lib/kubelet/pki/kubelet.key',
    ]);
    expect(viaOpenssl(join(c.out, 'nodes', 'w-1', 'var/lib/kubelet/pki/kubelet.crt')).ip).toEqual(['10.0.1.99']);
    // Back to the original config: again only that certificate.
    expect(notKept(initJson(c.config, c.out)).map((d) => d.id)).toEqual(['kubelet-serving@w-1']);
  });

  it('--force re-issues every certificate, key and secret', () => {
    const before = readManifest(c.out);
    const s = initJson(c.config, c.out, '--force');
    expect(s.decisions).toHaveLength(plan.certs.length);
    expect(s.decisions.every((d) => d.action === 'reissued' && d.reason === 'forced')).toBe(true);
    expect(changedFiles(before, readManifest(c.out))).toEqual(sorted([...shaByFile(before).keys()]));
    expect(verifyTree(c.out, plan, false).failures).toEqual([]);
  });
});

describe('external CA: the cluster CA given without its key', () => {
  const c = cluster(
    'external',
    `${IDEM_CONFIG}externalCA: {ca: ext-ca.crt}
`,
  );
  const plan = planOf(readFileSync(c.config, 'utf8'));
  let summary: InitSummary;
  beforeAll(() => {
    osslOk([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(c.dir, 'ext-ca.key'),
      '-out',
      join(c.dir, 'ext-ca.crt'),
      '-subj',
      '/CN=External Kubernetes CA',
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,digitalSignature',
    ]);
    rmSync(join(c.dir, 'ext-ca.key'));
    summary = initJson(c.config, c.out);
  });

  it('keeps the given certificate, no key anywhere, and issues nothing it signs', () => {
    const given = certOf(readFileSync(join(c.dir, 'ext-ca.crt'), 'utf8'));
    expect(certOf(readFileSync(join(c.out, 'store', 'ca.crt'), 'utf8')).sha256).toBe(given.sha256);
    expect(existsSync(join(c.out, 'store', 'ca.key'))).toBe(false);
    const signedByExternal = plan.certs.filter((p) => p.signer === 'ca').map((p) => p.id);
    // cp-1: apiserver, apiserver-kubelet-client, 5 kubeconfigs, kubelet serving; each worker: kubelet.conf, kubelet serving.
    expect(signedByExternal).toHaveLength(8 + 2 * 2);
    expect(sorted(summary.decisions.filter((d) => d.action === 'external').map((d) => d.id))).toEqual(sorted(['ca', ...signedByExternal]));
    expect(summary.decisions.filter((d) => d.action !== 'external').every((d) => d.action === 'issued')).toBe(true);
    // No certificate in the store or on a node is issued by the external CA; its bundle is on every node.
    const everything = walk(c.out).filter((p) => /\.(crt|conf)$/.test(p) || p.endsWith('kubeconfig'));
    for (const p of everything)
      for (const x of p.endsWith('.conf') ? [certOf(kubeconfigParts(p).cert)] : certsOf(readFileSync(p, 'utf8')))
        if (x.sha256 !== given.sha256) expect(`${p}: ${x.issuer}`).not.toContain('External Kubernetes CA');
    for (const n of ['cp-1', 'w-1', 'w-2'])
      expect(readFileSync(join(c.out, 'nodes', n, 'etc/kubernetes/pki/ca.crt'), 'utf8')).toBe(given.toPem());
    expect(walk(join(c.out, 'nodes')).some((p) => p.endsWith('/ca.key') && !p.includes('/etcd/'))).toBe(false);
  });

  it('the plan and check-expiration call it externally managed', () => {
    const p = JSON.parse(ok(['pki', 'plan', '--config', c.config, '-o', 'json'])) as {
      certificates: { id: string; externallyManaged?: boolean }[];
    };
    expect(p.certificates.filter((x) => x.externallyManaged).map((x) => x.id)).toEqual([
      'ca',
      ...plan.certs.filter((x) => x.signer === 'ca').map((x) => x.id),
    ]);
    const text = ok(['pki', 'check-expiration', '--dir', c.out]);
    const ca = text.split('\n').filter((l) => /^(ca|etcd-ca|front-proxy-ca) /.test(l));
    expect(ca).toHaveLength(3);
    expect(ca[0]).toMatch(/^ca {22}\w{3} \d{2}, \d{4} \d{2}:\d{2} UTC {3}9y {14}yes {5}$/);
    expect(ca[1]).toMatch(/^etcd-ca .* no {6}$/);
    expect(ca[2]).toMatch(/^front-proxy-ca .* no {6}$/);
    const json = JSON.parse(ok(['pki', 'check-expiration', '--dir', c.out, '-o', 'json'])) as {
      certificates: { name: string; missing: boolean; externallyManaged: boolean }[];
      certificateAuthorities: { name: string; externallyManaged: boolean }[];
    };
    expect(json.certificateAuthorities.map((x) => [x.name, x.externallyManaged])).toEqual([
      ['ca', true],
      ['etcd-ca', false],
      ['front-proxy-ca', false],
    ]);
    // What the external CA signs and nobody placed: reported missing, as kubeadm does.
    expect(json.certificates.filter((x) => x.missing).map((x) => x.name)).toEqual([
      'admin.conf',
      'apiserver',
      'apiserver-kubelet-client',
      'controller-manager.conf',
      'scheduler.conf',
      'super-admin.conf',
    ]);
  });

  it('a second init changes nothing', () => {
    const before = readManifest(c.out);
    const s = initJson(c.config, c.out);
    expect(s.decisions.filter((d) => d.action === 'issued' || d.action === 'reissued')).toEqual([]);
    expect(changedFiles(before, readManifest(c.out))).toEqual([]);
  });
});

// ================================================================= 5. check-expiration

const CHECK_ROWS = [
  ['admin.conf', 'ca'],
  ['apiserver', 'ca'],
  ['apiserver-etcd-client', 'etcd-ca'],
  ['apiserver-kubelet-client', 'ca'],
  ['controller-manager.conf', 'ca'],
  ['etcd-healthcheck-client', 'etcd-ca'],
  ['etcd-peer', 'etcd-ca'],
  ['etcd-server', 'etcd-ca'],
  ['front-proxy-client', 'front-proxy-ca'],
  ['scheduler.conf', 'ca'],
  ['super-admin.conf', 'ca'],
] as const;

describe('check-expiration', () => {
  const c = cluster('expiry', KUBEADM_PARITY_CONFIG.replace('rsa-2048', 'ecdsa-p256'));
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
  });
  const notAfter = (id: string): Date => certOf(readFileSync(join(c.out, 'store', `${id}.crt`), 'utf8')).notAfter;
  const goDate = (d: Date): string =>
    `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, '0')}, ${d.getUTCFullYear()} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')} UTC`;

  it("text: kubeadm's header lines, row order, date format and residual times", () => {
    const lines = ok(['pki', 'check-expiration', '--dir', c.out]).split('\n');
    expect(lines).toEqual([
      'CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED',
      ...CHECK_ROWS.map(
        ([name, ca]) => `${name.padEnd(27)}${goDate(notAfter(`${name}@cp-1`)).padEnd(25)}${'364d'.padEnd(16)}${ca.padEnd(24)}no      `,
      ),
      '',
      'CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED',
      ...['ca', 'etcd-ca', 'front-proxy-ca'].map((n) => `${n.padEnd(24)}${goDate(notAfter(n)).padEnd(25)}${'9y'.padEnd(16)}no      `),
      '',
    ]);
  });

  it('-o json and -o yaml: CertificateExpirationInfo of output.kubeadm.k8s.io/v1alpha3 with the item fields', () => {
    const t0 = Date.now();
    const json = JSON.parse(ok(['pki', 'check-expiration', '--dir', c.out, '-o', 'json'])) as Record<string, unknown>;
    const yaml = parseYaml(ok(['pki', 'check-expiration', '--dir', c.out, '-o', 'yaml'])) as Record<string, unknown>;
    const t1 = Date.now();
    for (const doc of [json, yaml]) {
      expect(doc.kind).toBe('CertificateExpirationInfo');
      expect(doc.apiVersion).toBe('output.kubeadm.k8s.io/v1alpha3');
      const certs = doc.certificates as Record<string, unknown>[];
      const cas = doc.certificateAuthorities as Record<string, unknown>[];
      const check = (item: Record<string, unknown>, id: string, name: string, caName?: string): void => {
        const na = notAfter(id);
        expect(Object.keys(item).sort()).toEqual(
          sorted(['name', 'expirationDate', 'residualTime', 'externallyManaged', 'missing', ...(caName ? ['caName'] : [])]),
        );
        expect(item).toMatchObject({
          name,
          expirationDate: na.toISOString().replace('.000Z', 'Z'),
          externallyManaged: false,
          missing: false,
          ...(caName ? { caName } : {}),
        });
        expect(item.residualTime).toBeGreaterThanOrEqual(Math.floor((na.getTime() - t1) / 1000));
        expect(item.residualTime).toBeLessThanOrEqual(Math.floor((na.getTime() - t0) / 1000));
      };
      expect(certs.map((x) => x.name)).toEqual(CHECK_ROWS.map(([n]) => n));
      CHECK_ROWS.forEach(([name, ca], i) => {
        check(certs[i] as Record<string, unknown>, `${name}@cp-1`, name, ca);
      });
      expect(cas.map((x) => x.name)).toEqual(['ca', 'etcd-ca', 'front-proxy-ca']);
      for (const x of cas) check(x, x.name as string, x.name as string);
    }
  });

  it('a missing file shows !MISSING! <name>', () => {
    rmSync(join(c.out, 'store', 'apiserver@cp-1.crt'));
    rmSync(join(c.out, 'store', 'apiserver@cp-1.key'));
    const lines = ok(['pki', 'check-expiration', '--dir', c.out]).split('\n');
    expect(lines[2]).toBe(`${'!MISSING! apiserver'.padEnd(27)}${' '.repeat(25 + 16 + 24)}`);
    expect(lines.filter((l) => l.startsWith('!MISSING!'))).toHaveLength(1);
    const json = JSON.parse(ok(['pki', 'check-expiration', '--dir', c.out, '-o', 'json'])) as { certificates: unknown[] };
    expect(json.certificates[1]).toEqual({
      name: 'apiserver',
      expirationDate: null,
      residualTime: 0,
      externallyManaged: false,
      missing: true,
    });
  });

  it('refuses an unknown node in one line', () => {
    const r = cli(['pki', 'check-expiration', '--dir', c.out, '--node', 'nope']);
    expect([r.code, r.stderr.trim().split('\n').length]).toEqual([2, 1]);
    expect(r.stderr).toMatch(/no node 'nope' in this cluster/);
  });
});

// ================================================================= 6. renew

const RENEW_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
controlPlaneEndpoint: cp.example.com
keyAlgorithm: ecdsa-p256
controlPlane: [{name: cp-1, ips: [10.0.0.11]}, {name: cp-2, ips: [10.0.0.12]}]
workers: [{name: w-1, ips: [10.0.1.1]}]
`;

describe('renew', () => {
  const c = cluster('renew', RENEW_CONFIG);
  const plan = planOf(RENEW_CONFIG);
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
  });
  /** Every certificate on every node (PEM files and kubeconfig client certificates) with its key's public hash. */
  function certsNow(): Map<string, { cert: Certificate; keySpki: string | undefined }> {
    const m = readManifest(c.out);
    const out = new Map<string, { cert: Certificate; keySpki: string | undefined }>();
    for (const f of m.files) {
      const p = join(c.out, 'nodes', f.node, f.path);
      if (f.kind === 'certificate') {
        const keyPath = p.replace(/\.crt$/, '.key');
        out.set(`${f.node}:${f.path}`, {
          cert: certOf(readFileSync(p, 'utf8')),
          keySpki: existsSync(keyPath) ? spkiHash(createPrivateKey(readFileSync(keyPath))) : undefined,
        });
      } else if (f.kind === 'kubeconfig') {
        const parts = kubeconfigParts(p);
        out.set(`${f.node}:${f.path}`, { cert: certOf(parts.cert), keySpki: spkiHash(createPrivateKey(parts.key)) });
      }
    }
    return out;
  }
  const storeBytes = (ids: string[]): string[] =>
    ids.flatMap((id) => ['crt', 'key'].map((e) => readFileSync(join(c.out, 'store', `${id}.${e}`), 'latin1')));
  const CAS = ['ca', 'front-proxy-ca', 'etcd-ca'];

  function expectRenewed(
    before: Map<string, { cert: Certificate; keySpki: string | undefined }>,
    renewed: (key: string) => boolean,
    count: number,
  ): void {
    const after = certsNow();
    expect(sorted([...after.keys()])).toEqual(sorted([...before.keys()]));
    let n = 0;
    for (const [k, a] of after) {
      const b = before.get(k) as { cert: Certificate; keySpki: string | undefined };
      if (!renewed(k)) {
        expect(`${k} ${a.cert.sha256} ${a.keySpki}`).toBe(`${k} ${b.cert.sha256} ${b.keySpki}`);
        continue;
      }
      n++;
      expect(Buffer.from(a.cert.subjectRaw).equals(Buffer.from(b.cert.subjectRaw))).toBe(true);
      expect(a.cert.sans).toEqual(b.cert.sans);
      expect(a.cert.extKeyUsage).toEqual(b.cert.extKeyUsage);
      expect(Buffer.from(a.cert.issuerRaw).equals(Buffer.from(b.cert.issuerRaw))).toBe(true);
      expect(a.cert.serialNumber).not.toBe(b.cert.serialNumber);
      expect(a.cert.spkiSha256).not.toBe(b.cert.spkiSha256);
      expect(a.keySpki).toBe(sha256(a.cert.spki));
    }
    expect(n).toBe(count);
    expect(verifyTree(c.out, plan, false).failures).toEqual([]);
  }

  it('renew apiserver: new key and serial on every control-plane node, same subject, SANs and EKU; nothing else changes', () => {
    const before = certsNow();
    const cas = storeBytes(CAS);
    const manifest = readManifest(c.out);
    expect(ok(['pki', 'renew', 'apiserver', '--dir', c.out])).toMatch(/^renewed 2 certificate\(s\) across all nodes\n/);
    expectRenewed(before, (k) => k.endsWith(':/etc/kubernetes/pki/apiserver.crt'), 2);
    expect(changedFiles(manifest, readManifest(c.out))).toEqual([
      'cp-1:/etc/kubernetes/pki/apiserver.crt',
      'cp-1:/etc/kubernetes/pki/apiserver.key',
      'cp-2:/etc/kubernetes/pki/apiserver.crt',
      'cp-2:/etc/kubernetes/pki/apiserver.key',
    ]);
    expect(storeBytes(CAS)).toEqual(cas);
  });

  it('renew all: every leaf and every kubeconfig on every node, never a CA', () => {
    const before = certsNow();
    const cas = storeBytes(CAS);
    const manifest = readManifest(c.out);
    const leaves = plan.certs.filter((p) => !p.ca).length;
    expect(ok(['pki', 'renew', 'all', '--dir', c.out])).toMatch(new RegExp(`^renewed ${leaves} certificate\\(s\\) across all nodes\\n`));
    // Every certificate file and kubeconfig of the manifest: one per leaf of the plan.
    expectRenewed(before, () => true, leaves);
    expect(storeBytes(CAS)).toEqual(cas);
    const changed = changedFiles(manifest, readManifest(c.out));
    const kinds = new Map(manifest.files.map((f) => [`${f.node}:${f.path}`, f.kind]));
    // Certificates, their keys and the kubeconfigs change; CA bundles, CA keys and the sa pair do not.
    expect(sorted(changed)).toEqual(
      sorted(
        manifest.files
          .filter(
            (f) =>
              f.kind === 'certificate' ||
              f.kind === 'kubeconfig' ||
              (f.kind === 'private-key' && !/\/(ca|front-proxy-ca|sa)\.key$/.test(f.path)),
          )
          .map((f) => `${f.node}:${f.path}`),
      ),
    );
    expect(changed.some((k) => kinds.get(k) === 'kubeconfig')).toBe(true);
    // The CA data in kubeconfigs is unchanged; only the client credentials are rewritten.
    const admin = kubeconfigParts(join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/admin.conf'));
    expect(admin.ca).toBe(readFileSync(join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki/ca.crt'), 'utf8'));
  });

  it('an unknown name exits 2 with one line and changes nothing', () => {
    const manifest = readFileSync(join(c.out, 'manifest.json'), 'utf8');
    const r = cli(['pki', 'renew', 'apiserver', 'kube-bogus', '--dir', c.out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown certificate 'kube-bogus' \(one of: all, admin\.conf, apiserver, /);
    expect(r.stdout).toBe('');
    expect(readFileSync(join(c.out, 'manifest.json'), 'utf8')).toBe(manifest);
  });
});

// ================================================================= 7. rotate-ca

const ROTATE_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
controlPlaneEndpoint: cp.example.com
keyAlgorithm: ecdsa-p256
rootCA: {enabled: true, commonName: Rotation Root}
controlPlane: [{name: cp-1, ips: [10.0.0.11]}, {name: cp-2, ips: [10.0.0.12]}]
workers: [{name: w-1, ips: [10.0.1.1]}]
`;

describe('rotate-ca', () => {
  const c = cluster('rotate', ROTATE_CONFIG);
  const plan = planOf(ROTATE_CONFIG);
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
  });
  const rotate = (ca: string, ...extra: string[]): string => ok(['pki', 'rotate-ca', ca, '--dir', c.out, ...extra]);
  const status = (ca: string): string => rotate(ca, '--status').split('\n')[0] as string;
  /** Fingerprints of the CA certificates each bundle of `ca` holds, by node file. */
  const bundleShas = (dir: string, ca: string): string[][] =>
    collect(dir, plan)
      .bundles.filter((b) => b.ca === ca)
      .map((b) => b.certs.map((x) => x.sha256));
  const issuers = (dir: string, ca: string): Set<string> =>
    new Set(
      collect(dir, plan)
        .leaves.filter((l) => l.signer === ca)
        .map((l) => l.cert.authorityKeyId ?? ''),
    );
  const caCert = (id: string): Certificate => certOf(readFileSync(join(c.out, 'store', `${id}.crt`), 'utf8'));

  // Leaves x bundles across all nodes. ca: leaves cp-1 8 + cp-2 7 + w-1 2, bundles (ca.crt + kubeconfig CA data) 6 + 5 + 2;
  // etcd-ca: 4 leaves and 1 bundle on each control-plane node.
  const PAIRS: Record<string, number> = { ca: 17 * 13, 'etcd-ca': 8 * 2 };
  function expectConsistent(dir: string, ca: string): void {
    // Every leaf on every node against every node's bundle of that CA.
    const r = verifyCrossed(dir, dir, plan, ca);
    expect(r.failures).toEqual([]);
    expect(r.pairs).toBe(PAIRS[ca]);
    expect(verifyTree(dir, plan, true).failures).toEqual([]);
  }
  function expectAdjacent(a: string, b: string, ca: string): void {
    expect(verifyCrossed(a, b, plan, ca).failures).toEqual([]);
    expect(verifyCrossed(b, a, plan, ca).failures).toEqual([]);
  }

  it.each([
    ['ca', 'kubernetes'],
    ['etcd-ca', 'etcd-ca'],
  ])('%s: through new-ca, bundle, reissue and done, trusted within and across adjacent phases', (ca, cn) => {
    const old = caCert(ca);
    const snaps = [snapshot(c.out, `${ca}-0-before`)];
    expectConsistent(snaps[0] as string, ca);
    const phases = ['new-ca', 'bundle', 'reissue', 'done'];
    phases.forEach((phase, i) => {
      expect(rotate(ca)).toMatch(new RegExp(`^${ca}: phase ${phase}: `));
      const snap = snapshot(c.out, `${ca}-${i + 1}-${phase}`);
      snaps.push(snap);
      expectConsistent(snap, ca);
      expectAdjacent(snaps[i] as string, snap, ca);
      if (phase !== 'done') expect(status(ca)).toMatch(new RegExp(`^rotation of ${ca}: phase ${phase} \\(started `));
    });
    const next = caCert(ca);
    expect(next.sha256).not.toBe(old.sha256);
    expect(next.commonName).toBe(cn);
    const [before, newCa, bundle, reissue, done] = snaps as [string, string, string, string, string];
    // new-ca changes no node file; bundle adds the new CA to every bundle; reissue swaps the leaves; done drops the old CA.
    expect(contents(join(newCa, 'nodes'))).toEqual(contents(join(before, 'nodes')));
    expect(bundleShas(bundle, ca).every((s) => s.join() === [old.sha256, next.sha256].join())).toBe(true);
    expect(bundleShas(reissue, ca).every((s) => s.join() === [next.sha256, old.sha256].join())).toBe(true);
    expect(bundleShas(done, ca).every((s) => s.join() === next.sha256)).toBe(true);
    expect(issuers(bundle, ca)).toEqual(new Set([old.subjectKeyId]));
    expect(issuers(reissue, ca)).toEqual(new Set([next.subjectKeyId]));
    // The other CAs were not touched.
    for (const other of ['ca', 'front-proxy-ca', 'etcd-ca'].filter((x) => x !== ca))
      expect(bundleShas(done, other)).toEqual(bundleShas(before, other));
    expect(status(ca)).toBe(`no rotation of ${ca} in progress`);
    expect(existsSync(join(c.out, 'rotation.json'))).toBe(false);
    expect(readdirSync(c.out).filter((f) => f.startsWith(`rotation-${ca}-`))).toHaveLength(1);
  });

  it('rolls back from bundle and from reissue to consistent states; refuses after done', () => {
    const old = caCert('ca');
    rotate('ca');
    const atNewCa = snapshot(c.out, 'rb-1-new-ca');
    rotate('ca');
    const atBundle = snapshot(c.out, 'rb-2-bundle');
    const rb = rotate('ca', '--rollback');
    expect(rb).toMatch(/^rolled back ca to phase new-ca\nchanged \d+ file\(s\) on 3 node\(s\); distribute them:\n/);
    expect(rb).toMatch(/\n {2}w-1: \/etc\/kubernetes\/pki\/ca\.crt, \/etc\/kubernetes\/kubelet\.conf\n/);
    expect(rb).toMatch(/\nDistribute the node trees, then run the same command again for phase bundle\.\n$/);
    const rolledBundle = snapshot(c.out, 'rb-3-rolled-back-bundle');
    expect(status('ca')).toMatch(/^rotation of ca: phase new-ca /);
    expectConsistent(rolledBundle, 'ca');
    expectAdjacent(atBundle, rolledBundle, 'ca');
    expect(contents(join(rolledBundle, 'nodes'))).toEqual(contents(join(atNewCa, 'nodes')));

    expect(rotate('ca')).toMatch(/^ca: phase bundle: /);
    const atBundle2 = snapshot(c.out, 'rb-4-bundle');
    expect(rotate('ca')).toMatch(/^ca: phase reissue: .*\((\d+) re-issued\)/);
    const atReissue = snapshot(c.out, 'rb-5-reissue');
    const next = caCert('ca');
    expect(next.sha256).not.toBe(old.sha256);
    expect(rotate('ca', '--rollback')).toMatch(/^rolled back ca to phase bundle; re-issued \d+ certificate\(s\) from the old CA\n/);
    const rolledReissue = snapshot(c.out, 'rb-6-rolled-back-reissue');
    expect(status('ca')).toMatch(/^rotation of ca: phase bundle /);
    expect(caCert('ca').sha256).toBe(old.sha256);
    expectConsistent(rolledReissue, 'ca');
    expectAdjacent(atReissue, rolledReissue, 'ca');
    expectAdjacent(atBundle2, rolledReissue, 'ca');
    expect(issuers(rolledReissue, 'ca')).toEqual(new Set([old.subjectKeyId]));
    expect(bundleShas(rolledReissue, 'ca').every((s) => s.join() === [old.sha256, next.sha256].join())).toBe(true);

    expect(rotate('ca')).toMatch(/^ca: phase reissue: /);
    expect(rotate('ca')).toMatch(/^ca: phase done: /);
    expectConsistent(snapshot(c.out, 'rb-7-done'), 'ca');
    const manifest = readFileSync(join(c.out, 'manifest.json'), 'utf8');
    const r = cli(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--rollback']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no rotation of ca is in progress/);
    expect(readFileSync(join(c.out, 'manifest.json'), 'utf8')).toBe(manifest);
  });

  it('refuses the offline root and a second rotation while one is in progress', () => {
    const r = cli(['pki', 'rotate-ca', 'root-ca', '--dir', c.out]);
    expect([r.code, r.stderr.trim().split('\n').length]).toEqual([2, 1]);
    expect(r.stderr).toMatch(/offline root/);
    rotate('front-proxy-ca');
    const busy = cli(['pki', 'rotate-ca', 'etcd-ca', '--dir', c.out]);
    expect([busy.code, busy.stderr.trim().split('\n').length]).toEqual([2, 1]);
    expect(busy.stderr).toMatch(/a rotation of front-proxy-ca is in progress \(phase new-ca\)/);
    expect(rotate('front-proxy-ca', '--rollback')).toBe('rolled back front-proxy-ca to before the rotation\nno node file changed\n');
    expect(status('front-proxy-ca')).toBe('no rotation of front-proxy-ca in progress');
  });
});

// ================================================================= 8. config validation

describe('config validation through the CLI', () => {
  const base = IDEM_CONFIG;
  it.each([
    ['malformed YAML', 'apiVersion: [oops\n', /bad\.yaml: not valid YAML \(/],
    [
      'an unknown field',
      base.replace('keyAlgorithm: ecdsa-p256', 'keyAlgorithm: ecdsa-p256\nkeyAlgoritm: rsa-2048'),
      /bad\.yaml: \(top level\): Unrecognized key: "keyAlgoritm"/,
    ],
    ['a bad CIDR', `${base}serviceCIDR: 10.96.0.0/40\n`, /bad\.yaml: serviceCIDR: not a CIDR/],
    [
      'duplicate node names',
      base.replace('name: w-2', 'name: w-1'),
      /bad\.yaml: workers: node name 'w-1' is used twice \(also in workers\)/,
    ],
    [
      'external etcd without members',
      `${base}etcd: {topology: external}\n`,
      /bad\.yaml: etcd\.members: external etcd needs its members listed/,
    ],
  ])('%s: exit 2, one line naming the field and file, nothing written', (_what, text, pattern) => {
    const dir = join(tmp, 'bad', String(scratchN++));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bad.yaml'), text);
    const r = cli(['pki', 'init', '--config', join(dir, 'bad.yaml'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).toContain(join(dir, 'bad.yaml'));
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual(['bad.yaml']);
  });
});

// ================================================================= 9. plan

describe('pki plan -o json', () => {
  it('lists every certificate with its full profile and writes nothing', () => {
    const c = cluster('plan', TREE_CONFIG);
    const cwd = join(c.dir, 'cwd');
    mkdirSync(cwd);
    const plan = planOf(TREE_CONFIG);
    const view = JSON.parse(ok(['pki', 'plan', '--config', c.config, '-o', 'json'], cwd)) as {
      certificates: Record<string, unknown>[];
      files: { node: string; path: string; mode: string; content: string }[];
    };
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(c.dir).sort()).toEqual(['cluster.yaml', 'cwd']);
    expect(view.certificates).toEqual(
      plan.certs.map((p) => ({
        id: p.id,
        kubeadmName: p.kubeadmName,
        ca: p.ca,
        signer: p.signer ?? 'self',
        ...(p.node ? { node: p.node } : {}),
        subject: { CN: p.cn, O: p.o },
        sans: p.sans,
        keyUsage: p.keyUsage,
        extKeyUsage: p.extKeyUsage,
        ...(p.pathLen !== undefined ? { pathLen: p.pathLen } : {}),
        validity: p.ca ? (p.offline ? '20y' : '10y') : '365d',
        keyType: 'ecdsa-p256',
        ...(p.offline ? { offline: true } : {}),
      })),
    );
    expect(view.files.map((f) => `${f.node}:${f.path}:${f.mode}`)).toEqual(
      plan.files.map((f) => `${f.node}:${f.path}:0${f.mode.toString(8)}`),
    );
    // The same certificates `init` then makes.
    const apiserver = view.certificates.find((x) => x.id === 'apiserver@cp-1');
    expect(apiserver).toMatchObject({
      signer: 'ca',
      subject: { CN: 'kube-apiserver', O: [] },
      sans: {
        dns: [
          'cp-1',
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
          'cp.example.com',
        ],
        ip: ['10.96.0.1', '10.0.0.11'],
      },
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: ['serverAuth'],
    });
    ok(['pki', 'init', '--config', c.config, '--out', c.out, '--dry-run'], cwd);
    expect(existsSync(c.out)).toBe(false);
    ok(['pki', 'init', '--config', c.config, '--out', c.out], cwd);
    expect(
      readdirSync(join(c.out, 'store'))
        .filter((f) => f.endsWith('.crt'))
        .map((f) => f.slice(0, -4))
        .sort(),
    ).toEqual(sorted(view.certificates.map((x) => x.id as string)));
    expect(dirname(c.out)).toBe(c.dir);
  });
});
