// `anchorage serve` over PostgreSQL (Debian's, started by test/support/postgres.ts): two replicas on one
// database share findings history and acknowledgements; a restart keeps history; the database going
// away (stopped fast or immediately, or frozen with its sockets open) is said in /readyz, /metrics and
// the API (503 on writes) while reads go on, for as long as it is away, and the server catches up when
// it is back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorage, waitFor } from './cluster/harness.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';
import { api, type Proc, startCli } from './support/serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'serve-pg-'));
let pg: Postgres;
let a: Proc;
let b: Proc;
const args = (): string[] => [
  'serve',
  '--dir',
  dir,
  '--listen',
  '127.0.0.1:0',
  '--interval',
  '0.5',
  '--store',
  pg.url,
  '--allow-writes-on-loopback',
];
const ready = async (p: Proc): Promise<void> => waitFor('ready', async () => (await api(p.url, '/readyz')).status === 200, 120_000);
const errors = async (p: Proc): Promise<number> =>
  Number(/^anchorage_errors_total (\d+)$/m.exec((await api(p.url, '/metrics')).text)?.[1] ?? Number.NaN);

/**
 * The store is reported down and stays down while the database is away: /readyz answers 503 at every poll
 * for two heartbeats (5 s each) and until the health check or a write has failed once more (each failure
 * counts in anchorage_errors_total), and the server logs that it is down, never that it is back. (A flush with
 * nothing to write used to call it back half a second after each failed check.) `log`: how much the
 * server had logged before the database went away.
 */
async function downWhileAway(p: Proc, reason: RegExp, log: number): Promise<void> {
  await waitFor('store down', async () => (await api(p.url, '/readyz')).status === 503, 60_000).catch((e: Error) => {
    // What the server said (and whether it still runs) is what tells a hang from a crash.
    throw new Error(
      `${e.message}; exit ${p.proc.exitCode ?? p.proc.signalCode ?? 'none'}; server log:\n${p.err().slice(log).slice(-3000)}`,
    );
  });
  const r = await api(p.url, '/readyz');
  expect(r.status).toBe(503);
  expect(r.body.reason).toMatch(/store down since/);
  expect(r.body.reason).toMatch(reason);
  expect((await api(p.url, '/metrics')).text).toMatch(/^anchorage_store_up 0$/m);
  const from = await errors(p);
  const until = Date.now() + 12_000;
  const seen = new Set<number>();
  await waitFor(
    'two heartbeats and one more failure',
    async () => {
      seen.add((await api(p.url, '/readyz')).status);
      return Date.now() >= until && (await errors(p)) > from;
    },
    120_000,
  );
  expect([...seen]).toEqual([503]);
  expect(p.err().slice(log)).toContain('store is down: retrying');
  expect(p.err().slice(log)).not.toContain('store is back');
}

beforeAll(async () => {
  expect(anchorage(['demo', '--dir', dir]).code).toBe(0);
  pg = await startPostgres('serve-pg');
  a = await startCli(args());
  b = await startCli(args());
  await Promise.all([ready(a), ready(b)]);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await pg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('anchorage serve on PostgreSQL', () => {
  it('two replicas agree on findings and their first-seen times, and share acknowledgements', async () => {
    const fa = (await api(a.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[];
    const fb = new Map(
      ((await api(b.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[]).map((f) => [
        f.key,
        f.firstSeen,
      ]),
    );
    expect(fa.length).toBeGreaterThan(0);
    expect(fa.map((f) => f.key).sort()).toEqual([...fb.keys()].sort());
    const f = fa[0] as { key: string };
    const until = new Date(Date.now() + 86_400_000).toISOString();
    expect((await api(a.url, `/api/v1/findings/${f.key}/ack`, { method: 'POST', body: { reason: 'known', until } })).status).toBe(200);
    await waitFor(
      'ack seen by the other replica',
      async () => (await api(b.url, '/api/v1/findings?state=acknowledged')).body.items.some((x: { key: string }) => x.key === f.key),
      60_000,
    );
    expect((await api(b.url, `/api/v1/findings/${f.key}/ack`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(
      'unack seen by the first replica',
      async () => (await api(a.url, '/api/v1/findings?state=acknowledged')).body.total === 0,
      60_000,
    );
  });

  it('keeps history across a restart', async () => {
    const before = (await api(a.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[];
    await a.stop();
    a = await startCli(args());
    await ready(a);
    const after = new Map(
      ((await api(a.url, '/api/v1/findings?limit=1000')).body.items as { key: string; firstSeen: string }[]).map((f) => [
        f.key,
        f.firstSeen,
      ]),
    );
    for (const f of before) expect(after.get(f.key)).toBe(f.firstSeen);
  });

  /** While the store is away: a read is answered from what serve holds, a write (an acknowledgement) is refused. */
  async function readsServedWritesRefused(key: string): Promise<void> {
    expect((await api(a.url, '/api/v1/certificates?limit=1')).status).toBe(200);
    const w = await api(a.url, `/api/v1/findings/${key}/ack`, {
      method: 'POST',
      body: { reason: 'x', until: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(w.status).toBe(503);
    expect(w.body.error).toMatch(/store/);
  }

  it('the database going away: readyz 503, anchorage_store_up 0, writes 503, reads go on; then it recovers', async () => {
    const key = ((await api(a.url, '/api/v1/findings?limit=1')).body.items[0] as { key: string }).key;
    const log = a.err().length;
    await pg.stop();
    try {
      await downWhileAway(a, /is unavailable/, log);
      await readsServedWritesRefused(key);
    } finally {
      await pg.start();
    }
    await waitFor('store back', async () => (await api(a.url, '/readyz')).status === 200, 120_000);
    expect((await api(a.url, '/metrics')).text).toMatch(/^anchorage_store_up 1$/m);
  });

  it('the database stopped in immediate mode (no goodbye to clients): down while away, back after its crash recovery', async () => {
    const log = a.err().length;
    await pg.stop('immediate');
    try {
      await downWhileAway(a, /is unavailable/, log);
    } finally {
      await pg.start();
    }
    await waitFor('store back', async () => (await api(a.url, '/readyz')).status === 200, 120_000);
    expect((await api(a.url, '/metrics')).text).toMatch(/^anchorage_store_up 1$/m);
  });

  it('the database frozen (SIGSTOP, sockets open, nothing answers): down with "no answer" within its answer budget, never hangs; back once thawed', async () => {
    const key = ((await api(a.url, '/api/v1/findings?limit=1')).body.items[0] as { key: string }).key;
    const log = a.err().length;
    pg.freeze();
    try {
      await downWhileAway(a, /no answer in 15 s/, log);
      await readsServedWritesRefused(key);
    } finally {
      pg.thaw();
    }
    await waitFor('store back', async () => (await api(a.url, '/readyz')).status === 200, 120_000);
    expect((await api(a.url, '/metrics')).text).toMatch(/^anchorage_store_up 1$/m);
    // Writes go through again.
    const until = new Date(Date.now() + 86_400_000).toISOString();
    expect((await api(a.url, `/api/v1/findings/${key}/ack`, { method: 'POST', body: { reason: 'thawed', until } })).status).toBe(200);
  });
});
