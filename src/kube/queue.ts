// A rate-limited work queue, as controllers need it: a key waiting is queued once however often it is added;
// a key being processed is not handed to a second worker, and an add meanwhile queues it again after; a
// failed key comes back after a per-key exponential backoff (reset by forget), all of it under an overall
// token bucket. Workers run `handler(key)`; a thrown error is a failure.

export interface QueueOptions {
  /** First retry delay (default 50 ms), doubled per failure up to maxDelayMs (default 5 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Overall items per second (default 0: no limit) and burst. */
  qps?: number;
  burst?: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private waiters: (() => void)[] = [];
  private shuttingDown = false;
  private tokens: number;
  private last = performance.now();
  /** Items handed to workers so far. */
  processed = 0;

  private readonly o: QueueOptions;

  constructor(o: QueueOptions = {}) {
    this.o = o;
    this.tokens = o.burst ?? 1;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /** Add after `ms` (a later call with a shorter delay wins). */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    this.timers.set(key, t);
  }

  /** The delay the next failure of `key` waits. */
  backoff(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min((this.o.baseDelayMs ?? 50) * 2 ** n, this.o.maxDelayMs ?? 300_000);
  }

  /** Requeue after the key's backoff and count the failure. */
  addRateLimited(key: string): number {
    const d = this.backoff(key);
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.addAfter(key, d);
    return d;
  }

  /** Reset the key's backoff (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  private async throttle(): Promise<void> {
    const qps = this.o.qps ?? 0;
    if (qps <= 0) return;
    const burst = this.o.burst ?? 1;
    const now = performance.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * qps);
    this.last = now;
    if (this.tokens < 1) {
      await new Promise((r) => setTimeout(r, ((1 - this.tokens) / qps) * 1000));
      this.tokens = 1;
      this.last = performance.now();
    }
    this.tokens -= 1;
  }

  /** The next key, or undefined once shut down. */
  async get(): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.queue.shift();
      if (key !== undefined) {
        this.queued.delete(key);
        this.processing.add(key);
        await this.throttle();
        this.processed++;
        return key;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** The worker is done with `key`: if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Run `workers` loops of get → handler → done until shutdown; resolves when all have stopped. */
  async run(
    workers: number,
    handler: (key: string) => Promise<void>,
    onError?: (key: string, e: unknown, retryIn: number) => void,
  ): Promise<void> {
    const loop = async (): Promise<void> => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          await handler(key);
          this.forget(key);
        } catch (e) {
          const d = this.addRateLimited(key);
          onError?.(key, e, d);
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, loop));
  }

  /** Stop handing out keys (workers finish the key they hold) and drop pending timers. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
