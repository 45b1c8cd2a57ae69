// The health and metrics endpoint every Anchorage controller serves: /healthz (the process runs), /readyz
// (its caches are synced: each check named in the body when one fails), /metrics (prom-client's registry).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export function newRegistry(): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix: 'anchorage_' });
  return r;
}

/** Serve on host:port (port 0: any free port). `ready` checks return true when ready. */
export async function startHealthServer(o: {
  host?: string;
  port: number;
  registry: Registry;
  ready: Record<string, () => boolean>;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz' || url === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (url === '/readyz') {
      const failed = Object.entries(o.ready)
        .filter(([, f]) => !f())
        .map(([n]) => n);
      if (failed.length) res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${failed.join(', ')}`);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (url === '/metrics') {
      o.registry.metrics().then(
        (m) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(m),
        (e: Error) => res.writeHead(500).end(e.message),
      );
    } else res.writeHead(404).end('not found');
  });
  // Longer than any scraper's or prober's idle keep-alive, so a reused connection is never closed under a request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Run `stop` once on SIGTERM or SIGINT (graceful shutdown); a second signal exits at once. */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
