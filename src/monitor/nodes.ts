// What each node of a PKI folder holds against what the manifest says it must (`serve --dir`): the
// `pki init` node trees DIR/nodes/<node>/… compared file by file with DIR/manifest.json.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../pki/store.ts';
import type { NodeFiles } from './types.ts';

const MAX_MANIFEST = 64 * 1024 * 1024;
const MAX_FILE = 4 * 1024 * 1024;
const MAX_FILES_PER_NODE = 10_000;

function sha(path: string): string | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_FILE) return undefined;
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

function walk(root: string, rel: string, out: string[]): void {
  if (out.length >= MAX_FILES_PER_NODE) return;
  let names: string[];
  try {
    names = readdirSync(join(root, rel));
  } catch {
    return;
  }
  for (const n of names.sort()) {
    if (n.startsWith('.')) continue;
    const r = `${rel}/${n}`;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(join(root, r));
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(root, r, out);
    else if (st.isFile() && out.length < MAX_FILES_PER_NODE) out.push(r);
  }
}

export function nodeFiles(pkiDir: string, cluster: string): NodeFiles[] {
  const mf = join(pkiDir, 'manifest.json');
  if (!existsSync(mf) || statSync(mf).size > MAX_MANIFEST) return [];
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(mf, 'utf8')) as Manifest;
  } catch (e) {
    return [{ node: '*', cluster, reachable: false, reason: `${mf}: ${(e as Error).message}`, files: [] }];
  }
  const out: NodeFiles[] = [];
  for (const n of manifest.nodes ?? []) {
    const root = join(pkiDir, 'nodes', n.name);
    if (!existsSync(root)) {
      out.push({ node: n.name, cluster, reachable: false, reason: `${root}: no such folder`, files: [] });
      continue;
    }
    const files: NodeFiles['files'] = [];
    const expected = new Set<string>();
    for (const f of manifest.files.filter((x) => x.node === n.name)) {
      expected.add(f.path);
      const got = sha(join(root, f.path));
      if (got === undefined) files.push({ path: f.path, expected: f.sha256, state: 'missing' });
      else files.push({ path: f.path, sha256: got, expected: f.sha256, state: got === f.sha256 ? 'ok' : 'differs' });
    }
    const present: string[] = [];
    walk(root, '', present);
    for (const p of present)
      if (!expected.has(p))
        files.push({ path: p, ...(sha(join(root, p)) ? { sha256: sha(join(root, p)) as string } : {}), state: 'extra' });
    files.sort((a, b) => a.path.localeCompare(b.path));
    out.push({ node: n.name, cluster, reachable: true, files });
  }
  return out;
}
