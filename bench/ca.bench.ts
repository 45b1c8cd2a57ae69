// The CA service over its HTTP API, in process on SQLite: issuance throughput (renewals over mTLS with
// keep-alive, 16 in flight; ECDSA P-256 and RSA-2048 requests), OCSP answer and CRL fetch latency.
// No same-run baseline yet: step-ca built from its Go module is still to come (docs/ca.md).
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
import { openssl } from '../test/support/openssl.ts';
import { type BenchResult, bestRateAsync, spreadText, stats } from './harness.ts';

const ISSUE = Number(process.env.ANCHORAGE_BENCH_CA_ISSUE ?? 300);
const OCSP = 200;

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
      const rate = await bestRateAsync(async () => {
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
      }, 2);
      agent.destroy();
      results.push({ name: `issuance over the API (${kt} requests, mTLS renewals, 16 in flight, SQLite)`, unit: 'certs/s', value: rate });
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
    results.push({
      name: 'CRL fetch latency (served from the refresh cache)',
      unit: 'ms',
      value: crl.median,
      spread: spreadText(crl, 'ms', 2),
      lowerIsBetter: true,
    });
    await server.close();
    return results;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
