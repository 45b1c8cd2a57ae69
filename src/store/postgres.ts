// The PostgreSQL engine (`postgres`): a small pool, `?` placeholders rewritten to $n, BIGINT read as
// numbers, unique violations (23505) as UniqueViolation, a lost connection as StoreUnavailableError.
// Transactions are READ COMMITTED; what must be serialised takes tx.lock(name), an advisory lock
// held until COMMIT (so two CA replicas append to one log in order).
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

class PostgresStore implements Store {
  readonly engine = 'postgres' as const;
  readonly location: string;
  private readonly sql: postgres.Sql;

  constructor(url: string) {
    this.location = redactUrl(url);
    this.sql = postgres(url, {
      max: 8,
      onnotice: () => undefined,
      connect_timeout: 10,
      idle_timeout: 30,
      types: { bigint: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) } },
    });
  }

  private translate(e: unknown): Error {
    const err = e as { code?: string; message?: string };
    if (err?.code === '23505') return new UniqueViolation(err.message ?? 'unique constraint');
    if (err?.code && CONNECTION_CODES.has(err.code)) return new StoreUnavailableError(this.location, e);
    if (err?.code === undefined && e instanceof AggregateError) return new StoreUnavailableError(this.location, e);
    return e as Error;
  }

  private async q<T extends object>(sql: Sql, text: string, params: readonly unknown[] = []): Promise<T[]> {
    try {
      return (await sql.unsafe(numberPlaceholders(text), bind(params))) as unknown as T[];
    } catch (e) {
      throw this.translate(e);
    }
  }
  private async r(sql: Sql, text: string, params: readonly unknown[] = []): Promise<number> {
    try {
      const res = await sql.unsafe(numberPlaceholders(text), bind(params));
      return res.count ?? 0;
    } catch (e) {
      throw this.translate(e);
    }
  }

  all<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.q<T>(this.sql, sql, params);
  }
  async get<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return (await this.q<T>(this.sql, sql, params))[0];
  }
  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.r(this.sql, sql, params);
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return (await this.sql.begin(async (s) => {
        const tx: Tx = {
          all: <R extends object>(text: string, params?: readonly unknown[]) => this.q<R>(s, text, params),
          get: async <R extends object>(text: string, params?: readonly unknown[]) => (await this.q<R>(s, text, params))[0],
          run: (text: string, params?: readonly unknown[]) => this.r(s, text, params),
          lock: async (name: string) => {
            const key = createHash('sha256').update(name).digest().readBigInt64BE(0);
            await this.q(s, 'SELECT pg_advisory_xact_lock(?::bigint)', [key]);
          },
        };
        return fn(tx);
      })) as T;
    } catch (e) {
      throw this.translate(e);
    }
  }

  migrate(component: string, migrations: readonly Migration[]): Promise<number> {
    return applyMigrations(this, component, migrations);
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

export function openPostgres(url: string): Store {
  return new PostgresStore(url);
}
