// Running the CLI from the nodes tests, and reading what a node of a Lab (test/support/sshd.ts) holds.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabNode } from './sshd.ts';

const root = join(import.meta.dirname, '..', '..');
export const main = join(root, 'src', 'cli', 'main.ts');
export const nodeBin = existsSync(join(root, 'node_modules', '.bin', 'node'))
  ? join(root, 'node_modules', '.bin', 'node')
  : process.execPath;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI without blocking the event loop (the nodes are served by child processes, but a kill needs a handle). */
export function cliStart(args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; done: Promise<CliResult> } {
  const proc = spawn(nodeBin, [main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 240_000);
  const done = new Promise<CliResult>((resolve) =>
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { proc, done };
}

export const cli = (args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> => cliStart(args, env).done;

/** Every regular file (and symlink) under `dirs` on a node, path → {data, mode, uid, gid}. */
export function nodeFiles(lab: Lab, n: LabNode, dirs: string[]): Map<string, { data: Buffer; mode: number; uid: number; gid: number }> {
  const out = new Map<string, { data: Buffer; mode: number; uid: number; gid: number }>();
  const walk = (p: string): void => {
    const real = lab.path(n, p);
    if (!existsSync(real)) return;
    const st = lstatSync(real);
    if (st.isDirectory()) {
      for (const e of readdirSync(real)) walk(`${p}/${e}`);
      return;
    }
    out.set(p, { data: st.isFile() ? readFileSync(real) : Buffer.alloc(0), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  };
  for (const d of dirs) walk(d);
  return out;
}

/** Write a file on a node (as root, through its mount namespace). */
export function plant(lab: Lab, n: LabNode, path: string, data: string | Buffer): void {
  writeFileSync(lab.path(n, path), data);
}

export interface ManifestEntry {
  node: string;
  path: string;
  mode: string;
  kind: string;
  role: string;
}

export function manifestOf(dir: string): ManifestEntry[] {
  return (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: ManifestEntry[] }).files;
}

/** The bytes DIR holds for a node file. */
export function dirFile(dir: string, node: string, path: string): Buffer {
  return readFileSync(join(dir, 'nodes', node, ...path.split('/').filter(Boolean)));
}
