// The store contract, run unchanged against both engines: SQLite in a temp file and a real PostgreSQL
// server (Debian's, started here). Migrations, transactions, unique constraints, concurrency, a database
// that is down.
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/common/errors.ts';
import { openStore } from '../src/store/open.ts';
import { type Migration, type Store, StoreUnavailableError, UniqueViolation } from '../src/store/store.ts';
import { waitFor } from './cluster/harness.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';

const dir = mkdtempSync(join(tmpdir(), 'ca-store-'));
let pg: Postgres;
beforeAll(async () => {
  pg = await startPostgres('ca-store-pg');
}, 120_000);
afterAll(async () => {
  await pg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const V1: Migration = {
  version: 1,
  name: 'items',
  up: ['CREATE TABLE t_items (id TEXT PRIMARY KEY, n BIGINT NOT NULL, note TEXT)'],
};
const V2: Migration = {
  version: 2,
  name: 'counter',
  up: {
    sqlite: ['CREATE TABLE t_counter (name TEXT PRIMARY KEY, value BIGINT NOT NULL)', "INSERT INTO t_counter VALUES ('c', 0)"],
    postgres: ['CREATE TABLE t_counter (name TEXT PRIMARY KEY, value BIGINT NOT NULL)', "INSERT INTO t_counter VALUES ('c', 0)"],
  },
};

const engines: [string, () => string][] = [
  ['sqlite', () => `sqlite:${join(dir, `s-${Math.random().toString(36).slice(2)}.db`)}`],
  ['postgres', () => pg.url],
];

describe.each(engines)('store on %s', (engine, url) => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(url());
  });
  afterAll(async () => {
    await store.run('DROP TABLE IF EXISTS t_items');
    await store.run('DROP TABLE IF EXISTS t_counter');
    await store.run("DELETE FROM anchorage_migrations WHERE component = 'test'");
    await store.close();
  });

  it('applies migrations once, in order, and refuses a database newer than the code', async () => {
    expect(store.engine).toBe(engine);
    expect(await store.migrate('test', [V1])).toBe(1);
    expect(await store.migrate('test', [V1])).toBe(0);
    // Two openers racing on the next version: it is applied once.
    const other = await openStore(url() === pg.url ? pg.url : store.location);
    const applied = await Promise.all([store.migrate('test', [V1, V2]), other.migrate('test', [V2, V1])]);
    expect(applied.sort()).toEqual([0, 1]);
    await other.close();
    const rows = await store.all<{ version: number; name: string }>(
      "SELECT version, name FROM anchorage_migrations WHERE component = 'test' ORDER BY version",
    );
    expect(rows).toEqual([
      { version: 1, name: 'items' },
      { version: 2, name: 'counter' },
    ]);
    await expect(store.migrate('test', [V1])).rejects.toThrow(/schema version 2, newer than this anchorage knows \(1\)/);
    await expect(store.migrate('test', [V1, { ...V2, version: 3 }])).rejects.toThrow(/numbered 1, 2, 3/);
  });

  it('reads and writes with ? placeholders; BIGINT comes back as a number; a quoted ? is left alone', async () => {
    expect(await store.run('INSERT INTO t_items (id, n, note) VALUES (?, ?, ?)', ['a', 2 ** 40, 'what?'])).toBe(1);
    expect(await store.get("SELECT id, n, note, 'x?' AS q FROM t_items WHERE id = ?", ['a'])).toEqual({
      id: 'a',
      n: 2 ** 40,
      note: 'what?',
      q: 'x?',
    });
    expect(await store.get('SELECT id FROM t_items WHERE id = ?', ['none'])).toBeUndefined();
  });

  it('a primary key refuses a duplicate with UniqueViolation, and the transaction that tried leaves nothing', async () => {
    await expect(store.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['a', 1])).rejects.toBeInstanceOf(UniqueViolation);
    await expect(
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['b', 1]);
        await tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['a', 1]);
      }),
    ).rejects.toBeInstanceOf(UniqueViolation);
    expect(await store.get('SELECT id FROM t_items WHERE id = ?', ['b'])).toBeUndefined();
  });

  it('commits on success, rolls back on a throw', async () => {
    const out = await store.transaction(async (tx) => {
      await tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['c', 3]);
      return (await tx.get<{ n: number }>('SELECT n FROM t_items WHERE id = ?', ['c']))?.n;
    });
    expect(out).toBe(3);
    await expect(
      store.transaction(async (tx) => {
        await tx.run('UPDATE t_items SET n = 99 WHERE id = ?', ['c']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await store.get('SELECT n FROM t_items WHERE id = ?', ['c'])).toEqual({ n: 3 });
  });

  it('serialises read-modify-write transactions under a lock: 40 concurrent increments from two connections', async () => {
    const other = await openStore(engine === 'postgres' ? pg.url : store.location);
    const bump = (s: Store) =>
      s.transaction(async (tx) => {
        await tx.lock('t_counter');
        const row = await tx.get<{ value: number }>("SELECT value FROM t_counter WHERE name = 'c'");
        await new Promise((r) => setImmediate(r));
        await tx.run("UPDATE t_counter SET value = ? WHERE name = 'c'", [(row?.value ?? 0) + 1]);
      });
    await Promise.all(Array.from({ length: 40 }, (_, i) => bump(i % 2 ? store : other)));
    await other.close();
    expect(await store.get("SELECT value FROM t_counter WHERE name = 'c'")).toEqual({ value: 40 });
  });
});

describe('store failures', () => {
  it('a PostgreSQL server that is down: StoreUnavailableError, an InputError with the reason and no password', async () => {
    const down = await startPostgres('ca-store-down');
    const url = down.url.replace('anchorage@', 'anchorage:secret@');
    const store = await openStore(url);
    await store.migrate('test', [V1]);
    await down.stop();
    const err = await store.get('SELECT 1 AS one').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^store postgres:\/\/anchorage:\*\*\*@127\.0\.0\.1:\d+\/postgres is unavailable: /);
    expect((err as Error).message).not.toContain('secret');
    await down.start();
    expect(await store.get('SELECT 1 AS one')).toEqual({ one: 1 });
    await store.close();
    await down.remove();
  }, 120_000);

  it('a transaction whose connection the server closes (mid-query, or between its queries) fails with StoreUnavailableError, and the process lives on', async () => {
    // postgres.js 3.4.9 writes the ROLLBACK, or the transaction's next query, on a socket it has set to
    // null and throws outside any promise (porsager/postgres#1154): this process would die here.
    const store = await openStore(pg.url);
    const other = await openStore(pg.url);
    try {
      const pidOf = async (tx: { get<R extends object>(sql: string): Promise<R | undefined> }) =>
        ((await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as { pid: number }).pid;
      const kill = (pid: number) => other.get('SELECT pg_terminate_backend(?::int) AS t', [pid]);
      const midQuery = await store
        .transaction(async (tx) => {
          const pid = await pidOf(tx);
          const sleeping = tx.get('SELECT pg_sleep(30)');
          // It fails when the backend is killed, which may be before `kill` below returns: handled from now on,
          // so the failure is not an unhandled rejection in the meantime (awaited below all the same).
          sleeping.catch(() => undefined);
          await waitFor(
            'the query running',
            async () =>
              (
                await other.get<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ? AND query LIKE '%pg_sleep%'", [
                  pid,
                ])
              )?.n === 1,
            30_000,
          );
          await kill(pid);
          await sleeping;
        })
        .catch((e: unknown) => e);
      expect(midQuery).toBeInstanceOf(StoreUnavailableError);
      let killed!: () => void;
      const gone = new Promise<void>((r) => {
        killed = r;
      });
      const between = store
        .transaction(async (tx) => {
          await kill(await pidOf(tx));
          await gone;
          await tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['between', 1]);
        })
        .catch((e: unknown) => e);
      // postgres.js rejects the transaction when it sees the connection close; the insert comes after.
      const first = await Promise.race([between, new Promise((r) => setTimeout(r, 60_000, 'no answer'))]);
      killed();
      expect(first).toBeInstanceOf(StoreUnavailableError);
      await new Promise((r) => setImmediate(r));
      // The pool goes on: a transaction commits.
      await store.migrate('test', [V1]);
      await store.transaction(async (tx) => tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['after', 1]));
      expect(await store.get('SELECT n FROM t_items WHERE id = ?', ['after'])).toEqual({ n: 1 });
      expect(await store.get('SELECT n FROM t_items WHERE id = ?', ['between'])).toBeUndefined();
      await store.run('DROP TABLE t_items');
      await store.run("DELETE FROM anchorage_migrations WHERE component = 'test'");
    } finally {
      await store.close();
      await other.close();
    }
  }, 180_000);

  it('a PostgreSQL server that hangs (every process SIGSTOPped, sockets open): each call, a transaction and the health check fail within the store’s answer budget; none waits for the server, and it answers again once thawed', async () => {
    const hung = await startPostgres('ca-store-hung');
    try {
      const store = await openStore(hung.url, { answerMs: 5000 });
      await store.migrate('test', [V1]);
      await store.ping(5000);
      const unavailable = (e: unknown) => {
        expect(e).toBeInstanceOf(StoreUnavailableError);
        expect((e as Error).message).toMatch(/^store postgres:\/\/anchorage@127\.0\.0\.1:\d+\/postgres is unavailable: /);
        return e as Error;
      };
      // A transaction in the middle of its work when the server stops answering: it fails, and what it
      // wrote is never committed.
      let wrote!: () => void;
      const written = new Promise<void>((r) => {
        wrote = r;
      });
      let go!: () => void;
      const gate = new Promise<void>((r) => {
        go = r;
      });
      const inFlight = store
        .transaction(async (tx) => {
          await tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['in-flight', 1]);
          wrote();
          await gate;
          await tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['after', 2]);
        })
        .catch((e: unknown) => e);
      await written;
      hung.freeze();
      go();
      expect(unavailable(await inFlight).message).toMatch(/no answer in 5 s/);
      // A query on a connection of the pool, a transaction waiting for BEGIN, the health check.
      expect(unavailable(await store.get('SELECT 1 AS one').catch((e: unknown) => e)).message).toMatch(/no answer in 5 s/);
      unavailable(
        await store.transaction(async (tx) => tx.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['tx', 3])).catch((e: unknown) => e),
      );
      expect(unavailable(await store.ping(5000).catch((e: unknown) => e)).message).toMatch(/no answer in 5 s/);
      hung.thaw();
      await store.ping(5000);
      expect(await store.get('SELECT 1 AS one')).toEqual({ one: 1 });
      expect(await store.all('SELECT id FROM t_items ORDER BY id')).toEqual([]);
      await store.close();
    } finally {
      await hung.remove();
    }
  }, 180_000);

  it('an SQLite database is its owner’s alone: file, WAL and shared memory 0600; a folder it makes 0700', async () => {
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    const path = join(dir, 'private', 'deeper', 'p.db');
    const store = await openStore(`sqlite:${path}`, { createDir: true });
    await store.migrate('test', [V1]);
    await store.run('INSERT INTO t_items (id, n) VALUES (?, ?)', ['a', 1]);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, '600']);
    expect(mode(join(dir, 'private'))).toBe('700');
    expect(mode(join(dir, 'private', 'deeper'))).toBe('700');
    await store.close();
    // A database left world-readable by an older version is narrowed when opened.
    chmodSync(path, 0o644);
    const again = await openStore(`sqlite:${path}`);
    expect(mode(path)).toBe('600');
    expect(await again.get('SELECT n FROM t_items')).toEqual({ n: 1 });
    await again.close();
  });

  it('an SQLite path that cannot be opened is refused with the reason', async () => {
    await expect(openStore(`sqlite:${join(dir, 'no', 'such', 'dir', 'x.db')}`)).rejects.toThrow(/store sqlite:.* is unavailable/);
  });
});
