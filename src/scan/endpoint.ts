// Live TLS endpoints for `anchorage scan --endpoint HOST:PORT` (and the API server, and webhook `url`
// backends): one handshake each, the presented chain recorded as DER, whether the chain verifies against the
// given CA (when one is given), and whether a given client certificate is accepted. Read-only: after the
// handshake at most one HTTP `GET /` is written (to make a TLS 1.3 server say whether it took the client
// certificate; an HTTP 401 answer counts as not accepted), and the connection is closed. A hanging endpoint costs at most `timeoutMs`.
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { InputError } from '../common/errors.ts';

// node:http through require: importing it as ESM builds a facade that reads every export, and its lazy
// WebSocket/CloseEvent/MessageEvent getters load undici (~0.1-0.2 s of CPU on every scan's start-up).
const { request: httpRequest } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

export interface EndpointTarget {
  host: string;
  port: number;
  /** SNI and the name checked; default the host (for an IP: none sent, the IP is checked). */
  servername?: string;
  /** PEM roots the chain must verify against; without it, only the chain is recorded. */
  ca?: string;
  /** PEM client certificate and key to present. */
  cert?: string;
  key?: string;
  timeoutMs?: number;
  /** An HTTP(S) proxy to reach the endpoint through (CONNECT), as the kubeconfig's client does for the API server. */
  proxy?: string;
}

export interface EndpointProbe {
  /** `host:port`. */
  endpoint: string;
  /** The name the certificate should carry. */
  name: string;
  /** Handshake done; false with `error` when it could not be (refused, timed out, not TLS). */
  reached: boolean;
  error?: string;
  /** The presented chain, leaf first, DER. */
  chain: Uint8Array[];
  protocol?: string;
  /** With `ca`: whether the chain verified against it and the name matched, and Node's reason when not. */
  verified?: boolean;
  verifyError?: string;
  /** With a client certificate: whether the server took it (no alert after the handshake and a first request). */
  clientCert?: { accepted: boolean; reason?: string };
}

/** `host:port` or `[v6]:port`, optionally `=servername`. */
export function parseEndpoint(spec: string): EndpointTarget {
  const [addr = '', servername] = spec.split('=', 2);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535)
    throw new InputError(`--endpoint: '${spec}' is not HOST:PORT (optionally =SERVERNAME; IPv6 as [addr]:port)`);
  const t: EndpointTarget = { host: (m[1] ?? m[2]) as string, port };
  if (servername) t.servername = servername;
  return t;
}

function chainOf(s: TLSSocket): Uint8Array[] {
  const out: Uint8Array[] = [];
  let c: DetailedPeerCertificate | undefined = s.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c?.raw && !seen.has(c.fingerprint256) && out.length < 20) {
    seen.add(c.fingerprint256);
    out.push(new Uint8Array(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

const oneLine = (e: unknown): string => {
  const err = e as { code?: string; message?: string };
  return `${err.message ?? String(e)}${err.code && !err.message?.includes(err.code) ? ` (${err.code})` : ''}`.replace(/\s+/g, ' ');
};

export function probeEndpoint(t: EndpointTarget): Promise<EndpointProbe> {
  const timeout = t.timeoutMs ?? 5000;
  const name = t.servername ?? t.host;
  const probe: EndpointProbe = { endpoint: `${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`, name, reached: false, chain: [] };
  return new Promise((resolve) => {
    let done = false;
    let s: TLSSocket;
    let connectReq: ClientRequest | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s?.destroy();
      connectReq?.destroy();
      resolve(probe);
    };
    const timer = setTimeout(() => {
      if (!probe.reached) probe.error = `no TLS handshake within ${timeout / 1000} s`;
      else if (probe.clientCert === undefined && t.cert) probe.clientCert = { accepted: true, reason: 'no alert before the timeout' };
      finish();
    }, timeout);
    const open = (socket?: Duplex): void => {
      if (done) {
        socket?.destroy();
        return;
      }
      try {
        s = connect({
          ...(socket ? { socket } : { host: t.host, port: t.port }),
          ...(isIP(name) === 0 && { servername: name }),
          rejectUnauthorized: false,
          ...(t.ca !== undefined && { ca: t.ca }),
          ...(t.cert !== undefined && t.key !== undefined && { cert: t.cert, key: t.key }),
          ALPNProtocols: ['http/1.1'],
        });
      } catch (e) {
        probe.error = oneLine(e);
        finish();
        return;
      }
      handle();
    };
    if (t.proxy === undefined) open();
    else
      connectReq = tunnel(t.proxy, t.host, t.port, open, (why) => {
        if (done) return;
        probe.error = why;
        finish();
      });
    function handle(): void {
      s.on('secureConnect', () => {
        probe.reached = true;
        probe.chain = chainOf(s);
        probe.protocol = s.getProtocol() ?? undefined;
        if (t.ca !== undefined) {
          probe.verified = s.authorized;
          if (!s.authorized) probe.verifyError = String(s.authorizationError);
        }
        if (!t.cert) return finish();
        // TLS 1.3 servers judge the client certificate after the handshake: ask for something and see.
        s.write(`GET / HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`);
      });
      let head = '';
      s.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\n') && head.length < 1024) return;
        // An HTTP server that took the TLS client certificate may still not authenticate it (the API server: 401).
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
        probe.clientCert ??=
          status === '401'
            ? { accepted: false, reason: 'HTTP 401 Unauthorized: the TLS layer took the certificate, the server did not authenticate it' }
            : { accepted: true, ...(status && { reason: `HTTP ${status}` }) };
        finish();
      });
      s.on('end', () => {
        if (probe.reached && t.cert) probe.clientCert ??= { accepted: true, reason: 'the server closed without a TLS alert' };
        finish();
      });
      s.on('error', (e) => {
        if (!probe.reached) probe.error = oneLine(e);
        else if (t.cert) probe.clientCert ??= { accepted: false, reason: oneLine(e) };
        finish();
      });
    }
  });
}

/** A CONNECT tunnel to `host:port` through an HTTP(S) proxy; `ok` gets the tunnel, `fail` one line. */
function tunnel(
  proxy: string,
  host: string,
  port: number,
  ok: (socket: Socket) => void,
  fail: (why: string) => void,
): ClientRequest | undefined {
  let u: URL;
  try {
    u = new URL(proxy);
  } catch {
    fail(`proxy '${proxy}' is not a URL`);
    return undefined;
  }
  const shown = `${u.protocol}//${u.host}`;
  const target = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const auth = u.username
    ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
    : undefined;
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)({
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port || (u.protocol === 'https:' ? 443 : 80),
    method: 'CONNECT',
    path: target,
    agent: false,
    headers: { host: target, ...(auth && { 'proxy-authorization': auth }) },
  });
  req.on('connect', (res, socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      fail(`proxy ${shown}: CONNECT ${target} answered ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      return;
    }
    ok(socket);
  });
  req.on('error', (e) => fail(`proxy ${shown}: ${oneLine(e)}`));
  req.end();
  return req;
}
