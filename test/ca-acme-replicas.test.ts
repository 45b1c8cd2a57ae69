// ACME across replicas: two `anchorage ca serve --acme` processes on one PostgreSQL (Debian's, started here)
// behind a round-robin front (test/support/round-robin.ts) that sends each request to the other replica on a
// fresh connection. Debian's certbot obtains a certificate over http-01 through it (its new-account, new-order,
// challenge, finalize and download land on alternating replicas) and openssl verifies it against the CA.
// A nonce is taken once by the database: a request replayed to the other replica is refused with badNonce, and
// of one request sent to both replicas at once exactly one is accepted.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey } from '../src/x509/keys.ts';
import { freePort } from './cluster/harness.ts';
import { startCaServe } from './support/ca-serve.ts';
import { openssl } from './support/openssl.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';
import { type RoundRobin, startRoundRobin } from './support/round-robin.ts';

const root = join(import.meta.dirname, '..');
const _node = join(root, 'node_modules', '.bin', 'node');
const _main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'caacme-replicas-'));
const KEK = 'a1'.repeat(32);
let pg: Postgres;
let store: Store;
let svc: CaService;
let front: RoundRobin;
let apiRoot = '';
let httpPort = 0;
const replicas: { proc: ChildProcess; url: string }[] = [];

async function startReplica(): Promise<{ proc: ChildProcess; url: string }> {
  const { proc, url } = await startCaServe(
    [
      '--db',
      pg.url,
      '--kek',
      `file:${join(dir, 'kek')}`,
      '--listen',
      '127.0.0.1:0',
      '--public-listen',
      '127.0.0.1:0',
      '--tls-ca',
      'api',
      '--server-name',
      'IP:127.0.0.1',
      '--acme',
      '--acme-http-port',
      String(httpPort),
      '--acme-resolve',
      '127.0.0.1',
    ],
    { cwd: dir, what: 'ca serve replica' },
  );
  return { proc, url };
}

beforeAll(async () => {
  pg = await startPostgres('caacme-pg');
  writeFileSync(join(dir, 'kek'), `${KEK}\n`, { mode: 0o600 });
  store = await openStore(pg.url);
  svc = await CaService.open({ store, kek: loadKek(KEK) });
  await svc.createCa({ name: 'api', requester: 'test', policy: { ips: ['127.0.0.1'], profiles: ['server'] } });
  await svc.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.internal'], profiles: ['server'] } });
  apiRoot = (await svc.getCa('api')).chain.at(-1)?.toPem() as string;
  writeFileSync(join(dir, 'api-root.pem'), apiRoot);
  writeFileSync(join(dir, 'web-root.pem'), (await svc.getCa('web')).chain.at(-1)?.toPem() as string);
  httpPort = await freePort();
  // One after the other: both apply the same migrations (each once, under the migration lock) either way.
  replicas.push(await startReplica(), await startReplica());
  // The front's own certificate, from the same CA as the replicas' (clients trust one root).
  const key = generateKey('ecdsa-p256').privateKey;
  const own = await svc.issue({
    ca: 'api',
    csr: createCsr({ subject: '', privateKey: key, sans: { ip: ['127.0.0.1'] } }).toPem(),
    profile: 'server',
    requester: 'test',
  });
  front = await startRoundRobin({
    upstreams: replicas.map((r) => r.url),
    ca: apiRoot,
    cert: own.certificate.toPem(),
    key: key.export({ format: 'pem', type: 'pkcs8' }) as string,
  });
}, 300_000);

afterAll(async () => {
  await front?.close();
  for (const r of replicas)
    if (r.proc.exitCode === null && r.proc.signalCode === null) {
      const done = new Promise((res) => r.proc.once('exit', res));
      r.proc.kill('SIGTERM');
      await done;
    }
  await store?.close();
  await pg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** A command run without blocking this process's event loop; killed after 300 s. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8000);
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

describe('ACME on two replicas behind a round-robin front', () => {
  it('certbot obtains a certificate over http-01 with its requests spread over both replicas; openssl verifies it', async () => {
    // Not spawnSync: the front runs in this process and must keep answering.
    const r = await run(
      'certbot',
      [
        'certonly',
        '--standalone',
        '--http-01-port',
        String(httpPort),
        '--http-01-address',
        '127.0.0.1',
        '-d',
        'rr.web.internal',
        '--server',
        `${front.url}/acme/web/directory`,
        '--agree-tos',
        '--register-unsafely-without-email',
        '--non-interactive',
        '--config-dir',
        join(dir, 'cb', 'config'),
        '--work-dir',
        join(dir, 'cb', 'work'),
        '--logs-dir',
        join(dir, 'cb', 'logs'),
      ],
      { ...process.env, REQUESTS_CA_BUNDLE: join(dir, 'api-root.pem') },
    );
    expect(r.status, `${r.stderr}\n${front.seen.join('\n')}`).toBe(0);
    const live = join(dir, 'cb', 'config', 'live', 'rr.web.internal');
    expect(openssl(live, 'verify', '-CAfile', join(dir, 'web-root.pem'), '-purpose', 'sslserver', 'cert.pem').trim()).toBe('cert.pem: OK');
    expect(openssl(live, 'x509', '-in', 'cert.pem', '-noout', '-ext', 'subjectAltName')).toContain('DNS:rr.web.internal');
    // Each step of the order was a POST; both replicas answered some of them, and the steps after the order
    // was created (challenge, polling, finalize, download) also went to the replica that did not create it.
    const posts = front.seen.filter((s) => s.startsWith('POST /acme/web/'));
    const where = (s: string) => Number(s.slice(s.lastIndexOf(' ') + 1));
    expect(new Set(posts.map(where)), front.seen.join('\n')).toEqual(new Set([0, 1]));
    const made = posts.findIndex((s) => s.includes('/new-order'));
    expect(made, front.seen.join('\n')).toBeGreaterThanOrEqual(0);
    const later = posts.slice(made + 1);
    expect(
      later.some((s) => /\/(chall|finalize|order|cert)\//.test(s) && where(s) !== where(posts[made] as string)),
      front.seen.join('\n'),
    ).toBe(true);
    expect(
      later.some((s) => s.includes('/finalize/')),
      front.seen.join('\n'),
    ).toBe(true);
  }, 300_000);

  it('a request replayed to the other replica is refused with badNonce; sent to both at once, exactly one is accepted', async () => {
    const [a, b] = replicas.map((r) => r.url) as [string, string];
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const j = publicKey.export({ format: 'jwk' });
    const jwk = { crv: j.crv as string, kty: j.kty as string, x: j.x as string, y: j.y as string };
    // Both replicas are addressed under the front's name (the JWS url is checked against the Host header).
    const host = `127.0.0.1:${front.port}`;
    const url = `${front.url}/acme/web/new-account`;
    const call = (to: string, method: string, path: string, body?: string) =>
      new Promise<{ status: number; nonce: string; json: Record<string, unknown> }>((resolve, reject) => {
        const req = request(
          new URL(path, to),
          {
            method,
            ca: apiRoot,
            agent: false,
            headers: { host, ...(body ? { 'content-type': 'application/jose+json', 'content-length': Buffer.byteLength(body) } : {}) },
            timeout: 60_000,
          },
          (res) => {
            let t = '';
            res.on('data', (d: Buffer) => {
              t += d;
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                nonce: String(res.headers['replay-nonce'] ?? ''),
                json: t ? (JSON.parse(t) as Record<string, unknown>) : {},
              }),
            );
          },
        );
        req.on('timeout', () => req.destroy(new Error('no answer in 60s')));
        req.on('error', reject);
        req.end(body);
      });
    const signed = (key: KeyObject, nonce: string) => {
      const p64 = Buffer.from(JSON.stringify({ alg: 'ES256', nonce, url, jwk })).toString('base64url');
      const b64 = Buffer.from(JSON.stringify({ termsOfServiceAgreed: true })).toString('base64url');
      const signature = sign('sha256', Buffer.from(`${p64}.${b64}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      return JSON.stringify({ protected: p64, payload: b64, signature });
    };
    const fresh = async (from: string) => (await call(from, 'HEAD', '/acme/web/new-nonce')).nonce;

    const body = signed(privateKey, await fresh(a));
    const first = await call(a, 'POST', '/acme/web/new-account', body);
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    const replay = await call(b, 'POST', '/acme/web/new-account', body);
    expect(replay.status).toBe(400);
    expect(replay.json).toMatchObject({ type: 'urn:ietf:params:acme:error:badNonce' });
    // The same on the replica that took it.
    expect((await call(a, 'POST', '/acme/web/new-account', body)).json).toMatchObject({ type: 'urn:ietf:params:acme:error:badNonce' });

    // A nonce from one replica is good on the other (once): the account is found there.
    const across = await call(b, 'POST', '/acme/web/new-account', signed(privateKey, await fresh(a)));
    expect(across.status, JSON.stringify(across.json)).toBe(200);

    // One request to both replicas at the same moment: the database lets one through.
    const both = signed(privateKey, await fresh(b));
    const answers = await Promise.all([a, b].map((to) => call(to, 'POST', '/acme/web/new-account', both)));
    expect(answers.map((x) => x.status).sort()).toEqual([200, 400]);
    expect(answers.find((x) => x.status === 400)?.json).toMatchObject({ type: 'urn:ietf:params:acme:error:badNonce' });
  }, 120_000);
});
