// A tiny round-robin load balancer for tests: an HTTPS front that sends each request, on a new connection,
// to the next upstream in turn (so two requests of one keep-alive client land on different replicas). The
// Host header and the body pass through unchanged; what went where is recorded.
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RoundRobin {
  url: string;
  port: number;
  /** Each request as "METHOD path -> upstream index", in the order they were sent on. */
  readonly seen: string[];
  close(): Promise<void>;
}

/** `upstreams`: https://host:port of each replica; `ca`: what their certificates chain to; `cert`/`key`: the front's own. */
export async function startRoundRobin(o: { upstreams: string[]; ca: string; cert: string; key: string }): Promise<RoundRobin> {
  let next = 0;
  const seen: string[] = [];
  const server: Server = createServer({ cert: o.cert, key: o.key }, (req, res) => {
    const i = next++ % o.upstreams.length;
    seen.push(`${req.method} ${req.url} -> ${i}`);
    const up = new URL(o.upstreams[i] as string);
    const fwd = request(
      {
        host: up.hostname,
        port: up.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        ca: o.ca,
        agent: false, // a fresh connection per request
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    fwd.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream ${i}: ${e.message}`);
    });
    req.pipe(fwd);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
