// The SQLite engine (`node:sqlite`): one file, WAL, foreign keys on. node:sqlite is synchronous, so
// the engine keeps a queue: a transaction holds the connection from BEGIN IMMEDIATE to COMMIT while
// other callers of the same store wait their turn. Another connection to the same file (another
// process, or another store in this one) holding the write lock is waited for without blocking the
// event loop: SQLITE_BUSY is retried with a short async pause, up to BUSY_WAIT_MS.
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { InputError } from '../common/errors.ts';
import { applyMigrations, type Migration, type Row, type Store, StoreUnavailableError, type Tx, UniqueViolation } from './store.ts';

function bind(params: readonly unknown[]): SQLInputValue[] {
  return params.map((p) => {
    if (p === undefined || p === null) return null;
    if (typeof p === 'boolean') return p ? 1 : 0;
    if (typeof p === 'bigint' || typeof p === 'number' || typeof p === 'string') return p;
    if (p instanceof Uint8Array) return p;
    if (p instanceof Date) return p.toISOString();
    throw new Error(`cannot bind a ${typeof p} to SQL`);
  });
}

const BUSY_WAIT_MS = 15_000;
/** Prepared statements kept per store, by SQL text, least recently used dropped first. */
export const STATEMENT_CACHE_SIZE = 256;

function isBusy(e: unknown): boolean {
  const err = e as { errcode?: number; message?: string };
  return (err?.errcode ?? 0) % 256 === 5 || /database is locked/.test(err?.message ?? '');
}

/** Run `f`, retrying while another connection holds the write lock. */
async function whenFree<T>(f: () => T, location: string): Promise<T> {
  const end = Date.now() + BUSY_WAIT_MS;
  let pause = 1;
  for (;;) {
    try {
      return f();
    } catch (e) {
      if (!isBusy(e)) throw e;
      if (Date.now() > end)
        throw new StoreUnavailableError(location, new Error(`still locked by another writer after ${BUSY_WAIT_MS / 1000}s`));
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 50);
    }
  }
}

function translate(e: unknown): Error {
  const err = e as { code?: string; errcode?: number; message?: string };
  if (err && (err.errcode === 2067 || err.errcode === 1555 || /UNIQUE constraint failed/.test(err.message ?? '')))
    return new UniqueViolation(err.message ?? 'unique constraint');
  return e as Error;
}

class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  readonly location: string;
  private readonly db: DatabaseSync;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  // Statements compiled once and reused (a Map iterates in insertion order: a hit moves to the end, the first
  // is the least recently used). SQLite re-prepares a cached statement itself after a schema change; the
  // database's close() finalizes every statement it prepared, so close() only has to drop the cache first.
  private readonly statements = new Map<string, StatementSync>();

  constructor(path: string, o: SqliteOptions = {}) {
    this.location = `sqlite:${path}`;
    try {
      if (path !== ':memory:' && !path.startsWith('file:')) private0600(path, o.createDir === true);
      this.db = new DatabaseSync(path, { timeout: 0 });
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;');
    } catch (e) {
      throw new StoreUnavailableError(this.location, e);
    }
  }

  private prepare(sql: string): StatementSync {
    const hit = this.statements.get(sql);
    if (hit) {
      this.statements.delete(sql);
      this.statements.set(sql, hit);
      return hit;
    }
    const st = this.db.prepare(sql);
    if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.delete(this.statements.keys().next().value as string);
    this.statements.set(sql, st);
    return st;
  }

  private direct = {
    all: <T extends object>(sql: string, params: readonly unknown[] = []): T[] => {
      try {
        return this.prepare(sql).all(...bind(params)) as T[];
      } catch (e) {
        throw translate(e);
      }
    },
    run: (sql: string, params: readonly unknown[] = []): number => {
      try {
        if (params.length === 0 && !sql.includes('?')) {
          this.db.exec(sql);
          return 0;
        }
        return Number(this.prepare(sql).run(...bind(params)).changes);
      } catch (e) {
        throw translate(e);
      }
    },
  };

  /** Run `f` when every earlier caller is done. */
  private serial<T>(f: () => Promise<T> | T): Promise<T> {
    if (this.closed) return Promise.reject(new InputError(`store ${this.location} is closed`));
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  all<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.serial(() => whenFree(() => this.direct.all<T>(sql, params), this.location));
  }
  async get<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.serial(() => whenFree(() => this.direct.run(sql, params), this.location));
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      let open = true;
      const live = () => {
        if (!open) throw new Error('transaction already ended');
        return this.direct;
      };
      const tx: Tx = {
        all: async <R extends object>(sql: string, params?: readonly unknown[]) => live().all<R>(sql, params),
        get: async <R extends object>(sql: string, params?: readonly unknown[]) => live().all<R>(sql, params)[0],
        run: async (sql: string, params?: readonly unknown[]) => live().run(sql, params),
        lock: async () => {
          live();
        },
      };
      await whenFree(() => this.db.exec('BEGIN IMMEDIATE'), this.location);
      try {
        const out = await fn(tx);
        open = false;
        this.db.exec('COMMIT');
        return out;
      } catch (e) {
        open = false;
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  migrate(component: string, migrations: readonly Migration[]): Promise<number> {
    return applyMigrations(this, component, migrations);
  }

  /** A file in this process: `SELECT 1` answers at once, outside the queue of calls (it touches no table). */
  async ping(_ms: number): Promise<void> {
    if (this.closed) throw new StoreUnavailableError(this.location, new Error('closed'));
    try {
      this.direct.all('SELECT 1 AS one');
    } catch (e) {
      throw new StoreUnavailableError(this.location, e);
    }
  }

  async close(): Promise<void> {
    await this.serial(() => undefined);
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }
}

export interface SqliteOptions {
  /** Create a missing folder (0700) instead of refusing. */
  createDir?: boolean;
}

/**
 * The database is the owner's alone: its file is created 0600 before SQLite opens it (SQLite gives the -wal
 * and -shm files the database file's mode), and an existing file, WAL or shared-memory file readable by
 * others is narrowed to 0600. A folder this creates is 0700; an existing folder is left as it is.
 */
function private0600(path: string, createDir: boolean): void {
  if (createDir) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    if (!existsSync(f)) continue;
    const mode = statSync(f).mode & 0o777;
    if (mode & 0o077) chmodSync(f, mode & 0o700);
  }
}

export function openSqlite(path: string, o: SqliteOptions = {}): Store {
  return new SqliteStore(path, o);
}
