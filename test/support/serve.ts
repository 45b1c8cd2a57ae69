// Running `anchorage serve` and `anchorage agent` as a user does (a child process of the CLI), and
// talking to the API.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
export const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

export interface Proc {
  proc: ChildProcess;
  url: string;
  /** The exit code, when it exits. */
  exited: Promise<number | null>;
  out(): string;
  err(): string;
  stop(): Promise<number | null>;
}

/** Start `anchorage <args>`; for serve, wait for its "listening on URL" line (at most 120 s). */
export async function startCli(
  args: string[],
  o: {
    env?: NodeJS.ProcessEnv;
    waitUrl?: boolean;
    /** Another checkout's src/cli/main.ts (benches comparing two). */
    main?: string;
  } = {},
): Promise<Proc> {
  const proc = spawn(NODE, [o.main ?? MAIN, ...args], { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let url = '';
  if (o.waitUrl !== false) {
    url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no "listening on" line after 120 s:\n${out}\n${err}`)), 120_000);
      const check = (): void => {
        const m = /listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1] as string);
        }
      };
      proc.stdout?.on('data', check);
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`exited ${code} before listening:\n${out}\n${err}`));
      });
    });
  }
  return {
    proc,
    url,
    exited,
    out: () => out,
    err: () => err,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** One API call; JSON in and out. */
// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
export async function api<T = any>(
  url: string,
  path: string,
  o: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const res = await fetch(`${url}${path}`, {
    method: o.method ?? 'GET',
    headers: {
      ...(o.body !== undefined && { 'content-type': 'application/json' }),
      ...(o.token !== undefined && { authorization: `Bearer ${o.token}` }),
      ...o.headers,
    },
    ...(o.body !== undefined && { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics, PEM)
  }
  return { status: res.status, body: body as T, text, headers: res.headers };
}

/** An HTTPS call with a client certificate (mTLS). */
export function tlsApi(
  url: string,
  o: { ca: string; cert?: string; key?: string; method?: string; body?: string; token?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? 'GET',
        ca: o.ca,
        ...(o.cert !== undefined && { cert: o.cert, key: o.key }),
        headers: {
          ...(o.body !== undefined && { 'content-type': 'application/json' }),
          ...(o.token !== undefined && { authorization: `Bearer ${o.token}` }),
        },
      },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => {
          b += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Read SSE events from /api/v1/events until `until` says stop (or `ms` passes). */
export async function sse(
  url: string,
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
  until: (events: { event: string; data: any }[]) => boolean,
  o: { token?: string; ms?: number; onOpen?: () => void | Promise<void> } = {},
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
): Promise<{ event: string; data: any }[]> {
  const ctrl = new AbortController();
  const t = setTimeout(() => ctrl.abort(), o.ms ?? 60_000);
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
  const events: { event: string; data: any }[] = [];
  try {
    const res = await fetch(`${url}/api/v1/events`, {
      headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
      signal: ctrl.signal,
    });
    if (!res.body) throw new Error('no body');
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let opened = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (block.startsWith(': connected') && !opened) {
          opened = true;
          await o.onOpen?.();
        }
        const ev = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (ev && data) events.push({ event: ev[1] as string, data: JSON.parse(data[1] as string) });
        i = buf.indexOf('\n\n');
      }
      if (until(events)) break;
    }
  } catch (e) {
    if (!ctrl.signal.aborted) throw e;
  } finally {
    clearTimeout(t);
    ctrl.abort();
  }
  return events;
}
