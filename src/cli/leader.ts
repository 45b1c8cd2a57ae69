// Leader election for every in-cluster part run from the CLI (`controller`, `webhook`, `ca k8s-signer`):
// the same flags with client-go's defaults, their checks, and the same wiring: a replica that loses its
// Lease exits (as client-go's controllers do) so it starts clean as a standby. Heavy modules load lazily.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../common/errors.ts';
import type { KubeClient } from '../kube/client.ts';
import type { Logger } from '../kube/log.ts';

export interface LeaseCliOptions {
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName: string;
  identity?: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
}

/**
 * Add the Lease flags. `leaseNamespace`: the command has a `--lease-namespace` flag (with this help and
 * default); without it the Lease lives in the namespace the command passes to `lead`.
 */
export function leaseFlags(c: Command, d: { name: string; without: string; leaseNamespace?: { help: string; default?: string } }): Command {
  c.option('--no-leader-elect', `${d.without} without a Lease (one replica only)`);
  if (d.leaseNamespace) c.option('--lease-namespace <ns>', d.leaseNamespace.help, d.leaseNamespace.default);
  return c
    .option('--lease-name <name>', 'name of the leader Lease', d.name)
    .option('--identity <id>', 'this replica in the Lease (default: hostname_pid)')
    .option('--lease-duration <s>', 'seconds a standby waits before taking an unrenewed Lease', '15')
    .option('--renew-deadline <s>', 'seconds the leader keeps trying to renew before it steps down', '10')
    .option('--retry-period <s>', 'seconds between Lease attempts', '2');
}

function seconds(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InputError(`${flag}: '${v}' is not a number from ${min} to ${max}`);
  return n;
}

export interface LeaseTiming {
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/** The flags' timings, checked (call before anything starts, so a mistake is one line and nothing runs). */
export function leaseTiming(o: LeaseCliOptions): LeaseTiming {
  const t = {
    leaseDurationSeconds: seconds('--lease-duration', o.leaseDuration, 1, 3600),
    renewDeadlineSeconds: seconds('--renew-deadline', o.renewDeadline, 0.5, 3600),
    retryPeriodSeconds: seconds('--retry-period', o.retryPeriod, 0.1, 600),
  };
  if (t.renewDeadlineSeconds >= t.leaseDurationSeconds) throw new InputError('--renew-deadline must be shorter than --lease-duration');
  return t;
}

/** This replica's name in the Lease. */
export function replicaIdentity(o: Pick<LeaseCliOptions, 'identity'>): string {
  return o.identity ?? `${hostname()}_${process.pid}`;
}

export interface Leading {
  stop(): Promise<void>;
}

/**
 * Run `start` when this replica leads: at once with `--no-leader-elect`, else when it holds the Lease.
 * Losing the Lease exits the process unless `stopping()` says it is shutting down.
 */
export async function lead(
  client: KubeClient,
  o: LeaseCliOptions,
  w: { namespace: string; timing: LeaseTiming; log: Logger; start: () => void; stopping: () => boolean },
): Promise<Leading | undefined> {
  if (!o.leaderElect) {
    w.start();
    return undefined;
  }
  const { LeaderElector } = await import('../kube/leader.ts');
  const elector = new LeaderElector(client, {
    namespace: o.leaseNamespace ?? w.namespace,
    name: o.leaseName,
    identity: replicaIdentity(o),
    ...w.timing,
    log: w.log,
    onStartedLeading: w.start,
    onStoppedLeading: () => {
      if (w.stopping()) return;
      w.log.error('lost the leader lease: exiting');
      process.exit(1);
    },
  });
  elector.start();
  return elector;
}
