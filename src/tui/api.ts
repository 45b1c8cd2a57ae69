// The client of `anchorage serve`'s HTTP API (docs/api.md), shared by `anchorage tui` and the web dashboard
// (web/ imports this module): only `fetch`, so it runs in Node and in a browser alike. Server-sent events are
// read over `fetch` as well (EventSource cannot send an Authorization header).

// The API's objects are defined once, beside the server (src/monitor/types.ts, which imports nothing that
// needs Node, so the browser build reads it too).
import type * as Api from '../monitor/types.ts';

export type {
  Ack,
  ApiLocation as Location,
  CertificateDetail,
  CertificateSummary,
  Cluster,
  Finding,
  Graph,
  GraphEdge,
  GraphNode,
  Health,
  NodeFiles,
  Operation,
  OperationKind,
  Severity,
  Source,
  TimelineItem,
  TrustedBy,
} from '../monitor/types.ts';

export interface List<T> {
  items: T[];
  total: number;
  continue?: string;
}

export type EventKind = 'certificate' | 'finding' | 'source' | 'cluster' | 'operation';
export interface ServerEvent {
  event: EventKind;
  data: unknown;
}

/** A non-2xx answer: the status and the server's one-line `error`. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Query parameters: undefined and empty values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Largest server-sent event the client accepts (one changed object): beyond it the stream is dropped. */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;

export class ApiClient {
  readonly base: string;
  token: string | undefined;

  /** `base`: the server's origin (`http://127.0.0.1:8443`), or '' for the page's own origin in a browser. */
  constructor(base: string, token?: string) {
    this.base = base.replace(/\/+$/, '');
    this.token = token || undefined;
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (json) h['content-type'] = 'application/json';
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  url(path: string, q?: Query): string {
    return `${this.base}/api/v1${path}${queryString(q)}`;
  }

  async request<T>(method: string, path: string, q?: Query, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url(path, q), {
        method,
        headers: this.headers(body !== undefined),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(0, `cannot reach ${this.base || 'the server'}: ${(e as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`;
      try {
        const j = JSON.parse(text) as { error?: string };
        if (j.error) msg = j.error;
      } catch {
        /* not JSON: keep the status line */
      }
      throw new ApiError(res.status, msg);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, q?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, q, undefined, signal);
  }

  clusters(): Promise<{ items: Api.Cluster[] }> {
    return this.get('/clusters');
  }
  certificates(q: Query, signal?: AbortSignal): Promise<List<Api.CertificateSummary>> {
    return this.get('/certificates', q, signal);
  }
  certificate(sha256: string, cluster?: string): Promise<Api.CertificateDetail> {
    return this.get(`/certificates/${encodeURIComponent(sha256)}`, { cluster });
  }
  async pem(sha256: string): Promise<string> {
    const res = await fetch(this.url(`/certificates/${encodeURIComponent(sha256)}/pem`), { headers: this.headers(false) });
    if (!res.ok) throw new ApiError(res.status, `${res.status} ${res.statusText}`);
    return res.text();
  }
  graph(q: Query): Promise<Api.Graph> {
    return this.get('/graph', q);
  }
  findings(q: Query, signal?: AbortSignal): Promise<List<Api.Finding>> {
    return this.get('/findings', q, signal);
  }
  ack(key: string, reason: string, until: string): Promise<Api.Finding> {
    return this.request('POST', `/findings/${encodeURIComponent(key)}/ack`, undefined, { reason, until });
  }
  unack(key: string): Promise<Api.Finding> {
    return this.request('DELETE', `/findings/${encodeURIComponent(key)}/ack`);
  }
  timeline(q: Query): Promise<{ items: Api.TimelineItem[] }> {
    return this.get('/timeline', q);
  }
  nodes(q: Query): Promise<{ items: Api.NodeFiles[] }> {
    return this.get('/nodes', q);
  }
  plan(kind: Api.OperationKind, args: Record<string, unknown>): Promise<Api.Operation> {
    return this.request('POST', '/operations', undefined, { kind, args });
  }
  run(id: string): Promise<Api.Operation> {
    return this.request('POST', `/operations/${encodeURIComponent(id)}/run`);
  }
  operation(id: string): Promise<Api.Operation> {
    return this.get(`/operations/${encodeURIComponent(id)}`);
  }

  /** Every page of a list, up to `max` items (the TUI's tables; the dashboard pages instead). */
  async all<T>(path: string, q: Query, max: number): Promise<List<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let total = 0;
    do {
      const page = await this.get<List<T>>(path, { ...q, limit: 1000, continue: cont });
      items.push(...page.items);
      total = page.total;
      cont = page.continue;
    } while (cont && items.length < max);
    return { items: items.slice(0, max), total };
  }

  /**
   * Follow `GET /api/v1/events` until `signal` aborts: each event goes to `onEvent`; `onState` hears
   * 'open' and 'closed' (with why). Reconnects after a drop, waiting `retryMs` (a bounded backoff).
   */
  async events(
    onEvent: (e: ServerEvent) => void,
    signal: AbortSignal,
    onState?: (state: 'open' | 'closed', why?: string) => void,
    retryMs = 2000,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        const res = await fetch(this.url('/events'), { headers: { ...this.headers(false), accept: 'text/event-stream' }, signal });
        if (!res.ok || !res.body) throw new ApiError(res.status, `events: ${res.status} ${res.statusText}`);
        onState?.('open');
        await readEvents(res.body, onEvent);
        onState?.('closed', 'the server ended the stream');
      } catch (e) {
        if (signal.aborted) break;
        onState?.('closed', (e as Error).message);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, retryMs);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }
}

/** Parse a text/event-stream body (the WHATWG rules for `event:` and `data:` lines; comments ignored). */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (e: ServerEvent) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let event = 'message';
  let data: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    if (buf.length > MAX_EVENT_BYTES) throw new Error('events: an event larger than 4 MiB');
    let nl = buf.search(/\r\n|\r|\n/);
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length) {
          const text = data.join('\n');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON: hand over the text */
          }
          onEvent({ event: event as EventKind, data: parsed });
        }
        event = 'message';
        data = [];
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      nl = buf.search(/\r\n|\r|\n/);
    }
  }
}
