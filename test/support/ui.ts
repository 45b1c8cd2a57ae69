// What the dashboard and TUI tests (test/ui*.test.ts, test/tui*.test.ts) and bench/ui.bench.ts share: the
// dashboard built once (web/dist, rebuilt only when a source is newer), a real `anchorage serve` child on a
// free loopback port, Debian's Chromium driven by playwright-core, and the folder screenshots go to.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const NODE = process.execPath;
export const BIN = join(ROOT, 'bin/anchorage.js');
/** Screenshots and other artifacts of the UI tests (gitignored). */
export const ARTIFACTS = join(ROOT, 'test/.artifacts/ui');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Build web/dist unless it is newer than every source it is built from. */
export function ensureWebBuilt(): void {
  const index = join(ROOT, 'web/dist/index.html');
  const sources = Math.max(
    newest(join(ROOT, 'web/src')),
    statSync(join(ROOT, 'web/index.html')).mtimeMs,
    statSync(join(ROOT, 'web/vite.config.ts')).mtimeMs,
    statSync(join(ROOT, 'src/tui/api.ts')).mtimeMs,
  );
  if (existsSync(index) && statSync(index).mtimeMs > sources) return;
  execFileSync('npm', ['run', 'build:web'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** `anchorage demo --dir DIR`: the demo PKI with its planted faults. */
export function makeDemo(dir: string): void {
  execFileSync(NODE, [BIN, 'demo', '--dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface Served {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Start `anchorage serve` with `args` on 127.0.0.1:0; resolves with its URL once it listens and is ready. */
export async function serve(args: string[], timeoutMs = 300_000): Promise<Served> {
  const child = spawn(NODE, [BIN, 'serve', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-8000);
  });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`anchorage serve did not listen in time: ${err}`)), timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`anchorage serve exited ${code}: ${err}`));
    });
  });
  child.removeAllListeners('exit');
  // Ready: the first inventory is done (bounded wait).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    if (r?.ok) break;
    if (Date.now() > deadline) throw new Error(`anchorage serve not ready: ${err}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

/** Debian's Chromium (test/deps.sh installs it), headless. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
  if (!executablePath) throw new Error('no Chromium: run bash test/deps.sh');
  // --no-sandbox: the tests run as root in CI containers, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export function artifactsDir(sub = ''): string {
  const d = join(ARTIFACTS, sub);
  mkdirSync(d, { recursive: true });
  return d;
}
