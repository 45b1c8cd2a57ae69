// The monitor's history in the store (src/store: node:sqlite by default, PostgreSQL for replicas; one
// schema): every finding with when it was first seen, last seen and resolved; acknowledgements; every
// certificate with when it appeared and went; the operations; the notifications sent (for de-duplication).
// The server keeps what it serves in memory and writes changes here; on start it reads them back, so a
// restart keeps history, and several replicas over one PostgreSQL share acknowledgements and operations.
import type { Migration, Store } from '../store/store.ts';
import type { Ack, Finding, Operation } from './types.ts';

export const COMPONENT = 'monitor';

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'findings, acks, certificates, operations, notifications',
    up: [
      `CREATE TABLE monitor_findings (
        key TEXT PRIMARY KEY,
        cluster TEXT NOT NULL,
        id TEXT NOT NULL,
        severity TEXT NOT NULL,
        body TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        resolved_at TEXT
      )`,
      'CREATE INDEX monitor_findings_cluster ON monitor_findings (cluster, resolved_at)',
      `CREATE TABLE monitor_acks (
        key TEXT PRIMARY KEY,
        by_who TEXT NOT NULL,
        reason TEXT NOT NULL,
        until_at TEXT NOT NULL,
        at TEXT NOT NULL
      )`,
      `CREATE TABLE monitor_certificates (
        cluster TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        subject TEXT NOT NULL,
        not_after TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        gone_at TEXT,
        PRIMARY KEY (cluster, sha256)
      )`,
      `CREATE TABLE monitor_operations (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`,
      `CREATE TABLE monitor_notifications (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        sent_at TEXT NOT NULL
      )`,
    ],
  },
];

type Body = Omit<Finding, 'key' | 'cluster' | 'id' | 'severity' | 'firstSeen' | 'lastSeen' | 'resolvedAt' | 'ack'>;

export class History {
  readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async migrate(): Promise<void> {
    await this.store.migrate(COMPONENT, MIGRATIONS);
  }

  async findings(): Promise<Finding[]> {
    const rows = await this.store.all<{
      key: string;
      cluster: string;
      id: string;
      severity: string;
      body: string;
      first_seen: string;
      last_seen: string;
      resolved_at: string | null;
    }>('SELECT key, cluster, id, severity, body, first_seen, last_seen, resolved_at FROM monitor_findings');
    return rows.map((r) => {
      const f: Finding = {
        ...(JSON.parse(r.body) as Body),
        key: r.key,
        cluster: r.cluster,
        id: r.id,
        severity: r.severity as Finding['severity'],
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
      };
      if (r.resolved_at) f.resolvedAt = r.resolved_at;
      return f;
    });
  }

  /** Write these findings as they are now (insert or update), in one transaction. */
  async saveFindings(fs: readonly Finding[]): Promise<void> {
    if (fs.length === 0) return;
    await this.store.transaction(async (tx) => {
      for (const f of fs) {
        const body: Body = { locations: f.locations, why: f.why, fix: f.fix };
        if (f.subject !== undefined) body.subject = f.subject;
        if (f.sha256 !== undefined) body.sha256 = f.sha256;
        await tx.run(
          `INSERT INTO monitor_findings (key, cluster, id, severity, body, first_seen, last_seen, resolved_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET severity = excluded.severity, body = excluded.body,
             last_seen = excluded.last_seen, resolved_at = excluded.resolved_at`,
          [f.key, f.cluster, f.id, f.severity, JSON.stringify(body), f.firstSeen, f.lastSeen, f.resolvedAt ?? null],
        );
      }
    });
  }

  /** Resolved findings older than this are forgotten. */
  async prune(before: Date): Promise<number> {
    return this.store.run('DELETE FROM monitor_findings WHERE resolved_at IS NOT NULL AND resolved_at < ?', [before.toISOString()]);
  }

  async acks(): Promise<Map<string, Ack>> {
    const rows = await this.store.all<{ key: string; by_who: string; reason: string; until_at: string; at: string }>(
      'SELECT key, by_who, reason, until_at, at FROM monitor_acks',
    );
    return new Map(rows.map((r) => [r.key, { by: r.by_who, reason: r.reason, until: r.until_at, at: r.at }]));
  }

  async setAck(key: string, a: Ack | undefined): Promise<void> {
    if (!a) {
      await this.store.run('DELETE FROM monitor_acks WHERE key = ?', [key]);
      return;
    }
    await this.store.run(
      `INSERT INTO monitor_acks (key, by_who, reason, until_at, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET by_who = excluded.by_who, reason = excluded.reason, until_at = excluded.until_at, at = excluded.at`,
      [key, a.by, a.reason, a.until, a.at],
    );
  }

  /** Certificates that appeared and went: in batches, one transaction. */
  async certificatesChanged(
    cluster: string,
    added: readonly { sha256: string; subject: string; notAfter: string }[],
    gone: readonly string[],
    at: string,
  ): Promise<void> {
    if (added.length === 0 && gone.length === 0) return;
    await this.store.transaction(async (tx) => {
      for (let i = 0; i < added.length; i += 200) {
        const batch = added.slice(i, i + 200);
        await tx.run(
          `INSERT INTO monitor_certificates (cluster, sha256, subject, not_after, first_seen, gone_at) VALUES ${batch.map(() => '(?, ?, ?, ?, ?, NULL)').join(', ')}
           ON CONFLICT (cluster, sha256) DO UPDATE SET gone_at = NULL`,
          batch.flatMap((c) => [cluster, c.sha256, c.subject, c.notAfter, at]),
        );
      }
      for (let i = 0; i < gone.length; i += 200) {
        const batch = gone.slice(i, i + 200);
        await tx.run(`UPDATE monitor_certificates SET gone_at = ? WHERE cluster = ? AND sha256 IN (${batch.map(() => '?').join(', ')})`, [
          at,
          cluster,
          ...batch,
        ]);
      }
    });
  }

  async certificateHistory(cluster: string, sha256: string): Promise<{ firstSeen: string; goneAt?: string } | undefined> {
    const r = await this.store.get<{ first_seen: string; gone_at: string | null }>(
      'SELECT first_seen, gone_at FROM monitor_certificates WHERE cluster = ? AND sha256 = ?',
      [cluster, sha256],
    );
    if (!r) return undefined;
    return { firstSeen: r.first_seen, ...(r.gone_at ? { goneAt: r.gone_at } : {}) };
  }

  async saveOperation(op: Operation): Promise<void> {
    await this.store.run(
      `INSERT INTO monitor_operations (id, body, created_at) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
      [op.id, JSON.stringify(op), op.createdAt],
    );
  }

  async operation(id: string): Promise<Operation | undefined> {
    const r = await this.store.get<{ body: string }>('SELECT body FROM monitor_operations WHERE id = ?', [id]);
    return r ? (JSON.parse(r.body) as Operation) : undefined;
  }

  /** Record a notification state; returns false when that state was already sent (de-duplication). */
  async notified(key: string, state: 'firing' | 'resolved', at: string): Promise<boolean> {
    const r = await this.store.get<{ state: string }>('SELECT state FROM monitor_notifications WHERE key = ?', [key]);
    if (r?.state === state) return false;
    if (!r && state === 'resolved') return false;
    await this.store.run(
      `INSERT INTO monitor_notifications (key, state, sent_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET state = excluded.state, sent_at = excluded.sent_at`,
      [key, state, at],
    );
    return true;
  }
}
