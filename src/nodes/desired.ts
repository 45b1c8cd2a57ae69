// What each node must hold, read from a PKI directory `pki init` wrote: DIR/manifest.json and
// DIR/nodes/<node>/<path> (DIR/nodes/<node>/ is / on that node). Every file is checked against its
// manifest hash, and nothing a node must not have is ever handed out: a CA private key only to a
// control-plane (or external etcd) node, the offline root's key to nobody.
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import { InputError } from '../common/errors.ts';
import { readBounded } from '../pki/journal.ts';
import { MANIFEST_SCHEMA, type Manifest, type ManifestFile } from '../pki/store.ts';
import { Certificate } from '../x509/certificate.ts';
import { loadPrivateKey, publicKeyOf, spkiDer, spkiSha256 } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';

/** Budget for manifest.json and for one node file in DIR. */
const MAX_MANIFEST = 512 * 1024 * 1024;
const MAX_NODE_FILE = 4 * 1024 * 1024;

export interface DesiredFile extends ManifestFile {
  data: Buffer;
  modeBits: number;
}

export interface CaKey {
  /** Store id: ca, etcd-ca, front-proxy-ca, root-ca, … */
  id: string;
  /** SHA-256 of the CA certificate's SubjectPublicKeyInfo. */
  spki: string;
}

export interface Desired {
  dir: string;
  manifest: Manifest;
  byNode: Map<string, DesiredFile[]>;
  /** Every folder any node's files live in: where a push looks for stale files and leftover temps. */
  managedDirs: string[];
  /** The CAs whose private keys exist in the store (root-ca included). */
  caKeys: CaKey[];
}

/** Folders of every managed file and their parents up to (not including) the top two levels (/etc, /var/lib). */
function managedDirsOf(files: readonly ManifestFile[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) dirs.add(posix.dirname(f.path));
  return [...dirs].sort();
}

/** The CA certificates of DIR/store whose keys are there too. */
function storeCaKeys(dir: string): CaKey[] {
  const out: CaKey[] = [];
  for (const id of ['root-ca', 'ca', 'front-proxy-ca', 'etcd-ca']) {
    let pem: Buffer;
    try {
      pem = readBounded(join(dir, 'store', `${id}.crt`), MAX_NODE_FILE, 'CA certificate');
    } catch {
      continue;
    }
    const block = scanPem(pem.toString('latin1')).find((b) => b.label === 'CERTIFICATE');
    if (!block) continue;
    out.push({ id, spki: spkiSha256(new Certificate(block.der).spki) });
  }
  return out;
}

/** SHA-256 of the public key of a private key in `data` (PEM), or null when it holds none. */
export function privateKeySpki(data: Uint8Array): string | null {
  const text = Buffer.from(data).toString('latin1');
  if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)) return null;
  try {
    return spkiSha256(spkiDer(publicKeyOf(loadPrivateKey(data))));
  } catch {
    return null;
  }
}

export function loadDesired(dir: string): Desired {
  const raw = readBounded(join(dir, 'manifest.json'), MAX_MANIFEST, 'manifest').toString('utf8');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(raw) as Manifest;
  } catch {
    throw new InputError(`${join(dir, 'manifest.json')}: not JSON`);
  }
  if (manifest?.schema !== MANIFEST_SCHEMA || !Array.isArray(manifest.files) || !Array.isArray(manifest.nodes))
    throw new InputError(`${join(dir, 'manifest.json')}: not an ${MANIFEST_SCHEMA} manifest`);
  const roles = new Map(manifest.nodes.map((n) => [n.name, n.roles as string[]]));
  const caKeys = storeCaKeys(dir);
  const byNode = new Map<string, DesiredFile[]>(manifest.nodes.map((n) => [n.name, []]));
  for (const f of manifest.files) {
    if (!roles.has(f.node)) throw new InputError(`manifest.json: ${f.path} is for unknown node ${f.node}`);
    if (!posix.isAbsolute(f.path) || posix.normalize(f.path) !== f.path || f.path.includes('\0'))
      throw new InputError(`manifest.json: ${f.node}: '${f.path}' is not a normalized absolute path`);
    if (!/^0[0-7]{3}$/.test(f.mode)) throw new InputError(`manifest.json: ${f.node}:${f.path}: mode '${f.mode}' is not octal`);
    const local = join(dir, 'nodes', f.node, ...f.path.split('/').filter(Boolean));
    const data = readBounded(local, MAX_NODE_FILE, 'node file');
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== f.sha256)
      throw new InputError(
        `${local}: does not match manifest.json (SHA-256 ${sha.slice(0, 12)}…, manifest ${f.sha256.slice(0, 12)}…): rerun 'anchorage pki init'`,
      );
    // Never hand a node a CA key it must not hold, whatever the manifest says.
    const spki = f.kind === 'private-key' ? privateKeySpki(data) : null;
    const ca = spki ? caKeys.find((k) => k.spki === spki) : undefined;
    const nodeRoles = roles.get(f.node) ?? [];
    if (ca?.id === 'root-ca') throw new InputError(`refusing to push: ${f.node}:${f.path} is the offline root CA's private key`);
    if (ca && !nodeRoles.includes('control-plane') && !(ca.id === 'etcd-ca' && nodeRoles.includes('etcd')))
      throw new InputError(`refusing to push: ${f.node} (${nodeRoles.join(', ')}) must not hold the ${ca.id} private key (${f.path})`);
    byNode.get(f.node)?.push({ ...f, data, modeBits: Number.parseInt(f.mode, 8) });
  }
  return { dir, manifest, byNode, managedDirs: managedDirsOf(manifest.files), caKeys };
}
