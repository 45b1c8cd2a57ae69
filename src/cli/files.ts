// Reading what commands are given: files, directories and stdin. (Writing: src/cli/outputs.ts.)
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';

export interface InputFile {
  path: string;
  data: Uint8Array;
}

/** Largest single input (a file or stdin). */
export const MAX_FILE = 64 * 1024 * 1024;
/** Most directory entries one command walks, over all its arguments. */
export const MAX_ENTRIES = 100_000;
/** Most bytes one command reads, over all its inputs. */
export const MAX_TOTAL = 1024 * 1024 * 1024;

const MIB = (n: number): string => `${n / 1024 / 1024} MiB`;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'ELOOP') return 'too many levels of symbolic links';
  return err.message;
}

/** Read from an open descriptor, at most `cap` bytes; more is an InputError (never a heap blow-up). */
function readCapped(fd: number, what: string, cap: number): Uint8Array {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, cap + 1 - total));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // A non-blocking stdin with nothing yet: wait briefly instead of spinning.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    total += n;
    if (total > cap) throw new InputError(`${what}: too large (more than ${MIB(cap)})`);
    chunks.push(buf.subarray(0, n));
  }
  return Buffer.concat(chunks, total);
}

/**
 * Expand files, directories and '-' (stdin) into file contents, within budgets: each input at most
 * MAX_FILE bytes, MAX_ENTRIES directory entries and MAX_TOTAL bytes in all. Named on the command line,
 * anything unreadable (missing, a FIFO, a device, too large) is an InputError; met inside a directory
 * it is listed in `errors` and the walk goes on.
 *
 * Directory walks follow symbolic links to files and to directories (Kubernetes mounts Secret and
 * ConfigMap volumes as `tls.crt -> ..data/tls.crt`, `..data -> ..2024_01_01_...`), guard against
 * cycles, and skip names starting with a dot at every level: so the `..data` and timestamped copies
 * are not read a second time, each logical file of a volume is read once, by its plain name.
 */
export function collectInputs(paths: string[]): { files: InputFile[]; errors: { path: string; error: string }[] } {
  const files: InputFile[] = [];
  const errors: { path: string; error: string }[] = [];
  let entries = 0;
  let total = 0;
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const account = (p: string, n: number): void => {
    total += n;
    if (total > MAX_TOTAL) throw new InputError(`${p}: too large: the inputs hold more than ${MIB(MAX_TOTAL)} in all`);
  };
  const visit = (p: string, explicit: boolean): void => {
    const problem = (msg: string): void => {
      if (explicit) throw new InputError(`${p}: ${msg}`);
      errors.push({ path: p, error: msg });
    };
    if (p === '-') {
      let data: Uint8Array;
      try {
        data = readCapped(0, 'stdin', MAX_FILE);
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError(`stdin: ${errText(e)}`);
      }
      account(p, data.length);
      files.push({ path: '-', data });
      return;
    }
    let st: Stats;
    try {
      st = statSync(p);
    } catch (e) {
      problem(errText(e));
      return;
    }
    if (st.isDirectory()) {
      const id = `${st.dev}:${st.ino}`;
      // Already walked (a symbolic link cycle, or two links to one folder): once is enough.
      if (seenDirs.has(id)) return;
      seenDirs.add(id);
      let names: string[];
      try {
        names = readdirSync(p).sort();
      } catch (e) {
        problem(errText(e));
        return;
      }
      for (const n of names) {
        if (n.startsWith('.')) continue;
        entries++;
        if (entries > MAX_ENTRIES) throw new InputError(`${p}: too large: more than ${MAX_ENTRIES} directory entries to walk`);
        visit(join(p, n), false);
      }
      return;
    }
    if (!st.isFile()) {
      problem(`${kindOf(st)}, not a regular file: not read`);
      return;
    }
    if (st.size > MAX_FILE) {
      problem(`too large (more than ${MIB(MAX_FILE)})`);
      return;
    }
    // Inside a walk, one file reached by several links is read once.
    const fid = `${st.dev}:${st.ino}`;
    if (!explicit && seenFiles.has(fid)) return;
    seenFiles.add(fid);
    let fd: number;
    try {
      // Non-blocking open: a file swapped for a FIFO after the stat must not hang the open.
      fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      problem(errText(e));
      return;
    }
    try {
      const fst = fstatSync(fd);
      if (!fst.isFile()) {
        problem(`${kindOf(fst)}, not a regular file: not read`);
        return;
      }
      let data: Uint8Array;
      try {
        data = readCapped(fd, p, MAX_FILE);
      } catch (e) {
        if (e instanceof InputError) {
          problem(`too large (more than ${MIB(MAX_FILE)})`);
          return;
        }
        problem(errText(e));
        return;
      }
      account(p, data.length);
      files.push({ path: p, data });
    } finally {
      closeSync(fd);
    }
  };
  for (const p of paths) visit(p, true);
  return { files, errors };
}

export function readInputFile(path: string): Uint8Array {
  const { files } = collectInputs([path]);
  const f = files[0];
  if (!f || files.length !== 1) throw new InputError(`${path}: expected one file`);
  return f.data;
}
