// The HTTP server of `anchorage serve`: the route table (routes.ts) on Hono, the authentication of
// docs/api.md (bearer tokens, mTLS with O=anchorage:writers, loopback-only when neither is set), SSE, the
// health, readiness and metrics endpoints, and the dashboard's static files (web/dist) when they exist.
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { HttpBindings } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import type { Logger } from '../kube/log.ts';
import type { Monitor } from '../monitor/monitor.ts';
import type { NodeFiles, Operation } from '../monitor/types.ts';
import { HttpError } from './errors.ts';
import { certificate, graph, listCertificates, listFindings, pem, type Query, timeline } from './queries.ts';
import { type Access, openApi, ROUTES, type RouteSpec } from './routes.ts';

export type Role = 'reader' | 'writer' | 'agent';

export interface AuthConfig {
  /** token → role. */
  tokens: Map<string, Role>;
  /** Client certificates are requested and verified against --client-ca (the TLS server does the verifying). */
  mtls: boolean;
  /** Role of a caller that brings nothing, when neither tokens nor a client CA are configured. */
  open?: Role;
  readOnly: boolean;
}

export interface OperationsService {
  plan(kind: string, args: Record<string, unknown>): Promise<Operation>;
  run(id: string): Promise<Operation>;
  get(id: string): Promise<Operation | undefined>;
}

export interface AgentPushBody {
  cluster: string;
  objects: {
    key: string;
    values: { source: string; data: string }[];
    backends?: unknown[];
    certManager?: unknown[];
    failures?: unknown[];
  }[];
  sources?: unknown[];
}

export interface ServerDeps {
  monitor: Monitor;
  auth: AuthConfig;
  version: string;
  /** The /metrics text, in chunks as it is made (streamed: at 100,000 Secrets it is ~265 MB). */
  metrics: () => Iterable<string>;
  operations?: OperationsService;
  nodes?: (cluster?: string) => Promise<NodeFiles[]>;
  agentPush?: (body: AgentPushBody, who: string) => Promise<{ cluster: string; objects: number }>;
  /** The dashboard's build (web/dist): served at / and /assets/* when it exists. */
  webDist?: string;
  log?: Logger;
  /** Seconds between SSE pings (default 15). */
  pingSeconds?: number;
}

type Env = { Bindings: HttpBindings; Variables: { role: Role; who: string } };

/** Most bytes of a request body (an agent's push of a large cluster is the biggest). */
export const MAX_BODY = 256 * 1024 * 1024;
const MAX_SMALL_BODY = 64 * 1024;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function authenticate(auth: AuthConfig, incoming: IncomingMessage, header: string | undefined): { role: Role; who: string } {
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new HttpError(401, 'Authorization: expected "Bearer <token>"');
    for (const [t, role] of auth.tokens) if (safeEqual(t, m[1] as string)) return { role, who: `token:${role}` };
    throw new HttpError(401, 'Authorization: unknown token');
  }
  const sock = incoming.socket as TLSSocket;
  if (auth.mtls && sock.authorized) {
    const cert = sock.getPeerCertificate();
    const o = cert?.subject?.O;
    const orgs = Array.isArray(o) ? o : o ? [o] : [];
    const who = `cert:${String(cert?.subject?.CN ?? '?')}`;
    return { role: orgs.includes('anchorage:writers') ? 'writer' : 'reader', who };
  }
  if (auth.open) return { role: auth.open, who: 'loopback' };
  if (auth.mtls && sock.authorizationError) throw new HttpError(401, `client certificate: ${String(sock.authorizationError)}`);
  throw new HttpError(401, 'no credentials: send Authorization: Bearer <token> or a client certificate');
}

function allowed(access: Access, role: Role, auth: AuthConfig): void {
  if (access === 'public' || access === 'read') {
    if (role === 'agent' && access === 'read') throw new HttpError(403, 'an agent token only pushes');
    return;
  }
  if (access === 'agent') {
    if (role === 'agent' || role === 'writer') return;
    throw new HttpError(403, 'only an agent or writer token may push');
  }
  if (auth.readOnly) throw new HttpError(403, 'the server is --read-only');
  if (role !== 'writer') throw new HttpError(403, 'a reader may not do this: use a writer token');
}

async function jsonBody<T>(c: Context<Env>, max: number): Promise<T> {
  const len = Number(c.req.header('content-length') ?? '0');
  if (len > max) throw new HttpError(413, `body too large: ${len} bytes (at most ${max})`);
  const text = await c.req.text();
  if (Buffer.byteLength(text) > max) throw new HttpError(413, `body too large (at most ${max} bytes)`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new HttpError(400, 'body: not JSON');
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export function createApp(d: ServerDeps): Hono<Env> {
  const app = new Hono<Env>();
  const m = d.monitor;
  const byKey = new Map(ROUTES.map((r) => [`${r.method} ${r.path}`, r]));
  const route = (method: RouteSpec['method'], path: string): RouteSpec => {
    const r = byKey.get(`${method} ${path}`);
    if (!r) throw new Error(`route ${method} ${path} is not in the table`);
    return r;
  };
  const honoPath = (p: string): string => p.replace(/\{(\w+)\}/g, ':$1');
  const guard = (r: RouteSpec) => async (c: Context<Env>, next: () => Promise<void>) => {
    if (r.access !== 'public') {
      const who = authenticate(d.auth, c.env.incoming, c.req.header('authorization'));
      allowed(r.access, who.role, d.auth);
      c.set('role', who.role);
      c.set('who', who.who);
    }
    await next();
  };
  const on = (method: RouteSpec['method'], path: string, h: (c: Context<Env>) => Response | Promise<Response>): void => {
    const r = route(method, path);
    app.on(method, honoPath(path), guard(r), h);
  };
  const query = (c: Context<Env>): Query => c.req.query() as Query;
  const storeDown = (): void => {
    if (!m.store.ok) throw new HttpError(503, `the store is down since ${m.store.since}: ${m.store.reason}`);
  };

  app.onError((e, c) => {
    if (e instanceof HttpError) return c.json({ error: e.message }, e.status);
    const name = (e as Error).name;
    if (name === 'InputError' || name === 'StoreUnavailableError') {
      const status = name === 'StoreUnavailableError' ? 503 : 400;
      return c.json({ error: (e as Error).message.split('\n')[0] }, status);
    }
    d.log?.error({ err: (e as Error).stack ?? String(e), path: c.req.path }, 'request failed');
    return c.json({ error: `internal error: ${(e as Error).message.split('\n')[0]}` }, 500);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  on('GET', '/healthz', (c) => c.json({ ok: true }));
  on('GET', '/readyz', (c) => {
    const waiting = [...m.clusters.values()].filter((x) => !x.view || !x.ready).map((x) => x.name);
    if (!m.store.ok) return c.json({ ready: false, reason: `store down since ${m.store.since}: ${m.store.reason}` }, 503);
    if (waiting.length) return c.json({ ready: false, reason: `first inventory not done: ${waiting.join(', ')}` }, 503);
    return c.json({ ready: true });
  });
  on('GET', '/metrics', () => {
    // One chunk made each time the client has taken the last: memory stays at a chunk however large the text.
    const chunks = d.metrics()[Symbol.iterator]();
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>(
      {
        pull(ctrl) {
          const n = chunks.next();
          if (n.done) ctrl.close();
          else ctrl.enqueue(enc.encode(n.value));
        },
        cancel() {
          chunks.return?.(undefined);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } });
  });
  on('GET', '/api/v1/openapi.json', (c) => c.json(openApi(d.version)));
  on('GET', '/api/v1/clusters', (c) => c.json({ items: [...m.clusters.values()].map((x) => m.clusterJson(x)) }));
  on('GET', '/api/v1/certificates', (c) => c.json(listCertificates(m, query(c))));
  on('GET', '/api/v1/certificates/{sha256}', (c) => c.json(certificate(m, c.req.param('sha256') ?? '', query(c))));
  on('GET', '/api/v1/certificates/{sha256}/pem', (c) => {
    const sha = c.req.param('sha256') ?? '';
    return c.body(pem(m, sha), 200, {
      'content-type': 'application/x-pem-file',
      'content-disposition': `attachment; filename="${sha.slice(0, 16)}.pem"`,
    });
  });
  on('GET', '/api/v1/graph', (c) => c.json(graph(m, query(c))));
  on('GET', '/api/v1/findings', (c) => c.json(listFindings(m, query(c))));
  on('POST', '/api/v1/findings/{key}/ack', async (c) => {
    storeDown();
    const key = c.req.param('key') ?? '';
    const b = await jsonBody<{ reason?: unknown; until?: unknown }>(c, MAX_SMALL_BODY);
    if (typeof b.reason !== 'string' || b.reason.trim() === '' || b.reason.length > 1000)
      throw new HttpError(400, 'reason: a non-empty string of at most 1000 characters');
    const until = typeof b.until === 'string' ? Date.parse(b.until) : Number.NaN;
    if (!Number.isFinite(until)) throw new HttpError(400, 'until: an RFC 3339 time');
    const now = m.now().getTime();
    if (until <= now) throw new HttpError(400, 'until: must be in the future');
    if (until > now + 90 * 86_400_000) throw new HttpError(400, 'until: at most 90 days ahead');
    const f = await m.ack(key, c.get('who'), b.reason, new Date(until));
    if (!f) throw new HttpError(404, `finding ${key.slice(0, 80)}: not found`);
    return c.json(f);
  });
  on('DELETE', '/api/v1/findings/{key}/ack', async (c) => {
    storeDown();
    const key = c.req.param('key') ?? '';
    const f = await m.unack(key);
    if (!f) throw new HttpError(404, `finding ${key.slice(0, 80)}: not found`);
    return c.json(f);
  });
  on('GET', '/api/v1/timeline', (c) => c.json(timeline(m, query(c))));
  on('GET', '/api/v1/nodes', async (c) => {
    const cluster = query(c).cluster || undefined;
    if (cluster !== undefined && !m.clusters.has(cluster)) throw new HttpError(404, `cluster '${cluster}': no such cluster`);
    return c.json({ items: d.nodes ? await d.nodes(cluster) : [] });
  });
  on('POST', '/api/v1/operations', async (c) => {
    if (!d.operations) throw new HttpError(404, 'operations: this server has no PKI folder (start it with --dir)');
    const b = await jsonBody<{ kind?: unknown; args?: unknown }>(c, MAX_SMALL_BODY);
    if (typeof b.kind !== 'string') throw new HttpError(400, 'kind: missing');
    if (b.args !== undefined && (typeof b.args !== 'object' || b.args === null || Array.isArray(b.args)))
      throw new HttpError(400, 'args: an object');
    const op = await d.operations.plan(b.kind, (b.args ?? {}) as Record<string, unknown>);
    m.emit({ type: 'operation', data: op });
    return c.json(op);
  });
  on('POST', '/api/v1/operations/{id}/run', async (c) => {
    if (!d.operations) throw new HttpError(404, 'operations: this server has no PKI folder (start it with --dir)');
    return c.json(await d.operations.run(c.req.param('id') ?? ''));
  });
  on('GET', '/api/v1/operations/{id}', async (c) => {
    const id = c.req.param('id') ?? '';
    const op = await d.operations?.get(id);
    if (!op) throw new HttpError(404, `operation ${id.slice(0, 80)}: not found`);
    return c.json(op);
  });
  on('POST', '/api/v1/agent/push', async (c) => {
    if (!d.agentPush) throw new HttpError(404, 'this server takes no agent pushes');
    const b = await jsonBody<AgentPushBody>(c, MAX_BODY);
    return c.json(await d.agentPush(b, c.get('who')));
  });
  on('GET', '/api/v1/events', (c) => {
    const enc = new TextEncoder();
    let off: (() => void) | undefined;
    let ping: NodeJS.Timeout | undefined;
    const done = (): void => {
      off?.();
      off = undefined;
      if (ping) clearInterval(ping);
    };
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        const send = (s: string): void => {
          try {
            ctrl.enqueue(enc.encode(s));
          } catch {
            done();
          }
        };
        // A slow reader must not grow memory without bound: past ~16 MiB waiting, the stream is closed
        // and the client reconnects (EventSource does) and reloads.
        off = m.on((e) => {
          if ((ctrl.desiredSize ?? 0) < -16 * 1024 * 1024) {
            send('event: reset\ndata: {"reason":"too slow: reconnect and reload"}\n\n');
            done();
            ctrl.close();
            return;
          }
          send(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
        });
        ping = setInterval(() => send(': ping\n\n'), (d.pingSeconds ?? 15) * 1000);
        send(': connected\n\n');
      },
      cancel() {
        done();
      },
    });
    c.env.incoming.once('close', done);
    return new Response(body, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      },
    });
  });

  // The dashboard, when it was built.
  const dist = d.webDist && existsSync(join(d.webDist, 'index.html')) ? resolve(d.webDist) : undefined;
  const file = (rel: string): Response | undefined => {
    if (!dist) return undefined;
    const full = normalize(join(dist, rel));
    if (full !== dist && !full.startsWith(dist + sep)) return undefined;
    if (!existsSync(full) || !statSync(full).isFile()) return undefined;
    return new Response(readFileSync(full), { headers: { 'content-type': TYPES[extname(full)] ?? 'application/octet-stream' } });
  };
  app.get(
    '/',
    (c) => file('index.html') ?? c.text('anchorage serve: the API is at /api/v1 (docs/api.md); no dashboard was built (web/dist)\n'),
  );
  app.get('/assets/*', (c) => file(decodeURIComponent(c.req.path).slice(1)) ?? c.json({ error: `no file ${c.req.path}` }, 404));
  return app;
}
