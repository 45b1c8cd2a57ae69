// `anchorage serve` over PostgreSQL (Debian's, started by test/support/postgres.ts): two replicas on one
// database share findings history and acknowledgements; a restart keeps history; the database going
// away is said in /readyz, /metrics and the API (503 on writes) while reads go on, and the server catches
// up when it is back.
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

  it('the database going away: readyz 503, anchorage_store_up 0, writes 503, reads go on; then it recovers', async () => {
    const key = ((await api(a.url, '/api/v1/findings?limit=1')).body.items[0] as { key: string }).key;
    await pg.stop();
    try {
      await waitFor('store down', async () => (await api(a.url, '/readyz')).status === 503, 60_000);
      expect((await api(a.url, '/readyz')).body.reason).toMatch(/store down since/);
      expect((await api(a.url, '/metrics')).text).toMatch(/^anchorage_store_up 0$/m);
      expect((await api(a.url, '/api/v1/certificates?limit=1')).status).toBe(200);
      const w = await api(a.url, `/api/v1/findings/${key}/ack`, {
        method: 'POST',
        body: { reason: 'x', until: new Date(Date.now() + 86_400_000).toISOString() },
      });
      expect(w.status).toBe(503);
      expect(w.body.error).toMatch(/store/);
    } finally {
      await pg.start();
    }
    await waitFor('store back', async () => (await api(a.url, '/readyz')).status === 200, 120_000);
    expect((await api(a.url, '/metrics')).text).toMatch(/^anchorage_store_up 1$/m);
  });
});
