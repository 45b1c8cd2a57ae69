// Open a store by URL. Kept apart from store.ts (which the engines import) so the engines load lazily
// without an import cycle: only the engine that is used is imported.
import { parseStoreUrl, type Store } from './store.ts';

/** `sqlite:PATH`, a bare path, `:memory:`, or `postgres://…` / `postgresql://…`; `createDir`: make a missing SQLite folder (0700). */
export async function openStore(url: string, o: { createDir?: boolean } = {}): Promise<Store> {
  const { engine, target } = parseStoreUrl(url);
  if (engine === 'postgres') return (await import('./postgres.ts')).openPostgres(target);
  return (await import('./sqlite.ts')).openSqlite(target, o);
}
