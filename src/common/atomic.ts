// The one way Anchorage writes a file: new bytes go to an unpredictable temp name beside the target
// (exclusive create, so a planted symlink or an existing file is never followed or truncated), the
// final mode is set before a byte lands, the data is fsynced, then renamed over the target and the
// directory fsynced. A crash at any point leaves either the old file or the new one, never a mix, and
// at worst a `.<name>.<random>.tmp` that the next run removes (`removeStaleTemps`).
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.ts';

export interface FileOutput {
  path: string;
  data: string | Uint8Array;
  /** Final mode (default 0644); private keys are 0600. Applied exactly, whatever the umask. */
  mode?: number;
}

export interface WriteOptions {
  /** Replace an existing file (default false: refuse with "already exists"). */
  overwrite?: boolean;
  /** fsync the parent directory after the rename (default true). Bulk writers sync each directory once. */
  syncDir?: boolean;
}

const TEMP_RE = /^\..+\.[0-9a-f]{16}\.tmp$/;

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
}

/**
 * Write `data` to a new exclusive temp file beside `path`, fsynced, with `mode`. Returns the temp path.
 * With `sync` false the fsync is the caller's (`fsyncFiles`, before anything depends on the data).
 */
export function writeTemp(path: string, data: string | Uint8Array, mode = 0o644, sync = true): string {
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), mode);
  try {
    fchmodSync(fd, mode);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (sync) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  return tmp;
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** How many files `fsyncFiles` and `fsyncDirs` have open and syncing at once (libuv's pool has 4 threads by default). */
const FSYNC_PARALLEL = 8;

/**
 * fsync every file in `paths` (each opened again by path: fsync flushes the file, whichever descriptor asks),
 * several at once on libuv's thread pool, so the filesystem can commit them together instead of one journal
 * commit per file. Resolves when every one is on disk; rejects with the first error after the others ended.
 */
export function fsyncFiles(paths: readonly string[]): Promise<void> {
  return fsyncAll(paths, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0), false);
}

/**
 * `fsyncDir` for several folders at once on libuv's thread pool (one journal commit of the filesystem can
 * cover them all). As `fsyncDir`, a folder that cannot be opened or synced is passed over: the renames in it
 * are atomic whatever the filesystem says about fsync on a directory.
 */
export function fsyncDirs(dirs: readonly string[]): Promise<void> {
  return fsyncAll(dirs, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0), true);
}

function fsyncAll(paths: readonly string[], flags: number, tolerant: boolean): Promise<void> {
  const fs = process.getBuiltinModule('node:fs');
  return new Promise((resolve, reject) => {
    let next = 0;
    let running = 0;
    let failed: unknown;
    const one = (path: string): void => {
      running++;
      fs.open(path, flags, (e, fd) => {
        if (e) return finish(tolerant ? null : e);
        fs.fsync(fd, (e2) => fs.close(fd, (e3) => finish(tolerant ? null : (e2 ?? e3))));
      });
    };
    const finish = (e: unknown): void => {
      running--;
      if (e && failed === undefined) failed = e;
      if (failed === undefined && next < paths.length) one(paths[next++] as string);
      else if (running === 0) failed === undefined ? resolve() : reject(failed);
    };
    if (paths.length === 0) return resolve();
    while (next < paths.length && running < FSYNC_PARALLEL) one(paths[next++] as string);
  });
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function describe(e: unknown, fallback: string): InputError {
  const err = e as NodeJS.ErrnoException;
  const where = err.path ? err.path.replace(/\/\.([^/]+)\.[0-9a-f]{16}\.tmp$/, '/$1') : fallback;
  const why =
    err.code === 'ENOENT'
      ? 'directory does not exist'
      : err.code === 'EACCES' || err.code === 'EPERM'
        ? 'permission denied'
        : err.code === 'ENOSPC'
          ? 'no space left on device'
          : err.code === 'EISDIR'
            ? 'is a directory'
            : err.code === 'ENOTDIR'
              ? 'a parent is not a directory'
              : err.code === 'EROFS'
                ? 'read-only file system'
                : (err.message ?? String(e));
  return new InputError(`cannot write ${where}: ${why}`);
}

/** Write one file atomically. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, opts: WriteOptions = {}): void {
  writeFilesAtomic([{ path, data, mode }], { overwrite: true, ...opts });
}

/**
 * Write several files all-or-nothing as far as POSIX allows: every temp is written and fsynced first
 * (any failure removes them all and changes nothing), then all are renamed. Refuses an existing target
 * unless `overwrite`, and a target that is a directory always.
 */
export function writeFilesAtomic(outputs: FileOutput[], opts: WriteOptions = {}): void {
  const seen = new Set<string>();
  for (const o of outputs) {
    if (seen.has(o.path)) throw new InputError(`${o.path} is given as two outputs`);
    seen.add(o.path);
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(o.path);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) throw new InputError(`cannot write ${o.path}: is a directory`);
    if (st && !opts.overwrite) throw new InputError(`${o.path} already exists (use --force to overwrite)`);
  }
  const temps: string[] = [];
  try {
    for (const o of outputs) temps.push(writeTemp(o.path, o.data, o.mode ?? 0o644));
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    throw describe(e, 'output');
  }
  const dirs = new Set<string>();
  outputs.forEach((o, i) => {
    renameSync(temps[i] as string, o.path);
    dirs.add(dirname(o.path));
  });
  if (opts.syncDir !== false) for (const d of dirs) fsyncDir(d);
}

/** Remove temp files a killed writer left in `dir` (not recursive). Returns the names removed. */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (TEMP_RE.test(n)) {
      rmSync(join(dir, n), { force: true });
      removed.push(n);
    }
  }
  return removed;
}

export interface DirLock {
  release(): void;
}

/**
 * One writer per folder: an exclusive `.anchorage.lock` holding the owner's pid. A lock whose pid is no
 * longer alive (a killed run) is taken over; a live one is refused with one line.
 */
export function lockDir(dir: string, what = 'another anchorage command'): DirLock {
  const path = join(dir, '.anchorage.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      // Not fsynced: the pid matters only while its process lives (the page cache answers then); after a
      // crash the owner is gone, and a lock file that lost its pid (empty) is stale and taken over, as below.
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw describe(e, path);
    }
    let pid = Number.NaN;
    try {
      pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    } catch {
      continue; // removed between our open and read: try again
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new InputError(`${dir} is in use by ${what} (pid ${pid}); wait for it to finish`);
    }
    rmSync(path, { force: true }); // stale: its owner is gone
  }
  throw new InputError(`${dir}: cannot take the folder lock ${path}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function pathExists(p: string): boolean {
  return exists(p);
}
