// Open a store by URL. Kept apart from store.ts (which the engines import) so the engines load lazily
// without an import cycle: only the engine that is used is imported.
import { parseStoreUrl, type Store } from './store.ts';

/**
 * `sqlite:PATH`, a bare path, `:memory:`, or `postgres://…` / `postgresql://…`; `createDir`: make a missing
 * SQLite folder (0700); `answerMs`: PostgreSQL, a round trip with no answer in this many ms fails (default 60 s).
 */
export async function openStore(url: string, o: { createDir?: boolean; answerMs?: number } = {}): Promise<Store> {
  const { engine, target } = parseStoreUrl(url);
  if (engine === 'postgres') return (await import('./postgres.ts')).openPostgres(target, { answerMs: o.answerMs });
  return (await import('./sqlite.ts')).openSqlite(target, o);
}
