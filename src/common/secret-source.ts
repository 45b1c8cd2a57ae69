// Where a password or passphrase comes from, never the command line itself if the user prefers:
//   env:NAME     the environment variable NAME
//   file:PATH    the first line of PATH (a mounted Secret, a file only root reads)
//   prompt       asked on the terminal, not echoed
//   pass:VALUE   the value itself (visible in `ps` and shell history: for tests and throw-away keys)
// A bare value is taken as pass:VALUE for compatibility with openssl's -passin habits.
import { InputError } from './errors.ts';

const { closeSync, openSync, readSync, statSync, writeSync } = process.getBuiltinModule('node:fs');

const MAX_SECRET_FILE = 64 * 1024;

export type SecretSource =
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'prompt' }
  | { kind: 'pass'; value: string };

export function parseSecretSource(spec: string): SecretSource {
  if (spec === 'prompt') return { kind: 'prompt' };
  const m = /^(env|file|pass):(.*)$/s.exec(spec);
  if (!m) return { kind: 'pass', value: spec };
  const [, kind, rest] = m as unknown as [string, 'env' | 'file' | 'pass', string];
  if (kind === 'env') {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(rest)) throw new InputError(`env:${rest}: not an environment variable name`);
    return { kind, name: rest };
  }
  if (kind === 'file') {
    if (!rest) throw new InputError('file: needs a path (file:/path/to/secret)');
    return { kind, path: rest };
  }
  return { kind, value: rest };
}

/** Read one line from the controlling terminal without echo (stty), for `prompt`. */
function promptTty(question: string): string {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    throw new InputError('prompt: no terminal to ask on (use env:NAME or file:PATH)');
  }
  try {
    // child_process only when asking: a command that never prompts does not load it at start-up.
    const { spawnSync } = process.getBuiltinModule('node:child_process');
    const stty = (arg: string) => spawnSync('stty', [arg], { stdio: [fd, 'ignore', 'ignore'] });
    // Echo goes off before the question appears, so nothing typed after it is ever shown.
    stty('-echo');
    writeSync(fd, question);
    try {
      const buf = Buffer.alloc(4096);
      let line = '';
      for (let i = 0; i < 64; i++) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        line += buf.subarray(0, n).toString('utf8');
        if (line.includes('\n')) break;
      }
      return line.replace(/\r?\n[\s\S]*$/, '');
    } finally {
      stty('echo');
      writeSync(fd, '\n');
    }
  } finally {
    closeSync(fd);
  }
}

/** Resolve a source to the secret. `what` names it in messages and the prompt ("CA key passphrase"). */
export function resolveSecret(spec: string | SecretSource, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const s = typeof spec === 'string' ? parseSecretSource(spec) : spec;
  switch (s.kind) {
    case 'pass':
      return s.value;
    case 'env': {
      const v = env[s.name];
      if (v === undefined) throw new InputError(`${what}: environment variable ${s.name} is not set`);
      return v;
    }
    case 'file': {
      let size: number;
      try {
        const st = statSync(s.path);
        if (!st.isFile()) throw new InputError(`${what}: ${s.path} is not a regular file`);
        size = st.size;
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError(`${what}: ${s.path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot read'}`);
      }
      if (size > MAX_SECRET_FILE) throw new InputError(`${what}: ${s.path} is too large for a secret (${size} bytes)`);
      const fd = openSync(s.path, 'r');
      try {
        const buf = Buffer.alloc(size);
        readSync(fd, buf, 0, size, 0);
        return buf.toString('utf8').replace(/\r?\n[\s\S]*$/, '');
      } finally {
        closeSync(fd);
      }
    }
    case 'prompt':
      return promptTty(`${what}: `);
  }
}
