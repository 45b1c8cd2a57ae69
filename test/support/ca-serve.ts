// `anchorage ca serve` as its own process, the way the CA tests start it: resolves once the server prints
// the URL of its mTLS API (`api https://…`), or fails at once with its stderr when it exits first.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Fatal, waitFor } from '../cluster/harness.ts';

const root = join(import.meta.dirname, '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'src', 'cli', 'main.ts');

export interface CaServe {
  proc: ChildProcess;
  /** The mTLS API's base URL, as the server printed it. */
  url: string;
  /** What the server wrote to stderr so far. */
  err(): string;
}

/** `anchorage ca serve ARGS` in `cwd`; bounded by `ms` (default 120 s: a loaded CI machine is slow to start Node). */
export async function startCaServe(
  args: string[],
  o: { cwd: string; env?: NodeJS.ProcessEnv; what?: string; ms?: number },
): Promise<CaServe> {
  const proc = spawn(node, [main, 'ca', 'serve', ...args], { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d;
  });
  proc.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  let url = '';
  await waitFor(
    o.what ?? 'ca serve',
    () => {
      url = /api (https:\/\/\S+)/.exec(out)?.[1] ?? '';
      if (url) return true;
      if (proc.exitCode !== null) throw new Fatal(`ca serve exited ${proc.exitCode}: ${err.trim().split('\n').pop() ?? ''}`);
      return false;
    },
    o.ms ?? 120_000,
    100,
  );
  return { proc, url, err: () => err };
}
