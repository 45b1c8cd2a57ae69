// ACME (RFC 8555) for tools that already speak it (certbot, cert-manager's ACME issuer, Caddy, lego): one
// directory per CA at /acme/<ca>/directory on the API listener, http-01 and tls-alpn-01 (RFC 8737)
// challenges, JWS with RS256,
// ES256/384 or EdDSA account keys. Issuance goes through the CA service (policy, audit, log) with the
// requester acme:<account>. Accounts, orders, authorizations and used nonces live in the CA's store
// (component `acme`), so any replica on one database serves any request of an ACME client:
// - a nonce is stateless (its issue time and a random part, MACed with a key kept in the store) and its use
//   is one INSERT ... ON CONFLICT DO NOTHING: the database takes each nonce once, whichever replica sees it;
// - state changes are compare-and-set updates (an authorization leaves `pending` once, an order goes from
//   `ready` to `processing` once, so two replicas never issue for one order);
// - used nonces are pruned after their lifetime, orders and authorizations some days after they expire;
//   accounts, open orders per account, orders in all and used-nonce rows have budgets.
import {
  createHash,
  createHmac,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { Migration, Queryable, Store } from '../store/store.ts';
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
type AuthzStatus = 'pending' | 'valid' | 'invalid';
interface Authz {
  id: string;
  order: string;
  account: string;
  identifier: { type: 'dns'; value: string };
  status: AuthzStatus;
  token: string;
  expires: number;
  /** The challenge the client answered (one token for both kinds, RFC 8555 8.1 allows it per challenge). */
  tried?: ChallengeType;
  error?: string;
  validated?: string;
}

/** RFC 8737: the ALPN protocol and the critical id-pe-acmeIdentifier extension of the validation certificate. */
export const ACME_TLS_ALPN = 'acme-tls/1';
export const ID_PE_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';
const MAX_CHALLENGE_CERT = 64 * 1024;
type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
interface Order {
  id: string;
  ca: string;
  account: string;
  status: OrderStatus;
  identifiers: { type: 'dns'; value: string }[];
  authzs: string[];
  expires: number;
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
  /** The clock (tests move it to reach expiry); default Date.now. */
  now?: () => number;
  /** Where a failed background prune is reported. */
  log?: (line: string) => void;
}

/** A nonce is accepted this long after it was issued (then badNonce, and the client asks for a fresh one). */
export const NONCE_LIFETIME_MS = 15 * 60_000;
/** A used nonce is remembered this much longer than its lifetime: replicas' clocks may differ by up to this. */
export const CLOCK_SKEW_MS = 5 * 60_000;
const ORDER_LIFETIME_MS = 86400_000;
/** Orders (with their certificate) and authorizations are kept this long after they expire, then pruned. */
export const ORDER_RETAIN_MS = 7 * 86400_000;
/** At most one background prune per replica this often. */
export const PRUNE_EVERY_MS = 60_000;
export const ACME_BUDGETS = {
  accounts: 100_000,
  /** Orders not yet expired, per account. */
  openOrdersPerAccount: 1_000,
  /** Order rows in all (pruned ORDER_RETAIN_MS after they expire). */
  orders: 100_000,
  /** Used-nonce rows: past it, every nonce issued before the prune is refused (clients retry with a fresh one). */
  usedNonces: 1_000_000,
  identifiersPerOrder: 100,
  /** Parsed account keys kept in memory per replica (accounts never change, so the cache is never stale). */
  cachedAccounts: 10_000,
};

/** The `acme` component's tables in the CA store (SQLite or PostgreSQL, same SQL). */
export const ACME_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, orders, authorizations, used nonces',
    up: [
      'CREATE TABLE acme_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
      // One row: nonces issued before floor_ms are refused (set when the used-nonce budget is exceeded).
      'CREATE TABLE acme_nonce_floor (id INTEGER PRIMARY KEY, floor_ms BIGINT NOT NULL)',
      'INSERT INTO acme_nonce_floor (id, floor_ms) VALUES (1, 0)',
      'CREATE TABLE acme_nonces (nonce TEXT PRIMARY KEY, issued_ms BIGINT NOT NULL)',
      'CREATE INDEX acme_nonces_issued ON acme_nonces (issued_ms)',
      `CREATE TABLE acme_accounts (
        id TEXT PRIMARY KEY,
        thumbprint TEXT NOT NULL UNIQUE,
        jwk TEXT NOT NULL,
        contact TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`,
      `CREATE TABLE acme_orders (
        id TEXT PRIMARY KEY,
        ca TEXT NOT NULL,
        account TEXT NOT NULL,
        status TEXT NOT NULL,
        identifiers TEXT NOT NULL,
        authzs TEXT NOT NULL,
        expires_ms BIGINT NOT NULL,
        cert TEXT,
        error TEXT
      )`,
      'CREATE INDEX acme_orders_account ON acme_orders (account, expires_ms)',
      'CREATE INDEX acme_orders_expires ON acme_orders (expires_ms)',
      `CREATE TABLE acme_authzs (
        id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        account TEXT NOT NULL,
        identifier TEXT NOT NULL,
        status TEXT NOT NULL,
        token TEXT NOT NULL,
        expires_ms BIGINT NOT NULL,
        tried TEXT,
        error TEXT,
        validated TEXT
      )`,
      'CREATE INDEX acme_authzs_order ON acme_authzs (order_id)',
      'CREATE INDEX acme_authzs_expires ON acme_authzs (expires_ms)',
    ],
  },
];

interface OrderRow {
  id: string;
  ca: string;
  account: string;
  status: string;
  identifiers: string;
  authzs: string;
  expires_ms: number;
  cert: string | null;
  error: string | null;
}
interface AuthzRow {
  id: string;
  order_id: string;
  account: string;
  identifier: string;
  status: string;
  token: string;
  expires_ms: number;
  tried: string | null;
  error: string | null;
  validated: string | null;
}

export interface AcmePruneResult {
  nonces: number;
  orders: number;
  authzs: number;
  /** Set when the used-nonce budget was exceeded: nonces issued before this instant are refused. */
  floor?: number;
}

const NONCE_BYTES = 32; // 8 issue time (ms) + 8 random + 16 MAC

export class Acme {
  private readonly accounts = new Map<string, Account>();
  private readonly svc: CaService;
  private readonly store: Store;
  private readonly opts: AcmeOptions;
  private readonly now: () => number;
  private readonly nonceKey: Buffer;
  private lastPrune = 0;
  private pruning: Promise<unknown> | undefined;

  private constructor(svc: CaService, opts: AcmeOptions, nonceKey: Buffer) {
    this.svc = svc;
    this.store = svc.store;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.nonceKey = nonceKey;
  }

  /** Apply the `acme` migrations and read (or make, once for all replicas) the nonce MAC key. */
  static async open(svc: CaService, opts: AcmeOptions = {}): Promise<Acme> {
    const store = svc.store;
    await store.migrate('acme', ACME_MIGRATIONS);
    await store.run("INSERT INTO acme_meta (name, value) VALUES ('nonce_key', ?) ON CONFLICT (name) DO NOTHING", [
      randomBytes(32).toString('base64'),
    ]);
    const row = await store.get<{ value: string }>("SELECT value FROM acme_meta WHERE name = 'nonce_key'");
    if (!row) throw new Error('acme: the nonce key is missing from the store');
    return new Acme(svc, opts, Buffer.from(row.value, 'base64'));
  }

  private mac(head: Buffer): Buffer {
    return createHmac('sha256', this.nonceKey).update(head).digest().subarray(0, 16);
  }

  private nonce(): string {
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(BigInt(this.now()), 0);
    randomBytes(8).copy(head, 8);
    return b64u(Buffer.concat([head, this.mac(head)]));
  }

  /** A nonce's MAC and age (no database); returns its issue time. */
  private checkNonce(n: string | undefined): number {
    const raw = typeof n === 'string' && /^[A-Za-z0-9_-]{43}$/.test(n) ? Buffer.from(n, 'base64url') : undefined;
    if (!raw || raw.length !== NONCE_BYTES) throw new AcmeProblem('badNonce', 'unknown or used nonce');
    const head = raw.subarray(0, 16);
    if (!timingSafeEqual(raw.subarray(16), this.mac(head))) throw new AcmeProblem('badNonce', 'unknown or used nonce');
    const issued = Number(head.readBigUInt64BE(0));
    const now = this.now();
    if (issued < now - NONCE_LIFETIME_MS || issued > now + CLOCK_SKEW_MS) throw new AcmeProblem('badNonce', 'expired nonce');
    return issued;
  }

  /**
   * Take a checked nonce once, on `q` (the store, or the transaction of the request's own writes, so one commit
   * does both): one atomic INSERT, refused for a nonce already taken by any replica or issued before the floor.
   */
  private async takeNonce(q: Queryable, n: { nonce: string; issued: number }): Promise<boolean> {
    return (
      (await q.run(
        'INSERT INTO acme_nonces (nonce, issued_ms) SELECT CAST(? AS TEXT), CAST(? AS BIGINT) WHERE CAST(? AS BIGINT) >= (SELECT floor_ms FROM acme_nonce_floor WHERE id = 1) ON CONFLICT (nonce) DO NOTHING',
        [n.nonce, n.issued, n.issued],
      )) === 1
    );
  }

  private async takeNonceAlone(n: { nonce: string; issued: number }): Promise<void> {
    if (!(await this.takeNonce(this.store, n))) throw new AcmeProblem('badNonce', 'unknown or used nonce');
  }

  /**
   * Delete used nonces past their lifetime (and below a floor set by an earlier prune), orders and
   * authorizations expired for ORDER_RETAIN_MS; past the used-nonce budget, set the floor to now. Runs in the
   * background at most every PRUNE_EVERY_MS per replica; callable directly.
   */
  async prune(): Promise<AcmePruneResult> {
    const now = this.now();
    const floor = Number((await this.store.get<{ floor_ms: number }>('SELECT floor_ms FROM acme_nonce_floor WHERE id = 1'))?.floor_ms ?? 0);
    // Rows below the floor go only in a prune after the one that set it: a replica's INSERT that read the old
    // floor has finished by then, so a replay cannot slip in between the floor and the delete.
    const nonces = await this.store.run('DELETE FROM acme_nonces WHERE issued_ms < ?', [
      Math.max(now - NONCE_LIFETIME_MS - CLOCK_SKEW_MS, floor),
    ]);
    const cutoff = now - ORDER_RETAIN_MS;
    const authzs = await this.store.run('DELETE FROM acme_authzs WHERE expires_ms < ?', [cutoff]);
    const orders = await this.store.run('DELETE FROM acme_orders WHERE expires_ms < ?', [cutoff]);
    const out: AcmePruneResult = { nonces, orders, authzs };
    const used = Number((await this.store.get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_nonces'))?.n ?? 0);
    if (used > ACME_BUDGETS.usedNonces) {
      await this.store.run('UPDATE acme_nonce_floor SET floor_ms = ? WHERE id = 1 AND floor_ms < ?', [now, now]);
      out.floor = now;
    }
    return out;
  }

  private maybePrune(): void {
    const now = this.now();
    if (this.pruning || now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    this.pruning = this.prune()
      .catch((e: unknown) => this.opts.log?.(`acme prune failed (retried later): ${(e as Error).message}`))
      .finally(() => {
        this.pruning = undefined;
      });
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
    this.maybePrune();
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

  private async account(id: string): Promise<Account | undefined> {
    const hit = this.accounts.get(id);
    if (hit) return hit;
    const row = await this.store.get<{ id: string; thumbprint: string; jwk: string; contact: string }>(
      'SELECT id, thumbprint, jwk, contact FROM acme_accounts WHERE id = ?',
      [id],
    );
    if (!row) return undefined;
    const a: Account = {
      id: row.id,
      thumbprint: row.thumbprint,
      key: createPublicKey({ key: JSON.parse(row.jwk) as JsonWebKey, format: 'jwk' }),
      contact: JSON.parse(row.contact) as string[],
    };
    if (this.accounts.size >= ACME_BUDGETS.cachedAccounts) this.accounts.delete(this.accounts.keys().next().value as string);
    this.accounts.set(a.id, a);
    return a;
  }

  private async verifyJws(
    raw: Buffer,
    url: string,
    jwkAllowed: boolean,
  ): Promise<{ payload: unknown; account?: Account; jwk?: JsonWebKey; key: KeyObject; nonce: { nonce: string; issued: number } }> {
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
    const issued = this.checkNonce(h.nonce);
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
      const ref = typeof h.kid === 'string' ? (h.kid.split('/').pop() ?? '') : '';
      const acct = /^[A-Za-z0-9_-]{1,64}$/.test(ref) ? await this.account(ref) : undefined;
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
    // The nonce is taken by post(), once the signature holds (a forged request cannot burn a client's nonce),
    // in the transaction of the request's first write where it has one.
    return { payload, key, nonce: { nonce: h.nonce as string, issued }, ...(account ? { account } : {}), ...(h.jwk ? { jwk: h.jwk } : {}) };
  }

  private orderOf(r: OrderRow): Order {
    let status = r.status as OrderStatus;
    const expires = Number(r.expires_ms);
    // RFC 8555 7.1.6: an order that expires before it is valid becomes invalid.
    if ((status === 'pending' || status === 'ready') && expires <= this.now()) status = 'invalid';
    return {
      id: r.id,
      ca: r.ca,
      account: r.account,
      status,
      identifiers: JSON.parse(r.identifiers) as Order['identifiers'],
      authzs: JSON.parse(r.authzs) as string[],
      expires,
      ...(r.cert ? { cert: r.cert } : {}),
      ...(r.error ? { error: JSON.parse(r.error) as Order['error'] & object } : {}),
    };
  }

  private authzOf(r: AuthzRow): Authz {
    const expires = Number(r.expires_ms);
    let status = r.status as AuthzStatus;
    if (status === 'pending' && expires <= this.now()) status = 'invalid';
    return {
      id: r.id,
      order: r.order_id,
      account: r.account,
      identifier: { type: 'dns', value: r.identifier },
      status,
      token: r.token,
      expires,
      ...(r.tried ? { tried: r.tried as ChallengeType } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(r.validated ? { validated: r.validated } : {}),
    };
  }

  private orderJson(base: string, o: Order): Record<string, unknown> {
    return {
      status: o.status,
      expires: new Date(o.expires).toISOString(),
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
      expires: new Date(a.expires).toISOString(),
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

  private async ownedOrder(ref: string | undefined, acct: Account, ca: string): Promise<Order> {
    const r = ref ? await this.store.get<OrderRow>('SELECT * FROM acme_orders WHERE id = ?', [ref]) : undefined;
    if (!r || r.account !== acct.id || r.ca !== ca) throw new AcmeProblem('malformed', 'no such order', 404);
    return this.orderOf(r);
  }

  private async ownedAuthz(ref: string | undefined, acct: Account): Promise<Authz> {
    const r = ref ? await this.store.get<AuthzRow>('SELECT * FROM acme_authzs WHERE id = ?', [ref]) : undefined;
    if (!r || r.account !== acct.id) throw new AcmeProblem('malformed', 'no such authorization', 404);
    return this.authzOf(r);
  }

  private async newAccount(res: ServerResponse, base: string, p: Record<string, unknown>, jwk: JsonWebKey, key: KeyObject): Promise<void> {
    const thumb = jwkThumbprint(jwk);
    const existing = async () =>
      this.store.get<{ id: string; contact: string }>('SELECT id, contact FROM acme_accounts WHERE thumbprint = ?', [thumb]);
    const found = await existing();
    if (found)
      return this.send(
        res,
        200,
        { status: 'valid', contact: JSON.parse(found.contact) as string[] },
        { location: `${base}/acct/${found.id}` },
      );
    if (p.onlyReturnExisting === true) throw new AcmeProblem('accountDoesNotExist', 'no account for this key');
    if (p.termsOfServiceAgreed === false) throw new AcmeProblem('userActionRequired', 'terms of service must be agreed');
    const contact = Array.isArray(p.contact) ? (p.contact as unknown[]).slice(0, 10).map((c) => String(c).slice(0, 256)) : [];
    // The public key as the canonical JWK of its type (what the thumbprint covers), not whatever else the client sent.
    const pub = key.export({ format: 'jwk' });
    const a: Account = { id: id(), key, thumbprint: thumb, contact };
    const made = await this.store.transaction(async (tx) => {
      const n = Number((await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_accounts'))?.n ?? 0);
      if (n >= ACME_BUDGETS.accounts) throw new AcmeProblem('rateLimited', `this server holds ${ACME_BUDGETS.accounts} accounts`, 429);
      return tx.run(
        'INSERT INTO acme_accounts (id, thumbprint, jwk, contact, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (thumbprint) DO NOTHING',
        [a.id, thumb, JSON.stringify(pub), JSON.stringify(contact), new Date(this.now()).toISOString()],
      );
    });
    if (made === 0) {
      // Another replica registered the same key at the same moment: that account is the one.
      const other = await existing();
      if (other)
        return this.send(
          res,
          200,
          { status: 'valid', contact: JSON.parse(other.contact) as string[] },
          { location: `${base}/acct/${other.id}` },
        );
      throw new AcmeProblem('serverInternal', 'the account could not be stored', 500);
    }
    return this.send(res, 201, { status: 'valid', contact }, { location: `${base}/acct/${a.id}` });
  }

  private async newOrder(
    res: ServerResponse,
    ca: string,
    base: string,
    p: Record<string, unknown>,
    acct: Account,
    nonce: { nonce: string; issued: number },
  ): Promise<void> {
    const ids = p.identifiers;
    const max = ACME_BUDGETS.identifiersPerOrder;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > max) {
      await this.takeNonceAlone(nonce);
      throw new AcmeProblem('malformed', `an order names 1 to ${max} identifiers`);
    }
    const bad = ids.find((x) => {
      const i = x as { type?: string; value?: string };
      return i.type !== 'dns' || typeof i.value !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(i.value);
    });
    if (bad !== undefined) {
      await this.takeNonceAlone(nonce);
      throw new AcmeProblem('unsupportedIdentifier', `only dns identifiers (got ${JSON.stringify(bad).slice(0, 300)})`);
    }
    const identifiers = ids.map((x) => {
      const i = x as { type?: string; value?: string };
      if (i.type !== 'dns' || typeof i.value !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(i.value))
        throw new AcmeProblem('unsupportedIdentifier', `only dns identifiers (got ${JSON.stringify(x).slice(0, 300)})`);
      return { type: 'dns' as const, value: i.value.toLowerCase() };
    });
    const now = this.now();
    const o: Order = {
      id: id(),
      ca,
      account: acct.id,
      status: 'pending',
      identifiers,
      authzs: identifiers.map(() => id()),
      expires: now + ORDER_LIFETIME_MS,
    };
    // The nonce, the budget checks and the rows in one transaction (one commit). A refusal is returned rather
    // than thrown so the nonce stays taken.
    const refused = await this.store.transaction(async (tx): Promise<AcmeProblem | undefined> => {
      if (!(await this.takeNonce(tx, nonce))) return new AcmeProblem('badNonce', 'unknown or used nonce');
      const mine = Number(
        (await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_orders WHERE account = ? AND expires_ms > ?', [acct.id, now]))?.n ?? 0,
      );
      if (mine >= ACME_BUDGETS.openOrdersPerAccount)
        return new AcmeProblem('rateLimited', `this account has ${ACME_BUDGETS.openOrdersPerAccount} open orders`, 429);
      const all = Number((await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_orders'))?.n ?? 0);
      if (all >= ACME_BUDGETS.orders) return new AcmeProblem('rateLimited', 'too many orders on this server', 429);
      await tx.run('INSERT INTO acme_orders (id, ca, account, status, identifiers, authzs, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        o.id,
        ca,
        acct.id,
        'pending',
        JSON.stringify(identifiers),
        JSON.stringify(o.authzs),
        o.expires,
      ]);
      for (const [i, ident] of identifiers.entries())
        await tx.run(
          'INSERT INTO acme_authzs (id, order_id, account, identifier, status, token, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [o.authzs[i], o.id, acct.id, ident.value, 'pending', b64u(randomBytes(32)), o.expires],
        );
      return undefined;
    });
    if (refused) throw refused;
    return this.send(res, 201, this.orderJson(base, o), { location: `${base}/order/${o.id}` });
  }

  /** After an authorization changed: a pending order whose authorizations are all valid is ready; one invalid makes it invalid. */
  private async settleOrder(q: Queryable, orderId: string): Promise<void> {
    const rows = await q.all<{ status: string; expires_ms: number }>('SELECT status, expires_ms FROM acme_authzs WHERE order_id = ?', [
      orderId,
    ]);
    const states = rows.map((r) => (r.status === 'pending' && Number(r.expires_ms) <= this.now() ? 'invalid' : r.status));
    const next = states.length > 0 && states.every((s) => s === 'valid') ? 'ready' : states.includes('invalid') ? 'invalid' : undefined;
    if (next) await q.run("UPDATE acme_orders SET status = ? WHERE id = ? AND status = 'pending'", [next, orderId]);
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
    if (what === 'new-order' && jws.account) return this.newOrder(res, ca, base, p, jws.account, jws.nonce);
    if (what !== 'finalize') await this.takeNonceAlone(jws.nonce);
    if (what === 'new-account') {
      if (!jws.jwk) throw new AcmeProblem('malformed', 'newAccount is signed with the account key (jwk)');
      return this.newAccount(res, base, p, jws.jwk, jws.key);
    }
    const acct = jws.account as Account;
    if (what === 'acct') return this.send(res, 200, { status: 'valid', contact: acct.contact }, { location: `${base}/acct/${acct.id}` });
    if (what === 'authz' || what === 'chall' || what === 'chall-alpn') {
      let a = await this.ownedAuthz(ref, acct);
      if (what === 'authz') return this.send(res, 200, this.authzJson(base, a));
      const type: ChallengeType = what === 'chall' ? 'http-01' : 'tls-alpn-01';
      if (a.status === 'pending') {
        const r = await (type === 'http-01' ? this.validate(a, acct) : this.validateAlpn(a, acct));
        // Compare-and-set: the first answer to commit decides (a retry on another replica sees it decided); the
        // order follows in the same transaction.
        const decided = a;
        await this.store.transaction(async (tx) => {
          await tx.run("UPDATE acme_authzs SET status = ?, tried = ?, validated = ?, error = ? WHERE id = ? AND status = 'pending'", [
            r.error === undefined ? 'valid' : 'invalid',
            type,
            r.error === undefined ? new Date(this.now()).toISOString() : null,
            r.error ?? null,
            decided.id,
          ]);
          await this.settleOrder(tx, decided.order);
        });
        a = await this.ownedAuthz(a.id, acct);
      } else await this.settleOrder(this.store, a.order);
      return this.send(res, 200, this.challengeJson(base, a, type), { link: `<${base}/authz/${a.id}>;rel="up"` });
    }
    if (what === 'order') {
      const o = await this.ownedOrder(ref, acct, ca);
      return this.send(res, 200, this.orderJson(base, o), { location: `${base}/order/${o.id}` });
    }
    if (what === 'finalize') {
      const o = await this.ownedOrder(ref, acct, ca).catch(async (e: unknown) => {
        await this.takeNonceAlone(jws.nonce);
        throw e;
      });
      const csr = typeof p.csr === 'string' && /^[A-Za-z0-9_-]*$/.test(p.csr) ? fromB64u(p.csr) : undefined;
      // The nonce and the move to processing in one transaction. Once: of two finalize requests (one per
      // replica), one moves the order to processing, the other is refused.
      const step = await this.store.transaction(async (tx) => {
        if (!(await this.takeNonce(tx, jws.nonce))) return 'badNonce';
        if (o.status !== 'ready' || !csr) return 'no';
        const won = await tx.run("UPDATE acme_orders SET status = 'processing' WHERE id = ? AND status = 'ready' AND expires_ms > ?", [
          o.id,
          this.now(),
        ]);
        return won === 1 ? 'won' : 'no';
      });
      if (step === 'badNonce') throw new AcmeProblem('badNonce', 'unknown or used nonce');
      if (step !== 'won') {
        if (o.status === 'ready' && !csr) throw new AcmeProblem('badCSR', 'finalize needs csr (base64url DER)');
        throw new AcmeProblem('orderNotReady', `order is ${(await this.ownedOrder(o.id, acct, ca)).status}, not ready`, 403);
      }
      const der = csr as Buffer;
      let cert: string;
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
        cert = [r.certificate, ...(r.chain.length > 1 ? r.chain.slice(0, -1) : r.chain)].map((c) => c.toPem()).join('');
      } catch (e) {
        const problem =
          e instanceof CaRefusal
            ? new AcmeProblem(e.status === 403 ? 'rejectedIdentifier' : 'badCSR', e.message, e.status === 503 ? 503 : 403)
            : undefined;
        const error = problem
          ? { type: problem.type, detail: problem.message }
          : { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'issuance failed' };
        await this.store
          .run("UPDATE acme_orders SET status = 'invalid', error = ? WHERE id = ?", [JSON.stringify(error), o.id])
          .catch(() => undefined); // the store may be what failed; the order then stays processing until it expires
        throw problem ?? e;
      }
      await this.store.run("UPDATE acme_orders SET status = 'valid', cert = ? WHERE id = ?", [cert, o.id]);
      return this.send(res, 200, this.orderJson(base, { ...o, status: 'valid', cert }), { location: `${base}/order/${o.id}` });
    }
    if (what === 'cert') {
      const o = await this.ownedOrder(ref, acct, ca);
      if (!o.cert) throw new AcmeProblem('malformed', 'no certificate yet', 404);
      return this.send(res, 200, o.cert, {}, 'application/pem-certificate-chain');
    }
    throw new AcmeProblem('malformed', `${what} is not supported`, 404);
  }

  /** http-01: GET http://<identifier>:<port>/.well-known/acme-challenge/<token> must answer token.thumbprint. */
  private async validate(a: Authz, acct: Account): Promise<{ error?: string }> {
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
    if (got === want) return {};
    return { error: `http-01 for ${a.identifier.value}: expected the key authorization, got ${JSON.stringify(got.slice(0, 100))}` };
  }

  /**
   * tls-alpn-01 (RFC 8737): a TLS handshake to <identifier>:<port> with SNI the identifier and ALPN acme-tls/1
   * only; the server must select acme-tls/1 and present a certificate whose only subjectAltName is the
   * identifier and which carries the critical id-pe-acmeIdentifier extension holding SHA-256(key authorization).
   */
  private async validateAlpn(a: Authz, acct: Account): Promise<{ error?: string }> {
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
    return problem === undefined ? {} : { error: `tls-alpn-01 for ${name}: ${problem}` };
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
