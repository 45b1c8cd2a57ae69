// End to end: `anchorage pki` as an operator runs it, judged by openssl, by the real kubeadm v1.36.3
// (its tree and its check-expiration on the same tree, test/support/kubeadm-parity.ts) and by Anchorage's
// own parser and trust engine (verifyChain). Configs are written per test into a temporary directory.
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
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';
import {
  HARD_WAY_PARITY,
  HARD_WAY_PARITY_CONFIG,
  KUBEADM_PARITY_CONFIG,
  KUBEADM_PARITY_INPUT,
  KUBELET_SERVING,
  type KubeadmTree,
  kubeadmBinary,
  kubeadmCheckExpiration,
  kubeadmTree,
  normIp,
  opensslProfile,
  type Profile,
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

/** The profile openssl prints (test/support/kubeadm-parity.ts). */
const viaOpenssl = opensslProfile;

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

// ================================================================= 1. the real kubeadm

/** kubeadm (constants.CertificateBackdate) and Anchorage start every certificate 5 minutes before issuance. */
const BACKDATE_MS = 300_000;
const hours = (p: Profile): number => Math.round((p.notAfter.getTime() - p.notBefore.getTime() - BACKDATE_MS) / 3_600_000);

describe('kubeadm layout: field by field against the tree `kubeadm init phase certs/kubeconfig all` writes', () => {
  const I = KUBEADM_PARITY_INPUT;
  const ours = cluster('vs-kubeadm', KUBEADM_PARITY_CONFIG);
  let ref: KubeadmTree;
  let t0 = 0;
  let t1 = 0;
  beforeAll(async () => {
    ref = kubeadmTree(await kubeadmBinary(), join(ours.dir, 'kubeadm'));
    t0 = Math.floor(Date.now() / 1000) * 1000;
    ok(['pki', 'init', '--config', ours.config, '--out', ours.out]);
    t1 = Date.now();
  }, K8S_BUILD_TIMEOUT_MS);
  const mine = (file: string): string => join(ours.out, 'nodes', I.nodeName, file);
  const theirs = (file: string): string => join(ref.root, file);
  /** Everything but keys, serials and dates. */
  const comparable = (p: Profile): Omit<Profile, 'notBefore' | 'notAfter'> => {
    const { notBefore: _b, notAfter: _a, ...rest } = p;
    return rest;
  };

  it("every certificate kubeadm writes, with kubeadm's profile, validity, backdate and issuer (openssl and Anchorage's parser)", () => {
    // ca, front-proxy-ca, etcd-ca; 7 PEM leaves; admin, super-admin, kubelet, controller-manager, scheduler .conf.
    expect(ref.certs).toHaveLength(3 + 7 + 5);
    for (const row of ref.certs) {
      const { file, cert } = certFile(mine(row.file), row.kind);
      const want = { file: row.file, hours: hours(row.profile), ...comparable(row.profile) };
      for (const got of [viaOpenssl(file), viaParser(cert)]) {
        expect({ file: row.file, hours: hours(got), ...comparable(got) }).toEqual(want);
        // NotBefore = issuance - 5 min, NotAfter = issuance + validity, on both sides.
        expect(got.notBefore.getTime()).toBeGreaterThanOrEqual(t0 - BACKDATE_MS);
        expect(got.notBefore.getTime()).toBeLessThanOrEqual(t1 - BACKDATE_MS);
        expect(got.notAfter.getTime() - got.notBefore.getTime()).toBe(hours(got) * 3_600_000 + BACKDATE_MS);
      }
      expect(row.profile.notBefore.getTime()).toBeGreaterThanOrEqual(ref.started - BACKDATE_MS);
      expect(row.profile.notBefore.getTime()).toBeLessThanOrEqual(ref.finished - BACKDATE_MS);
      // Issued by our certificate at the path of kubeadm's issuer, with its key.
      const signer = certOf(readFileSync(mine(row.issuer), 'utf8'));
      expect(Buffer.from(cert.issuerRaw).equals(Buffer.from(signer.subjectRaw))).toBe(true);
      expect(cert.verifiedBy(signer.publicKey)).toBe(true);
      expect(osslOk(['x509', '-in', file, '-noout', '-issuer']).trim()).toBe(osslOk(['x509', '-in', row.pem, '-noout', '-issuer']).trim());
    }
  });

  it('adds only the kubelet serving certificate, signed by the cluster CA with the kubelet-serving signer profile', () => {
    const { file, cert } = certFile(mine(KUBELET_SERVING.file), 'certificate');
    for (const got of [viaOpenssl(file), viaParser(cert)])
      expect([got.cn, got.o, got.dns, got.ip, got.keyUsage, got.eku, got.ca]).toEqual([
        KUBELET_SERVING.cn,
        KUBELET_SERVING.o,
        KUBELET_SERVING.sans.dns,
        KUBELET_SERVING.sans.ip,
        KUBELET_SERVING.keyUsage,
        KUBELET_SERVING.extKeyUsage,
        false,
      ]);
    expect(cert.verifiedBy(certOf(readFileSync(mine(KUBELET_SERVING.issuer), 'utf8')).publicKey)).toBe(true);
    const m = readManifest(ours.out);
    const certFiles = m.files.filter((f) => ['certificate', 'ca-bundle', 'kubeconfig'].includes(f.kind)).map((f) => f.path);
    expect(sorted(certFiles)).toEqual(sorted([...ref.certs.map((r) => r.file), KUBELET_SERVING.file]));
    expect(m.nodes).toEqual([{ name: 'cp-1', roles: ['control-plane', 'etcd'] }]);
  });

  it('writes the same PKI files and the same kubeconfig clusters, users, contexts and servers', () => {
    const certDir = theirs('/etc/kubernetes/pki');
    const myPki = mine('/etc/kubernetes/pki');
    expect(sorted(walk(myPki).map((p) => p.slice(myPki.length)))).toEqual(sorted(walk(certDir).map((p) => p.slice(certDir.length))));
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
    const kubeconfigs = ref.certs.filter((r) => r.kind === 'kubeconfig').map((r) => r.file);
    expect(kubeconfigs).toHaveLength(5);
    for (const f of kubeconfigs) {
      // Ours also writes an empty `preferences: {}` (client-go omits it): the same document for any reader.
      const { preferences, ...rest } = shape(mine(f)) as Record<string, unknown>;
      expect(preferences ?? {}).toEqual({});
      expect(rest).toEqual(shape(theirs(f)));
    }
  });

  it('writes the service-account key pair in the same key type as kubeadm, no certificate', () => {
    const key = mine('/etc/kubernetes/pki/sa.key');
    const pub = readFileSync(mine('/etc/kubernetes/pki/sa.pub'), 'utf8');
    expect(osslOk(['pkey', '-in', key, '-pubout'])).toBe(pub);
    expect(osslOk(['pkey', '-in', key, '-noout', '-text']).split('\n')[0]).toBe(
      osslOk(['pkey', '-in', theirs('/etc/kubernetes/pki/sa.key'), '-noout', '-text']).split('\n')[0],
    );
    expect(existsSync(mine('/etc/kubernetes/pki/sa.crt'))).toBe(existsSync(theirs('/etc/kubernetes/pki/sa.crt')));
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
  let kubeadm = '';
  beforeAll(async () => {
    kubeadm = await kubeadmBinary(); // built once for the whole run; a cold build waits here, under the build's timeout
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
  }, K8S_BUILD_TIMEOUT_MS);

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

  it('the plan and check-expiration call it and all it signs externally managed; kubeadm refuses the tree until its leaves are placed', async () => {
    const p = JSON.parse(ok(['pki', 'plan', '--config', c.config, '-o', 'json'])) as {
      certificates: { id: string; externallyManaged?: boolean }[];
    };
    const cp = ['apiserver', 'apiserver-kubelet-client', 'admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf'];
    expect(sorted(p.certificates.filter((x) => x.externallyManaged).map((x) => x.id))).toEqual(
      sorted([
        'ca',
        ...cp.map((n) => `${n}@cp-1`),
        ...['cp-1', 'w-1', 'w-2'].flatMap((n) => [`kubelet.conf@${n}`, `kubelet-serving@${n}`]),
      ]),
    );
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
    // What the external CA signs and nobody placed yet: Anchorage reports it missing. kubeadm v1.36.3 refuses
    // such a tree outright (its external-CA check wants every leaf of that CA present).
    expect(json.certificates.filter((x) => x.missing).map((x) => x.name)).toEqual(sorted(cp));
    expect(() => kubeadmCheckExpiration(kubeadm, join(c.out, 'nodes', 'cp-1'), join(c.dir, 'kubeadm-root'))).toThrow(
      /external CA condition for ca certificate authority: failure loading key for apiserver/,
    );
  });

  it('a second init changes nothing', () => {
    const before = readManifest(c.out);
    const s = initJson(c.config, c.out);
    expect(s.decisions.filter((d) => d.action === 'issued' || d.action === 'reissued')).toEqual([]);
    expect(changedFiles(before, readManifest(c.out))).toEqual([]);
  });
});

// ================================================================= 5. check-expiration

describe('check-expiration: the same output as `kubeadm certs check-expiration` on the same tree', () => {
  const c = cluster('expiry', KUBEADM_PARITY_CONFIG.replace('rsa-2048', 'ecdsa-p256'));
  const tree = join(c.out, 'nodes', 'cp-1');
  let bin = '';
  beforeAll(async () => {
    bin = await kubeadmBinary();
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
  }, K8S_BUILD_TIMEOUT_MS);
  const theirs = (format: string): string => kubeadmCheckExpiration(bin, tree, join(c.dir, 'kubeadm-root'), format);
  /** Both outputs, taken between t0 and t1, with each residualTime (seconds left, which ticks) masked. */
  function both(format: 'json' | 'yaml'): { mine: string; kubeadm: string; residuals: { name: string; expires: string; left: number }[] } {
    const t0 = Date.now();
    const mine = ok(['pki', 'check-expiration', '--dir', c.out, '-o', format]);
    const kubeadm = theirs(format);
    const t1 = Date.now();
    const residuals: { name: string; expires: string; left: number }[] = [];
    for (const text of [mine, kubeadm]) {
      const doc = (format === 'json' ? JSON.parse(text) : parseYaml(text)) as Record<
        string,
        { name: string; expirationDate: string | null; residualTime: number }[]
      >;
      for (const x of [...(doc.certificates ?? []), ...(doc.certificateAuthorities ?? [])]) {
        if (x.expirationDate === null) continue;
        const na = Date.parse(x.expirationDate);
        // Seconds from the run to NotAfter: within the window both ran in.
        expect(x.residualTime).toBeGreaterThanOrEqual(Math.floor((na - t1) / 1000));
        expect(x.residualTime).toBeLessThanOrEqual(Math.ceil((na - t0) / 1000));
        residuals.push({ name: x.name, expires: x.expirationDate, left: x.residualTime });
      }
    }
    const mask = (t: string): string => t.replace(/("?residualTime"?: )\d+/g, '$1<n>');
    return { mine: mask(mine), kubeadm: mask(kubeadm), residuals };
  }

  it('text: byte for byte', () => {
    const mine = ok(['pki', 'check-expiration', '--dir', c.out]);
    expect(mine).toBe(theirs('text'));
    // The header, 11 leaves, a blank line, the CA header, 3 CAs, the final blank line.
    expect(mine.split('\n')).toHaveLength(1 + 11 + 1 + 1 + 3 + 1);
  });

  it('-o json: the same CertificateExpirationInfo document, text for text', () => {
    const r = both('json');
    expect(r.mine).toBe(r.kubeadm);
    expect(r.residuals).toHaveLength(2 * (11 + 3));
  });

  it('-o yaml: byte for byte (keys sorted as kubeadm sorts them)', () => {
    const r = both('yaml');
    expect(r.mine).toBe(r.kubeadm);
    expect(r.residuals).toHaveLength(2 * (11 + 3));
  });

  it('a missing certificate: the same !MISSING! row and missing item', () => {
    for (const f of [
      'store/apiserver@cp-1.crt',
      'store/apiserver@cp-1.key',
      'nodes/cp-1/etc/kubernetes/pki/apiserver.crt',
      'nodes/cp-1/etc/kubernetes/pki/apiserver.key',
    ])
      rmSync(join(c.out, f));
    const mine = ok(['pki', 'check-expiration', '--dir', c.out]);
    expect(mine).toBe(theirs('text'));
    expect(mine.split('\n').filter((l) => l.startsWith('!MISSING!'))).toEqual([
      `${'!MISSING! apiserver'.padEnd(27)}${' '.repeat(25 + 16 + 24)}`,
    ]);
    const r = both('json');
    expect(r.mine).toBe(r.kubeadm);
    expect(r.mine).toContain('"missing": true');
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
    expect(rb).toMatch(
      /^rolled back ca to phase new-ca\nchanged \d+ file\(s\) on 3 node\(s\); distribute them \(DIR\/nodes\/<node>\/ is \/ on that node\):\n/,
    );
    expect(rb).toMatch(/\n {2}w-1: \/etc\/kubernetes\/pki\/ca\.crt, \/etc\/kubernetes\/kubelet\.conf\n/);
    // ca.crt and the kubeconfigs changed: what reads them restarts, and only where it runs.
    expect(rb).toMatch(
      /\nthen restart:\n {2}kube-apiserver on cp-1, cp-2\n {2}kube-controller-manager on cp-1, cp-2\n {2}kube-scheduler on cp-1, cp-2\n {2}kubelet on cp-1, cp-2, w-1\n/,
    );
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
  it('lists every certificate with the profile init then issues and every file init then writes, and writes nothing', () => {
    const c = cluster('plan', TREE_CONFIG);
    const cwd = join(c.dir, 'cwd');
    mkdirSync(cwd);
    const view = JSON.parse(ok(['pki', 'plan', '--config', c.config, '-o', 'json'], cwd)) as {
      certificates: {
        id: string;
        ca: boolean;
        signer: string;
        subject: { CN: string; O: string[] };
        sans: { dns: string[]; ip: string[] };
        keyUsage: string[];
        extKeyUsage: string[];
        pathLen?: number;
        validity: string;
        keyType: string;
      }[];
      files: { node: string; path: string; mode: string; content: string }[];
    };
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(c.dir).sort()).toEqual(['cluster.yaml', 'cwd']);
    expect(new Set(view.certificates.map((x) => x.keyType))).toEqual(new Set(['ecdsa-p256']));
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
    ).toEqual(sorted(view.certificates.map((x) => x.id)));
    // Each profile the plan prints is the certificate init writes, as openssl reads it.
    const hoursOf: Record<string, number> = { '365d': 8760, '10y': 87600, '20y': 175200 };
    const cnOf = new Map(view.certificates.map((x) => [x.id, x.subject.CN]));
    for (const x of view.certificates) {
      const file = join(c.out, 'store', `${x.id}.crt`);
      const got = viaOpenssl(file);
      expect({
        id: x.id,
        cn: got.cn,
        o: got.o,
        dns: got.dns,
        ip: got.ip,
        keyUsage: got.keyUsage,
        eku: got.eku,
        ca: got.ca,
        pathLen: got.pathLen,
        hours: hours(got),
        keyType: got.keyType,
        issuer: osslOk(['x509', '-in', file, '-noout', '-issuer']).trim(),
      }).toEqual({
        id: x.id,
        cn: x.subject.CN,
        o: x.subject.O,
        dns: sorted(x.sans.dns),
        ip: sorted(x.sans.ip.map(normIp)),
        keyUsage: sorted(x.keyUsage),
        eku: sorted(x.extKeyUsage),
        ca: x.ca,
        pathLen: x.pathLen,
        hours: hoursOf[x.validity],
        keyType: x.keyType,
        issuer: `issuer=CN = ${cnOf.get(x.signer === 'self' ? x.id : x.signer)}`,
      });
    }
    // Each file the plan prints is on that node with that mode, and nothing else is.
    expect(sorted(view.files.map((f) => `${f.node}:${f.path} ${f.mode}`))).toEqual(
      sorted(
        walk(join(c.out, 'nodes')).map((p) => {
          const [node, ...rest] = p.slice(join(c.out, 'nodes').length + 1).split('/');
          return `${node}:/${rest.join('/')} 0${(statSync(p).mode & 0o777).toString(8)}`;
        }),
      ),
    );
    expect(dirname(c.out)).toBe(c.dir);
    // About 100 openssl runs: generous on a loaded machine.
  }, 600_000);
});
