// `anchorage tui`: the terminal UI (src/tui, docs/ui.md) over `anchorage serve`'s API: a running server
// (--server URL, --token) or a PKI folder (--dir: this command starts `anchorage serve --dir` on a free loopback
// port with a one-time writer token, and stops it on exit).
// src/tui is its own program on the same layer as the CLI (docs/architecture.md), so it is loaded by URL at run
// time, as a separate program would be, not imported.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';

/** How long a --dir server may take to read the folder and listen. */
const START_TIMEOUT_MS = 120_000;

interface TuiCliOptions {
  server?: string;
  token?: string;
  dir?: string;
  readOnly?: boolean;
}

interface TuiProgram {
  runTui(o: { server: string; token?: string; target: string; writes: boolean }): Promise<void>;
}

function loadTui(): Promise<TuiProgram> {
  // This module is src/cli/commands/tui.ts in a checkout and dist/cli/commands/tui.js when published.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return import(new URL(`../../tui/main${ext}`, import.meta.url).href) as Promise<TuiProgram>;
}

/** Start `anchorage serve --dir` on 127.0.0.1:0; resolves with its URL once it listens. */
function startServer(dir: string, token: string): Promise<{ url: string; child: ChildProcess }> {
  const bin = new URL('../../../bin/anchorage.js', import.meta.url);
  const child = spawn(
    process.execPath,
    [
      bin.pathname,
      'serve',
      '--dir',
      dir,
      '--listen',
      '127.0.0.1:0',
      '--no-history',
      '--write-token',
      'env:TUI_SERVE_WRITE_TOKEN',
      '--interval',
      '5',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TUI_SERVE_WRITE_TOKEN: token } },
  );
  return new Promise((ok, fail) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      fail(new InputError(`--dir ${dir}: anchorage serve did not listen within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        ok({ url: m[1], child });
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-4000);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = err.trim().split('\n').at(-1) ?? '';
      fail(new InputError(`--dir ${dir}: anchorage serve stopped (exit ${code})${last ? `: ${last.replace(/^error: /, '')}` : ''}`));
    });
  });
}

async function tuiCommand(o: TuiCliOptions): Promise<void> {
  if ((o.server === undefined) === (o.dir === undefined)) throw new InputError('give either --server URL or --dir DIR');
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new InputError('anchorage tui needs a terminal (stdin and stdout)');
  const tui = await loadTui();
  if (o.server !== undefined) {
    let url: URL;
    try {
      url = new URL(o.server);
    } catch {
      throw new InputError(`--server: '${o.server}' is not a URL (http://host:port)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(`--server: '${o.server}' is not http:// or https://`);
    const token = o.token === undefined ? undefined : resolveSecret(o.token, '--token').trim();
    await tui.runTui({ server: url.origin, ...(token && { token }), target: url.origin, writes: o.readOnly !== true });
    return;
  }
  const dir = resolve(o.dir as string);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--dir ${o.dir}: not a folder`);
  const token = randomBytes(24).toString('base64url');
  const { url, child } = await startServer(dir, token);
  child.removeAllListeners('exit');
  try {
    await tui.runTui({ server: url, token, target: dir, writes: o.readOnly !== true });
  } finally {
    child.kill('SIGTERM');
  }
}

export function register(program: Command): void {
  program
    .command('tui')
    .description('terminal UI: certificates, nodes, findings, operations and a live log, from anchorage serve or a PKI folder (docs/ui.md)')
    .option('--server <url>', 'an anchorage serve to read (http://127.0.0.1:8080)')
    .option('--token <secret>', 'its bearer token (env:NAME, file:PATH, prompt; a writer token runs operations)')
    .option('--dir <dir>', 'a PKI folder (pki init, anchorage demo --dir): served on loopback for this session')
    .option('--read-only', 'plan and run no operations (the views stay)')
    .action(async (o: TuiCliOptions) => {
      await tuiCommand(o);
    });
}
