// Start the HTTP(S) server for the app: plain HTTP on loopback, or HTTPS with a serving certificate and,
// with a client CA, client certificates requested and verified (docs/api.md authentication).
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string; clientCa?: string };
}

export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: any Hono app
export async function listen(app: Hono<any>, o: ListenOptions): Promise<Listening> {
  const handler = getRequestListener(app.fetch);
  const server: Server = o.tls
    ? createHttps(
        {
          cert: o.tls.cert,
          key: o.tls.key,
          ...(o.tls.clientCa !== undefined && { ca: o.tls.clientCa, requestCert: true, rejectUnauthorized: false }),
          minVersion: 'TLSv1.2',
        },
        handler,
      )
    : createHttp(handler);
  // SSE streams stay open: no request timeout; headers must still come quickly.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  // Longer than clients keep idle sockets (undici: 4 s), so a client never reuses a socket the server is closing.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, o.host, () => {
      server.off('error', rej);
      res();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server,
    url: `${o.tls ? 'https' : 'http'}://${host}:${a.port}`,
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      }),
  };
}
