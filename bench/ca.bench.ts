// The CA service over its HTTP API, in process on SQLite: issuance throughput (renewals over mTLS with
// keep-alive, 16 in flight; ECDSA P-256 and RSA-2048 requests), OCSP answer and CRL fetch latency.
// Beside it in the same run: step-ca (smallstep) v0.30.2 built from its Go module (bench/stepca/build.sh),
// configured here with a P-256 root, a JWK provisioner and a bbolt database (its file-backed store), renewing
// the same certificates over mTLS (POST /1.0/renew) with 16 in flight, and serving its CRL (step-ca has no
// OCSP responder).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, type KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
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
    const server = await startCaServer({ service: svc, tls: { chain: [own.certificate], key: apiKey }, clientCas: [] });
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
    return results;
  } finally {
    await stopStep?.();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
