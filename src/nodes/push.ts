// `nodes plan|push|rollback` on one node. The node keeps its own journal of the last push
// (STATE_DIR/push.json) and the files that push replaced (STATE_DIR/backup/<id>/<path>), so a killed push
// resumes with its first backups intact and `rollback` restores exactly what the last push replaced.
//
// Order on the node: leftover temps removed → diff → backups of every file about to change (each atomic)
// → journal "started" (atomic) → files written (each atomic) → journal "done" → post-push hook.
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Desired, DesiredFile } from './desired.ts';
import { limit } from './fleet.ts';
import type { Remote } from './remote.ts';
import { NodeError, type Session } from './ssh.ts';

export const STATE_DIR = '/var/lib/anchorage';
const JOURNAL = `${STATE_DIR}/push.json`;
const BACKUPS = `${STATE_DIR}/backup`;
/** Files written at once on one node. */
const FILES_PARALLEL = 16;
/** Names a stale file may have (anything else in a managed folder is left alone). */
const PKI_NAME = /\.(crt|key|pem|pub|conf|kubeconfig|csr|p12|pfx|jks)$/;
const ROOT = { uid: 0, gid: 0 };

export type FileState = 'new' | 'changed' | 'same' | 'stale';

export interface FileChange {
  path: string;
  state: FileState;
  /** What differs: content, mode, owner. */
  why?: string;
}

interface JournalEntry {
  path: string;
  /** The file existed and its old bytes are in the backup. */
  backup: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Removed by --prune (a stale file). */
  removed?: boolean;
}

interface Journal {
  id: string;
  state: 'started' | 'done' | 'rolled-back';
  startedAt: string;
  finishedAt?: string;
  entries: JournalEntry[];
}

export interface NodePlan {
  files: FileChange[];
  /** Leftover temp files of a killed push (removed by push, only counted by plan). */
  temps: string[];
}

export interface NodePush extends NodePlan {
  /** Files written or removed. */
  changed: number;
  /** Id of the push whose backups `rollback` would restore. */
  backup?: string;
  /** An interrupted push on this node was resumed. */
  resumed: boolean;
  hook?: { exit: number | null; ok: boolean };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const backupPath = (id: string, path: string): string => posix.join(BACKUPS, id, path);

/** Diff what the node holds against its manifest files, plus stale PKI files in the managed folders. */
export async function planNode(r: Remote, desired: Desired, node: string): Promise<NodePlan & { current: Map<string, Buffer> }> {
  const want = desired.byNode.get(node) ?? [];
  const current = new Map<string, Buffer>();
  const files = await limit(want, FILES_PARALLEL, async (f): Promise<FileChange> => {
    const st = await r.lstat(f.path);
    if (!st) return { path: f.path, state: 'new' };
    if (!st.isFile) return { path: f.path, state: 'changed', why: st.isLink ? 'a symlink' : 'not a regular file' };
    const data = (await r.read(f.path)) as Buffer;
    current.set(f.path, data);
    const why: string[] = [];
    if (sha(data) !== f.sha256) why.push('content');
    if (st.mode !== f.modeBits) why.push(`mode 0${st.mode.toString(8)}`);
    if (st.uid !== 0 || st.gid !== 0) why.push(`owner ${st.uid}:${st.gid}`);
    return why.length ? { path: f.path, state: 'changed', why: why.join(', ') } : { path: f.path, state: 'same' };
  });
  const wanted = new Set(want.map((f) => f.path));
  const temps: string[] = [];
  for (const dir of desired.managedDirs)
    for (const e of await r.list(dir)) {
      if (/\.anchorage-[0-9a-f]{16}\.tmp$/.test(e.name)) temps.push(e.path);
      else if (!wanted.has(e.path) && !e.name.startsWith('.') && PKI_NAME.test(e.name)) files.push({ path: e.path, state: 'stale' });
    }
  return { files, temps, current };
}

async function readJournal(r: Remote): Promise<Journal | null> {
  const data = await r.read(JOURNAL, 64 * 1024 * 1024);
  if (!data) return null;
  try {
    const j = JSON.parse(data.toString('utf8')) as Journal;
    if (typeof j.id !== 'string' || !/^[0-9a-zA-Z-]+$/.test(j.id) || !Array.isArray(j.entries)) throw new Error('shape');
    return j;
  } catch {
    throw new NodeError(`${JOURNAL} on the node is not an anchorage push journal: move it away to push`);
  }
}

async function writeJournal(r: Remote, j: Journal): Promise<void> {
  await r.mkdirp(STATE_DIR, 0o700);
  await r.writeAtomic(JOURNAL, Buffer.from(`${JSON.stringify(j, null, 2)}\n`), 0o600, ROOT);
}

export interface PushOptions {
  /** Remove stale PKI files (backed up first). */
  prune?: boolean;
  /** Run the node's postPushHook where files changed (default true). */
  hook?: boolean;
  now?: Date;
}

export async function pushNode(s: Session, r: Remote, desired: Desired, o: PushOptions = {}): Promise<NodePush> {
  const node = s.target.name;
  const plan = await planNode(r, desired, node);
  for (const t of plan.temps) await r.remove(t);
  await removeTempsTree(r, STATE_DIR);
  const want = new Map((desired.byNode.get(node) ?? []).map((f) => [f.path, f]));
  const todo = plan.files.filter((f) => f.state === 'new' || f.state === 'changed' || (o.prune && f.state === 'stale'));
  const prev = await readJournal(r);
  const resumed = prev?.state === 'started';
  const base: NodePush = { files: plan.files, temps: plan.temps, changed: 0, resumed };
  if (prev && prev.state !== 'rolled-back') base.backup = prev.id;
  if (todo.length === 0) {
    if (resumed && prev) await writeJournal(r, { ...prev, state: 'done', finishedAt: (o.now ?? new Date()).toISOString() });
    return { ...base, resumed };
  }
  const journal: Journal =
    resumed && prev
      ? prev
      : {
          id: `${(o.now ?? new Date()).toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`,
          state: 'started',
          startedAt: (o.now ?? new Date()).toISOString(),
          entries: [],
        };
  // Back up what is about to change (once per push: a resumed push keeps its first backups).
  const have = new Set(journal.entries.map((e) => e.path));
  const fresh = todo.filter((f) => !have.has(f.path));
  const entries = await limit(fresh, FILES_PARALLEL, async (f): Promise<JournalEntry> => {
    const st = await r.lstat(f.path);
    const removed = f.state === 'stale' ? { removed: true } : {};
    if (!st) return { path: f.path, backup: false, ...removed };
    if (!st.isFile)
      throw new NodeError(`${f.path} on ${node} is ${st.isLink ? 'a symlink' : 'not a regular file'}: refusing to replace it`);
    const old = plan.current.get(f.path) ?? ((await r.read(f.path)) as Buffer);
    const dest = backupPath(journal.id, f.path);
    await r.mkdirp(posix.dirname(dest), 0o700);
    await r.writeAtomic(dest, old, 0o600, ROOT);
    return { path: f.path, backup: true, mode: st.mode, uid: st.uid, gid: st.gid, ...removed };
  });
  journal.entries.push(...entries);
  journal.state = 'started';
  await writeJournal(r, journal);
  // Write the new files (and remove pruned ones).
  await limit(todo, FILES_PARALLEL, async (f) => {
    if (f.state === 'stale') return r.remove(f.path);
    const d = want.get(f.path) as DesiredFile;
    await r.mkdirp(posix.dirname(f.path), 0o755);
    await r.writeAtomic(f.path, d.data, d.modeBits, ROOT);
  });
  await writeJournal(r, { ...journal, state: 'done', finishedAt: (o.now ?? new Date()).toISOString() });
  // Only the newest push's backups are kept (they hold old keys).
  for (const dir of await listDirs(r, BACKUPS)) if (dir !== journal.id) await removeTree(r, posix.join(BACKUPS, dir));
  const out: NodePush = { ...base, changed: todo.length, backup: journal.id };
  if (o.hook !== false && s.target.postPushHook) {
    const h = await s.exec(s.target.postPushHook);
    out.hook = { exit: h.code, ok: h.code === 0 };
    if (h.code !== 0) throw new NodeError(`files pushed (${todo.length}), but the post-push hook failed (exit ${h.code ?? 'signal'})`);
  }
  return out;
}

async function listDirs(r: Remote, dir: string): Promise<string[]> {
  const names = await new Promise<{ filename: string; longname: string; attrs: { mode: number } }[]>((resolve) =>
    r.sftp.readdir(dir, (err, list) => resolve(err ? [] : (list as never))),
  );
  return names.filter((n) => (n.attrs.mode & 0o170000) === 0o040000 && n.filename !== '.' && n.filename !== '..').map((n) => n.filename);
}

/** Leftover temps of a killed push anywhere under `dir` (its journal and backups). */
async function removeTempsTree(r: Remote, dir: string): Promise<void> {
  await r.removeTemps(dir);
  for (const sub of await listDirs(r, dir)) await removeTempsTree(r, posix.join(dir, sub));
}

async function removeTree(r: Remote, dir: string): Promise<void> {
  for (const sub of await listDirs(r, dir)) await removeTree(r, posix.join(dir, sub));
  for (const f of await r.list(dir)) await r.remove(f.path);
  await new Promise<void>((resolve) => r.sftp.rmdir(dir, () => resolve()));
}

export interface NodeRollback {
  backup: string;
  restored: number;
  removed: number;
}

/** Restore what the last push replaced (and remove what it created). Idempotent; resumable. */
export async function rollbackNode(r: Remote): Promise<NodeRollback> {
  await removeTempsTree(r, STATE_DIR);
  const j = await readJournal(r);
  if (!j) throw new NodeError(`nothing to roll back: no push journal (${JOURNAL})`);
  if (j.state === 'rolled-back') throw new NodeError(`nothing to roll back: push ${j.id} was already rolled back`);
  let restored = 0;
  let removed = 0;
  await limit(j.entries, FILES_PARALLEL, async (e) => {
    if (e.backup) {
      const data = await r.read(backupPath(j.id, e.path));
      if (!data) throw new NodeError(`backup of ${e.path} (push ${j.id}) is missing on the node: cannot roll back`);
      await r.mkdirp(posix.dirname(e.path), 0o755);
      await r.writeAtomic(e.path, data, e.mode ?? 0o600, { uid: e.uid ?? 0, gid: e.gid ?? 0 });
      restored++;
    } else {
      await r.remove(e.path);
      removed++;
    }
  });
  await writeJournal(r, { ...j, state: 'rolled-back', finishedAt: new Date().toISOString() });
  return { backup: j.id, restored, removed };
}
