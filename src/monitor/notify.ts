// Webhook notifications with a Slack-compatible payload (`text` plus one attachment with a colour and
// fields; Slack, Mattermost and Rocket.Chat incoming webhooks take it as it is). A finding notifies once
// when it opens and once when it resolves: the state sent is recorded per finding key (in the store when
// there is one, so a restart or a second replica does not repeat it). Acknowledged findings and those
// below the minimum severity do not notify. Delivery is retried with backoff; the queue is bounded.
import type { Logger } from '../kube/log.ts';
import { SEVERITY_RANK, type Severity } from '../lint/types.ts';
import type { History } from './history.ts';
import type { Finding } from './types.ts';

export interface NotifierOptions {
  url: string;
  minSeverity?: Severity;
  history?: History;
  log?: Logger;
  /** Where the dashboard is, for links (optional). */
  baseUrl?: string;
  fetchImpl?: typeof fetch;
}

const MAX_QUEUE = 1000;
const COLOURS: Record<Severity, string> = { error: '#d00000', warning: '#e0a000', notice: '#439fe0' };

export function slackPayload(f: Finding, change: 'opened' | 'resolved', baseUrl?: string): Record<string, unknown> {
  const what = change === 'opened' ? `[${f.severity.toUpperCase()}] ${f.id}` : `[RESOLVED] ${f.id}`;
  const text = `${what} in ${f.cluster}${f.subject ? `: ${f.subject}` : ''}`;
  const fields = [
    { title: 'cluster', value: f.cluster, short: true },
    { title: 'severity', value: f.severity, short: true },
    {
      title: 'where',
      value: f.locations.slice(0, 5).join('\n') + (f.locations.length > 5 ? `\n(+${f.locations.length - 5} more)` : ''),
      short: false,
    },
  ];
  if (change === 'opened') fields.push({ title: 'fix', value: f.fix, short: false });
  return {
    text,
    attachments: [
      {
        fallback: text,
        color: change === 'resolved' ? '#2eb886' : COLOURS[f.severity],
        title: f.id,
        ...(baseUrl && f.sha256 && { title_link: `${baseUrl.replace(/\/$/, '')}/#/certificates/${f.sha256}` }),
        text: change === 'opened' ? f.why : `resolved at ${f.resolvedAt ?? ''} (first seen ${f.firstSeen})`,
        fields,
        footer: `anchorage finding ${f.key}`,
      },
    ],
  };
}

export class Notifier {
  private readonly o: NotifierOptions;
  private readonly queue: { f: Finding; change: 'opened' | 'resolved'; tries: number }[] = [];
  private readonly sentState = new Map<string, 'firing' | 'resolved'>();
  private busy = false;
  sent = 0;
  failures = 0;
  dropped = 0;

  constructor(o: NotifierOptions) {
    this.o = o;
  }

  notify(f: Finding, change: 'opened' | 'resolved'): void {
    if (change === 'opened' && (f.ack || SEVERITY_RANK[f.severity] < SEVERITY_RANK[this.o.minSeverity ?? 'warning'])) return;
    if (this.queue.length >= MAX_QUEUE) {
      this.dropped++;
      return;
    }
    this.queue.push({ f, change, tries: 0 });
    void this.drain();
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.busy || this.queue.length) await new Promise((r) => setTimeout(r, 20));
  }

  private async dedupe(key: string, state: 'firing' | 'resolved'): Promise<boolean> {
    if (this.o.history) return this.o.history.notified(key, state, new Date().toISOString());
    const prev = this.sentState.get(key);
    if (prev === state || (!prev && state === 'resolved')) return false;
    this.sentState.set(key, state);
    return true;
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const item = this.queue[0] as (typeof this.queue)[number];
        const state = item.change === 'opened' ? 'firing' : 'resolved';
        try {
          if (item.tries === 0 && !(await this.dedupe(item.f.key, state))) {
            this.queue.shift();
            continue;
          }
          const res = await (this.o.fetchImpl ?? fetch)(this.o.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(slackPayload(item.f, item.change, this.o.baseUrl)),
            signal: AbortSignal.timeout(10_000),
          });
          if (!res.ok) throw new Error(`webhook answered ${res.status}`);
          this.sent++;
          this.queue.shift();
        } catch (e) {
          this.failures++;
          item.tries++;
          this.o.log?.warn({ err: (e as Error).message, finding: item.f.key, tries: item.tries }, 'webhook notification failed');
          if (item.tries >= 5) {
            this.queue.shift();
            continue;
          }
          await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** item.tries, 30_000)));
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
