// Run one job on many nodes with bounded parallelism: each node connects on its own, a failure on one
// node is one line for that node and the others go on.
import { Remote } from './remote.ts';
import { connectNode, type HostKeyBook, NodeError, type Session } from './ssh.ts';
import type { NodeTarget } from './targets.ts';

export interface NodeOutcome<T> {
  node: string;
  ok: boolean;
  /** One line: why this node failed. */
  error?: string;
  result?: T;
}

export interface FleetOptions {
  hostKeys: HostKeyBook;
  /** Nodes worked on at once (default 32). */
  parallel?: number;
  timeoutMs?: number;
  /** For nodes set to `sudo` when sudo asks for a password. */
  becomePassword?: string;
  onDone?: (o: NodeOutcome<unknown>) => void;
}

export const MAX_PARALLEL = 512;

export async function forEachNode<T>(
  targets: readonly NodeTarget[],
  o: FleetOptions,
  job: (s: Session, r: Remote) => Promise<T>,
): Promise<NodeOutcome<T>[]> {
  const out: NodeOutcome<T>[] = new Array(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= targets.length) return;
      const t = targets[i] as NodeTarget;
      let s: Session | undefined;
      try {
        s = await connectNode(t, {
          hostKeys: o.hostKeys,
          ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
          ...(o.becomePassword !== undefined && { becomePassword: o.becomePassword }),
        });
        out[i] = { node: t.name, ok: true, result: await job(s, new Remote(s.sftp)) };
      } catch (e) {
        const msg = e instanceof NodeError ? e.message : `unexpected error: ${(e as Error).message?.split('\n')[0] ?? String(e)}`;
        out[i] = { node: t.name, ok: false, error: msg };
      } finally {
        s?.close();
      }
      o.onDone?.(out[i] as NodeOutcome<unknown>);
    }
  };
  const n = Math.max(1, Math.min(o.parallel ?? 32, MAX_PARALLEL, targets.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/**
 * Run `f` over items with at most `n` at once (files on one node: SFTP pipelines requests). After a
 * failure no new item starts, the running ones finish, then the first error is thrown.
 */
export async function limit<I, T>(items: readonly I[], n: number, f: (item: I) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(items.length);
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const i = next++;
      if (i >= items.length) return;
      try {
        out[i] = await f(items[i] as I);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed) throw failed.e;
  return out;
}
