// The PostgreSQL engine (`postgres`): a small pool, `?` placeholders rewritten to $n, BIGINT read as
// numbers, unique violations (23505) as UniqueViolation, a lost connection as StoreUnavailableError.
// Transactions are READ COMMITTED; what must be serialised takes tx.lock(name), an advisory lock
// held until COMMIT (so two CA replicas append to one log in order).
//
// Every call is bounded. postgres.js bounds only a connection's start-up (connect_timeout); a query sent
// on an open connection waits for its answer as long as the socket stays up, and a server that is frozen
// (SIGSTOP, a hung host) or cut off without a reset keeps it up: the kernel acknowledges TCP keepalives
// for a stopped process, and a partition is noticed only after minutes of retransmissions. So each round
// trip (a query; a transaction's BEGIN and COMMIT) that has had no answer in `answerMs` fails with
// StoreUnavailableError, and the pool it ran on is dropped (its connections terminated, the calls
// queued on it failed, so a late answer never lands) and replaced by a fresh one: a server that stops
// answering one connection is not trusted on the others. The health check (ping) has a connection of
// its own, never queued behind the pool's calls.
import { createHash } from 'node:crypto';
import postgres from 'postgres';
import {
  applyMigrations,
  type Migration,
  type Row,
  redactUrl,
  type Store,
  StoreUnavailableError,
  type Tx,
  UniqueViolation,
} from './store.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

/** `?` → `$1, $2, …`, leaving quoted strings alone. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  let out = '';
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') out += `$${++n}`;
    else out += ch;
  }
  return out;
}

function bind(params: readonly unknown[]): postgres.ParameterOrJSON<never>[] {
  return params.map((p) => {
    if (p === undefined) return null;
    if (typeof p === 'bigint') return p.toString();
    if (p instanceof Date) return p.toISOString();
    if (p instanceof Uint8Array) return Buffer.from(p);
    return p as string;
  }) as postgres.ParameterOrJSON<never>[];
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  '08003',
]);

/** How long a round trip may go unanswered when the opener does not say (PostgresOptions.answerMs). */
export const DEFAULT_ANSWER_MS = 60_000;

export interface PostgresOptions {
  /**
   * A round trip (a query, a transaction's BEGIN or COMMIT) with no answer in this many ms fails with
   * StoreUnavailableError and drops the pool it ran on (default 60 s). A transaction's own work between
   * its queries is not counted.
   */
  answerMs?: number;
}

class PostgresStore implements Store {
  readonly engine = 'postgres' as const;
  readonly location: string;
  private readonly url: string;
  private readonly answerMs: number;
  private sql: postgres.Sql;
  /** The health check's own connection (max 1), made on first use and dropped when a check fails. */
  private probe: postgres.Sql | undefined;
  private closing = false;

  constructor(url: string, o: PostgresOptions = {}) {
    this.url = url;
    this.location = redactUrl(url);
    this.answerMs = o.answerMs ?? DEFAULT_ANSWER_MS;
    this.sql = this.pool();
  }

  private pool(): postgres.Sql {
    return postgres(this.url, {
      max: 8,
      onnotice: () => undefined,
      connect_timeout: 10,
      idle_timeout: 30,
      types: { bigint: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) } },
    });
  }

  private translate(e: unknown): Error {
    const err = e as { code?: string; message?: string };
    if (e instanceof StoreUnavailableError) return e;
    if (err?.code === '23505') return new UniqueViolation(err.message ?? 'unique constraint');
    if (err?.code && CONNECTION_CODES.has(err.code)) return new StoreUnavailableError(this.location, e);
    if (err?.code === undefined && e instanceof AggregateError) return new StoreUnavailableError(this.location, e);
    return e as Error;
  }

  private late(ms: number): StoreUnavailableError {
    return new StoreUnavailableError(this.location, new Error(`no answer in ${ms / 1000} s`));
  }

  /**
   * Stop using `pool`: calls still running or queued on it fail (CONNECTION_DESTROYED), its connections
   * are terminated, and the next call gets a fresh pool (unless the store is closing).
   */
  private drop(pool: postgres.Sql): void {
    if (this.sql === pool && !this.closing) this.sql = this.pool();
    pool.end({ timeout: 0 }).catch(() => undefined);
  }

  /** `p`, or StoreUnavailableError once it has had answerMs to answer; then `pool` is dropped. */
  private bounded<T>(pool: postgres.Sql, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.drop(pool);
        reject(this.late(this.answerMs));
      }, this.answerMs);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  /** A query on `sql` (the pool or a transaction of it); `failed` sees the error as postgres.js gave it. */
  private async q<T extends object>(
    pool: postgres.Sql,
    sql: Sql,
    text: string,
    params: readonly unknown[] = [],
    failed?: (e: unknown) => void,
  ): Promise<T[]> {
    try {
      return (await this.bounded(pool, sql.unsafe(numberPlaceholders(text), bind(params)))) as unknown as T[];
    } catch (e) {
      failed?.(e);
      throw this.translate(e);
    }
  }
  private async r(
    pool: postgres.Sql,
    sql: Sql,
    text: string,
    params: readonly unknown[] = [],
    failed?: (e: unknown) => void,
  ): Promise<number> {
    try {
      const res = await this.bounded(pool, sql.unsafe(numberPlaceholders(text), bind(params)));
      return res.count ?? 0;
    } catch (e) {
      failed?.(e);
      throw this.translate(e);
    }
  }

  all<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.q<T>(this.sql, this.sql, sql, params);
  }
  async get<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return (await this.q<T>(this.sql, this.sql, sql, params))[0];
  }
  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.r(this.sql, this.sql, sql, params);
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const pool = this.sql;
    // Each query inside is bounded on its own; BEGIN (with the wait for a connection) and COMMIT or
    // ROLLBACK are sent by postgres.js, so a watchdog runs while they are out: armed until `fn` starts
    // and again once it is done. When it fires, the pool is dropped: the transaction's connection is
    // terminated (the server rolls it back) and `fn`, if it had not started, never runs.
    //
    // A transaction whose connection the server closed (shutdown, crash, pg_terminate_backend, a reset)
    // must not send anything more on it: postgres.js 3.4.9 would write ROLLBACK (or the next query, or
    // COMMIT) through a setImmediate on a socket it has already set to null, and that TypeError is thrown
    // outside any promise, so it kills the process (porsager/postgres#1154, #1208; unfixed upstream). So
    // once the connection is lost (a query failed with a lost-connection error, or postgres.js rejected
    // the transaction while `fn` was running), further queries fail here and `fn`'s end is never handed
    // back to postgres.js, which has rejected the transaction already (the watchdog drops the pool if it
    // has not).
    let timer: NodeJS.Timeout | undefined;
    let fired = false;
    let running = false;
    let lost = false;
    let fire!: (e: Error) => void;
    const watchdog = new Promise<never>((_, reject) => {
      fire = reject;
    });
    let settled = false;
    const arm = (): void => {
      clearTimeout(timer);
      if (settled) return;
      timer = setTimeout(() => {
        fired = true;
        this.drop(pool);
        fire(this.late(this.answerMs));
      }, this.answerMs);
    };
    const loss = (e: unknown): void => {
      const code = (e as { code?: string })?.code;
      if (code !== 'CONNECTION_DESTROYED' && this.translate(e) instanceof StoreUnavailableError) lost = true;
    };
    const gone = (): StoreUnavailableError => new StoreUnavailableError(this.location, new Error('the connection was lost'));
    arm();
    try {
      const done = pool.begin(async (s) => {
        clearTimeout(timer);
        if (fired) throw this.late(this.answerMs);
        running = true;
        const tx: Tx = {
          all: async <R extends object>(text: string, params?: readonly unknown[]) => {
            if (lost) throw gone();
            return this.q<R>(pool, s, text, params, loss);
          },
          get: async <R extends object>(text: string, params?: readonly unknown[]) => {
            if (lost) throw gone();
            return (await this.q<R>(pool, s, text, params, loss))[0];
          },
          run: async (text: string, params?: readonly unknown[]) => {
            if (lost) throw gone();
            return this.r(pool, s, text, params, loss);
          },
          lock: async (name: string) => {
            if (lost) throw gone();
            const key = createHash('sha256').update(name).digest().readBigInt64BE(0);
            await this.q(pool, s, 'SELECT pg_advisory_xact_lock(?::bigint)', [key], loss);
          },
        };
        let out: { ok: true; value: T } | { ok: false; error: unknown };
        try {
          out = { ok: true, value: await fn(tx) };
        } catch (e) {
          out = { ok: false, error: e };
        }
        running = false;
        arm();
        if (lost) await new Promise<never>(() => undefined);
        if (!out.ok) throw out.error;
        return out.value;
      });
      done.catch(() => {
        if (running) lost = true;
      });
      return (await Promise.race([done, watchdog])) as T;
    } catch (e) {
      throw this.translate(e);
    } finally {
      settled = true;
      clearTimeout(timer);
    }
  }

  /**
   * `SELECT 1` on the health check's own connection, never queued behind the pool's calls, within `ms`.
   * A check that fails drops that connection: the next one starts afresh (and does not wait out
   * postgres.js's reconnect backoff).
   */
  async ping(ms: number): Promise<void> {
    if (this.closing) throw new StoreUnavailableError(this.location, new Error('closed'));
    const probe =
      this.probe ?? postgres(this.url, { max: 1, onnotice: () => undefined, connect_timeout: 10, idle_timeout: 0, fetch_types: false });
    this.probe = probe;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.late(ms)), ms);
    });
    try {
      await Promise.race([probe.unsafe('SELECT 1'), late]);
    } catch (e) {
      if (this.probe === probe) this.probe = undefined;
      probe.end({ timeout: 0 }).catch(() => undefined);
      const t = this.translate(e);
      throw t instanceof StoreUnavailableError ? t : new StoreUnavailableError(this.location, e);
    } finally {
      clearTimeout(timer);
    }
  }

  migrate(component: string, migrations: readonly Migration[]): Promise<number> {
    return applyMigrations(this, component, migrations);
  }

  async close(): Promise<void> {
    this.closing = true;
    const probe = this.probe;
    this.probe = undefined;
    await Promise.all([this.sql.end({ timeout: 5 }), probe?.end({ timeout: 0 })]);
  }
}

export function openPostgres(url: string, o: PostgresOptions = {}): Store {
  return new PostgresStore(url, o);
}
