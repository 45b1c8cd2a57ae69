// The PKI directory on disk:
//   DIR/store/<id>.crt|.key   canonical material (the offline root's key lives only here)
//   DIR/store/sa.key|sa.pub, DIR/store/encryption-key (only with encryptionAtRest)
//   DIR/store/keys.json       keys moved out of the store (the offline root's: key-protection.ts)
//   CA keys may be encrypted PKCS#8 in the store; node trees always get them decrypted (key-protection.ts)
//   DIR/nodes/<node>/<absolute path on the node>   what each node must hold, exactly (reconciled)
//   DIR/manifest.json         every node file: role, node, SHA-256, mode
//   DIR/rotation.json         CA rotation state (rotate.ts)
//   DIR/.txn/                 the transaction of a running (or killed) command (journal.ts)
// Nothing here writes in place: `stageDir` stages the whole new state into a Transaction.
import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { stringify } from 'yaml';
import { InputError } from '../common/errors.ts';
import { writeKubeconfig } from '../k8s/kubeconfig.ts';
import { Certificate, toPem } from '../x509/certificate.ts';
import { generateKey, type KeyType } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';
import { readBounded, type Transaction } from './journal.ts';
import {
  decryptKeyPem,
  encryptKeyPem,
  isEncryptedKeyPem,
  type KeyAccess,
  type KeyWriting,
  PASSPHRASE_HINT,
  readKeysRecord,
  usableKey,
} from './key-protection.ts';
import type { Material, MaterialMap } from './materialize.ts';
import type { Plan, PlannedFile } from './plan.ts';

export const MANIFEST_SCHEMA = 'anchorage.pki-manifest/v1';
/** Budget for one store file (a certificate, a key): far above any real one. */
export const MAX_STORE_FILE_BYTES = 1024 * 1024;
/** Budget for one existing node file read to compare with what it should hold. */
const MAX_NODE_FILE_BYTES = 4 * 1024 * 1024;

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
  /** Only with encryptionAtRest: nothing uses it otherwise, so it is neither made nor written. */
  encryptionKey?: Buffer;
}

/** A store file that exists but cannot be read as what it must be (empty, garbage, truncated). */
export interface StoreProblem {
  /** Path of the file. */
  file: string;
  /** The material id (ca, apiserver@cp-1, ca~previous) or sa-key / encryption-key. */
  id: string;
  why: string;
}

export interface LoadedStore {
  material: MaterialMap;
  saKey?: KeyObject;
  encryptionKey?: Buffer;
  problems: StoreProblem[];
}

const keyPem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }) as string;

function why(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]?.replace(/^error:[0-9A-F]+:/, '') ?? 'unreadable';
}

function readKey(path: string): KeyObject {
  const data = readBounded(path, MAX_STORE_FILE_BYTES, 'store file');
  if (data.length === 0) throw new Error('empty');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(data.toString('latin1'))) throw new Error('not a PEM private key');
  try {
    return createPrivateKey(data);
  } catch (e) {
    throw new Error(`not a readable private key (${why(e)})`);
  }
}

/** A store key into `m`: plain, decrypted with the passphrase, or locked (encrypted, no passphrase given). */
function readMaterialKey(path: string, m: Material, access: KeyAccess): void {
  const data = readBounded(path, MAX_STORE_FILE_BYTES, 'store file');
  const text = data.toString('latin1');
  if (!isEncryptedKeyPem(text)) {
    m.key = readKey(path);
    return;
  }
  m.stored = text;
  if (access.passphrase === undefined) m.locked = { file: path, reason: 'encrypted' };
  else m.key = decryptKeyPem(text, access.passphrase, path);
}

function readCert(path: string): Certificate {
  const data = readBounded(path, MAX_STORE_FILE_BYTES, 'store file');
  if (data.length === 0) throw new Error('empty');
  const block = scanPem(data.toString('latin1')).find((b) => b.label === 'CERTIFICATE');
  if (!block) throw new Error('no PEM certificate');
  const cert = new Certificate(block.der);
  // Decode what every command uses now, so a truncated body is found here and not in the middle of a run.
  void [
    cert.notAfter,
    cert.subjectRdns,
    cert.issuerRaw,
    cert.spki,
    cert.publicKey,
    cert.isCA,
    cert.commonName,
    cert.sans,
    cert.extKeyUsage,
  ];
  return cert;
}

/**
 * Read the store. Files that exist but cannot be read are not errors here: they are listed as
 * problems, and the command decides (a leaf is re-issued, a CA anything depends on is refused).
 */
export function loadStore(dir: string, access: KeyAccess = {}): LoadedStore {
  const store = join(dir, 'store');
  const material: MaterialMap = new Map();
  const problems: StoreProblem[] = [];
  const out: LoadedStore = { material, problems };
  if (!existsSync(store)) return out;
  let names: string[];
  try {
    names = readdirSync(store);
  } catch (e) {
    throw new InputError(`${store}: cannot read the store (${(e as NodeJS.ErrnoException).code ?? why(e)})`);
  }
  if (names.length > 1_000_000) throw new InputError(`${store}: too many files (${names.length})`);
  for (const f of names) {
    if (!f.endsWith('.crt') || f.startsWith('.')) continue;
    const id = f.slice(0, -4);
    const path = join(store, f);
    let cert: Certificate;
    try {
      cert = readCert(path);
    } catch (e) {
      if (e instanceof InputError) throw e;
      problems.push({ file: path, id, why: why(e) });
      continue;
    }
    const m: Material = { cert };
    const keyPath = join(store, `${id}.key`);
    if (existsSync(keyPath)) {
      try {
        readMaterialKey(keyPath, m, access);
      } catch (e) {
        if (e instanceof InputError) throw e;
        problems.push({ file: keyPath, id, why: why(e) });
      }
    }
    material.set(id, m);
  }
  // Keys moved out of the store on purpose (the offline root): locked, not missing.
  for (const [id, r] of Object.entries(readKeysRecord(dir).removed)) {
    const m = material.get(id);
    if (m && !m.key && !m.locked && createHash('sha256').update(m.cert.spki).digest('hex') === r.spkiSha256)
      m.locked = { file: join(store, `${id}.key`), reason: 'removed' };
  }
  const saPath = join(store, 'sa.key');
  if (existsSync(saPath)) {
    try {
      out.saKey = readKey(saPath);
    } catch (e) {
      if (e instanceof InputError) throw e;
      problems.push({ file: saPath, id: 'sa-key', why: why(e) });
    }
  }
  const encPath = join(store, 'encryption-key');
  if (existsSync(encPath)) {
    const text = readBounded(encPath, MAX_STORE_FILE_BYTES, 'store file').toString('utf8').trim();
    const key = Buffer.from(text, 'base64');
    if (/^[A-Za-z0-9+/]{43}=$/.test(text) && key.length === 32) out.encryptionKey = key;
    else problems.push({ file: encPath, id: 'encryption-key', why: text ? 'not a base64 32-byte key' : 'empty' });
  }
  return out;
}

/** The store for read-only commands: any unreadable file is one line naming it. */
export function loadStoreStrict(dir: string): LoadedStore {
  const s = loadStore(dir);
  const p = s.problems[0];
  if (p) throw new InputError(`${p.file}: ${p.why}`);
  return s;
}

export function newSaKey(keyAlgorithm: KeyType): KeyObject {
  // Service-account tokens are JWTs: RS256 or ES256/384 only, so an ed25519 cluster gets an ECDSA sa.key.
  return generateKey(keyAlgorithm === 'ed25519' ? 'ecdsa-p256' : keyAlgorithm).privateKey;
}

export function newSecrets(keyAlgorithm: KeyType, encryptionAtRest = true): Secrets {
  return { saKey: newSaKey(keyAlgorithm), ...(encryptionAtRest ? { encryptionKey: randomBytes(32) } : {}) };
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
      // Always the decrypted key: a node's components cannot use an encrypted one.
      const k = usableKey(c.cert, get(c.cert), `to write ${f.path} on ${f.node}`);
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
      if (!secrets.encryptionKey) throw new Error('encryption-config planned without an encryption key');
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

export interface NodeFile {
  node: string;
  path: string;
  data: string;
  mode: number;
}

/** Every node file with its content, and the manifest describing them. */
export function renderNodeFiles(
  plan: Plan,
  material: MaterialMap,
  secrets: Secrets,
  trust: TrustOverrides = new Map(),
  now: Date = new Date(),
): { files: NodeFile[]; manifest: Manifest } {
  const out: NodeFile[] = [];
  const files: ManifestFile[] = [];
  // Certificates an external CA signs are the operator's to provide: write them only when placed in the store.
  const externalLeaves = new Set(plan.certs.filter((p) => p.external && !p.ca).map((p) => p.id));
  for (const f of plan.files) {
    const c = f.content;
    if ((c.type === 'cert' || c.type === 'key' || c.type === 'kubeconfig') && externalLeaves.has(c.cert)) {
      const m = material.get(c.cert);
      if (!m || (c.type !== 'cert' && !m.key)) continue;
    }
    const r = renderFile(f, plan, material, secrets, trust);
    out.push({ node: f.node, path: f.path, data: r.data, mode: f.mode });
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
  }
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    generatedAt: now.toISOString(),
    cluster: plan.config.clusterName,
    layout: plan.config.layout,
    nodes: plan.nodes,
    files,
  };
  return { files: out, manifest };
}

/**
 * A store key file. CA keys are encrypted when `writing` says so (an encrypted file whose key did not change is
 * kept as it is: re-encrypting would rewrite it with a new salt every run); a key moved out of the store, or
 * brought for this run only, is not written at all.
 */
export function storeKeyFile(id: string, m: Material, writing: KeyWriting): string | undefined {
  if (m.transient || m.locked?.reason === 'removed') return undefined;
  const encrypt = writing.encryptCaKeys && m.cert.isCA;
  if (m.locked) {
    if (encrypt && m.stored) return m.stored;
    throw new InputError(`${m.locked.file}: the key of CA '${id}' is encrypted; it is needed to write it decrypted: ${PASSPHRASE_HINT}`);
  }
  const key = m.key as KeyObject;
  if (!encrypt) return keyPem(key);
  if (m.stored && isEncryptedKeyPem(m.stored)) return m.stored;
  if (writing.passphrase === undefined)
    throw new InputError(`CA key '${id}' must be stored encrypted (the store's CA keys are): ${PASSPHRASE_HINT}`);
  return encryptKeyPem(key, writing.passphrase);
}

/** The store files for this material and these secrets: name -> content and mode. */
export function renderStore(
  material: MaterialMap,
  secrets: Secrets,
  writing: KeyWriting = { encryptCaKeys: false },
): Map<string, { data: string; mode: number }> {
  const out = new Map<string, { data: string; mode: number }>();
  // Rotation material first: when a phase swaps CAs, the old one lands at its new name before its old name is reused.
  const ids = [...material.keys()].sort((a, b) => Number(b.includes('~')) - Number(a.includes('~')));
  for (const id of ids) {
    const m = material.get(id) as Material;
    out.set(`${id}.crt`, { data: m.cert.toPem(), mode: 0o644 });
    if (!m.key && !m.locked) continue;
    const data = storeKeyFile(id, m, writing);
    if (data !== undefined) out.set(`${id}.key`, { data, mode: 0o600 });
  }
  out.set('sa.key', { data: keyPem(secrets.saKey), mode: 0o600 });
  out.set('sa.pub', { data: createPublicKey(secrets.saKey).export({ type: 'spki', format: 'pem' }) as string, mode: 0o644 });
  if (secrets.encryptionKey) out.set('encryption-key', { data: `${secrets.encryptionKey.toString('base64')}\n`, mode: 0o600 });
  return out;
}

/** What a node must receive after a change: files whose content differs from what the node tree held, and files removed. */
export interface Changes {
  files: number;
  nodes: { node: string; paths: string[] }[];
  /** Node files no longer in the plan (a node that changed roles or left): delete them on the node. */
  removed: { files: number; nodes: { node: string; paths: string[] }[] };
}

function sameFile(path: string, data: string, mode: number): boolean | 'absent' {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return 'absent';
  }
  if (st.isDirectory()) throw new InputError(`cannot write ${path}: is a directory`);
  if (!st.isFile() || (st.mode & 0o7777) !== mode || st.size !== Buffer.byteLength(data)) return false;
  return readBounded(path, MAX_NODE_FILE_BYTES, 'node file').equals(Buffer.from(data));
}

/** Every file (and symlink) under `root`, as paths relative to it. */
function walk(root: string, budget = { left: 5_000_000 }): string[] {
  const out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (--budget.left < 0) throw new InputError(`${root}: too many files`);
    const p = join(root, e.name);
    if (e.isDirectory()) for (const sub of walk(p, budget)) out.push(join(e.name, sub));
    else out.push(e.name);
  }
  return out;
}

function group(list: { node: string; path: string }[]): { node: string; paths: string[] }[] {
  const by = new Map<string, string[]>();
  for (const x of list) {
    const l = by.get(x.node) ?? [];
    l.push(x.path);
    by.set(x.node, l);
  }
  return [...by].map(([node, paths]) => ({ node, paths }));
}

const TEMP_NAME = /(^\..+\.[0-9a-f]{16}\.tmp$)|(\.\d+\.tmp$)/;

/**
 * Stage DIR's new state into `txn`: store files that changed, store files no longer needed, node files
 * that changed and every node file the plan no longer has (reconciled to exactly the plan), the manifest.
 * Returns what the nodes must receive.
 */
export function stageDir(
  txn: Transaction,
  dir: string,
  store: Map<string, { data: string; mode: number }>,
  nodeFiles: NodeFile[],
  manifest: Manifest,
): Changes {
  const storeDir = join(dir, 'store');
  for (const [name, f] of store) {
    const p = join(storeDir, name);
    if (sameFile(p, f.data, f.mode) !== true) txn.put(p, f.data, f.mode);
  }
  // Material no longer needed (a removed node, a finished rotation) and leftovers of killed runs leave the store.
  let storeNames: string[] = [];
  try {
    storeNames = readdirSync(storeDir);
  } catch {
    // no store yet
  }
  for (const f of storeNames) if (!store.has(f) && (/\.(crt|key)$/.test(f) || TEMP_NAME.test(f))) txn.remove(join(storeDir, f));

  const nodesDir = join(dir, 'nodes');
  const wanted = new Set<string>();
  const changed: { node: string; path: string }[] = [];
  for (const f of nodeFiles) {
    const p = join(nodesDir, f.node, f.path);
    wanted.add(relative(nodesDir, p));
    if (sameFile(p, f.data, f.mode) !== true) {
      txn.put(p, f.data, f.mode);
      changed.push({ node: f.node, path: f.path });
    }
  }
  const removed: { node: string; path: string }[] = [];
  for (const rel of walk(nodesDir)) {
    if (wanted.has(rel)) continue;
    txn.remove(join(nodesDir, rel));
    const [node, ...rest] = rel.split(sep);
    const name = rest.at(-1) ?? '';
    if (!TEMP_NAME.test(name)) removed.push({ node: node as string, path: `/${rest.join('/')}` });
  }
  // A run that changes nothing leaves the manifest (and its generatedAt) alone.
  const manifestPath = join(dir, 'manifest.json');
  if (txn.size > 0 || !sameManifest(manifestPath, manifest)) txn.put(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
  const nodes = group(changed);
  const gone = group(removed);
  return { files: changed.length, nodes, removed: { files: removed.length, nodes: gone } };
}

function sameManifest(path: string, m: Manifest): boolean {
  try {
    const old = JSON.parse(readBounded(path, 512 * 1024 * 1024, 'manifest').toString('utf8')) as Manifest;
    return JSON.stringify({ ...old, generatedAt: '' }) === JSON.stringify({ ...m, generatedAt: '' });
  } catch {
    return false; // absent or damaged: it is derived, so it is simply written again
  }
}

export { toPem };
