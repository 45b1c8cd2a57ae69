// Operations on a PKI folder from the API (`anchorage serve --dir`): plan first, run later. A plan records
// what it would do and a fingerprint of the folder (every store file, the manifest, the rotation state);
// running it refuses with 409 when the folder changed since, so a click never applies a stale plan.
// The work itself is src/pki's service (renew, rotate-ca one phase) and src/nodes' push.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';
import { nodesPlan, nodesPush } from '../nodes/service.ts';
import { buildPlan } from '../pki/plan.ts';
import { PHASES } from '../pki/rotate.ts';
import { configFor, readRotation, renewPki, rotateCa } from '../pki/service.ts';
import type { History } from './history.ts';
import type { Operation, OperationKind } from './types.ts';

export class OperationError extends Error {
  readonly status: 400 | 404 | 409;
  constructor(status: 400 | 404 | 409, message: string) {
    super(message);
    this.status = status;
  }
}

const KINDS: OperationKind[] = ['pki.renew', 'pki.rotate-ca', 'nodes.push', 'bundles.sync'];
const MAX_OPS = 1000;

/** SHA-256 over the folder's state: store/, manifest.json, rotation.json, cluster.yaml (names, sizes, bytes). */
export function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const full = join(d, n);
      const st = statSync(full);
      if (st.isDirectory()) walk(full, `${rel}${n}/`);
      else if (st.isFile()) h.update(`${rel}${n}\0${st.size}\0`).update(readFileSync(full));
    }
  };
  walk(join(dir, 'store'), 'store/');
  for (const f of ['manifest.json', 'rotation.json', 'cluster.yaml'])
    if (existsSync(join(dir, f))) h.update(`${f}\0`).update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

/** The arguments each kind takes (docs/api.md); anything else is a 400 naming it. */
const ARGS: Record<OperationKind, readonly string[]> = {
  'pki.renew': ['certs', 'nodes'],
  'pki.rotate-ca': ['ca', 'action', 'phase'],
  'nodes.push': ['nodes'],
  'bundles.sync': [],
};

/** One line for the answer: a name or value from the request is cut and its control characters dropped. */
const shown = (v: unknown): string =>
  JSON.stringify(v)
    ?.slice(0, 80)
    .replace(/[\u0000-\u001f\u007f]/g, '') ?? String(v);

function checkArgs(kind: OperationKind, args: Record<string, unknown>): void {
  const takes = ARGS[kind];
  for (const k of Object.keys(args))
    if (!takes.includes(k))
      throw new OperationError(
        400,
        `args.${shown(k).replace(/^"|"$/g, '')}: ${kind} takes ${takes.length ? takes.join(', ') : 'no arguments'}`,
      );
  for (const k of ['ca', 'action', 'phase'] as const)
    if (k in args && typeof args[k] !== 'string') throw new OperationError(400, `args.${k}: a string, not ${shown(args[k])}`);
  if (args.action !== undefined && args.action !== 'next' && args.action !== 'rollback')
    throw new OperationError(400, `args.action: 'next' or 'rollback', not ${shown(args.action)}`);
  const phases: string[] = [...PHASES, 'rollback'];
  if (args.phase !== undefined && !phases.includes(args.phase as string))
    throw new OperationError(400, `args.phase: one of ${phases.join(', ')}, not ${shown(args.phase)}`);
}

function strings(name: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length > 253) || v.length > 1000)
    throw new OperationError(400, `args.${name}: a list of names`);
  return v as string[];
}

interface Held {
  op: Operation;
  fingerprint: string;
}

export class PkiOperations {
  private readonly ops = new Map<string, Held>();
  private readonly dir: string;
  private readonly history: History | undefined;
  private readonly onChange: (op: Operation) => void;
  private running: Promise<unknown> = Promise.resolve();
  private readonly now: () => Date;

  constructor(o: { dir: string; history?: History; onChange: (op: Operation) => void; now?: () => Date }) {
    this.dir = o.dir;
    this.history = o.history;
    this.onChange = o.onChange;
    this.now = o.now ?? (() => new Date());
  }

  private async save(h: Held): Promise<void> {
    if (this.ops.size > MAX_OPS) {
      const oldest = [...this.ops.values()]
        .filter((x) => x.op.state !== 'running')
        .sort((a, b) => a.op.createdAt.localeCompare(b.op.createdAt))[0];
      if (oldest) this.ops.delete(oldest.op.id);
    }
    this.ops.set(h.op.id, h);
    await this.history?.saveOperation({ ...h.op, args: { ...h.op.args, fingerprint: h.fingerprint } });
    this.onChange(h.op);
  }

  async plan(kind: string, args: Record<string, unknown>): Promise<Operation> {
    if (!(KINDS as string[]).includes(kind)) throw new OperationError(400, `kind: ${shown(kind)} is not one of ${KINDS.join(', ')}`);
    checkArgs(kind as OperationKind, args);
    if (kind === 'bundles.sync')
      throw new OperationError(400, 'bundles.sync: not available on a --dir server (bundles are synced in the cluster: anchorage bundle)');
    const op: Operation = {
      id: randomUUID(),
      kind: kind as OperationKind,
      args,
      state: 'planned',
      plan: { summary: '', steps: [] },
      log: [],
      createdAt: this.now().toISOString(),
    };
    try {
      op.plan = await this.planOf(op.kind, args);
    } catch (e) {
      if (e instanceof InputError) throw new OperationError(400, e.message.split('\n')[0] as string);
      throw e;
    }
    const h: Held = { op, fingerprint: fingerprint(this.dir) };
    await this.save(h);
    return op;
  }

  private async planOf(kind: OperationKind, args: Record<string, unknown>): Promise<Operation['plan']> {
    const config = configFor(this.dir);
    const plan = buildPlan(config);
    if (kind === 'pki.renew') {
      const certs = strings('certs', args.certs) ?? ['all'];
      const nodes = strings('nodes', args.nodes);
      const known = new Set(plan.certs.filter((p) => !p.ca).map((p) => p.kubeadmName));
      for (const n of certs)
        if (n !== 'all' && !known.has(n))
          throw new OperationError(400, `args.certs: unknown certificate '${n}' (one of: all, ${[...known].sort().join(', ')})`);
      for (const n of nodes ?? []) if (!plan.nodes.some((x) => x.name === n)) throw new OperationError(400, `args.nodes: no node '${n}'`);
      const steps = plan.certs
        .filter((p) => !p.ca && (certs.includes('all') || certs.includes(p.kubeadmName)) && (!nodes || nodes.includes(p.node ?? '')))
        .map((p) => ({ action: 'renew', target: p.id, detail: `new key, same subject and SANs, signed by ${p.signer}` }));
      return { summary: `renew ${steps.length} certificate(s): ${certs.join(', ')}${nodes ? ` on ${nodes.join(', ')}` : ''}`, steps };
    }
    if (kind === 'pki.rotate-ca') {
      const ca = typeof args.ca === 'string' ? args.ca : 'ca';
      if (!plan.certs.some((c) => c.id === ca && c.ca)) throw new OperationError(400, `args.ca: '${ca}' is not a CA of this cluster`);
      const action = args.action ?? (args.phase === 'rollback' ? 'rollback' : 'next');
      if (action !== 'next' && action !== 'rollback') throw new OperationError(400, "args.action: 'next' or 'rollback'");
      const state = readRotation(this.dir);
      if (state && state.ca !== ca) throw new OperationError(409, `a rotation of ${state.ca} is in progress (phase ${state.phase})`);
      const cur = state?.phase;
      const next = action === 'rollback' ? (cur ? 'rolled-back' : undefined) : cur ? PHASES[PHASES.indexOf(cur) + 1] : 'new-ca';
      if (!next)
        throw new OperationError(
          409,
          action === 'rollback' ? `no rotation of ${ca} is in progress` : `the rotation of ${ca} is already done`,
        );
      if (typeof args.phase === 'string' && args.phase !== 'rollback' && args.phase !== next)
        throw new OperationError(409, `args.phase: the next phase of ${ca} is ${next}, not ${args.phase}`);
      const why: Record<string, string> = {
        'new-ca': `make a new ${ca}; nodes trust both the old and the new one`,
        bundle: 'every trust bundle carries both CAs; distribute before the next phase',
        reissue: `reissue every certificate ${ca} signs from the new CA`,
        done: `drop the old ${ca} from every bundle`,
        'rolled-back': `undo phase ${cur}`,
      };
      return {
        summary: `rotate ${ca}: ${cur ?? 'none'} → ${next}`,
        steps: [{ action: action === 'rollback' ? 'rollback' : 'phase', target: ca, detail: `${next}: ${why[next] ?? ''}` }],
      };
    }
    if (kind === 'nodes.push') {
      const nodes = strings('nodes', args.nodes);
      const out = await nodesPlan({ dir: this.dir, ...(nodes && { nodes }), timeoutMs: 15_000 });
      const steps: Operation['plan']['steps'] = [];
      for (const n of out) {
        if (!n.ok) {
          steps.push({ action: 'unreachable', target: n.node, detail: n.error ?? 'failed' });
          continue;
        }
        for (const f of n.result?.files ?? [])
          if (f.state !== 'same') steps.push({ action: String(f.state), target: `${n.node}:${f.path}`, ...(f.why && { detail: f.why }) });
      }
      return { summary: `push to ${out.length} node(s): ${steps.length} change(s)`, steps };
    }
    throw new OperationError(400, `${kind}: not available on this server`);
  }

  async get(id: string): Promise<Operation | undefined> {
    const h = this.ops.get(id);
    if (h) return h.op;
    const stored = await this.history?.operation(id);
    if (stored) {
      const { fingerprint: _f, ...args } = stored.args as Record<string, unknown>;
      return { ...stored, args };
    }
    return undefined;
  }

  async run(id: string): Promise<Operation> {
    const h = this.ops.get(id);
    if (!h) {
      if (await this.get(id))
        throw new OperationError(409, `operation ${id} was planned by another server or before a restart: plan it again`);
      throw new OperationError(404, `operation ${id.slice(0, 80)}: not found`);
    }
    if (h.op.state !== 'planned') throw new OperationError(409, `operation ${id} is ${h.op.state}`);
    const turn = this.running.then(() => this.execute(h));
    this.running = turn.catch(() => undefined);
    return turn;
  }

  private async execute(h: Held): Promise<Operation> {
    const op = h.op;
    if (fingerprint(this.dir) !== h.fingerprint)
      throw new OperationError(409, 'the PKI folder changed since this plan was made: plan again');
    op.state = 'running';
    await this.save(h);
    const log = (s: string): void => {
      op.log.push(s);
    };
    try {
      const config = configFor(this.dir);
      if (op.kind === 'pki.renew') {
        const nodes = strings('nodes', op.args.nodes);
        const r = await renewPki({
          dir: this.dir,
          config,
          names: strings('certs', op.args.certs) ?? ['all'],
          ...(nodes && { nodes }),
          now: this.now(),
        });
        for (const id of r.renewed) log(`renewed ${id}`);
        for (const s of r.skipped) log(`skipped ${s.id}: ${s.why}`);
        log(`${r.changes.files} node file(s) changed on ${r.changes.nodes.join(', ') || 'no node'}: push them (nodes.push)`);
      } else if (op.kind === 'pki.rotate-ca') {
        const ca = typeof op.args.ca === 'string' ? op.args.ca : 'ca';
        const action = op.args.action === 'rollback' || op.args.phase === 'rollback' ? 'rollback' : 'next';
        const r = await rotateCa({ dir: this.dir, config, ca, action, now: this.now() });
        log(`${ca}: ${r.from} → ${r.to}, ${r.reissued} certificate(s) reissued`);
        log(`${r.changes.files} node file(s) changed on ${r.changes.nodes.join(', ') || 'no node'}: push them before the next phase`);
      } else if (op.kind === 'nodes.push') {
        const nodes = strings('nodes', op.args.nodes);
        const rec = await nodesPush({ dir: this.dir, ...(nodes && { nodes }), timeoutMs: 30_000 });
        const out = rec.nodes;
        if (rec.historyError) log(`node history not recorded: ${rec.historyError}`);
        let failed = 0;
        for (const n of out) {
          if (n.ok) log(`${n.node}: pushed`);
          else {
            failed++;
            log(`${n.node}: ${n.error ?? 'failed'}`);
          }
        }
        if (failed) throw new Error(`${failed} of ${out.length} node(s) failed`);
      }
      op.state = 'done';
    } catch (e) {
      op.state = 'failed';
      op.error = (e as Error).message.split('\n')[0] as string;
      log(`failed: ${op.error}`);
    }
    op.finishedAt = this.now().toISOString();
    await this.save(h);
    return op;
  }
}
