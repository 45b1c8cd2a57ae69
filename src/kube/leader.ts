// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the Lease when it is
// free or its holder has not renewed it for leaseDuration (measured on the candidate's own clock from when it
// last saw the record change, so clocks need not agree), with optimistic concurrency (resourceVersion); the
// leader renews every retryPeriod and steps down if it cannot renew within renewDeadline. On a graceful stop the
// leader releases the Lease (holder cleared) so another replica takes over at once.
import { ApiError, CORE, type KubeClient, resourcePath } from './client.ts';
import { sleep } from './informer.ts';
import type { Logger } from './log.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  /** Seconds (default 15, 10, 2 as client-go's defaults). */
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  log?: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** MicroTime as the API wants it: RFC 3339 with microseconds. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private abort = new AbortController();
  private running?: Promise<void>;
  private leading = false;
  private observed?: { record: string; at: number };
  private lease?: Lease;

  private readonly client: KubeClient;
  private readonly o: LeaderOptions;

  constructor(client: KubeClient, o: LeaderOptions) {
    this.client = client;
    this.o = o;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return resourcePath(CORE.leases, this.o.namespace, this.o.name);
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stop campaigning; a leader releases the Lease first. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    if (this.leading) {
      try {
        await this.release();
      } catch (e) {
        this.o.log?.warn({ err: (e as Error).message }, 'could not release the leader lease');
      }
      this.setLeading(false);
    }
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.o.log?.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, v ? 'became leader' : 'stopped leading');
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async release(): Promise<void> {
    const l = await this.client.get<Lease>(this.path);
    if (!l || l.spec?.holderIdentity !== this.o.identity) return;
    await this.client.request('PUT', this.path, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: l.metadata,
      spec: { ...l.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime() },
    });
  }

  /** One attempt to take or renew the Lease; true when this candidate holds it afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const duration = this.o.leaseDurationSeconds ?? 15;
    const now = new Date();
    const l = await this.client.get<Lease>(this.path);
    if (!l) {
      await this.client.request('POST', resourcePath(CORE.leases, this.o.namespace), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: {
          holderIdentity: this.o.identity,
          leaseDurationSeconds: duration,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      return true;
    }
    const spec = l.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    if (this.observed?.record !== record) this.observed = { record, at: performance.now() };
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.o.identity;
    const expired = performance.now() - this.observed.at > (spec.leaseDurationSeconds ?? duration) * 1000;
    if (holder && !mine && !expired) return false;
    const next: Lease = {
      metadata: l.metadata,
      spec: {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: duration,
        acquireTime: mine ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    // PUT with the resourceVersion read: a concurrent writer makes this a 409, and we lost.
    this.lease = (
      await this.client.request<Lease>('PUT', this.path, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...next })
    ).body;
    this.observed = {
      record: JSON.stringify([this.o.identity, this.lease.spec?.renewTime, this.lease.spec?.leaseDurationSeconds]),
      at: performance.now(),
    };
    return true;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    const retry = (this.o.retryPeriodSeconds ?? 2) * 1000;
    const deadline = (this.o.renewDeadlineSeconds ?? 10) * 1000;
    let lastRenew = 0;
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409)) this.o.log?.warn({ err: (e as Error).message }, 'leader election attempt failed');
      }
      if (signal.aborted) break;
      if (ok) {
        lastRenew = performance.now();
        this.setLeading(true);
      } else if (this.leading && performance.now() - lastRenew > deadline) this.setLeading(false);
      else if (this.leading && !ok) {
        // Someone else holds it now (we read a different holder): step down at once.
        const l = await this.client.get<Lease>(this.path).catch(() => undefined);
        if (l?.spec?.holderIdentity && l.spec.holderIdentity !== this.o.identity) this.setLeading(false);
      }
      await sleep(retry, signal);
    }
  }
}
