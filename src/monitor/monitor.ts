// The monitor: every cluster's state, the findings with their history (first seen, last seen, resolved,
// acknowledged), the store behind it, and the events the server streams. Each cluster scan is diffed
// against the previous one: certificates that came, changed or went and findings that opened or resolved
// become events, history rows and notifications. The store being down never stops the monitor: changes
// wait in memory (bounded) and are written when it is back; the API says since when it is down.
import { EventEmitter } from 'node:events';
import type { Logger } from '../kube/log.ts';
import { SEVERITY_RANK, type Severity } from '../lint/types.ts';
import { type ClusterOptions, ClusterState } from './cluster.ts';
import type { History } from './history.ts';
import type { Ack, CertificateSummary, Cluster, Finding, MonitorEvent, Source } from './types.ts';
import type { ClusterView, KeyedFinding } from './view.ts';

export interface MonitorOptions {
  history?: History;
  warnDays?: number;
  /** Resolved findings are kept this many days (default 90). */
  retentionDays?: number;
  log?: Logger;
  now?: () => Date;
  /** Called for each finding that opens or resolves (webhook notifications). */
  onFindingChange?: (f: Finding, change: 'opened' | 'resolved') => void;
  /**
   * The health check (the store's ping: `SELECT 1` on a connection of its own) that has not answered in
   * this many ms marks the store down (default 15 s); a write gets one more such bound per 20,000 rows,
   * at most 8 (a first inventory of 100k certificates is one write). The health check runs on its own
   * every heartbeat, beside a write in flight. A call past its bound is abandoned here (its batch stays
   * queued; the PostgreSQL store also gives up its own round trips, see src/store/postgres.ts), and
   * writes are upserts, so a late answer does no harm.
   */
  storeAnswerMs?: number;
}

/** MonitorOptions.storeAnswerMs when not given. */
export const STORE_ANSWER_MS = 15_000;

/** How many storeAnswerMs a write of `rows` rows may take: 1, plus 1 per 20,000 rows, at most 8. */
const bound = (rows: number): number => Math.min(8, 1 + Math.ceil(rows / 20_000));

/** Most history writes waiting for a store that is down; past it the oldest last-seen updates are dropped. */
const MAX_PENDING = 200_000;

export class Monitor {
  readonly clusters = new Map<string, ClusterState>();
  readonly findings = new Map<string, Finding>();
  readonly acks = new Map<string, Ack>();
  private readonly bus = new EventEmitter();
  readonly history: History | undefined;
  store: { ok: boolean; since?: string; reason?: string } = { ok: true };
  private pending = new Map<string, Finding>();
  private certPending: { cluster: string; added: { sha256: string; subject: string; notAfter: string }[]; gone: string[]; at: string }[] =
    [];
  private flushing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private backoff = 500;
  private lastSeenWrite = 0;
  private readonly o: MonitorOptions;
  /** Errors the monitor met (source failures, store failures), for metrics. */
  errors = 0;

  constructor(o: MonitorOptions = {}) {
    this.o = o;
    this.history = o.history;
    this.bus.setMaxListeners(0);
  }

  now(): Date {
    return this.o.now ? this.o.now() : new Date();
  }

  /** Read the history back (findings, acknowledgements). */
  async load(): Promise<void> {
    if (!this.history) return;
    await this.history.migrate();
    for (const f of await this.history.findings()) this.findings.set(f.key, f);
    for (const [k, a] of await this.history.acks()) this.acks.set(k, a);
    const days = this.o.retentionDays ?? 90;
    await this.history.prune(new Date(this.now().getTime() - days * 86_400_000));
  }

  on(listener: (e: MonitorEvent) => void): () => void {
    this.bus.on('event', listener);
    return () => this.bus.off('event', listener);
  }

  emit(e: MonitorEvent): void {
    this.bus.emit('event', e);
  }

  addCluster(o: Omit<ClusterOptions, 'onScan'>): ClusterState {
    if (this.clusters.has(o.name)) throw new Error(`cluster ${o.name} twice`);
    const c = new ClusterState({
      ...o,
      ...(o.warnDays === undefined && this.o.warnDays !== undefined && { warnDays: this.o.warnDays }),
      ...(this.o.now && { now: this.o.now }),
      onScan: (cs, prev, next) => this.scanned(cs, prev, next),
    });
    this.clusters.set(o.name, c);
    return c;
  }

  /** A source of a cluster changed state: the event and, when it failed, a log line. */
  sourceState(c: ClusterState, name: string, status: Source['status'], patch: { reason?: string; objects?: number } = {}): void {
    const prev = c.sources.get(name);
    const s = c.setSource(name, status, patch);
    if (status !== 'ok') this.errors++;
    if (prev?.status !== s.status || prev?.reason !== s.reason || prev?.objects !== s.objects) {
      if (status !== 'ok') this.o.log?.warn({ cluster: c.name, source: name, reason: s.reason }, 'source is not ok');
      this.emit({ type: 'source', data: { ...s, cluster: c.name } });
      this.emit({ type: 'cluster', data: this.clusterJson(c) });
    }
  }

  private scanned(c: ClusterState, prev: ClusterView | undefined, next: ClusterView): void {
    const at = next.at.toISOString();
    // Certificates: added, changed (health, findings), gone.
    const added: { sha256: string; subject: string; notAfter: string }[] = [];
    for (const [sha, s] of next.summaries) {
      const p = prev?.summaries.get(sha);
      if (!p) added.push({ sha256: sha, subject: s.subject, notAfter: s.notAfter });
      if (!p || p.health !== s.health || p.findings !== s.findings || p.locations !== s.locations)
        this.emit({ type: 'certificate', data: s });
    }
    const gone: string[] = [];
    for (const sha of prev?.summaries.keys() ?? []) {
      if (next.summaries.has(sha)) continue;
      gone.push(sha);
      this.emit({ type: 'certificate', data: { deleted: true, sha256: sha, cluster: c.name } });
    }
    if (this.history && (added.length || gone.length)) this.certPending.push({ cluster: c.name, added, gone, at });
    // Findings: open, seen again, resolved.
    const current = new Set<string>();
    const writeLastSeen = this.now().getTime() - this.lastSeenWrite > 60_000;
    for (const kf of next.findings) {
      current.add(kf.key);
      const old = this.findings.get(kf.key);
      if (old && old.resolvedAt === undefined) {
        old.lastSeen = at;
        if (old.severity !== kf.severity || old.why !== kf.why) {
          Object.assign(old, apiFinding(kf, old.firstSeen, at));
          this.queue(old);
          this.emit({ type: 'finding', data: this.withAck(old) });
        } else if (writeLastSeen) this.queue(old);
        continue;
      }
      const f = apiFinding(kf, old?.firstSeen ?? at, at);
      this.findings.set(f.key, f);
      this.queue(f);
      this.emit({ type: 'finding', data: this.withAck(f) });
      this.o.onFindingChange?.(this.withAck(f), 'opened');
    }
    for (const f of this.findings.values()) {
      if (f.cluster !== c.name || f.resolvedAt !== undefined || current.has(f.key)) continue;
      f.resolvedAt = at;
      this.queue(f);
      this.emit({ type: 'finding', data: this.withAck(f) });
      this.o.onFindingChange?.(this.withAck(f), 'resolved');
    }
    if (writeLastSeen) this.lastSeenWrite = this.now().getTime();
    this.emit({ type: 'cluster', data: this.clusterJson(c) });
    void this.flush();
  }

  private queue(f: Finding): void {
    if (!this.history) return;
    if (this.pending.size >= MAX_PENDING && !this.pending.has(f.key)) {
      const first = this.pending.keys().next().value;
      if (first !== undefined) this.pending.delete(first);
    }
    this.pending.set(f.key, f);
  }

  /**
   * Every `ms`: check the store answers (the health check), write what waits, and read back the
   * acknowledgements (other replicas over one PostgreSQL make them too).
   */
  heartbeat(ms = 5000): void {
    if (!this.history || this.beat) return;
    this.beat = setInterval(() => {
      void this.probe();
      void this.flush().then(() => (this.store.ok ? this.refreshAcks().catch(() => undefined) : undefined));
    }, ms);
    this.beat.unref?.();
  }
  private beat: NodeJS.Timeout | undefined;
  private probing = false;

  /**
   * The health check on its own, beside any write in flight: it runs on the store's own health-check
   * connection (never queued behind a write), so a write stuck on a dead connection waits for its own
   * (longer) bound, but the store is called down within storeAnswerMs of going away. Only an answer says
   * the store is back: when nothing waits to be written, this one; else the write it starts at once
   * (instead of when the retry's backoff is over) says so by succeeding.
   */
  async probe(): Promise<void> {
    if (!this.history || this.probing) return;
    this.probing = true;
    try {
      const ms = this.o.storeAnswerMs ?? STORE_ANSWER_MS;
      await this.answer(this.history.store.ping(ms));
      if (!this.store.ok && !this.flushing) {
        if (!this.pending.size && !this.certPending.length) this.up();
        else {
          if (this.retry) clearTimeout(this.retry);
          this.retry = undefined;
          void this.flush();
        }
      }
    } catch (e) {
      this.down(e as Error);
    } finally {
      this.probing = false;
    }
  }

  private up(): void {
    if (!this.store.ok) this.o.log?.info({ store: this.history?.store.location }, 'store is back');
    this.store = { ok: true };
    this.backoff = 500;
  }

  private down(e: Error): void {
    this.errors++;
    if (!this.store.ok) return;
    this.store = { ok: false, since: this.now().toISOString(), reason: e.message.split('\n')[0] as string };
    this.o.log?.error({ store: this.history?.store.location, err: this.store.reason }, 'store is down: retrying');
  }

  /**
   * Write what waits; on failure mark the store down and try again with backoff. One write at a time:
   * a call while one runs gets that one's promise, and what was queued meanwhile is written by its next
   * round. (The promise is set before the write starts: an async body with nothing to await would
   * otherwise finish, and clear the field, before the field is set, and every later call would get
   * that finished promise and write nothing.)
   */
  flush(): Promise<void> {
    if (!this.history) return Promise.resolve();
    if (this.flushing) return this.flushing;
    const p = this.writePending().finally(() => {
      if (this.flushing === p) this.flushing = undefined;
    });
    this.flushing = p;
    return p;
  }

  /** `p`, or a rejection once the store has had storeAnswerMs to answer. */
  private answer<T>(p: Promise<T> | undefined, times = 1): Promise<T | undefined> {
    const ms = (this.o.storeAnswerMs ?? STORE_ANSWER_MS) * times;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms);
      timer.unref?.();
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  private async writePending(): Promise<void> {
    // Nothing to write says nothing about the store: whether it answers is the health check's to say.
    // (A flush with nothing queued used to call a down store back: the retry a failed check scheduled
    // did, half a second later, so with the database gone /readyz said 503 for ~0.5 s of every 5 s.)
    if (!this.pending.size && !this.certPending.length) return;
    try {
      while (this.pending.size || this.certPending.length) {
        // Take the batch out of the queue: a finding queued again while it is written (seen again,
        // resolved) stays queued for the next round instead of being dropped with the batch.
        const taken = this.pending;
        this.pending = new Map();
        try {
          await this.answer(this.history?.saveFindings([...taken.values()].map((f) => ({ ...f }))), bound(taken.size));
        } catch (e) {
          for (const [k, f] of taken) if (!this.pending.has(k)) this.pending.set(k, f);
          throw e;
        }
        const certs = this.certPending.splice(0);
        try {
          for (const c of certs)
            await this.answer(this.history?.certificatesChanged(c.cluster, c.added, c.gone, c.at), bound(c.added.length + c.gone.length));
        } catch (e) {
          this.certPending.unshift(...certs);
          throw e;
        }
      }
      this.up();
    } catch (e) {
      this.down(e as Error);
      if (!this.retry) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.flush();
        }, this.backoff);
        this.retry.unref?.();
        this.backoff = Math.min(this.backoff * 2, 30_000);
      }
    }
  }

  withAck(f: Finding): Finding {
    const a = this.acks.get(f.key);
    if (!a || Date.parse(a.until) <= this.now().getTime()) {
      if (f.ack === undefined) return f;
      const { ack: _drop, ...rest } = f;
      return rest;
    }
    return { ...f, ack: a };
  }

  async ack(key: string, by: string, reason: string, until: Date): Promise<Finding | undefined> {
    const f = this.findings.get(key);
    if (!f) return undefined;
    const a: Ack = { by, reason, until: until.toISOString(), at: this.now().toISOString() };
    await this.history?.setAck(key, a);
    this.acks.set(key, a);
    const out = this.withAck(f);
    this.emit({ type: 'finding', data: out });
    return out;
  }

  async unack(key: string): Promise<Finding | undefined> {
    const f = this.findings.get(key);
    if (!f) return undefined;
    await this.history?.setAck(key, undefined);
    this.acks.delete(key);
    const out = this.withAck(f);
    this.emit({ type: 'finding', data: out });
    return out;
  }

  /** Acknowledgements made by other replicas over the same store. */
  async refreshAcks(): Promise<void> {
    if (!this.history) return;
    const acks = await this.answer(this.history.acks());
    if (!acks) return;
    this.acks.clear();
    for (const [k, a] of acks) this.acks.set(k, a);
  }

  clusterJson(c: ClusterState): Cluster {
    const v = c.view;
    const counts: Cluster['counts'] = { certificates: 0, expiring: 0, expired: 0, error: 0, warning: 0, notice: 0 };
    if (v) {
      counts.certificates = v.summaries.size;
      for (const s of v.summaries.values()) {
        if (Date.parse(s.notAfter) <= v.at.getTime()) counts.expired++;
        else if (Date.parse(s.notAfter) - v.at.getTime() < c.warnDays * 86_400_000) counts.expiring++;
      }
      for (const f of v.findings) counts[f.severity]++;
    }
    const sources = [...c.sources.values()].sort((a, b) => a.name.localeCompare(b.name));
    const bad = sources.filter((s) => s.status !== 'ok');
    const status: Cluster['status'] = bad.length === 0 ? 'ok' : bad.length === sources.length && !v ? 'error' : 'stale';
    const out: Cluster = { name: c.name, kind: c.kind, status, counts, sources };
    if (bad.length) out.reason = bad.map((s) => `${s.name}: ${s.reason ?? s.status}`).join('; ');
    if (v) out.lastScan = v.at.toISOString();
    return out;
  }

  get ready(): boolean {
    if (!this.store.ok) return false;
    for (const c of this.clusters.values()) if (!c.view || !c.ready) return false;
    return true;
  }

  views(cluster?: string): ClusterView[] {
    const out: ClusterView[] = [];
    for (const c of this.clusters.values()) if (c.view && (cluster === undefined || c.name === cluster)) out.push(c.view);
    return out;
  }

  summaries(cluster?: string): CertificateSummary[] {
    const out: CertificateSummary[] = [];
    for (const v of this.views(cluster)) for (const s of v.summaries.values()) out.push(s);
    return out;
  }

  stop(): void {
    for (const c of this.clusters.values()) c.stop();
    if (this.retry) clearTimeout(this.retry);
    if (this.beat) clearInterval(this.beat);
  }
}

export function apiFinding(kf: KeyedFinding, firstSeen: string, lastSeen: string): Finding {
  const f: Finding = {
    key: kf.key,
    id: kf.id,
    cluster: kf.cluster,
    severity: kf.severity,
    locations: kf.locations,
    why: kf.why,
    fix: kf.fix,
    firstSeen,
    lastSeen,
  };
  if (kf.subject !== undefined) f.subject = kf.subject;
  if (kf.sha256 !== undefined) f.sha256 = kf.sha256;
  return f;
}

export function atLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_RANK[s] >= SEVERITY_RANK[min];
}
