// The SQLite engine's prepared-statement cache: a statement reused after the schema changed under it sees the
// new schema (SQLite re-prepares it), more distinct statements than the cache holds all still run (the least
// recently used is dropped and prepared again when it comes back), and a closed store refuses further calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open.ts';
import { STATEMENT_CACHE_SIZE } from '../src/store/sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'caacme-stmt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite prepared-statement cache', () => {
  it('follows schema changes, survives eviction, and ends with the store', async () => {
    const store = await openStore(`sqlite:${join(dir, 'a.db')}`);
    await store.run('CREATE TABLE t (a INTEGER)');
    await store.run('INSERT INTO t (a) VALUES (?)', [1]);
    expect(await store.all('SELECT * FROM t WHERE a >= ?', [0])).toEqual([{ a: 1 }]);
    await store.run('ALTER TABLE t ADD COLUMN b TEXT');
    await store.run('UPDATE t SET b = ? WHERE a = ?', ['x', 1]);
    expect(await store.all('SELECT * FROM t WHERE a >= ?', [0])).toEqual([{ a: 1, b: 'x' }]);
    await store.run('DROP TABLE t');
    await store.run('CREATE TABLE t (c TEXT)');
    await store.run('INSERT INTO t (c) VALUES (?)', ['y']);
    expect(await store.all('SELECT * FROM t WHERE 1 = ?', [1])).toEqual([{ c: 'y' }]);
    // Twice as many distinct statements as the cache holds, then the first ones again.
    for (let i = 0; i < 2 * STATEMENT_CACHE_SIZE; i++) expect(await store.get(`SELECT ? + ${i} AS n`, [1])).toEqual({ n: i + 1 });
    for (let i = 0; i < 3; i++) expect(await store.get(`SELECT ? + ${i} AS n`, [2])).toEqual({ n: i + 2 });
    await store.close();
    await expect(store.get('SELECT ? AS n', [1])).rejects.toThrow(/closed/);
  });
});
