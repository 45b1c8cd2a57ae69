// `anchorage nodes …` without the command line: load DIR and the cluster config, run a job on every
// selected node with bounded parallelism, and return one result per node (ok, or one line why not).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFilesAtomic } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';
import { configFor, interrupted } from '../pki/service.ts';
import { openStore } from '../store/open.ts';
import { type Desired, loadDesired } from './desired.ts';
import { forEachNode, MAX_PARALLEL, type NodeOutcome } from './fleet.ts';
import { type HistoryCommand, type HistoryRecord, recordRun } from './history.ts';
import { type FileChange, type NodePush, type NodeRollback, planNode, pushNode, rollbackNode } from './push.ts';
import { HostKeyBook } from './ssh.ts';
import { type NodeStatus, statusNode } from './status.ts';
import { type NodeTarget, nodeTargets, selectTargets } from './targets.ts';
import { type MatrixRow, predictFromPulled, verifyMatrix } from './verify.ts';

export interface NodesOptions {
  dir: string;
  /** Cluster config (default DIR/cluster.yaml). */
  config?: string;
  nodes?: string[];
  parallel?: number;
  acceptNew?: boolean;
  timeoutMs?: number;
  /** sudo's password on nodes set to `sudo` (never logged). */
  becomePassword?: string;
  /** Where runs are recorded: a store URL (sqlite:PATH, PATH, postgres://…), false for nowhere; default historyUrl(dir). */
  history?: string | false;
  onDone?: (o: NodeOutcome<unknown>) => void;
}

interface Context {
  desired: Desired;
  targets: NodeTarget[];
  hostKeys: HostKeyBook;
}

function context(o: NodesOptions): Context {
  const dir = resolve(o.dir);
  const txn = interrupted(dir);
  if (txn) throw new InputError(`${dir}: an interrupted '${[txn.command, ...txn.args].join(' ')}' must finish first (rerun it)`);
  const configPath = o.config ?? join(dir, 'cluster.yaml');
  const config = configFor(dir, o.config);
  const desired = loadDesired(dir);
  const all = nodeTargets(config, dirname(resolve(configPath)));
  const inManifest = new Set(desired.manifest.nodes.map((n) => n.name));
  const missing = all.filter((t) => !inManifest.has(t.name)).map((t) => t.name);
  if (missing.length) throw new InputError(`${join(dir, 'manifest.json')}: no files for ${missing.join(', ')}: rerun 'anchorage pki init'`);
  if (o.parallel !== undefined && (!Number.isInteger(o.parallel) || o.parallel < 1 || o.parallel > MAX_PARALLEL))
    throw new InputError(`--parallel: expected 1 to ${MAX_PARALLEL}`);
  return { desired, targets: selectTargets(all, o.nodes ?? []), hostKeys: new HostKeyBook(o.acceptNew ?? false) };
}

async function run<T>(o: NodesOptions, job: (c: Context) => Parameters<typeof forEachNode<T>>[2]): Promise<NodeOutcome<T>[]> {
  const c = context(o);
  try {
    return await forEachNode(
      c.targets,
      {
        hostKeys: c.hostKeys,
        ...(o.parallel !== undefined && { parallel: o.parallel }),
        ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
        ...(o.becomePassword !== undefined && { becomePassword: o.becomePassword }),
        ...(o.onDone && { onDone: o.onDone }),
      },
      job(c),
    );
  } finally {
    c.hostKeys.flush();
  }
}

export interface PlanResult {
  files: FileChange[];
  temps: string[];
}

export function nodesPlan(o: NodesOptions): Promise<NodeOutcome<PlanResult>[]> {
  return run(o, (c) => async (s, r) => {
    const p = await planNode(r, c.desired, s.target.name);
    return { files: p.files, temps: p.temps };
  });
}

/** The default history store: $ANCHORAGE_NODES_DB, else DIR/history.sqlite. */
export function historyUrl(dir: string): string {
  return process.env.ANCHORAGE_NODES_DB || `sqlite:${join(resolve(dir), 'history.sqlite')}`;
}

/** Record a run; a history that cannot be written is reported, never hides what was done on the nodes. */
export async function record(o: NodesOptions, rows: HistoryRecord[]): Promise<string | undefined> {
  if (o.history === false || rows.length === 0) return undefined;
  try {
    const store = await openStore(o.history ?? historyUrl(o.dir));
    try {
      await recordRun(store, rows);
    } finally {
      await store.close();
    }
    return undefined;
  } catch (e) {
    return `history not recorded: ${(e as Error).message.split('\n')[0]}`;
  }
}

const baseRecord = (command: HistoryCommand, n: NodeOutcome<unknown>, now: Date): HistoryRecord => ({
  at: now.toISOString(),
  command,
  node: n.node,
  ok: n.ok,
  ...(n.error !== undefined && { error: n.error }),
  ok_files: 0,
  drift: 0,
  missing: 0,
  unknown: 0,
  findings: 0,
  changed: 0,
});

export interface Recorded<T> {
  nodes: NodeOutcome<T>[];
  /** Set when the run could not be recorded in the history. */
  historyError?: string;
}

export async function nodesPush(o: NodesOptions & { prune?: boolean; hook?: boolean }): Promise<Recorded<NodePush>> {
  const now = new Date();
  const nodes = await run<NodePush>(
    o,
    (c) => (s, r) => pushNode(s, r, c.desired, { ...(o.prune && { prune: true }), ...(o.hook === false && { hook: false }), now }),
  );
  const rows = nodes.map((n) => {
    const rec = baseRecord('push', n, now);
    const p = n.result;
    if (p) {
      rec.changed = p.changed;
      rec.ok_files = p.files.filter((f) => f.state === 'same').length;
      if (p.backup) rec.backup = p.backup;
    }
    return rec;
  });
  const historyError = await record(o, rows);
  return { nodes, ...(historyError && { historyError }) };
}

export async function nodesRollback(o: NodesOptions): Promise<Recorded<NodeRollback>> {
  const now = new Date();
  const nodes = await run<NodeRollback>(o, () => (_s, r) => rollbackNode(r));
  const rows = nodes.map((n) => {
    const rec = baseRecord('rollback', n, now);
    if (n.result) {
      rec.changed = n.result.restored + n.result.removed;
      rec.backup = n.result.backup;
    }
    return rec;
  });
  const historyError = await record(o, rows);
  return { nodes, ...(historyError && { historyError }) };
}

export type StatusResult = Omit<NodeStatus, 'data'>;

/**
 * What every node holds; recorded in the history (default historyUrl(dir)). With `pullTo`, the files are
 * also copied to pullTo/nodes/<node>/<path> (keys 0600), the layout of a `pki init` folder: a
 * source for `anchorage scan`, which ties each file to its node and path.
 */
export async function nodesStatus(o: NodesOptions & { pullTo?: string; now?: Date; warnDays?: number }): Promise<Recorded<StatusResult>> {
  const now = o.now ?? new Date();
  const pulled: { path: string; data: Buffer; mode: number }[] = [];
  const out = await run<StatusResult>(o, (c) => async (s, r) => {
    const st = await statusNode(r, c.desired, s.target.name, now, o.warnDays);
    if (o.pullTo)
      for (const [p, data] of st.data) {
        const key = st.files.find((f) => f.path === p)?.privateKey || /\.(key|conf)$/.test(p);
        pulled.push({
          path: join(resolve(o.pullTo), 'nodes', s.target.name, ...p.split('/').filter(Boolean)),
          data,
          mode: key ? 0o600 : 0o644,
        });
      }
    const { data: _data, ...rest } = st;
    return rest;
  });
  if (o.pullTo && pulled.length) {
    for (const f of pulled) mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
    writeFilesAtomic(pulled, { overwrite: true });
  }
  const historyError = await record(
    o,
    out.map((n) => toRecord(o.pullTo ? 'pull' : 'status', n, now)),
  );
  return { nodes: out, ...(historyError && { historyError }) };
}

function toRecord(command: HistoryCommand, n: NodeOutcome<StatusResult>, now: Date): HistoryRecord {
  const r = n.result;
  const rec = baseRecord(command, n, now);
  if (!r) return rec;
  rec.ok_files = r.counts.ok;
  rec.drift = r.counts.drift;
  rec.missing = r.counts.missing;
  rec.unknown = r.counts.unknown;
  rec.findings = r.findings.length;
  if (r.earliestExpiry) rec.earliestExpiry = r.earliestExpiry.notAfter;
  rec.files = r.files.map((f) => (f.sha256 ? { path: f.path, state: f.state, sha256: f.sha256 } : { path: f.path, state: f.state }));
  return rec;
}

export function nodesVerify(o: NodesOptions & { predictOnly?: boolean; fromPulled?: string; now?: Date }): Promise<MatrixRow[]> {
  const c = context(o);
  if (o.fromPulled !== undefined) {
    if (!existsSync(o.fromPulled)) throw new InputError(`--from-pulled: ${o.fromPulled}: no such folder`);
    return predictFromPulled(c.targets, c.desired, resolve(o.fromPulled), o.now);
  }
  return verifyMatrix(c.targets, c.desired, {
    hostKeys: c.hostKeys,
    ...(o.parallel !== undefined && { parallel: o.parallel }),
    ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
    ...(o.becomePassword !== undefined && { becomePassword: o.becomePassword }),
    ...(o.predictOnly && { predictOnly: true }),
    ...(o.now && { now: o.now }),
  }).finally(() => c.hostKeys.flush());
}
