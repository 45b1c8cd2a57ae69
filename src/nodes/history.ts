// History of `anchorage nodes`: every status/pull run (what each node held: counts, earliest expiry, and
// per file its state and SHA-256, never content) and every push/rollback (what changed, which backup), in
// the store (src/store: `node:sqlite` by default, or PostgreSQL), component `nodes`, one transaction per run.
import { randomBytes } from 'node:crypto';
import type { Migration, Store } from '../store/store.ts';

export const NODES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'node history: one row per node per run, the files a status saw',
    up: [
      `CREATE TABLE nodes_history (
        run_id TEXT NOT NULL,
        node TEXT NOT NULL,
        at TEXT NOT NULL,
        command TEXT NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT,
        ok_files INTEGER NOT NULL,
        drift INTEGER NOT NULL,
        missing INTEGER NOT NULL,
        unknown INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        earliest_expiry TEXT,
        backup TEXT,
        PRIMARY KEY (run_id, node)
      )`,
      'CREATE INDEX nodes_history_node_at ON nodes_history (node, at)',
      'CREATE INDEX nodes_history_at ON nodes_history (at)',
      `CREATE TABLE nodes_files (
        run_id TEXT NOT NULL,
        node TEXT NOT NULL,
        path TEXT NOT NULL,
        state TEXT NOT NULL,
        sha256 TEXT,
        PRIMARY KEY (run_id, node, path)
      )`,
    ],
  },
];

export type HistoryCommand = 'status' | 'pull' | 'push' | 'rollback';

export interface HistoryRecord {
  at: string;
  command: HistoryCommand;
  node: string;
  ok: boolean;
  error?: string;
  ok_files: number;
  drift: number;
  missing: number;
  unknown: number;
  findings: number;
  /** Files written or removed (push, rollback). */
  changed: number;
  earliestExpiry?: string;
  /** The push whose backups `rollback` would restore (push), or the one rolled back (rollback). */
  backup?: string;
  /** status/pull: what the node held, per file (SHA-256 only, never content). */
  files?: { path: string; state: string; sha256?: string }[];
}

/** Budget for one history query. */
export const MAX_HISTORY_ROWS = 100_000;

/** Record one run (one row per node, and the files a status saw) in one transaction. */
export async function recordRun(store: Store, rows: readonly HistoryRecord[]): Promise<void> {
  await store.migrate('nodes', NODES_MIGRATIONS);
  const runId = `${rows[0]?.at ?? new Date().toISOString()}-${randomBytes(4).toString('hex')}`;
  await store.transaction(async (tx) => {
    for (const r of rows) {
      await tx.run(
        `INSERT INTO nodes_history (run_id, node, at, command, ok, error, ok_files, drift, missing, unknown, findings, changed, earliest_expiry, backup)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          runId,
          r.node,
          r.at,
          r.command,
          r.ok ? 1 : 0,
          r.error ?? null,
          r.ok_files,
          r.drift,
          r.missing,
          r.unknown,
          r.findings,
          r.changed,
          r.earliestExpiry ?? null,
          r.backup ?? null,
        ],
      );
      for (const f of r.files ?? [])
        await tx.run('INSERT INTO nodes_files (run_id, node, path, state, sha256) VALUES (?, ?, ?, ?, ?)', [
          runId,
          r.node,
          f.path,
          f.state,
          f.sha256 ?? null,
        ]);
    }
  });
}

interface Row {
  run_id: string;
  node: string;
  at: string;
  command: string;
  ok: number;
  error: string | null;
  ok_files: number;
  drift: number;
  missing: number;
  unknown: number;
  findings: number;
  changed: number;
  earliest_expiry: string | null;
  backup: string | null;
}

export interface HistoryQuery {
  node?: string;
  command?: HistoryCommand;
  limit: number;
  /** Also the files each status row saw. */
  files?: boolean;
}

/** Recorded runs, newest first. */
export async function readHistory(store: Store, q: HistoryQuery): Promise<(HistoryRecord & { run: string })[]> {
  await store.migrate('nodes', NODES_MIGRATIONS);
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.node !== undefined) {
    where.push('node = ?');
    params.push(q.node);
  }
  if (q.command !== undefined) {
    where.push('command = ?');
    params.push(q.command);
  }
  const limit = Math.max(1, Math.min(q.limit, MAX_HISTORY_ROWS));
  const rows = await store.all<Row>(
    `SELECT * FROM nodes_history ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, run_id DESC, node LIMIT ${limit}`,
    params,
  );
  const out: (HistoryRecord & { run: string })[] = [];
  for (const r of rows) {
    const rec: HistoryRecord & { run: string } = {
      run: r.run_id,
      at: r.at,
      command: r.command as HistoryCommand,
      node: r.node,
      ok: Number(r.ok) === 1,
      ok_files: Number(r.ok_files),
      drift: Number(r.drift),
      missing: Number(r.missing),
      unknown: Number(r.unknown),
      findings: Number(r.findings),
      changed: Number(r.changed),
    };
    if (r.error !== null) rec.error = r.error;
    if (r.earliest_expiry !== null) rec.earliestExpiry = r.earliest_expiry;
    if (r.backup !== null) rec.backup = r.backup;
    if (q.files && (r.command === 'status' || r.command === 'pull'))
      rec.files = (
        await store.all<{ path: string; state: string; sha256: string | null }>(
          'SELECT path, state, sha256 FROM nodes_files WHERE run_id = ? AND node = ? ORDER BY path',
          [r.run_id, r.node],
        )
      ).map((f) => (f.sha256 === null ? { path: f.path, state: f.state } : { path: f.path, state: f.state, sha256: f.sha256 }));
    out.push(rec);
  }
  return out;
}
