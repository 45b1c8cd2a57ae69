// The `nodes` history in the store, on both engines: SQLite (node:sqlite, the default) and a real
// PostgreSQL (test/support/postgres.ts). What is read back is exactly what was recorded, newest first,
// filtered by node and command; one run is one transaction (a failing run leaves nothing).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HistoryRecord, readHistory, recordRun } from '../src/nodes/history.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';

let pg: Postgres;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'anc-nh-'));
  pg = await startPostgres('anc-nh-pg');
}, 120_000);

afterAll(async () => {
  await pg?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const row = (over: Partial<HistoryRecord> & Pick<HistoryRecord, 'at' | 'command' | 'node'>): HistoryRecord => ({
  ok: true,
  ok_files: 0,
  drift: 0,
  missing: 0,
  unknown: 0,
  findings: 0,
  changed: 0,
  ...over,
});

describe.each([
  ['sqlite', () => `sqlite:${join(dir, 'history.sqlite')}`],
  ['postgres', () => pg.url],
])('nodes history on %s', (_engine, url) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(url());
  });
  afterAll(async () => {
    await store?.close();
  });

  it('reads back what each run recorded, newest first, by node and command', async () => {
    const t1 = '2026-12-01T10:00:00.000Z';
    const t2 = '2026-12-01T11:00:00.000Z';
    const t3 = '2026-12-01T12:00:00.000Z';
    await recordRun(store, [
      row({ at: t1, command: 'push', node: 'cp-1', changed: 12, backup: 'b-1' }),
      row({ at: t1, command: 'push', node: 'w-1', ok: false, error: 'unreachable: root@10.0.0.2: ECONNREFUSED' }),
    ]);
    await recordRun(store, [
      row({
        at: t2,
        command: 'status',
        node: 'w-1',
        ok_files: 3,
        drift: 1,
        findings: 1,
        earliestExpiry: '2027-12-01T00:00:00.000Z',
        files: [
          { path: '/etc/kubernetes/kubelet.conf', state: 'drift', sha256: 'a'.repeat(64) },
          { path: '/etc/kubernetes/pki/ca.crt', state: 'ok', sha256: 'b'.repeat(64) },
          { path: '/var/lib/kubelet/pki/kubelet.crt', state: 'missing' },
        ],
      }),
    ]);
    await recordRun(store, [row({ at: t3, command: 'rollback', node: 'cp-1', changed: 12, backup: 'b-1' })]);

    const all = await readHistory(store, { limit: 10 });
    expect(all.map((r) => [r.at, r.command, r.node, r.ok])).toEqual([
      [t3, 'rollback', 'cp-1', true],
      [t2, 'status', 'w-1', true],
      [t1, 'push', 'cp-1', true],
      [t1, 'push', 'w-1', false],
    ]);
    expect(all[3]?.error).toBe('unreachable: root@10.0.0.2: ECONNREFUSED');
    expect(all[2]).toMatchObject({ changed: 12, backup: 'b-1' });
    expect(all[1]?.files).toBeUndefined();

    const w1 = await readHistory(store, { node: 'w-1', command: 'status', limit: 10, files: true });
    expect(w1).toHaveLength(1);
    expect(w1[0]).toMatchObject({ ok_files: 3, drift: 1, findings: 1, earliestExpiry: '2027-12-01T00:00:00.000Z' });
    expect(w1[0]?.files).toEqual([
      { path: '/etc/kubernetes/kubelet.conf', state: 'drift', sha256: 'a'.repeat(64) },
      { path: '/etc/kubernetes/pki/ca.crt', state: 'ok', sha256: 'b'.repeat(64) },
      { path: '/var/lib/kubelet/pki/kubelet.crt', state: 'missing' },
    ]);
    expect(await readHistory(store, { limit: 2 })).toHaveLength(2);
  });

  it('a run that cannot be written leaves nothing behind (one transaction)', async () => {
    const before = (await readHistory(store, { limit: 1000 })).length;
    const at = '2026-12-02T00:00:00.000Z';
    // The same node twice in one run breaks the (run, node) key on the second row.
    await expect(
      recordRun(store, [row({ at, command: 'push', node: 'w-9', changed: 1 }), row({ at, command: 'push', node: 'w-9' })]),
    ).rejects.toThrow();
    expect((await readHistory(store, { limit: 1000 })).length).toBe(before);
  });
});
