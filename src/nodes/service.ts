// `anchorage nodes …` without the command line: load DIR and the cluster config, run a job on every
// selected node with bounded parallelism, and return one result per node (ok, or one line why not).
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFilesAtomic } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';
import { configFor, interrupted } from '../pki/service.ts';
import { type Desired, loadDesired } from './desired.ts';
import { forEachNode, MAX_PARALLEL, type NodeOutcome } from './fleet.ts';
import { openHistory, type StatusRecord } from './history.ts';
import { type FileChange, type NodePush, type NodeRollback, planNode, pushNode, rollbackNode } from './push.ts';
import { HostKeyBook } from './ssh.ts';
import { type NodeStatus, statusNode } from './status.ts';
import { type NodeTarget, nodeTargets, selectTargets } from './targets.ts';
import { type MatrixRow, verifyMatrix } from './verify.ts';

export interface NodesOptions {
  dir: string;
  /** Cluster config (default DIR/cluster.yaml). */
  config?: string;
  nodes?: string[];
  parallel?: number;
  acceptNew?: boolean;
  timeoutMs?: number;
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

export function nodesPush(o: NodesOptions & { prune?: boolean; hook?: boolean }): Promise<NodeOutcome<NodePush>[]> {
  return run(o, (c) => (s, r) => pushNode(s, r, c.desired, { ...(o.prune && { prune: true }), ...(o.hook === false && { hook: false }) }));
}

export function nodesRollback(o: NodesOptions): Promise<NodeOutcome<NodeRollback>[]> {
  return run(o, () => (_s, r) => rollbackNode(r));
}

export type StatusResult = Omit<NodeStatus, 'data'>;

/**
 * What every node holds; recorded in the history file (default DIR/history.sqlite). With `pullTo`, the
 * files are also copied to pullTo/<node>/<path> (keys 0600): a source for `anchorage scan`.
 */
export async function nodesStatus(
  o: NodesOptions & { history?: string | false; pullTo?: string; now?: Date; warnDays?: number },
): Promise<NodeOutcome<StatusResult>[]> {
  const now = o.now ?? new Date();
  const pulled: { path: string; data: Buffer; mode: number }[] = [];
  const out = await run<StatusResult>(o, (c) => async (s, r) => {
    const st = await statusNode(r, c.desired, s.target.name, now, o.warnDays);
    if (o.pullTo)
      for (const [p, data] of st.data) {
        const key = st.files.find((f) => f.path === p)?.privateKey || /\.(key|conf)$/.test(p);
        pulled.push({ path: join(resolve(o.pullTo), s.target.name, ...p.split('/').filter(Boolean)), data, mode: key ? 0o600 : 0o644 });
      }
    const { data: _data, ...rest } = st;
    return rest;
  });
  if (o.pullTo && pulled.length) {
    for (const f of pulled) mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
    writeFilesAtomic(pulled, { overwrite: true });
  }
  if (o.history !== false) {
    const h = openHistory(o.history ?? join(resolve(o.dir), 'history.sqlite'));
    try {
      h.record(out.map((n) => toRecord(n, now)));
    } finally {
      h.close();
    }
  }
  return out;
}

function toRecord(n: NodeOutcome<StatusResult>, now: Date): StatusRecord {
  const r = n.result;
  const rec: StatusRecord = {
    at: now.toISOString(),
    node: n.node,
    ok: n.ok,
    ok_files: r?.counts.ok ?? 0,
    drift: r?.counts.drift ?? 0,
    missing: r?.counts.missing ?? 0,
    unknown: r?.counts.unknown ?? 0,
    findings: r?.findings.length ?? 0,
    hashes: Object.fromEntries((r?.files ?? []).filter((f) => f.sha256).map((f) => [f.path, f.sha256 as string])),
  };
  if (n.error) rec.error = n.error;
  if (r?.earliestExpiry) rec.earliestExpiry = r.earliestExpiry.notAfter;
  return rec;
}

export function nodesVerify(o: NodesOptions & { predictOnly?: boolean; now?: Date }): Promise<MatrixRow[]> {
  const c = context(o);
  return verifyMatrix(c.targets, c.desired, {
    hostKeys: c.hostKeys,
    ...(o.parallel !== undefined && { parallel: o.parallel }),
    ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
    ...(o.predictOnly && { predictOnly: true }),
    ...(o.now && { now: o.now }),
  }).finally(() => c.hostKeys.flush());
}
