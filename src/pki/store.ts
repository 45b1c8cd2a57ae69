// The PKI directory on disk:
//   DIR/store/<id>.crt|.key   canonical material (the offline root's key lives only here)
//   DIR/store/sa.key|sa.pub, DIR/store/encryption-key
//   DIR/nodes/<node>/<absolute path on the node>   what each node must hold
//   DIR/manifest.json         every node file: role, node, SHA-256, mode
//   DIR/rotation.json         CA rotation state (rotate.ts)
import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { InputError } from '../common/errors.ts';
import { writeKubeconfig } from '../k8s/kubeconfig.ts';
import { Certificate, toPem } from '../x509/certificate.ts';
import { generateKey, type KeyType } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';
import type { Material, MaterialMap } from './materialize.ts';
import type { Plan, PlannedFile } from './plan.ts';

export const MANIFEST_SCHEMA = 'anchorage.pki-manifest/v1';

export interface ManifestFile {
  node: string;
  path: string;
  /** The certificate id (role@node) or sa-key, sa-pub, encryption-config. */
  role: string;
  kind: 'certificate' | 'ca-bundle' | 'private-key' | 'kubeconfig' | 'public-key' | 'encryption-config';
  mode: string;
  sha256: string;
  notAfter?: string;
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  generatedAt: string;
  cluster: string;
  layout: string;
  nodes: Plan['nodes'];
  files: ManifestFile[];
}

export interface Secrets {
  saKey: KeyObject;
  encryptionKey: Buffer;
}

/** Write a file atomically (temp + rename), with its final mode set before any byte lands. */
export function writeAtomic(path: string, data: string | Uint8Array, mode: number): void {
  ensureDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  retryIfDirGone(path, () => writeFileSync(tmp, data, { mode }));
  fixMode(tmp, mode);
  renameSync(tmp, path);
}

const madeDirs = new Set<string>();

/** The directory cache can be stale when something removed a tree meanwhile: recreate once. */
function retryIfDirGone(path: string, write: () => void): void {
  try {
    write();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    madeDirs.delete(dirname(path));
    ensureDir(dirname(path));
    write();
  }
}
function ensureDir(dir: string): void {
  if (madeDirs.has(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  madeDirs.add(dir);
}

/** The mode given to open() is masked by the umask; set it exactly only when the umask took bits away. */
function fixMode(path: string, mode: number): void {
  if ((mode & process.umask()) !== 0) chmodSync(path, mode);
}

/**
 * A file that does not exist yet is created in place (O_EXCL, final mode from the first byte): half the
 * syscalls of temp+rename, which matters at thousands of files. On failure it is removed, so nothing
 * half-written stays; an existing file is replaced atomically.
 */
function writeNew(path: string, data: string, mode: number): boolean {
  ensureDir(dirname(path));
  try {
    retryIfDirGone(path, () => writeFileSync(path, data, { mode, flag: 'wx' }));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    rmSync(path, { force: true });
    throw e;
  }
  fixMode(path, mode);
  return true;
}

const keyPem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }) as string;

export function loadStore(dir: string): { material: MaterialMap; secrets?: Secrets } {
  const store = join(dir, 'store');
  const material: MaterialMap = new Map();
  if (!existsSync(store)) return { material };
  for (const f of readdirSync(store)) {
    if (!f.endsWith('.crt')) continue;
    const id = f.slice(0, -4);
    const path = join(store, f);
    const block = scanPem(readFileSync(path, 'latin1'))[0];
    if (!block) throw new InputError(`${path}: no certificate`);
    const m: Material = { cert: new Certificate(block.der) };
    const keyPath = join(store, `${id}.key`);
    if (existsSync(keyPath)) m.key = createPrivateKey(readFileSync(keyPath));
    material.set(id, m);
  }
  const saPath = join(store, 'sa.key');
  const encPath = join(store, 'encryption-key');
  if (existsSync(saPath) && existsSync(encPath))
    return {
      material,
      secrets: {
        saKey: createPrivateKey(readFileSync(saPath)),
        encryptionKey: Buffer.from(readFileSync(encPath, 'utf8').trim(), 'base64'),
      },
    };
  return { material };
}

export function newSecrets(keyAlgorithm: KeyType): Secrets {
  // Service-account tokens are JWTs: RS256 or ES256/384 only, so an ed25519 cluster gets an ECDSA sa.key.
  const saKey = generateKey(keyAlgorithm === 'ed25519' ? 'ecdsa-p256' : keyAlgorithm).privateKey;
  return { saKey, encryptionKey: randomBytes(32) };
}

export function saveStore(dir: string, material: MaterialMap, secrets: Secrets): void {
  const store = join(dir, 'store');
  mkdirSync(store, { recursive: true, mode: 0o700 });
  chmodSync(store, 0o700);
  const keep = new Set<string>();
  for (const [id, m] of material) {
    writeIfChanged(join(store, `${id}.crt`), m.cert.toPem(), 0o644);
    keep.add(`${id}.crt`);
    if (m.key) {
      writeIfChanged(join(store, `${id}.key`), keyPem(m.key), 0o600);
      keep.add(`${id}.key`);
    }
  }
  writeIfChanged(join(store, 'sa.key'), keyPem(secrets.saKey), 0o600);
  writeIfChanged(join(store, 'sa.pub'), createPublicKey(secrets.saKey).export({ type: 'spki', format: 'pem' }) as string, 0o644);
  writeIfChanged(join(store, 'encryption-key'), `${secrets.encryptionKey.toString('base64')}\n`, 0o600);
  for (const f of ['sa.key', 'sa.pub', 'encryption-key']) keep.add(f);
  // Material no longer in the plan (a removed node) leaves the store.
  for (const f of readdirSync(store)) if (!keep.has(f) && /\.(crt|key)$/.test(f)) rmSync(join(store, f));
}

function writeIfChanged(path: string, data: string, mode: number): void {
  if (writeNew(path, data, mode)) return;
  if (readFileSync(path, 'utf8') === data) {
    chmodSync(path, mode);
    return;
  }
  writeAtomic(path, data, mode);
}

/** Extra CA certificates to trust beside each CA (set during a rotation: old+new). */
export type TrustOverrides = Map<string, Certificate[]>;

function renderFile(
  f: PlannedFile,
  plan: Plan,
  material: MaterialMap,
  secrets: Secrets,
  trust: TrustOverrides,
): { data: string; kind: ManifestFile['kind']; role: string; cert?: Certificate } {
  const get = (id: string): Material => {
    const m = material.get(id);
    if (!m) throw new InputError(`${id}: no certificate (externally managed? place it in the store)`);
    return m;
  };
  const bundle = (ca: string): string => (trust.get(ca) ?? [get(ca).cert]).map((c) => c.toPem()).join('');
  const c = f.content;
  switch (c.type) {
    case 'cert':
      return { data: get(c.cert).cert.toPem(), kind: 'certificate', role: c.cert, cert: get(c.cert).cert };
    case 'bundle':
      return { data: c.certs.map(bundle).join(''), kind: 'ca-bundle', role: c.certs.join('+'), cert: get(c.certs[0] as string).cert };
    case 'key': {
      const k = get(c.cert).key;
      if (!k) throw new InputError(`${c.cert}: private key not available`);
      return { data: keyPem(k), kind: 'private-key', role: c.cert };
    }
    case 'kubeconfig': {
      const m = get(c.cert);
      if (!m.key) throw new InputError(`${c.cert}: private key not available`);
      return {
        data: writeKubeconfig({
          clusterName: c.cluster,
          server: c.server,
          caPem: bundle(c.caBundle),
          userName: c.user,
          clientCertPem: m.cert.toPem(),
          clientKeyPem: keyPem(m.key),
        }),
        kind: 'kubeconfig',
        role: c.cert,
        cert: m.cert,
      };
    }
    case 'sa-key':
      return { data: keyPem(secrets.saKey), kind: 'private-key', role: 'sa' };
    case 'sa-pub':
      return { data: createPublicKey(secrets.saKey).export({ type: 'spki', format: 'pem' }) as string, kind: 'public-key', role: 'sa' };
    case 'encryption-config':
      return { data: encryptionConfig(plan, secrets.encryptionKey), kind: 'encryption-config', role: 'encryption-config' };
  }
}

export function encryptionConfig(plan: Plan, key: Buffer): string {
  const provider = plan.config.encryptionAtRest?.provider ?? 'aescbc';
  return stringify({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [
      {
        resources: ['secrets'],
        providers: [{ [provider]: { keys: [{ name: 'key1', secret: key.toString('base64') }] } }, { identity: {} }],
      },
    ],
  });
}

/** Write every node's tree and the manifest. Unchanged files are not rewritten. */
export function writeNodeTrees(
  dir: string,
  plan: Plan,
  material: MaterialMap,
  secrets: Secrets,
  trust: TrustOverrides = new Map(),
  onProgress?: (done: number, total: number) => void,
): Manifest {
  const files: ManifestFile[] = [];
  // Certificates an external CA signs are the operator's to provide: write them only when placed in the store.
  const externalLeaves = new Set(plan.certs.filter((p) => p.external && !p.ca).map((p) => p.id));
  plan.files.forEach((f, i) => {
    const c = f.content;
    if ((c.type === 'cert' || c.type === 'key' || c.type === 'kubeconfig') && externalLeaves.has(c.cert)) {
      const m = material.get(c.cert);
      if (!m || (c.type !== 'cert' && !m.key)) return;
    }
    const r = renderFile(f, plan, material, secrets, trust);
    writeIfChanged(join(dir, 'nodes', f.node, f.path), r.data, f.mode);
    const entry: ManifestFile = {
      node: f.node,
      path: f.path,
      role: r.role,
      kind: r.kind,
      mode: `0${f.mode.toString(8)}`,
      sha256: createHash('sha256').update(r.data).digest('hex'),
    };
    if (r.cert && r.kind !== 'ca-bundle') entry.notAfter = r.cert.notAfter.toISOString();
    files.push(entry);
    if (onProgress && (i % 500 === 0 || i === plan.files.length - 1)) onProgress(i + 1, plan.files.length);
  });
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    generatedAt: new Date().toISOString(),
    cluster: plan.config.clusterName,
    layout: plan.config.layout,
    nodes: plan.nodes,
    files,
  };
  writeAtomic(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
  return manifest;
}

export function readManifest(dir: string): Manifest {
  const p = join(dir, 'manifest.json');
  if (!existsSync(p)) throw new InputError(`${dir}: no manifest.json (run 'anchorage pki init' first)`);
  return JSON.parse(readFileSync(p, 'utf8')) as Manifest;
}

export { toPem };

/** What a node must receive after a change: files whose content differs from the previous manifest. */
export interface Changes {
  files: number;
  nodes: { node: string; paths: string[] }[];
}

export function diffManifests(before: Manifest | undefined, after: Manifest): Changes {
  const old = new Map((before?.files ?? []).map((f) => [`${f.node}\0${f.path}`, f.sha256]));
  const byNode = new Map<string, string[]>();
  for (const f of after.files) {
    if (old.get(`${f.node}\0${f.path}`) === f.sha256) continue;
    const list = byNode.get(f.node) ?? [];
    list.push(f.path);
    byNode.set(f.node, list);
  }
  const nodes = [...byNode].map(([node, paths]) => ({ node, paths }));
  return { files: nodes.reduce((n, x) => n + x.paths.length, 0), nodes };
}

export function readManifestIfAny(dir: string): Manifest | undefined {
  return existsSync(join(dir, 'manifest.json')) ? readManifest(dir) : undefined;
}
