// The I/O edge of `pki adopt`: read node trees from disk (budgeted), write the adopted PKI directory.
// Adoption reads the existing trees and never writes into them.
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir, writeFilesAtomic } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';
import { type AdoptOptions, type AdoptResult, adoptKubeadm, type NodeTree } from './adopt.ts';
import { renderStore } from './store.ts';

const MAX_FILES = 10_000;
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_DEPTH = 6;

/** `[NAME[@IP]=]PATH`: a node tree, optionally named (and given an IP, for workers). */
export function parseTreeSpec(spec: string): { node?: string; ip?: string; path: string } {
  const m = /^([a-z0-9][a-z0-9.-]*)(?:@([^=]+))?=(.+)$/.exec(spec);
  if (!m) return { path: spec };
  const [, node, ip, path] = m as unknown as [string, string, string | undefined, string];
  if (ip !== undefined && isIP(ip) === 0) throw new InputError(`${spec}: '${ip}' is not an IP address`);
  return { node, ...(ip ? { ip } : {}), path };
}

function walk(dir: string, onFile: (rel: string, abs: string) => void, rel = '', depth = 0, count = { n: 0 }): void {
  if (depth > MAX_DEPTH) return;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new InputError(`${dir}: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  for (const n of names) {
    const abs = join(dir, n);
    const r = rel ? `${rel}/${n}` : n;
    let st: ReturnType<typeof statSync>;
    try {
      st = lstatSync(abs).isSymbolicLink() ? statSync(abs) : lstatSync(abs);
    } catch {
      continue; // dangling link
    }
    if (st.isDirectory()) {
      if (lstatSync(abs).isSymbolicLink()) continue; // no loops through linked directories
      walk(abs, onFile, r, depth + 1, count);
    } else if (st.isFile()) {
      if (++count.n > MAX_FILES) throw new InputError(`${dir}: too large (more than ${MAX_FILES} files)`);
      if (st.size <= MAX_FILE_BYTES) onFile(r, abs);
    }
  }
}

/**
 * Read one node's tree. PATH may be the node's root (holding etc/kubernetes, var/lib/kubelet, ...), its
 * /etc/kubernetes, or a bare certificate folder (/etc/kubernetes/pki, what kubeadm's --cert-dir names).
 */
export function readNodeTree(spec: string): NodeTree {
  const { node, ip, path } = parseTreeSpec(spec);
  const root = resolve(path);
  if (!existsSync(root)) throw new InputError(`${path}: no such directory`);
  if (!statSync(root).isDirectory()) throw new InputError(`${path}: not a directory`);
  const files = new Map<string, Uint8Array>();
  const take = (base: string, mountedAt: string) => {
    walk(base, (rel, abs) => {
      files.set(`${mountedAt}/${rel}`, readFileSync(abs));
    });
  };
  if (existsSync(join(root, 'etc', 'kubernetes'))) {
    take(join(root, 'etc', 'kubernetes'), '/etc/kubernetes');
    for (const d of ['var/lib/kubelet/pki', 'var/lib/kubernetes', 'var/lib/kube-proxy'])
      if (existsSync(join(root, d))) take(join(root, d), `/${d}`);
    for (const f of ['ca.crt', 'kubelet.crt', 'kubelet.key', 'kubeconfig']) {
      const p = join(root, 'var/lib/kubelet', f);
      if (existsSync(p) && statSync(p).isFile()) files.set(`/var/lib/kubelet/${f}`, readFileSync(p));
    }
  } else if (existsSync(join(root, 'pki')) || readdirSync(root).some((n) => n.endsWith('.conf'))) {
    take(root, '/etc/kubernetes');
  } else if (existsSync(join(root, 'ca.crt'))) {
    take(root, '/etc/kubernetes/pki');
  } else {
    throw new InputError(`${path}: not a kubeadm tree (no pki/, no *.conf, no ca.crt)`);
  }
  return { source: path, ...(node ? { node } : {}), ...(ip ? { ip } : {}), files };
}

export interface AdoptWriteResult extends AdoptResult {
  out: string;
  written: string[];
}

/**
 * Adopt the trees into a new PKI directory: cluster.yaml, store/ (every certificate and the keys found),
 * external/<ca>.crt for CAs without a key, adopted.json (sources and SHA-256 of every file read).
 * Refuses a directory that already holds a PKI: adoption never replaces existing trust.
 */
export function adoptPki(o: { specs: string[]; out: string; options?: AdoptOptions; dryRun?: boolean }): AdoptWriteResult {
  const trees = o.specs.map(readNodeTree);
  const r = adoptKubeadm(trees, o.options ?? {});
  const written: string[] = [];
  if (o.dryRun) return { ...r, out: o.out, written };
  for (const t of trees) {
    const src = resolve(t.source);
    const out = resolve(o.out);
    if (out === src || out.startsWith(`${src}/`))
      throw new InputError(`--out ${o.out} is inside the tree being adopted (${t.source}); adoption never writes there`);
  }
  for (const f of ['cluster.yaml', 'store', 'manifest.json'])
    if (existsSync(join(o.out, f)))
      throw new InputError(`${o.out} already holds a PKI (${f}); adopt into a new directory (nothing was changed)`);
  // Everything is built in a sibling folder and renamed into place at the end: a killed adopt leaves
  // nothing at --out (its half-built sibling is removed by the next run).
  const out = resolve(o.out);
  const parent = dirname(out);
  if (!existsSync(parent)) throw new InputError(`${o.out}: its folder ${parent} does not exist`);
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new InputError(`${o.out} is not empty; adopt into a new directory (nothing was changed)`);
  for (const n of readdirSync(parent))
    if (n.startsWith(`.${basename(out)}.adopting-`)) rmSync(join(parent, n), { recursive: true, force: true });
  const work = join(parent, `.${basename(out)}.adopting-${randomBytes(6).toString('hex')}`);
  mkdirSync(join(work, 'store'), { recursive: true, mode: 0o700 });
  try {
    const files: { path: string; data: string; mode: number }[] = [];
    for (const id of r.externalCAs) {
      const m = r.material.get(id);
      if (!m) continue;
      mkdirSync(join(work, 'external'), { recursive: true, mode: 0o755 });
      files.push({ path: join(work, 'external', `${id}.crt`), data: m.cert.toPem(), mode: 0o644 });
      written.push(`external/${id}.crt`);
    }
    if (!r.saKey) throw new InputError('no tree holds pki/sa.key: give a control-plane node');
    for (const [name, f] of renderStore(r.material, { saKey: r.saKey, encryptionKey: randomBytes(32) }))
      if (name !== 'encryption-key') files.push({ path: join(work, 'store', name), data: f.data, mode: f.mode });
    written.push('store/');
    const record = {
      schema: 'anchorage.pki-adoption/v1',
      adoptedAt: new Date().toISOString(),
      sources: trees.map((t) => t.source),
      files: r.files,
      missing: r.missing,
      differences: r.differences,
      externalCAs: r.externalCAs,
      notes: r.notes,
    };
    files.push({ path: join(work, 'adopted.json'), data: `${JSON.stringify(record, null, 2)}\n`, mode: 0o644 });
    files.push({ path: join(work, 'cluster.yaml'), data: r.configText, mode: 0o644 });
    written.push('adopted.json', 'cluster.yaml');
    writeFilesAtomic(files);
    if (existsSync(out)) rmdirSync(out);
    renameSync(work, out);
    fsyncDir(parent);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return { ...r, out: o.out, written };
}

/** A folder kubeadm wrote (no cluster.yaml, no store): what `check-expiration --dir` reads directly. */
export function looksLikeKubeadmFolder(dir: string): boolean {
  if (existsSync(join(dir, 'cluster.yaml')) || existsSync(join(dir, 'store'))) return false;
  return (
    existsSync(join(dir, 'pki', 'ca.crt')) ||
    existsSync(join(dir, 'ca.crt')) ||
    existsSync(join(dir, 'admin.conf')) ||
    existsSync(join(dir, 'etc', 'kubernetes'))
  );
}
