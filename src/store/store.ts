// The store: one interface, two engines. `node:sqlite` (a file, no server; the default) and PostgreSQL
// (through `postgres`, for fleets and several replicas). SQL is written once with `?` placeholders and
// portable types (TEXT, BIGINT, INTEGER); each part of Anchorage owns a component name and a list of
// versioned migrations, applied in order, once, in a transaction, under a lock (two replicas starting
// together apply each migration once). Anything that must not be lost or duplicated is written in one
// `transaction()` before the caller sees success.
import { InputError } from '../common/errors.ts';

export type Row = Record<string, unknown>;

/** What a query runs on: the store itself or an open transaction. */
export interface Queryable {
  /** Rows of a query. `?` placeholders; BIGINT columns come back as numbers (exact up to 2^53). */
  all<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** The first row or undefined. */
  get<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Run a statement; returns the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface Tx extends Queryable {
  /**
   * Serialise with every other transaction taking the same lock, until this one ends (PostgreSQL: an
   * advisory transaction lock; SQLite: a no-op, its write transactions are already exclusive).
   */
  lock(name: string): Promise<void>;
}

export interface Migration {
  version: number;
  name: string;
  /** Statements, run in order; a pair when the engines need different SQL. */
  up: readonly string[] | { sqlite: readonly string[]; postgres: readonly string[] };
}

export type Engine = 'sqlite' | 'postgres';

export interface Store extends Queryable {
  readonly engine: Engine;
  /** Where it is, without any password. */
  readonly location: string;
  /** Run `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Apply the component's migrations it has not applied yet; refuses a database newer than the code. */
  migrate(component: string, migrations: readonly Migration[]): Promise<number>;
  /**
   * The health check: resolves when the store answers within `ms`, else rejects with
   * StoreUnavailableError. It is never queued behind other calls (PostgreSQL: a connection of its own).
   */
  ping(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** The database could not be reached or answered with an error that is not the caller's input. */
export class StoreUnavailableError extends InputError {
  constructor(location: string, cause: unknown) {
    super(`store ${location} is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StoreUnavailableError';
  }
}

/** A unique or primary-key constraint refused a row. */
export class UniqueViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UniqueViolation';
  }
}

export const MIGRATIONS_TABLE = 'anchorage_migrations';

const MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  component TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (component, version)
)`;

/** Shared by both engines: the bookkeeping table, the lock, the ordering and the "newer database" refusal. */
export async function applyMigrations(store: Store, component: string, migrations: readonly Migration[]): Promise<number> {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(component)) throw new Error(`component name '${component}' is not [a-z][a-z0-9_]*`);
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`${component} migrations must be numbered 1, 2, 3, ... (found ${m.version} at ${i + 1})`);
  });
  try {
    await store.run(MIGRATIONS_DDL);
  } catch (e) {
    // Two PostgreSQL clients creating the table at once: one wins, the other sees its catalog row.
    if (!(e instanceof UniqueViolation)) throw e;
  }
  return store.transaction(async (tx) => {
    await tx.lock(`migrate:${component}`);
    const rows = await tx.all<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE} WHERE component = ?`, [component]);
    const done = new Set(rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...done);
    if (newest > sorted.length)
      throw new InputError(
        `store ${store.location} has ${component} schema version ${newest}, newer than this anchorage knows (${sorted.length}): upgrade anchorage`,
      );
    let applied = 0;
    for (const m of sorted) {
      if (done.has(m.version)) continue;
      const stmts = Array.isArray(m.up) ? m.up : (m.up as { sqlite: string[]; postgres: string[] })[store.engine];
      for (const s of stmts) await tx.run(s);
      await tx.run(`INSERT INTO ${MIGRATIONS_TABLE} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`, [
        component,
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      applied++;
    }
    return applied;
  });
}

/** `sqlite:PATH`, a bare path, `:memory:`, or `postgres://…` / `postgresql://…`. */
export function parseStoreUrl(url: string): { engine: Engine; target: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { engine: 'postgres', target: url };
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path === '') throw new InputError('store: empty path (use sqlite:PATH or postgres://…)');
  return { engine: 'sqlite', target: path };
}

/** A location safe to print: the password of a URL is hidden. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
