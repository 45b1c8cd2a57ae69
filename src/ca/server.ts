// `anchorage ca serve`: the CA over HTTP. Two listeners:
// - the API (HTTPS, mutual TLS): POST /v1/enroll (first enrolment, with a one-time bootstrap token),
//   POST /v1/renew (renewal, authenticated by the holder's own certificate), GET /v1/cas/<ca>;
// - the public side (plain HTTP, signed data only): GET /crl/<ca> (DER, refreshed), POST /ocsp/<ca> and
//   GET /ocsp/<ca>/<base64> (RFC 6960 A.1), GET /ca/<ca>.pem, GET /ca/<ca>/bundle.pem (the trust anchors of every
//   generation not retired: old and new during a rotation), GET /log/sth, GET /log.
// The API's TLS context is reloaded while it runs: the client CA names it sends (every CA generation not
// retired in the store, so CAs created or rotated after start-up are accepted and named) and its own
// certificate (renewed at two thirds of its life), every `reloadSeconds` and on reload().

import type { KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { InputError } from '../common/errors.ts';
import { StoreUnavailableError } from '../store/store.ts';
import { Certificate } from '../x509/certificate.ts';
import { Acme, type AcmeOptions } from './acme.ts';
import { MAX_OCSP_REQUEST } from './ocsp.ts';
import { PROFILES, type Profile } from './policy.ts';
import { CaRefusal, type CaService } from './service.ts';

export const MAX_API_BODY = 128 * 1024;

export interface ServeOptions {
  service: CaService;
  /** The API's own certificate chain (leaf first) and key. */
  tls: { chain: Certificate[]; key: KeyObject };
  /** Issuers whose certificates may authenticate (renewal). Default: every CA generation not retired in the store, re-read on each reload. */
  clientCas?: Certificate[];
  /** A fresh certificate for the API (called when the current one is past two thirds of its life). */
  renewTls?: () => Promise<{ chain: Certificate[]; key: KeyObject }>;
  /** Seconds between reloads of the client CA names and the API certificate (0: only on reload()). Default 30. */
  reloadSeconds?: number;
  apiHost?: string;
  apiPort?: number;
  publicHost?: string;
  publicPort?: number;
  /** Seconds a CRL is served before a fresh one is signed (also refreshed at once after a revocation through this replica). */
  crlRefreshSeconds?: number;
  log?: (line: string) => void;
  /** ACME (RFC 8555) at /acme/<ca>/directory on the API listener; its state is in the store (any replica serves any request). */
  acme?: AcmeOptions;
}

export interface RunningServer {
  apiPort: number;
  publicPort: number;
  /** Re-read the client CAs and renew the API certificate if due; says what changed. */
  reload(): Promise<string[]>;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > limit) {
        reject(new HttpError(413, `too large: request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}
const sendJson = (res: ServerResponse, status: number, v: unknown) => send(res, status, 'application/json', `${JSON.stringify(v)}\n`);

function jsonBody(buf: Buffer): Record<string, unknown> {
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'request body must be a JSON object');
}

const str = (o: Record<string, unknown>, k: string, required = true): string | undefined => {
  const v = o[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `field '${k}' must be a non-empty string`);
  return v;
};

export async function startCaServer(o: ServeOptions): Promise<RunningServer> {
  const svc = o.service;
  const log = o.log ?? (() => undefined);
  const refreshMs = (o.crlRefreshSeconds ?? 300) * 1000;
  const crls = new Map<string, { der: Uint8Array; at: number }>();

  const fail = (res: ServerResponse, e: unknown) => {
    if (e instanceof HttpError) return sendJson(res, e.status, { error: e.message });
    if (e instanceof CaRefusal) return sendJson(res, e.status, { error: e.message });
    if (e instanceof StoreUnavailableError) return sendJson(res, 503, { error: e.message });
    if (e instanceof InputError) return sendJson(res, 400, { error: e.message });
    log(`internal error: ${(e as Error).stack ?? e}`);
    return sendJson(res, 500, { error: 'internal error' });
  };

  const issuedBody = (r: Awaited<ReturnType<CaService['issue']>>) => ({
    serial: r.serial,
    logIndex: r.logIndex,
    certificate: r.certificate.toPem(),
    chain: r.chain.map((c) => c.toPem()).join(''),
  });

  const acme = o.acme ? await Acme.open(svc, { log, ...o.acme }) : undefined;
  let tls = o.tls;
  let clientCas = o.clientCas ?? (await svc.clientCaCertificates());
  const casKey = (cs: readonly Certificate[]) => cs.map((c) => c.sha256).join(',');
  const context = () => ({
    cert: tls.chain.map((c) => c.toPem()).join(''),
    key: tls.key.export({ format: 'pem', type: 'pkcs8' }) as string,
    ca: clientCas.map((c) => c.toPem()),
  });
  const api = createHttpsServer(
    {
      ...context(),
      requestCert: true,
      rejectUnauthorized: false, // first enrolment has no certificate yet: a token authenticates it
      minVersion: 'TLSv1.2',
    },
    async (req, res) => {
      try {
        const url = new URL(req.url ?? '/', 'https://x');
        if (acme && url.pathname.startsWith('/acme/') && (await acme.handle(req, res, () => readBody(req, MAX_API_BODY)))) return;
        if (req.method === 'POST' && (url.pathname === '/v1/enroll' || url.pathname === '/v1/renew')) {
          const body = jsonBody(await readBody(req, MAX_API_BODY));
          const ca = str(body, 'ca') as string;
          const csr = str(body, 'csr') as string;
          const profile = str(body, 'profile', false);
          if (profile !== undefined && !PROFILES.includes(profile as Profile))
            throw new HttpError(400, `profile must be one of ${PROFILES.join(', ')}`);
          const days = body.days === undefined ? undefined : Number(body.days);
          if (days !== undefined && !(days > 0)) throw new HttpError(400, "field 'days' must be a positive number");
          if (url.pathname === '/v1/enroll') {
            const token = str(body, 'token') as string;
            const r = await svc.issue({
              ca,
              csr,
              token,
              requester: 'token',
              ...(profile ? { profile: profile as Profile } : {}),
              ...(days ? { days } : {}),
            });
            return sendJson(res, 201, issuedBody(r));
          }
          const sock = req.socket as TLSSocket;
          // The DER only (getPeerCertificate(true) would build the whole chain as JS objects on every request).
          const peer = sock.getPeerX509Certificate();
          if (!peer?.raw) throw new HttpError(401, 'renewal needs the current certificate as the TLS client certificate');
          // The handshake proved possession of the certificate's key; whether this CA issued it, and it is
          // current and unrevoked, the store decides (not Node's chain check, which also wants clientAuth:
          // a server renews with its serverAuth certificate).
          const current = new Certificate(peer.raw);
          const r = await svc.issue({ ca, csr, requester: `cert:${current.serialNumber}`, renewing: current, ...(days ? { days } : {}) });
          return sendJson(res, 201, issuedBody(r));
        }
        const m = /^\/v1\/cas\/([a-z0-9-]+)$/.exec(url.pathname);
        if (req.method === 'GET' && m) {
          const info = await svc.getCa(m[1] as string);
          return sendJson(res, 200, { name: info.name, chain: info.chain.map((c) => c.toPem()).join('') });
        }
        throw new HttpError(404, `no such endpoint: ${req.method} ${url.pathname}`);
      } catch (e) {
        fail(res, e);
      }
    },
  );

  // Certificates name their generation's CRL: /crl/<ca> for the CA's first key, /crl/<ca>/<n> after rotations.
  const crlFor = async (name: string, gen: number): Promise<Uint8Array> => {
    const k = `${name}/${gen}`;
    const c = crls.get(k);
    if (c && Date.now() - c.at < refreshMs) return c.der;
    const der = await svc.crl(name, Math.max(2 * refreshMs, 3600_000) / 1000, gen);
    crls.set(k, { der, at: Date.now() });
    return der;
  };

  const pub: Server = createHttpServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      const crl = /^\/crl\/([a-z0-9-]+)(?:\/([1-9][0-9]{0,5}))?$/.exec(p);
      if (req.method === 'GET' && crl) return send(res, 200, 'application/pkix-crl', await crlFor(crl[1] as string, Number(crl[2] ?? 1)));
      const m = /^\/ocsp\/([a-z0-9-]+)(?:\/(.+))?$/.exec(p);
      if (m) {
        let der: Uint8Array;
        if (req.method === 'POST' && !m[2]) der = await readBody(req, MAX_OCSP_REQUEST);
        else if (req.method === 'GET' && m[2]) der = Buffer.from(decodeURIComponent(m[2]), 'base64');
        else throw new HttpError(405, 'OCSP takes POST /ocsp/<ca> or GET /ocsp/<ca>/<base64 request>');
        return send(res, 200, 'application/ocsp-response', await svc.ocsp(m[1] as string, der));
      }
      const bundle = /^\/ca\/([a-z0-9-]+)\/bundle\.pem$/.exec(p);
      if (req.method === 'GET' && bundle)
        return send(res, 200, 'application/x-pem-file', (await svc.trustBundle(bundle[1] as string)).map((c) => c.toPem()).join(''));
      const pem = /^\/ca\/([a-z0-9-]+)\.pem$/.exec(p);
      if (req.method === 'GET' && pem) {
        const info = await svc.getCa(pem[1] as string);
        return send(res, 200, 'application/x-pem-file', info.chain.map((c) => c.toPem()).join(''));
      }
      if (req.method === 'GET' && p === '/log/sth') return sendJson(res, 200, await svc.treeHead());
      if (req.method === 'GET' && p === '/log') return sendJson(res, 200, await svc.exportLog());
      throw new HttpError(404, `no such endpoint: ${req.method} ${p}`);
    } catch (e) {
      fail(res, e);
    }
  });

  const listen = (s: Server, host: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        const a = s.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  const apiPort = await listen(api, o.apiHost ?? '127.0.0.1', o.apiPort ?? 0);
  const publicPort = await listen(pub, o.publicHost ?? '127.0.0.1', o.publicPort ?? 0);

  // One reload at a time; a failed one (store down) keeps the current context and is retried next time.
  let running: Promise<string[]> | undefined;
  const reloadOnce = async (): Promise<string[]> => {
    const changed: string[] = [];
    if (!o.clientCas) {
      const next = await svc.clientCaCertificates();
      if (casKey(next) !== casKey(clientCas)) {
        changed.push(`client CAs: ${clientCas.length} -> ${next.length} certificates`);
        clientCas = next;
      }
    }
    const leaf = tls.chain[0] as Certificate;
    const from = leaf.notBefore.getTime();
    let failed: unknown;
    if (o.renewTls && Date.now() >= from + ((leaf.notAfter.getTime() - from) * 2) / 3) {
      try {
        tls = await o.renewTls();
        changed.push(`API certificate renewed: serial ${tls.chain[0]?.serialNumber}, until ${tls.chain[0]?.notAfter.toISOString()}`);
      } catch (e) {
        failed = e; // the client CAs read above still apply
      }
    }
    if (changed.length) {
      api.setSecureContext({ ...context(), minVersion: 'TLSv1.2' });
      for (const c of changed) log(`reloaded ${c}`);
    }
    if (failed !== undefined) throw failed;
    return changed;
  };
  const reload = (): Promise<string[]> => {
    running ??= reloadOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const everyMs = (o.reloadSeconds ?? 30) * 1000;
  const timer =
    everyMs > 0
      ? setInterval(() => {
          reload().catch((e: unknown) => log(`reload failed (the current certificate and client CAs stay): ${(e as Error).message}`));
        }, everyMs)
      : undefined;
  timer?.unref();
  return {
    apiPort,
    publicPort,
    reload,
    close: async () => {
      if (timer) clearInterval(timer);
      await Promise.all([api, pub].map((s) => new Promise((r) => s.close(r))));
    },
  };
}
