// History of `nodes status`: one row per node per run in an embedded SQLite file (`node:sqlite`).
// A narrow interface on purpose: it moves to src/store (SQLite/PostgreSQL) when that lands.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface StatusRecord {
  at: string;
  node: string;
  ok: boolean;
  error?: string;
  ok_files: number;
  drift: number;
  missing: number;
  unknown: number;
  findings: number;
  earliestExpiry?: string;
  /** path → SHA-256 of what the node held (never content). */
  hashes: Record<string, string>;
}

export interface StatusHistory {
  record(rows: readonly StatusRecord[]): void;
  /** Newest first. */
  recent(node: string | undefined, limit: number): StatusRecord[];
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS node_status (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL, node TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT,
  ok_files INTEGER NOT NULL, drift INTEGER NOT NULL, missing INTEGER NOT NULL, unknown INTEGER NOT NULL,
  findings INTEGER NOT NULL, earliest_expiry TEXT, hashes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS node_status_node_at ON node_status (node, at);
`;

interface Row {
  at: string;
  node: string;
  ok: number;
  error: string | null;
  ok_files: number;
  drift: number;
  missing: number;
  unknown: number;
  findings: number;
  earliest_expiry: string | null;
  hashes: string;
}

export function openHistory(path: string): StatusHistory {
  mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;');
  db.exec(SCHEMA);
  const insert = db.prepare(
    'INSERT INTO node_status (at, node, ok, error, ok_files, drift, missing, unknown, findings, earliest_expiry, hashes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return {
    record(rows) {
      db.exec('BEGIN');
      try {
        for (const r of rows)
          insert.run(
            r.at,
            r.node,
            r.ok ? 1 : 0,
            r.error ?? null,
            r.ok_files,
            r.drift,
            r.missing,
            r.unknown,
            r.findings,
            r.earliestExpiry ?? null,
            JSON.stringify(r.hashes),
          );
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
    },
    recent(node, limit) {
      const rows = (node === undefined
        ? db.prepare('SELECT * FROM node_status ORDER BY at DESC, id DESC LIMIT ?').all(limit)
        : db.prepare('SELECT * FROM node_status WHERE node = ? ORDER BY at DESC, id DESC LIMIT ?').all(node, limit)) as unknown as Row[];
      return rows.map((r) => {
        const rec: StatusRecord = {
          at: r.at,
          node: r.node,
          ok: r.ok === 1,
          ok_files: r.ok_files,
          drift: r.drift,
          missing: r.missing,
          unknown: r.unknown,
          findings: r.findings,
          hashes: JSON.parse(r.hashes) as Record<string, string>,
        };
        if (r.error !== null) rec.error = r.error;
        if (r.earliest_expiry !== null) rec.earliestExpiry = r.earliest_expiry;
        return rec;
      });
    },
    close: () => db.close(),
  };
}
