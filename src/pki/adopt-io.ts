// The I/O edge of `pki adopt`: read node trees from disk (budgeted), write the adopted PKI directory.
// Adoption reads the existing trees and never writes into them.
import { type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir, writeFilesAtomic } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';
import { isIP } from '../common/ip.ts';
import { Certificate } from '../x509/certificate.ts';
import { scanPem } from '../x509/pem.ts';
import { type AdoptOptions, type AdoptResult, adoptTrees, type NodeTree } from './adopt.ts';
import { type Manifest, type NodeFile, renderNodeFiles, renderStore } from './store.ts';

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
  if (isJumpbox(root)) throw new InputError(`${path}: the hard way's certificate folder holds several nodes: read it with readNodeTrees`);
  if (!existsSync(join(root, 'etc', 'kubernetes')) && ['var/lib/kubernetes', 'var/lib/kubelet'].some((d) => existsSync(join(root, d)))) {
    // The hard way's node layout (`pki init` with layout: hard-way writes DIR/nodes/<node>/ so).
    for (const d of ['var/lib/kubernetes', 'var/lib/kubelet', 'var/lib/kube-proxy'])
      if (existsSync(join(root, d))) take(join(root, d), `/${d}`);
    const hint = basename(root);
    return {
      source: path,
      ...(node ? { node } : {}),
      ...(ip ? { ip } : {}),
      ...(/^[a-z0-9][a-z0-9.-]*$/.test(hint) ? { nameHint: hint } : {}),
      files,
    };
  }
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

/** The hard way's certificate folder (where its ca.conf steps write every node's files side by side). */
function isJumpbox(root: string): boolean {
  return (
    existsSync(join(root, 'ca.crt')) && (existsSync(join(root, 'kube-api-server.crt')) || existsSync(join(root, 'service-accounts.crt')))
  );
}

/**
 * The node trees behind one `[NAME[@IP]=]PATH`: one tree, or, for the hard way's certificate folder, the
 * controller's and each worker's, laid out where the tutorial copies them (ca.crt, ca.key, kube-api-server.*,
 * service-accounts.* and the controller kubeconfigs to /var/lib/kubernetes; <node>.crt/.key/.kubeconfig to
 * that node's /var/lib/kubelet; kube-proxy.kubeconfig to /var/lib/kube-proxy). NAME names the controller.
 */
export function readNodeTrees(spec: string): NodeTree[] {
  const { node, ip, path } = parseTreeSpec(spec);
  const root = resolve(path);
  if (!existsSync(root) || !statSync(root).isDirectory() || !isJumpbox(root)) return [readNodeTree(spec)];
  const all = new Map<string, Uint8Array>();
  walk(root, (rel, abs) => {
    if (!rel.includes('/')) all.set(rel, readFileSync(abs));
  });
  const used = new Set<string>();
  const take = (t: Map<string, Uint8Array>, name: string, at: string) => {
    const d = all.get(name);
    if (!d) return false;
    t.set(at, d);
    used.add(name);
    return true;
  };
  const controller = new Map<string, Uint8Array>();
  for (const f of [
    'ca.crt',
    'ca.key',
    'kube-api-server.crt',
    'kube-api-server.key',
    'service-accounts.crt',
    'service-accounts.key',
    'encryption-config.yaml',
  ])
    take(controller, f, `/var/lib/kubernetes/${f}`);
  const kubeconfigOrPair = (t: Map<string, Uint8Array>, base: string, at: string) => {
    if (take(t, `${base}.kubeconfig`, at)) {
      // Its certificate and key, the files it was made from, are the same credentials.
      for (const x of ['crt', 'key', 'csr']) if (all.has(`${base}.${x}`)) used.add(`${base}.${x}`);
      return;
    }
    if (all.has(`${base}.crt`) && all.has(`${base}.key`)) {
      take(t, `${base}.crt`, `${at}#crt`);
      take(t, `${base}.key`, `${at}#key`);
    }
  };
  for (const b of ['admin', 'kube-controller-manager', 'kube-scheduler'])
    kubeconfigOrPair(controller, b, `/var/lib/kubernetes/${b}.kubeconfig`);
  const apiserver = scanPem(Buffer.from(all.get('kube-api-server.crt') ?? []).toString('latin1')).find((b) => b.label === 'CERTIFICATE');
  const apiDns = apiserver ? new Certificate(apiserver.der).sans.dns.find((d) => !d.startsWith('kubernetes')) : undefined;
  const trees: NodeTree[] = [
    { source: `${path} (controller)`, node: node ?? apiDns?.split('.')[0] ?? 'server', ...(ip ? { ip } : {}), files: controller },
  ];
  // Workers: every <name>.crt whose certificate is a kubelet's (CN system:node:<name>).
  for (const [f, d] of [...all].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!f.endsWith('.crt') || used.has(f)) continue;
    const b = scanPem(Buffer.from(d).toString('latin1')).find((x) => x.label === 'CERTIFICATE');
    const cn = b ? new Certificate(b.der).commonName : undefined;
    if (!cn?.startsWith('system:node:')) continue;
    const name = f.slice(0, -'.crt'.length);
    const t = new Map<string, Uint8Array>();
    take(t, 'ca.crt', '/var/lib/kubelet/ca.crt');
    take(t, f, '/var/lib/kubelet/kubelet.crt');
    take(t, `${name}.key`, '/var/lib/kubelet/kubelet.key');
    take(t, `${name}.kubeconfig`, '/var/lib/kubelet/kubeconfig');
    kubeconfigOrPair(t, 'kube-proxy', '/var/lib/kube-proxy/kubeconfig');
    trees.push({ source: `${path} (node ${name})`, node: cn.slice('system:node:'.length), files: t });
  }
  // Anything else that looks like a certificate, key or kubeconfig is listed as unknown, never ignored.
  for (const [f, d] of all) if (!used.has(f) && /\.(crt|key|pem|kubeconfig)$/.test(f)) controller.set(`/jumpbox/${f}`, d);
  return trees;
}

export interface AdoptWriteResult extends AdoptResult {
  out: string;
  written: string[];
}

/**
 * Adopt the trees into a new PKI directory: cluster.yaml, store/ (every certificate and the keys found),
 * external/<ca>.crt for CAs without a key, nodes/<node>/ (the files read, as Anchorage writes them) with
 * manifest.json,
 * adopted.json (sources, every file's role, differences, notes).
 * Refuses a directory that already holds a PKI: adoption never replaces existing trust.
 */
export function adoptPki(o: { specs: string[]; out: string; options?: AdoptOptions; dryRun?: boolean }): AdoptWriteResult {
  const trees = o.specs.flatMap(readNodeTrees);
  const r = adoptTrees(trees, o.options ?? {});
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
    const files: { path: string; data: string | Uint8Array; mode: number }[] = [];
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
    // The node trees and their manifest: the next command then reports as changed only what it really
    // changes on a node, and knows the nodes depend on this store (a damaged sa.key or CA is refused, never
    // regenerated).
    const nodes = adoptedNodeFiles(r, r.saKey);
    for (const f of nodes.files) {
      const at = join(work, 'nodes', f.node, f.path);
      mkdirSync(dirname(at), { recursive: true, mode: 0o755 });
      files.push({ path: at, data: f.data, mode: f.mode });
    }
    files.push({ path: join(work, 'manifest.json'), data: `${JSON.stringify(nodes.manifest, null, 2)}\n`, mode: 0o644 });
    written.push('nodes/', 'manifest.json');
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

/**
 * The node files the trees hold, as `pki init` would have written them (the same certificates and keys; keys
 * as PKCS#8, kubeconfigs re-rendered), and their manifest: DIR/nodes is then what the nodes hold, so the next
 * command reports as changed only what it really changes (what to distribute and which components to restart).
 */
function adoptedNodeFiles(r: AdoptResult, saKey: KeyObject): { files: NodeFile[]; manifest: Manifest } {
  const held = r.plan.files.filter((f) => r.trees.get(f.node)?.files.has(f.path));
  return renderNodeFiles({ ...r.plan, files: held }, r.material, { saKey, encryptionKey: Buffer.alloc(32) });
}

/** A folder kubeadm or the hard way wrote (no cluster.yaml, no store): what `check-expiration --dir` reads directly. */
export function looksLikeKubeadmFolder(dir: string): boolean {
  if (existsSync(join(dir, 'cluster.yaml')) || existsSync(join(dir, 'store'))) return false;
  return (
    isJumpbox(dir) ||
    existsSync(join(dir, 'var', 'lib', 'kubernetes', 'ca.crt')) ||
    existsSync(join(dir, 'var', 'lib', 'kubelet', 'ca.crt')) ||
    existsSync(join(dir, 'pki', 'ca.crt')) ||
    existsSync(join(dir, 'ca.crt')) ||
    existsSync(join(dir, 'admin.conf')) ||
    existsSync(join(dir, 'etc', 'kubernetes'))
  );
}
