// File I/O for commands: reading inputs (files, directories, stdin) and writing outputs atomically.
import { chmodSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../common/errors.ts';

export interface InputFile {
  path: string;
  data: Uint8Array;
}

const MAX_FILE = 64 * 1024 * 1024;

/** Expand files, directories (recursively, skipping symlinked dirs and dot dirs) and '-' (stdin). */
export function collectInputs(paths: string[]): { files: InputFile[]; errors: { path: string; error: string }[] } {
  const files: InputFile[] = [];
  const errors: { path: string; error: string }[] = [];
  const visit = (p: string, explicit: boolean): void => {
    if (p === '-') {
      files.push({ path: '-', data: readFileSync(0) });
      return;
    }
    let st: ReturnType<typeof statSync>;
    try {
      st = explicit ? statSync(p) : lstatSync(p);
    } catch (e) {
      const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
      if (explicit) throw new InputError(`${p}: ${msg}`);
      errors.push({ path: p, error: msg });
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(p).sort();
      } catch (e) {
        errors.push({ path: p, error: (e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (e as Error).message });
        return;
      }
      for (const n of names) if (!n.startsWith('.') || explicit === false) visit(join(p, n), false);
      return;
    }
    if (!st.isFile()) return;
    if (st.size > MAX_FILE) {
      errors.push({ path: p, error: `larger than ${MAX_FILE / 1024 / 1024} MiB, skipped` });
      return;
    }
    try {
      files.push({ path: p, data: readFileSync(p) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const msg = code === 'EACCES' ? 'permission denied' : (e as Error).message;
      if (explicit) throw new InputError(`${p}: ${msg}`);
      errors.push({ path: p, error: msg });
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

/**
 * Write files all-or-nothing: each goes to a temp name first, then all are renamed.
 * Keys get 0600 before any byte is written.
 */
export function writeFilesAtomic(outputs: { path: string; data: string | Uint8Array; mode?: number }[], overwrite = false): void {
  for (const o of outputs) {
    if (!overwrite && exists(o.path)) throw new InputError(`${o.path} already exists (use --force to overwrite)`);
  }
  const temps: string[] = [];
  try {
    for (const o of outputs) {
      const tmp = join(dirname(o.path), `.${basename(o.path)}.${process.pid}.tmp`);
      writeFileSync(tmp, o.data, { mode: o.mode ?? 0o644, flag: 'wx' });
      chmodSync(tmp, o.mode ?? 0o644);
      temps.push(tmp);
    }
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    const err = e as NodeJS.ErrnoException;
    throw new InputError(`cannot write ${err.path ?? 'output'}: ${err.code === 'ENOENT' ? 'directory does not exist' : err.message}`);
  }
  outputs.forEach((o, i) => {
    renameSync(temps[i] as string, o.path);
  });
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
