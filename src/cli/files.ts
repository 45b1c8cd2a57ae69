// Reading what commands are given: files, directories and stdin. (Writing: src/cli/outputs.ts.)
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
