// The CA service over its HTTP API, in process on SQLite: issuance throughput (renewals over mTLS with
// keep-alive, 16 in flight; ECDSA P-256 and RSA-2048 requests), OCSP answer and CRL fetch latency.
// Beside it in the same run: step-ca (smallstep) v0.30.2 built from its Go module (bench/stepca/build.sh),
// configured here with a P-256 root, a JWK provisioner and a bbolt database (its file-backed store), renewing
// the same certificates over mTLS (POST /1.0/renew) with 16 in flight, and serving its CRL (step-ca has no
// OCSP responder). ACME: whole orders (new-order, authorization, http-01 answered by a server in this process,
// finalize, download) with 8 in flight, state in the same SQLite store.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKek } from '../src/ca/kek.ts';
import { startCaServer } from '../src/ca/server.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey, type KeyType } from '../src/x509/keys.ts';
import { freePort } from '../test/cluster/harness.ts';
import { openssl } from '../test/support/openssl.ts';
import { type BenchResult, spreadText, stats } from './harness.ts';

const ISSUE = Number(process.env.ANCHORAGE_BENCH_CA_ISSUE ?? 300);
const OCSP = 200;
const ROUNDS = Number(process.env.ANCHORAGE_BENCH_CA_ROUNDS ?? 5);
const ACME_ORDERS = Number(process.env.ANCHORAGE_BENCH_CA_ACME ?? 100);
/** ANCHORAGE_BENCH_CA_PEER=skip: Anchorage only (step-ca's first build takes half an hour or more). */
const PEER = process.env.ANCHORAGE_BENCH_CA_PEER !== 'skip';

function post(url: string, body: Uint8Array, type: string, agent?: Agent): Promise<{ status: number; body: Buffer }> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      u,
      { method: 'POST', ...(agent ? { agent } : {}), headers: { 'content-type': type, 'content-length': body.length } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

function get(url: string, agent?: Agent): Promise<{ status: number; body: Buffer }> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(u, { ...(agent ? { agent } : {}) }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

const b64u = (d: Buffer | string): string => Buffer.from(d).toString('base64url');

/** step-ca with a P-256 root that signs directly (as the Anchorage CA here does), a JWK provisioner, bbolt, CRLs on. */
async function startStepCa(
  dir: string,
): Promise<{ url: string; root: string; token: (sub: string) => string; stop: () => Promise<void>; crlUrl: string; log: () => string }> {
  const bin = execFileSync('bash', [join(import.meta.dirname, 'stepca', 'build.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1) as string;
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'step-root.key',
    '-out',
    'step-root.crt',
    '-subj',
    '/CN=step bench root',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  );
  const prov = generateKey('ecdsa-p256').privateKey as KeyObject;
  const jwk = prov.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
  const kid = b64u(
    createHash('sha256')
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest(),
  );
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'ca.json'),
    JSON.stringify({
      root: join(dir, 'step-root.crt'),
      crt: join(dir, 'step-root.crt'),
      key: join(dir, 'step-root.key'),
      address: `127.0.0.1:${port}`,
      dnsNames: ['127.0.0.1'],
      logger: { format: 'text' },
      db: { type: 'bbolt', dataSource: join(dir, 'step.db') },
      crl: { enabled: true, generateOnRevoke: true, cacheDuration: '24h' },
      authority: {
        provisioners: [
          {
            type: 'JWK',
            name: 'bench',
            key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, use: 'sig', alg: 'ES256' },
            claims: { maxTLSCertDuration: '720h', defaultTLSCertDuration: '720h' },
          },
        ],
      },
    }),
  );
  const child: ChildProcess = spawn(bin, [join(dir, 'ca.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const root = readFileSync(join(dir, 'step-root.crt'), 'utf8');
  const agent = new Agent({ ca: root });
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`step-ca exited: ${log.slice(-2000)}`);
    const ok = await get(`${url}/health`, agent).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > end) throw new Error(`step-ca did not start: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  agent.destroy();
  const token = (sub: string): string => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64u(JSON.stringify({ alg: 'ES256', kid, typ: 'JWT' }));
    const body = b64u(
      JSON.stringify({
        iss: 'bench',
        sub,
        aud: `${url}/1.0/sign`,
        sans: [sub],
        iat: now,
        nbf: now - 60,
        exp: now + 300,
        jti: randomUUID(),
      }),
    );
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: prov, dsaEncoding: 'ieee-p1363' });
    return `${head}.${body}.${b64u(sig)}`;
  };
  return {
    url,
    root,
    token,
    log: () => log,
    crlUrl: `${url}/1.0/crl`,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * An ACME client for the bench (ES256 account key, one account): `order()` runs one whole order over
 * http-01, its key authorization served from `answers` by the http-01 server the bench starts.
 */
async function acmeClient(directory: string, agent: Agent, answers: Map<string, string>, csrDer: Uint8Array) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const j = publicKey.export({ format: 'jwk' });
  const jwk = { crv: j.crv as string, kty: j.kty as string, x: j.x as string, y: j.y as string };
  const thumb = b64u(createHash('sha256').update(JSON.stringify(jwk)).digest());
  let kid = '';
  const call = (url: string, method: string, body?: string) =>
    new Promise<{ status: number; headers: Record<string, string>; text: string }>((resolve, reject) => {
      const r = request(
        url,
        { method, agent, headers: body ? { 'content-type': 'application/jose+json', 'content-length': Buffer.byteLength(body) } : {} },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, text }));
          res.on('error', reject);
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  const dir = JSON.parse((await call(directory, 'GET')).text) as Record<string, string>;
  /** One chain of nonces per worker: each answer's nonce signs that worker's next request. */
  const worker = async () => {
    let nonce = (await call(dir.newNonce as string, 'HEAD')).headers['replay-nonce'] as string;
    const post = async (url: string, payload: unknown, want: number) => {
      const p64 = b64u(JSON.stringify({ alg: 'ES256', nonce, url, ...(kid ? { kid } : { jwk }) }));
      const body64 = payload === '' ? '' : b64u(JSON.stringify(payload));
      const signature = b64u(sign('sha256', Buffer.from(`${p64}.${body64}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      const r = await call(url, 'POST', JSON.stringify({ protected: p64, payload: body64, signature }));
      nonce = r.headers['replay-nonce'] as string;
      if (r.status !== want) throw new Error(`ACME ${url} answered ${r.status}: ${r.text}`);
      return r;
    };
    return post;
  };
  const first = await worker();
  kid = (await first(dir.newAccount as string, { termsOfServiceAgreed: true }, 201)).headers.location as string;
  return {
    worker,
    async order(post: Awaited<ReturnType<typeof worker>>, name: string): Promise<void> {
      const o = await post(dir.newOrder as string, { identifiers: [{ type: 'dns', value: name }] }, 201);
      const order = JSON.parse(o.text) as { authorizations: string[]; finalize: string };
      const authz = JSON.parse((await post(order.authorizations[0] as string, '', 200)).text) as {
        challenges: { type: string; url: string; token: string }[];
      };
      const ch = authz.challenges.find((c) => c.type === 'http-01') as { url: string; token: string };
      answers.set(ch.token, `${ch.token}.${thumb}`);
      const done = JSON.parse((await post(ch.url, {}, 200)).text) as { status: string };
      answers.delete(ch.token);
      if (done.status !== 'valid') throw new Error(`http-01 not valid: ${JSON.stringify(done)}`);
      const fin = JSON.parse((await post(order.finalize, { csr: b64u(Buffer.from(csrDer)) }, 200)).text) as { certificate: string };
      await post(fin.certificate, '', 200);
    },
  };
}

/** Rates (ops/s) of `rounds` runs of `round` (which returns how many operations it did). */
async function rates(round: () => Promise<number>, rounds: number): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const ops = await round();
    out.push(ops / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return out;
}

async function latencies(n: number, f: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-ca-'));
  const store = await openStore(`sqlite:${join(dir, 'ca.db')}`);
  let stopStep: (() => Promise<void>) | undefined;
  try {
    const svc = await CaService.open({ store, kek: loadKek('f'.repeat(64)) });
    await svc.createCa({ name: 'api', requester: 'bench', policy: { ips: ['127.0.0.1'], profiles: ['server'] } });
    await svc.createCa({ name: 'web', requester: 'bench', policy: { dns: ['*.web.svc'], maxDays: 30 } });
    const apiKey = generateKey('ecdsa-p256').privateKey;
    const own = await svc.issue({
      ca: 'api',
      csr: createCsr({ subject: '', privateKey: apiKey, sans: { ip: ['127.0.0.1'] } }).toPem(),
      requester: 'bench',
    });
    // The http-01 answers for the ACME rows, served on loopback as a client's web server would.
    const answers = new Map<string, string>();
    const challenges = createHttpServer((req, res) => {
      const a = answers.get((req.url ?? '').split('/').pop() ?? '');
      res.writeHead(a ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(a ?? '');
    });
    await new Promise<void>((r) => challenges.listen(0, '127.0.0.1', () => r()));
    const challengePort = (challenges.address() as { port: number }).port;
    const server = await startCaServer({
      service: svc,
      tls: { chain: [own.certificate], key: apiKey },
      clientCas: [],
      acme: { httpPort: challengePort, resolve: '127.0.0.1' },
    });
    const trust = (await svc.getCa('api')).chain[0]?.toPem() as string;
    const results: BenchResult[] = [];
    const step = PEER ? await startStepCa(dir) : undefined;
    stopStep = step?.stop;

    for (const kt of ['ecdsa-p256', 'rsa-2048'] as KeyType[]) {
      const key = generateKey(kt).privateKey;
      const csr = createCsr({ subject: 'CN=b.web.svc', privateKey: key, sans: { dns: ['b.web.svc'] } }).toPem();
      const first = await svc.issue({ ca: 'web', csr, profile: 'client', requester: 'bench' });
      const agent = new Agent({
        keepAlive: true,
        maxSockets: 16,
        ca: trust,
        cert: first.certificate.toPem(),
        key: key.export({ format: 'pem', type: 'pkcs8' }) as string,
      });
      const body = Buffer.from(JSON.stringify({ ca: 'web', csr }));
      const rate = stats(
        await rates(async () => {
          let next = 0;
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (next++ < ISSUE) {
                const r = await post(`https://127.0.0.1:${server.apiPort}/v1/renew`, body, 'application/json', agent);
                if (r.status !== 201) throw new Error(`renew answered ${r.status}: ${r.body}`);
              }
            }),
          );
          return ISSUE;
        }, ROUNDS),
      );
      agent.destroy();

      // step-ca: the first certificate with a JWK one-time token, then renewals with it over mTLS.
      let stepRate: ReturnType<typeof stats> | undefined;
      if (step) {
        const signed = await post(
          `${step.url}/1.0/sign`,
          Buffer.from(JSON.stringify({ csr, ott: step.token('b.web.svc') })),
          'application/json',
          new Agent({ ca: step.root }),
        );
        if (signed.status !== 201) throw new Error(`step-ca sign answered ${signed.status}: ${signed.body}\n${step.log().slice(-3000)}`);
        const stepAgent = new Agent({
          keepAlive: true,
          maxSockets: 16,
          ca: step.root,
          cert: (JSON.parse(signed.body.toString()) as { crt: string }).crt,
          key: key.export({ format: 'pem', type: 'pkcs8' }) as string,
        });
        const empty = Buffer.alloc(0);
        stepRate = stats(
          await rates(async () => {
            let next = 0;
            await Promise.all(
              Array.from({ length: 16 }, async () => {
                while (next++ < ISSUE) {
                  const r = await post(`${step.url}/1.0/renew`, empty, 'application/json', stepAgent);
                  if (r.status !== 201) throw new Error(`step-ca renew answered ${r.status}: ${r.body}`);
                }
              }),
            );
            return ISSUE;
          }, ROUNDS),
        );
        stepAgent.destroy();
      }
      results.push({
        name: `issuance over the API (${kt} keys, mTLS renewals, 16 in flight; Anchorage on SQLite, step-ca on bbolt)`,
        unit: 'certs/s',
        value: rate.median,
        spread: spreadText(rate, 'certs/s', 1),
        ...(stepRate
          ? { baseline: { name: 'step-ca 0.30.2 /1.0/renew', value: stepRate.median, spread: spreadText(stepRate, 'certs/s', 1) } }
          : {}),
      });
    }

    // ACME: whole orders, 8 in flight on one account, each with its own chain of nonces.
    {
      const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: trust });
      const csrDer = createCsr({ subject: '', privateKey: generateKey('ecdsa-p256').privateKey, sans: { dns: ['a.web.svc'] } }).der;
      const client = await acmeClient(`https://127.0.0.1:${server.apiPort}/acme/web/directory`, agent, answers, csrDer);
      const workers = await Promise.all(Array.from({ length: 8 }, () => client.worker()));
      const rate = stats(
        await rates(async () => {
          let next = 0;
          await Promise.all(
            workers.map(async (post) => {
              while (next++ < ACME_ORDERS) await client.order(post, 'a.web.svc');
            }),
          );
          return ACME_ORDERS;
        }, ROUNDS),
      );
      agent.destroy();
      results.push({
        name: 'ACME issuance (whole orders: new-order, authz, http-01, finalize, download; 8 in flight; SQLite)',
        unit: 'certs/s',
        value: rate.median,
        spread: spreadText(rate, 'certs/s', 1),
      });
    }

    // OCSP: one certificate, each answer freshly signed. (openssl's own responder, `openssl ocsp -port`,
    // cannot be bound to loopback only, so it is not run as a baseline here.)
    const leaf = await svc.issue({
      ca: 'web',
      csr: createCsr({ subject: 'CN=o.web.svc', privateKey: generateKey('ecdsa-p256').privateKey, sans: { dns: ['o.web.svc'] } }).toPem(),
      requester: 'bench',
    });
    writeFileSync(join(dir, 'web.pem'), (await svc.getCa('web')).chain[0]?.toPem() as string);
    writeFileSync(join(dir, 'leaf.pem'), leaf.certificate.toPem());
    openssl(dir, 'ocsp', '-issuer', 'web.pem', '-cert', 'leaf.pem', '-reqout', 'ours.req');
    const oursReq = readFileSync(join(dir, 'ours.req'));
    const ours = stats(
      await latencies(OCSP, async () => {
        const r = await post(`http://127.0.0.1:${server.publicPort}/ocsp/web`, oursReq, 'application/ocsp-request');
        if (r.status !== 200) throw new Error(`OCSP ${r.status}`);
      }),
    );
    results.push({
      name: 'OCSP answer latency (one certificate, signed per request, P-256 CA, SQLite)',
      unit: 'ms',
      value: ours.median,
      spread: spreadText(ours, 'ms', 2),
      lowerIsBetter: true,
    });
    const crl = stats(
      await latencies(OCSP, async () => {
        await new Promise<void>((resolve, reject) =>
          httpRequest(`http://127.0.0.1:${server.publicPort}/crl/web`, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`CRL ${res.statusCode}`))));
          }).end(),
        );
      }),
    );
    const crlAgent = step ? new Agent({ ca: step.root, keepAlive: true, maxSockets: 1 }) : undefined;
    const stepCrl =
      step && crlAgent
        ? stats(
            await latencies(OCSP, async () => {
              const r = await get(step.crlUrl, crlAgent);
              if (r.status !== 200) throw new Error(`step-ca CRL ${r.status}`);
            }),
          )
        : undefined;
    results.push({
      name: 'CRL fetch latency (served from the refresh cache)',
      unit: 'ms',
      value: crl.median,
      spread: spreadText(crl, 'ms', 2),
      lowerIsBetter: true,
      ...(stepCrl
        ? {
            baseline: {
              name: 'step-ca 0.30.2 GET /1.0/crl (HTTPS, keep-alive)',
              value: stepCrl.median,
              spread: spreadText(stepCrl, 'ms', 2),
            },
          }
        : {}),
    });
    crlAgent?.destroy();
    await server.close();
    await new Promise((r) => challenges.close(r));
    return results;
  } finally {
    await stopStep?.();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
