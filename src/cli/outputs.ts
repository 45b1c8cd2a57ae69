// Every file a command writes goes through here, then through src/common/atomic.ts (exclusive
// unpredictable temp, exact mode, fsync, rename). Modes: secrets (private keys, keystores holding
// one) are 0600 whatever the umask; everything else is 0644 narrowed by the umask, as `cp` or kubeadm
// would create it (0644 under umask 022, 0600 under umask 077). A command refuses, before writing
// anything, to write one path twice or over a file it reads as a signing authority.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeFilesAtomic } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';

export const SECRET_MODE = 0o600;
const PUBLIC_MODE = 0o644;

export interface Output {
  path: string;
  data: string | Uint8Array;
  /** A private key, or a container holding one: always 0600. */
  secret?: boolean;
}

/** A file the command reads and must never replace, e.g. the issuing CA's certificate and key. */
export interface ProtectedPath {
  path: string;
  /** Why, completing "refusing to write X: ...". */
  why: string;
}

export interface WriteOutputsOptions {
  force?: boolean;
  protect?: readonly ProtectedPath[];
}

/** The process umask, read without changing it (Linux: /proc/self/status; elsewhere the racy process.umask()). */
export function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m?.[1]) return Number.parseInt(m[1], 8);
  } catch {
    // not Linux
  }
  const old = process.umask(0o022);
  process.umask(old);
  return old;
}

/** The mode a written file gets. */
export function outputMode(secret: boolean | undefined): number {
  return secret ? SECRET_MODE : PUBLIC_MODE & ~currentUmask();
}

/** Identity of an existing file (device and inode, following symlinks), or its absolute path when absent. */
function identity(path: string): string {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return resolve(path);
  }
}

/** Check every output, then write them all or none. */
export function writeOutputs(outputs: readonly Output[], opts: WriteOutputsOptions = {}): void {
  const seen = new Map<string, string>();
  const guarded = new Map<string, ProtectedPath>();
  for (const p of opts.protect ?? []) {
    guarded.set(identity(p.path), p);
    guarded.set(resolve(p.path), p);
  }
  for (const o of outputs) {
    for (const id of new Set([identity(o.path), resolve(o.path)])) {
      const g = guarded.get(id);
      if (g) throw new InputError(`refusing to write ${o.path}: ${g.why}`);
      const other = seen.get(id);
      if (other !== undefined) throw new InputError(`${o.path} and ${other} are the same file: give each output its own path`);
    }
    seen.set(identity(o.path), o.path);
    seen.set(resolve(o.path), o.path);
  }
  try {
    writeFilesAtomic(
      outputs.map((o) => ({ path: o.path, data: o.data, mode: outputMode(o.secret) })),
      { overwrite: opts.force === true },
    );
  } catch (e) {
    if (e instanceof InputError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (!err.code) throw e;
    // A failed rename: name the target, never the temp file.
    const where = ((err as { dest?: string }).dest ?? err.path ?? 'output').replace(/\/\.([^/]+)\.[0-9a-f]{16}\.tmp$/, '/$1');
    throw new InputError(`cannot write ${where}: ${err.code}`);
  }
}
