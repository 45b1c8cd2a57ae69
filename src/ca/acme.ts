// ACME (RFC 8555) for tools that already speak it (certbot, cert-manager's ACME issuer, Caddy, lego): one
// directory per CA at /acme/<ca>/directory on the API listener, http-01 and tls-alpn-01 (RFC 8737)
// challenges, JWS with RS256,
// ES256/384 or EdDSA account keys. Issuance goes through the CA service (policy, audit, log) with the
// requester acme:<account>. Accounts, orders and nonces live in this process (a replica serves the
// orders it created: put a sticky balancer in front of several).
import { createHash, createPublicKey, type JsonWebKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { Certificate } from '../x509/certificate.ts';
import { CaRefusal, type CaService } from './service.ts';

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
const fromB64u = (s: string): Buffer => {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new AcmeProblem('malformed', 'invalid base64url');
  return Buffer.from(s, 'base64url');
};
const id = (): string => randomBytes(12).toString('base64url');

export class AcmeProblem extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, detail: string, status = 400) {
    super(detail);
    this.type = `urn:ietf:params:acme:error:${type}`;
    this.status = status;
  }
}

/** RFC 7638 thumbprint. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members: Record<string, string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };
  const m = members[jwk.kty as string];
  if (!m) throw new AcmeProblem('badPublicKey', `unsupported key type ${jwk.kty}`);
  const o: Record<string, unknown> = {};
  for (const k of m) {
    if (typeof jwk[k as keyof JsonWebKey] !== 'string') throw new AcmeProblem('badPublicKey', `JWK lacks ${k}`);
    o[k] = jwk[k as keyof JsonWebKey];
  }
  return b64u(createHash('sha256').update(JSON.stringify(o)).digest());
}

interface Account {
  id: string;
  key: KeyObject;
  thumbprint: string;
  contact: string[];
}
type ChallengeType = 'http-01' | 'tls-alpn-01';
interface Authz {
  id: string;
  order: string;
  identifier: { type: 'dns'; value: string };
  status: 'pending' | 'valid' | 'invalid';
  token: string;
  /** The challenge the client answered (one token for both kinds, RFC 8555 8.1 allows it per challenge). */
  tried?: ChallengeType;
  error?: string;
  validated?: string;
}

/** RFC 8737: the ALPN protocol and the critical id-pe-acmeIdentifier extension of the validation certificate. */
export const ACME_TLS_ALPN = 'acme-tls/1';
export const ID_PE_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';
const MAX_CHALLENGE_CERT = 64 * 1024;
interface Order {
  id: string;
  ca: string;
  account: string;
  status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  identifiers: { type: 'dns'; value: string }[];
  authzs: string[];
  expires: string;
  cert?: string;
  error?: { type: string; detail: string };
}

export interface AcmeOptions {
  /** Port the http-01 validation connects to (80 in production). */
  httpPort?: number;
  /** Port tls-alpn-01 validation connects to (443 in production). */
  tlsPort?: number;
  /** Connect here instead of resolving the identifier (the Host header and the TLS SNI stay the identifier). */
  resolve?: string;
}

const MAX_NONCES = 10_000;
const MAX_ORDERS = 100_000;
const MAX_IDENTIFIERS = 100;

export class Acme {
  private readonly nonces = new Set<string>();
  private readonly accounts = new Map<string, Account>();
  private readonly byThumb = new Map<string, string>();
  private readonly orders = new Map<string, Order>();
  private readonly authzs = new Map<string, Authz>();
  private readonly svc: CaService;
  private readonly opts: AcmeOptions;

  constructor(svc: CaService, opts: AcmeOptions = {}) {
    this.svc = svc;
    this.opts = opts;
  }

  private nonce(): string {
    if (this.nonces.size >= MAX_NONCES) this.nonces.delete(this.nonces.values().next().value as string);
    const n = id();
    this.nonces.add(n);
    return n;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, type = 'application/json'): void {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': type,
      'replay-nonce': this.nonce(),
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(data),
      ...headers,
    });
    res.end(data);
  }

  /** Handles /acme/<ca>/…; returns false for other paths. */
  async handle(req: IncomingMessage, res: ServerResponse, body: () => Promise<Buffer>): Promise<boolean> {
    const url = new URL(req.url ?? '/', `https://${req.headers.host ?? 'localhost'}`);
    const m = /^\/acme\/([a-z0-9-]+)\/([a-z-]+)(?:\/([A-Za-z0-9_-]+))?$/.exec(url.pathname);
    if (!m) return false;
    const [, ca, what, ref] = m as unknown as [string, string, string, string | undefined];
    const base = `${url.origin}/acme/${ca}`;
    try {
      await this.svc.getCa(ca).catch((e: unknown) => {
        if (e instanceof CaRefusal) throw new AcmeProblem('malformed', e.message, 404);
        throw e;
      });
      if (what === 'directory' && req.method === 'GET') {
        this.send(res, 200, {
          newNonce: `${base}/new-nonce`,
          newAccount: `${base}/new-account`,
          newOrder: `${base}/new-order`,
          revokeCert: `${base}/revoke-cert`,
          keyChange: `${base}/key-change`,
          meta: { externalAccountRequired: false },
        });
        return true;
      }
      if (what === 'new-nonce' && (req.method === 'HEAD' || req.method === 'GET')) {
        res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'replay-nonce': this.nonce(), 'cache-control': 'no-store' });
        res.end();
        return true;
      }
      if (req.method !== 'POST') throw new AcmeProblem('malformed', `${req.method} ${url.pathname} is not an ACME request`, 405);
      const jws = await this.verifyJws(await body(), `${url.origin}${url.pathname}`, what === 'new-account');
      await this.post(res, ca, base, what, ref, jws);
    } catch (e) {
      if (e instanceof AcmeProblem) this.send(res, e.status, { type: e.type, detail: e.message }, {}, 'application/problem+json');
      else throw e;
    }
    return true;
  }

  private async verifyJws(
    raw: Buffer,
    url: string,
    jwkAllowed: boolean,
  ): Promise<{ payload: unknown; account?: Account; jwk?: JsonWebKey; key: KeyObject }> {
    let j: { protected?: string; payload?: string; signature?: string };
    try {
      j = JSON.parse(raw.toString('utf8')) as typeof j;
    } catch {
      throw new AcmeProblem('malformed', 'request body is not a JWS in flattened JSON');
    }
    if (typeof j.protected !== 'string' || typeof j.payload !== 'string' || typeof j.signature !== 'string')
      throw new AcmeProblem('malformed', 'JWS needs protected, payload and signature');
    let h: { alg?: string; nonce?: string; url?: string; jwk?: JsonWebKey; kid?: string };
    try {
      h = JSON.parse(fromB64u(j.protected).toString('utf8')) as typeof h;
    } catch {
      throw new AcmeProblem('malformed', 'JWS protected header is not JSON');
    }
    if (!h.nonce || !this.nonces.delete(h.nonce)) throw new AcmeProblem('badNonce', 'unknown or used nonce');
    if (h.url !== url) throw new AcmeProblem('unauthorized', `JWS url ${h.url} is not ${url}`, 401);
    let key: KeyObject;
    let account: Account | undefined;
    if (h.jwk && h.kid) throw new AcmeProblem('malformed', 'JWS has both jwk and kid');
    if (h.jwk) {
      if (!jwkAllowed) throw new AcmeProblem('malformed', 'this request must be signed with the account key id (kid)');
      try {
        key = createPublicKey({ key: h.jwk, format: 'jwk' });
      } catch {
        throw new AcmeProblem('badPublicKey', 'JWK is not a public key');
      }
    } else {
      const acct = h.kid ? this.accounts.get(h.kid.split('/').pop() ?? '') : undefined;
      if (!acct || !h.kid?.endsWith(`/acct/${acct.id}`)) throw new AcmeProblem('accountDoesNotExist', 'unknown account', 400);
      account = acct;
      key = acct.key;
    }
    const data = Buffer.from(`${j.protected}.${j.payload}`);
    const sig = fromB64u(j.signature);
    let ok = false;
    try {
      if (h.alg === 'RS256') ok = key.asymmetricKeyType === 'rsa' && verify('sha256', data, key, sig);
      else if (h.alg === 'ES256' || h.alg === 'ES384')
        ok =
          key.asymmetricKeyType === 'ec' && verify(h.alg === 'ES256' ? 'sha256' : 'sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
      else if (h.alg === 'EdDSA') ok = key.asymmetricKeyType === 'ed25519' && verify(null, data, key, sig);
      else throw new AcmeProblem('badSignatureAlgorithm', `algorithm ${h.alg} is not supported (RS256, ES256, ES384, EdDSA)`);
    } catch (e) {
      if (e instanceof AcmeProblem) throw e;
      ok = false;
    }
    if (!ok) throw new AcmeProblem('unauthorized', 'JWS signature does not verify', 401);
    let payload: unknown = '';
    if (j.payload !== '') {
      try {
        payload = JSON.parse(fromB64u(j.payload).toString('utf8'));
      } catch {
        throw new AcmeProblem('malformed', 'JWS payload is not JSON');
      }
    }
    return { payload, key, ...(account ? { account } : {}), ...(h.jwk ? { jwk: h.jwk } : {}) };
  }

  private orderJson(base: string, o: Order): Record<string, unknown> {
    return {
      status: o.status,
      expires: o.expires,
      identifiers: o.identifiers,
      authorizations: o.authzs.map((a) => `${base}/authz/${a}`),
      finalize: `${base}/finalize/${o.id}`,
      ...(o.cert ? { certificate: `${base}/cert/${o.id}` } : {}),
      ...(o.error ? { error: o.error } : {}),
    };
  }

  private authzJson(base: string, a: Authz): Record<string, unknown> {
    return {
      identifier: a.identifier,
      status: a.status,
      expires: this.orders.get(a.order)?.expires,
      challenges: (['http-01', 'tls-alpn-01'] as const).map((t) => this.challengeJson(base, a, t)),
    };
  }

  /** Each authorization offers both challenges; the one the client answers decides it (the other stays pending). */
  private challengeJson(base: string, a: Authz, type: ChallengeType): Record<string, unknown> {
    const mine = a.tried === type;
    return {
      type,
      url: `${base}/${type === 'http-01' ? 'chall' : 'chall-alpn'}/${a.id}`,
      token: a.token,
      status: mine ? a.status : 'pending',
      ...(mine && a.validated ? { validated: a.validated } : {}),
      ...(mine && a.error ? { error: { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: a.error } } : {}),
    };
  }

  private ownedOrder(ref: string | undefined, acct: Account): Order {
    const o = ref ? this.orders.get(ref) : undefined;
    if (!o || o.account !== acct.id) throw new AcmeProblem('malformed', 'no such order', 404);
    return o;
  }

  private async post(
    res: ServerResponse,
    ca: string,
    base: string,
    what: string,
    ref: string | undefined,
    jws: Awaited<ReturnType<Acme['verifyJws']>>,
  ): Promise<void> {
    const p = (jws.payload ?? {}) as Record<string, unknown>;
    if (what === 'new-account') {
      if (!jws.jwk) throw new AcmeProblem('malformed', 'newAccount is signed with the account key (jwk)');
      const thumb = jwkThumbprint(jws.jwk);
      const existing = this.byThumb.get(thumb);
      if (existing)
        return this.send(
          res,
          200,
          { status: 'valid', contact: this.accounts.get(existing)?.contact ?? [] },
          { location: `${base}/acct/${existing}` },
        );
      if (p.onlyReturnExisting === true) throw new AcmeProblem('accountDoesNotExist', 'no account for this key');
      if (p.termsOfServiceAgreed === false) throw new AcmeProblem('userActionRequired', 'terms of service must be agreed');
      const a: Account = {
        id: id(),
        key: jws.key,
        thumbprint: thumb,
        contact: Array.isArray(p.contact) ? (p.contact as string[]).slice(0, 10).map(String) : [],
      };
      this.accounts.set(a.id, a);
      this.byThumb.set(thumb, a.id);
      return this.send(res, 201, { status: 'valid', contact: a.contact }, { location: `${base}/acct/${a.id}` });
    }
    const acct = jws.account as Account;
    if (what === 'acct') return this.send(res, 200, { status: 'valid', contact: acct.contact }, { location: `${base}/acct/${acct.id}` });
    if (what === 'new-order') {
      const ids = p.identifiers;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDENTIFIERS)
        throw new AcmeProblem('malformed', `an order names 1 to ${MAX_IDENTIFIERS} identifiers`);
      if (this.orders.size >= MAX_ORDERS) throw new AcmeProblem('rateLimited', 'too many open orders', 429);
      const identifiers = ids.map((x) => {
        const i = x as { type?: string; value?: string };
        if (i.type !== 'dns' || typeof i.value !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(i.value))
          throw new AcmeProblem('unsupportedIdentifier', `only dns identifiers (got ${JSON.stringify(x)})`);
        return { type: 'dns' as const, value: i.value.toLowerCase() };
      });
      const o: Order = {
        id: id(),
        ca,
        account: acct.id,
        status: 'pending',
        identifiers,
        authzs: [],
        expires: new Date(Date.now() + 86400_000).toISOString(),
      };
      for (const ident of identifiers) {
        const a: Authz = { id: id(), order: o.id, identifier: ident, status: 'pending', token: b64u(randomBytes(32)) };
        this.authzs.set(a.id, a);
        o.authzs.push(a.id);
      }
      this.orders.set(o.id, o);
      return this.send(res, 201, this.orderJson(base, o), { location: `${base}/order/${o.id}` });
    }
    if (what === 'authz' || what === 'chall' || what === 'chall-alpn') {
      const a = ref ? this.authzs.get(ref) : undefined;
      if (!a || this.orders.get(a.order)?.account !== acct.id) throw new AcmeProblem('malformed', 'no such authorization', 404);
      if (what === 'authz') return this.send(res, 200, this.authzJson(base, a));
      const type: ChallengeType = what === 'chall' ? 'http-01' : 'tls-alpn-01';
      if (a.status === 'pending') {
        a.tried = type;
        await (type === 'http-01' ? this.validate(a, acct) : this.validateAlpn(a, acct));
      }
      const o = this.orders.get(a.order) as Order;
      if (o.status === 'pending') {
        const states = o.authzs.map((x) => this.authzs.get(x)?.status);
        if (states.every((s) => s === 'valid')) o.status = 'ready';
        else if (states.includes('invalid')) o.status = 'invalid';
      }
      return this.send(res, 200, this.challengeJson(base, a, type), { link: `<${base}/authz/${a.id}>;rel="up"` });
    }
    if (what === 'order')
      return this.send(res, 200, this.orderJson(base, this.ownedOrder(ref, acct)), { location: `${base}/order/${ref}` });
    if (what === 'finalize') {
      const o = this.ownedOrder(ref, acct);
      if (o.status !== 'ready') throw new AcmeProblem('orderNotReady', `order is ${o.status}, not ready`, 403);
      if (typeof p.csr !== 'string') throw new AcmeProblem('badCSR', 'finalize needs csr');
      const der = fromB64u(p.csr);
      o.status = 'processing';
      try {
        const r = await this.svc.issue({
          ca,
          csr: der,
          profile: 'server',
          requester: `acme:${acct.id}`,
          proven: o.identifiers.map((i) => `DNS:${i.value}`),
        });
        // The chain without the root, except under a CA that is its own root: clients such as certbot
        // want at least one issuer certificate after the leaf.
        o.cert = [r.certificate, ...(r.chain.length > 1 ? r.chain.slice(0, -1) : r.chain)].map((c) => c.toPem()).join('');
        o.status = 'valid';
      } catch (e) {
        o.status = 'invalid';
        if (e instanceof CaRefusal)
          throw new AcmeProblem(e.status === 403 ? 'rejectedIdentifier' : 'badCSR', e.message, e.status === 503 ? 503 : 403);
        throw e;
      }
      return this.send(res, 200, this.orderJson(base, o), { location: `${base}/order/${o.id}` });
    }
    if (what === 'cert') {
      const o = this.ownedOrder(ref, acct);
      if (!o.cert) throw new AcmeProblem('malformed', 'no certificate yet', 404);
      return this.send(res, 200, o.cert, {}, 'application/pem-certificate-chain');
    }
    throw new AcmeProblem('malformed', `${what} is not supported`, 404);
  }

  /** http-01: GET http://<identifier>:<port>/.well-known/acme-challenge/<token> must answer token.thumbprint. */
  private async validate(a: Authz, acct: Account): Promise<void> {
    const want = `${a.token}.${acct.thumbprint}`;
    const port = this.opts.httpPort ?? 80;
    const got = await new Promise<string>((resolve) => {
      const req = httpRequest(
        {
          host: this.opts.resolve ?? a.identifier.value,
          port,
          path: `/.well-known/acme-challenge/${a.token}`,
          headers: { host: `${a.identifier.value}:${port}` },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString('utf8');
            if (text.length > 8192) res.destroy();
          });
          res.on('end', () => resolve(res.statusCode === 200 ? text.trim() : `HTTP ${res.statusCode}`));
          res.on('error', (e) => resolve(`error: ${e.message}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in 10s')));
      req.on('error', (e) => resolve(`error: ${e.message}`));
      req.end();
    });
    if (got === want) {
      a.status = 'valid';
      a.validated = new Date().toISOString();
    } else {
      a.status = 'invalid';
      a.error = `http-01 for ${a.identifier.value}: expected the key authorization, got ${JSON.stringify(got.slice(0, 100))}`;
    }
  }

  /**
   * tls-alpn-01 (RFC 8737): a TLS handshake to <identifier>:<port> with SNI the identifier and ALPN acme-tls/1
   * only; the server must select acme-tls/1 and present a certificate whose only subjectAltName is the
   * identifier and which carries the critical id-pe-acmeIdentifier extension holding SHA-256(key authorization).
   */
  private async validateAlpn(a: Authz, acct: Account): Promise<void> {
    const name = a.identifier.value;
    const digest = createHash('sha256').update(`${a.token}.${acct.thumbprint}`).digest();
    const port = this.opts.tlsPort ?? 443;
    const problem = await new Promise<string | undefined>((resolve) => {
      const sock = tlsConnect({
        host: this.opts.resolve ?? name,
        port,
        servername: name,
        ALPNProtocols: [ACME_TLS_ALPN],
        rejectUnauthorized: false, // the certificate is self-signed by design; it is checked below
        minVersion: 'TLSv1.2',
        timeout: 10_000,
      });
      const done = (p: string | undefined) => {
        sock.destroy();
        resolve(p);
      };
      sock.on('timeout', () => done('no TLS handshake in 10s'));
      sock.on('error', (e) => done(`TLS error: ${e.message}`));
      sock.on('secureConnect', () => {
        if (sock.alpnProtocol !== ACME_TLS_ALPN)
          return done(`the server did not select ALPN ${ACME_TLS_ALPN} (got ${JSON.stringify(sock.alpnProtocol || 'none')})`);
        const raw = sock.getPeerCertificate()?.raw;
        if (!raw?.length) return done('the server presented no certificate');
        if (raw.length > MAX_CHALLENGE_CERT) return done(`the certificate is over ${MAX_CHALLENGE_CERT} bytes`);
        done(alpnCertProblem(raw, name, digest));
      });
    });
    if (problem === undefined) {
      a.status = 'valid';
      a.validated = new Date().toISOString();
    } else {
      a.status = 'invalid';
      a.error = `tls-alpn-01 for ${name}: ${problem}`;
    }
  }
}

/** Why a tls-alpn-01 validation certificate does not prove `name` for this key authorization digest (undefined: it does). */
export function alpnCertProblem(der: Uint8Array, name: string, digest: Uint8Array): string | undefined {
  let cert: Certificate;
  try {
    cert = new Certificate(der);
  } catch (e) {
    return `the certificate does not parse: ${(e as Error).message}`;
  }
  let sans: Certificate['sans'];
  let ext: { oid: string; critical: boolean; value: Uint8Array }[];
  try {
    sans = cert.sans;
    ext = cert.extensions.filter((e) => e.oid === ID_PE_ACME_IDENTIFIER);
  } catch (e) {
    return `the certificate's extensions do not parse: ${(e as Error).message}`;
  }
  const others = sans.ip.length + sans.uri.length + sans.email.length;
  if (sans.dns.length !== 1 || others !== 0 || (sans.dns[0] as string).toLowerCase() !== name)
    return `the certificate must name exactly DNS:${name} (it names ${[...sans.dns.map((d) => `DNS:${d}`), ...sans.ip.map((i) => `IP:${i}`), ...sans.uri, ...sans.email].join(', ') || 'nothing'})`;
  if (ext.length !== 1) return `the certificate has ${ext.length} acmeIdentifier (${ID_PE_ACME_IDENTIFIER}) extensions, not one`;
  const e = ext[0] as { critical: boolean; value: Uint8Array };
  if (!e.critical) return 'the acmeIdentifier extension is not critical';
  // extnValue holds the DER of Authorization ::= OCTET STRING (SIZE (32)).
  const v = Buffer.from(e.value);
  if (v.length !== 34 || v[0] !== 0x04 || v[1] !== 0x20) return 'the acmeIdentifier extension is not a 32-byte OCTET STRING';
  if (!v.subarray(2).equals(Buffer.from(digest))) return 'the acmeIdentifier does not match the key authorization';
  return undefined;
}
