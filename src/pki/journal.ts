// Every state-changing `pki` command is one journaled transaction on the PKI directory:
//   1 stage    each new or changed file is written under DIR/.txn/ (exclusive, final mode), and so is the
//              journal under a temp name; all are fsynced together (several at once on the thread pool),
//              then DIR/.txn
//   2 commit   the journal, DIR/.txn/journal.json (every staged file with its target and every file to
//              remove), is renamed to its name and DIR/.txn fsynced: this is the commit point
//   3 apply    staged files are renamed over their targets in journal order, removals follow, the
//              directories are fsynced (together)
//   4 finish   the journal and DIR/.txn are removed, DIR is fsynced
// A run killed before the commit point leaves DIR unchanged apart from DIR/.txn, which the next run
// discards; a run killed after it is finished (rolled forward) by the next run, whatever that command
// is. Renames are idempotent (a staged file that is gone was already renamed), so a kill during the
// roll-forward is finished by the run after. One writer per folder (lockDir).
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fsyncDir, fsyncDirs, fsyncFiles, lockDir, removeStaleTemps, writeTemp } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';

export const TXN_DIR = '.txn';
export const JOURNAL = 'journal.json';
const JOURNAL_SCHEMA = 'anchorage.pki-journal/v1';
/** A journal lists paths only; even 100k files stay far below this. */
const MAX_JOURNAL_BYTES = 64 * 1024 * 1024;

/** What the interrupted command was, so its rerun can tell that it only had to finish it. */
export interface TxnOp {
  command: string;
  args: string[];
}

interface JournalDoc {
  schema: typeof JOURNAL_SCHEMA;
  op: TxnOp;
  /** [staged file relative to DIR/.txn, target relative to DIR] */
  put: [string, string][];
  /** targets relative to DIR */
  remove: string[];
}

/** Read a file with a byte budget (refuses special files that never end, such as /dev/zero). */
export function readBounded(path: string, max: number, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new InputError(`${path}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${path}: ${what} is not a regular file`);
    if (st.size > max) throw new InputError(`${path}: ${what} too large (${st.size} bytes, limit ${max})`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function inside(dir: string, rel: string): string {
  if (typeof rel !== 'string' || rel === '' || isAbsolute(rel) || rel.split(/[\\/]/).includes('..'))
    throw new InputError(`${join(dir, TXN_DIR, JOURNAL)}: not an Anchorage journal (path '${String(rel)}' escapes the folder)`);
  return join(dir, rel);
}

function parseJournal(dir: string): JournalDoc {
  const path = join(dir, TXN_DIR, JOURNAL);
  let doc: JournalDoc;
  try {
    doc = JSON.parse(readBounded(path, MAX_JOURNAL_BYTES, 'journal').toString('utf8')) as JournalDoc;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: not an Anchorage journal (${(e as Error).message}); remove ${join(dir, TXN_DIR)} to discard it`);
  }
  if (
    !doc ||
    doc.schema !== JOURNAL_SCHEMA ||
    !Array.isArray(doc.put) ||
    !Array.isArray(doc.remove) ||
    typeof doc.op?.command !== 'string' ||
    !Array.isArray(doc.op.args)
  )
    throw new InputError(`${path}: not an Anchorage journal; remove ${join(dir, TXN_DIR)} to discard it`);
  return doc;
}

/**
 * mkdir -p without Node's recursive mkdir, which never returns on a path such as /proc/x (mkdir keeps
 * answering ENOENT under an existing parent there). EEXIST on a non-directory is ENOTDIR.
 */
export function mkdirs(dir: string, mode = 0o700, depth = 0): void {
  try {
    mkdirSync(dir, { mode });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (statSync(dir).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', path: dir });
    }
    if (code !== 'ENOENT' || depth > 4096) throw e;
  }
  const parent = dirname(dir);
  if (parent === dir) throw Object.assign(new Error(`ENOENT: mkdir '${dir}'`), { code: 'ENOENT', path: dir });
  mkdirs(parent, mode, depth + 1);
  mkdirSync(dir, { mode }); // a second ENOENT (a parent that refuses children) is an error, never a loop
}

const madeDirs = new Set<string>();
function ensureDir(dir: string): void {
  if (madeDirs.has(dir)) return;
  mkdirs(dir, 0o700);
  madeDirs.add(dir);
}

/**
 * Roll a committed journal forward: idempotent, so a kill during it is finished by the next run. Returns
 * the folders whose entries changed: they are fsynced before `finish` (by `recover` one after the other, by
 * a commit all at once).
 */
function apply(dir: string, doc: JournalDoc): Set<string> {
  const txn = join(dir, TXN_DIR);
  const dirs = new Set<string>();
  for (const entry of doc.put) {
    if (!Array.isArray(entry)) throw new InputError(`${join(txn, JOURNAL)}: not an Anchorage journal`);
    const staged = inside(txn, entry[0]);
    const target = inside(dir, entry[1]);
    ensureDir(dirname(target));
    try {
      renameSync(staged, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      madeDirs.delete(dirname(target));
      ensureDir(dirname(target));
      try {
        renameSync(staged, target);
      } catch (e2) {
        // Renamed by the run this one finishes.
        if ((e2 as NodeJS.ErrnoException).code !== 'ENOENT') throw e2;
      }
    }
    dirs.add(dirname(target));
  }
  for (const rel of doc.remove) {
    const target = inside(dir, rel);
    rmSync(target, { force: true });
    dirs.add(dirname(target));
  }
  return dirs;
}

/**
 * After the renames and removals are on disk: empty folders go, then the journal (after this nothing is
 * replayed), then the staging folder, and DIR is fsynced once. Until that fsync a crash may bring the
 * journal back: the next run then replays it, which is harmless (its renames find nothing to rename, its
 * removals nothing to remove), and the lock keeps any other change out until this returns.
 */
function finish(dir: string, doc: JournalDoc): void {
  const txn = join(dir, TXN_DIR);
  pruneEmptyDirs(dir, doc.remove);
  rmSync(join(txn, JOURNAL), { force: true });
  rmSync(txn, { recursive: true, force: true });
  fsyncDir(dir);
}

/** Folders a removal emptied (a node that left the cluster) go too, deepest first, never DIR/nodes or DIR/store. */
function pruneEmptyDirs(dir: string, removed: string[]): void {
  const candidates = new Set<string>();
  for (const rel of removed) for (let d = dirname(rel); d.split(sep).length > 1; d = dirname(d)) candidates.add(d);
  const deepestFirst = [...candidates].sort((a, b) => b.split(sep).length - a.split(sep).length);
  for (const d of deepestFirst) {
    try {
      if (readdirSync(join(dir, d)).length === 0) {
        rmdirSync(join(dir, d));
        madeDirs.delete(join(dir, d));
      }
    } catch {
      // already gone, or not a folder
    }
  }
}

export interface Recovery {
  /** A committed transaction of this command was finished (rolled forward). */
  finished?: TxnOp;
  /** An uncommitted transaction was discarded (the command it belonged to changed nothing). */
  discarded: boolean;
}

/** Finish or discard what a killed run left; remove stale temp files. Call with the folder lock held. */
export function recover(dir: string): Recovery {
  const txn = join(dir, TXN_DIR);
  removeStaleTemps(dir);
  let names: string[];
  try {
    names = readdirSync(txn);
  } catch {
    return { discarded: false };
  }
  if (names.includes(JOURNAL)) {
    const doc = parseJournal(dir);
    for (const d of apply(dir, doc)) fsyncDir(d);
    finish(dir, doc);
    return { finished: doc.op, discarded: false };
  }
  rmSync(txn, { recursive: true, force: true });
  fsyncDir(dir);
  return { discarded: true };
}

/** Is a committed, unfinished transaction waiting in DIR (read-only commands say so)? */
export function pendingTransaction(dir: string): TxnOp | undefined {
  try {
    return parseJournal(dir).op;
  } catch {
    return undefined;
  }
}

/** Files staged for one transaction. */
export class Transaction {
  readonly dir: string;
  private readonly txn: string;
  private readonly puts: [string, string][] = [];
  private readonly removes: string[] = [];
  private readonly targets = new Set<string>();
  /** Staged files written but not yet fsynced: commit fsyncs them all at once, before the journal. */
  private readonly unsynced: string[] = [];
  private committed = false;

  constructor(dir: string) {
    this.dir = dir;
    this.txn = join(dir, TXN_DIR);
    mkdirs(this.txn, 0o700);
  }

  private rel(path: string): string {
    const r = relative(this.dir, path);
    if (r.startsWith('..') || isAbsolute(r)) throw new Error(`${path} is outside ${this.dir}`);
    if (this.targets.has(r)) throw new Error(`${path} is staged twice`);
    this.targets.add(r);
    return r;
  }

  /** Stage `data` for `path` (inside DIR) with its final mode. */
  put(path: string, data: string | Uint8Array, mode: number): void {
    const target = this.rel(path);
    const staged = writeTemp(join(this.txn, String(this.puts.length)), data, mode, false);
    this.unsynced.push(staged);
    this.puts.push([relative(this.txn, staged), target]);
  }

  remove(path: string): void {
    this.removes.push(this.rel(path));
  }

  get size(): number {
    return this.puts.length + this.removes.length;
  }

  /**
   * Commit (write the journal) and apply. The journal is written under a temp name beside the staged files
   * and fsynced with them (several at once: one journal commit of the filesystem can cover many), then the
   * staging folder; only then is the journal renamed to its name and the folder fsynced again (the commit
   * point): nothing the journal names can be lost once it exists. The folders the renames changed are
   * fsynced together too.
   */
  async commit(op: TxnOp): Promise<void> {
    // Store material is removed last: a CA leaves the store only after everything that stops needing it.
    const removes = [
      ...this.removes.filter((r) => !r.startsWith(`store${sep}`)),
      ...this.removes.filter((r) => r.startsWith(`store${sep}`)),
    ];
    const doc: JournalDoc = { schema: JOURNAL_SCHEMA, op, put: this.puts, remove: removes };
    const journal = writeTemp(join(this.txn, JOURNAL), `${JSON.stringify(doc)}\n`, 0o600, false);
    await fsyncFiles([...this.unsynced.splice(0), journal]);
    fsyncDir(this.txn);
    renameSync(journal, join(this.txn, JOURNAL));
    fsyncDir(this.txn);
    // Committed: from here on only a roll-forward (this one, or the next run's) may touch the journal.
    this.committed = true;
    await fsyncDirs([...apply(this.dir, doc)]);
    finish(this.dir, doc);
  }

  /** Drop everything staged (an error before the commit point); a no-op once committed. */
  abort(): void {
    if (this.committed) return;
    rmSync(this.txn, { recursive: true, force: true });
  }
}

/** Run `body` holding DIR's lock, after finishing or discarding what a killed run left. */
export async function withPkiDir<T>(dir: string, what: string, body: (r: Recovery) => Promise<T>): Promise<T> {
  const lock = lockDir(dir, what);
  try {
    return await body(recover(dir));
  } finally {
    lock.release();
  }
}
