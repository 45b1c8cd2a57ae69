// ACME state in the store, in process on SQLite: two Acme front ends on two connections to one database file
// (as two replicas would be), with a clock the test moves. A nonce is taken once whichever front end sees it;
// an expired or forged nonce is refused; prune removes used nonces after their lifetime and orders after their
// retention; the used-nonce budget refuses every older nonce; the open-orders budget refuses with rateLimited.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_BUDGETS, Acme, CLOCK_SKEW_MS, NONCE_LIFETIME_MS, ORDER_RETAIN_MS } from '../src/ca/acme.ts';
import { loadKek } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'caacme-store-'));
const HOST = 'acme.test';
let now = Date.now();
const clock = () => now;
const stores: Store[] = [];
const servers: Server[] = [];
const fronts: { acme: Acme; port: number }[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const store = await openStore(`sqlite:${join(dir, 'ca.db')}`);
    stores.push(store);
    const svc = await CaService.open({ store, kek: loadKek('c'.repeat(64)) });
    if (i === 0) await svc.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.internal'], profiles: ['server'] } });
    const acme = await Acme.open(svc, { now: clock });
    const server = createServer((req, res) => {
      const body = () =>
        new Promise<Buffer>((resolve) => {
          const parts: Buffer[] = [];
          req.on('data', (d: Buffer) => parts.push(d));
          req.on('end', () => resolve(Buffer.concat(parts)));
        });
      acme.handle(req, res, body).catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
    fronts.push({ acme, port: (server.address() as AddressInfo).port });
  }
}, 120_000);

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

type Answer = { status: number; nonce: string; location: string; json: Record<string, unknown> };
function call(front: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: fronts[front]?.port, method, path, headers: { host: HOST, 'content-type': 'application/jose+json' } },
      (res) => {
        let t = '';
        res.on('data', (d: Buffer) => {
          t += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            nonce: String(res.headers['replay-nonce'] ?? ''),
            location: String(res.headers.location ?? ''),
            json: t ? (JSON.parse(t) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

class Client {
  private readonly key: KeyObject;
  private readonly jwk: Record<string, string>;
  kid = '';
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    const j = publicKey.export({ format: 'jwk' });
    this.jwk = { crv: j.crv as string, kty: j.kty as string, x: j.x as string, y: j.y as string };
  }
  async nonce(front = 0): Promise<string> {
    return (await call(front, 'HEAD', '/acme/web/new-nonce')).nonce;
  }
  body(path: string, payload: unknown, nonce: string): string {
    const url = `https://${HOST}${path}`;
    const p64 = Buffer.from(JSON.stringify({ alg: 'ES256', nonce, url, ...(this.kid ? { kid: this.kid } : { jwk: this.jwk }) })).toString(
      'base64url',
    );
    const b64 = payload === '' ? '' : Buffer.from(JSON.stringify(payload)).toString('base64url');
    const signature = sign('sha256', Buffer.from(`${p64}.${b64}`), { key: this.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    return JSON.stringify({ protected: p64, payload: b64, signature });
  }
  async post(front: number, path: string, payload: unknown): Promise<Answer> {
    return call(front, 'POST', path, this.body(path, payload, await this.nonce(front)));
  }
  async register(): Promise<void> {
    const r = await this.post(0, '/acme/web/new-account', { termsOfServiceAgreed: true });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    this.kid = r.location;
  }
}

const badNonce = { type: 'urn:ietf:params:acme:error:badNonce' };

describe('ACME state in the store (SQLite, two front ends on one file)', () => {
  it('a nonce is taken once, whichever front end sees it; a forged or expired nonce is refused', async () => {
    const c = new Client();
    await c.register();
    const body = c.body('/acme/web/new-order', { identifiers: [{ type: 'dns', value: 'a.web.internal' }] }, await c.nonce(1));
    expect((await call(0, 'POST', '/acme/web/new-order', body)).status).toBe(201);
    expect((await call(1, 'POST', '/acme/web/new-order', body)).json).toMatchObject(badNonce);
    expect((await call(0, 'POST', '/acme/web/new-order', body)).json).toMatchObject(badNonce);

    // A nonce with its MAC changed.
    const n = Buffer.from(await c.nonce(), 'base64url');
    n[31] = (n[31] as number) ^ 1;
    const forged = c.body('/acme/web/new-order', { identifiers: [{ type: 'dns', value: 'b.web.internal' }] }, n.toString('base64url'));
    expect((await call(0, 'POST', '/acme/web/new-order', forged)).json).toMatchObject(badNonce);

    const old = await c.nonce();
    now += NONCE_LIFETIME_MS + 1;
    const late = c.body('/acme/web/new-order', { identifiers: [{ type: 'dns', value: 'c.web.internal' }] }, old);
    expect((await call(1, 'POST', '/acme/web/new-order', late)).json).toMatchObject({ ...badNonce, detail: 'expired nonce' });
  });

  it('prune: used nonces after their lifetime, orders and authorizations after their retention; an expired order is invalid first', async () => {
    const c = new Client();
    await c.register();
    const o = await c.post(1, '/acme/web/new-order', { identifiers: [{ type: 'dns', value: 'p.web.internal' }] });
    expect(o.status).toBe(201);
    const path = new URL(o.location).pathname;
    expect((await c.post(0, path, '')).json.status).toBe('pending');
    now += 86400_000 + 1;
    expect((await c.post(0, path, '')).json.status).toBe('invalid');
    now += NONCE_LIFETIME_MS + CLOCK_SKEW_MS + 1;
    const first = await (fronts[0] as { acme: Acme }).acme.prune();
    expect(first.nonces).toBeGreaterThan(0);
    expect(first.orders).toBe(0);
    now += ORDER_RETAIN_MS;
    const second = await (fronts[1] as { acme: Acme }).acme.prune();
    expect(second.orders).toBeGreaterThan(0);
    expect(second.authzs).toBeGreaterThan(0);
    expect((await c.post(0, path, '')).json).toMatchObject({ detail: 'no such order' });
    const left = await (stores[0] as Store).get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_orders WHERE expires_ms < ?', [
      now - ORDER_RETAIN_MS,
    ]);
    expect(Number(left?.n)).toBe(0);
  });

  it('past the used-nonce budget every nonce issued before the prune is refused, later ones are good', async () => {
    const c = new Client();
    await c.register();
    const before = await c.nonce();
    now += 1;
    const saved = ACME_BUDGETS.usedNonces;
    ACME_BUDGETS.usedNonces = 0;
    try {
      expect((await (fronts[0] as { acme: Acme }).acme.prune()).floor).toBe(now);
    } finally {
      ACME_BUDGETS.usedNonces = saved;
    }
    const order = { identifiers: [{ type: 'dns', value: 'f.web.internal' }] };
    expect((await call(1, 'POST', '/acme/web/new-order', c.body('/acme/web/new-order', order, before))).json).toMatchObject(badNonce);
    expect((await c.post(1, '/acme/web/new-order', order)).status).toBe(201);
  });

  it('the open-orders budget of an account refuses with rateLimited', async () => {
    const c = new Client();
    await c.register();
    const saved = ACME_BUDGETS.openOrdersPerAccount;
    ACME_BUDGETS.openOrdersPerAccount = 2;
    try {
      const order = { identifiers: [{ type: 'dns', value: 'r.web.internal' }] };
      expect((await c.post(0, '/acme/web/new-order', order)).status).toBe(201);
      expect((await c.post(1, '/acme/web/new-order', order)).status).toBe(201);
      const third = await c.post(0, '/acme/web/new-order', order);
      expect(third.status).toBe(429);
      expect(third.json).toMatchObject({ type: 'urn:ietf:params:acme:error:rateLimited' });
    } finally {
      ACME_BUDGETS.openOrdersPerAccount = saved;
    }
  });
});
