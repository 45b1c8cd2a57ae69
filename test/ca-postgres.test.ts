// Two `anchorage ca serve` replicas on one PostgreSQL (Debian's, started here) issue 10,000 certificates
// at once (renewals over mTLS, split between the replicas); one replica is killed with SIGKILL mid-run and
// its clients retry on the other. Afterwards: no duplicate serial, every certificate the client saw
// acknowledged is in the database and in the transparency log, the log is gapless and verifies. Then the
// database goes down: a clear 503 refusal, nothing issued; it comes back and issuance resumes.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { parseLogExport, verifyLog } from '../src/ca/log-verify.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey } from '../src/x509/keys.ts';
import { waitFor } from './cluster/harness.ts';
import { startCaServe } from './support/ca-serve.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';

const TOTAL = Number(process.env.ANCHORAGE_CA_LOAD ?? 10_000);
const IN_FLIGHT = 48;
const root = join(import.meta.dirname, '..');
const _node = join(root, 'node_modules', '.bin', 'node');
const _main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'ca-pg-'));
const KEK = 'd'.repeat(64);

let pg: Postgres;
let store: Store;
let svc: CaService;
const replicas: { proc: ChildProcess; url: string }[] = [];
let trust = '';
let clientCert = '';
let clientKey = '';
let csr = '';

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
    ],
    { cwd: dir, what: 'ca serve replica' },
  );
  return { proc, url };
}

beforeAll(async () => {
  pg = await startPostgres('ca-pg');
  writeFileSync(join(dir, 'kek'), `${KEK}\n`, { mode: 0o600 });
  store = await openStore(pg.url);
  svc = await CaService.open({ store, kek: loadKek(KEK) });
  await svc.createCa({ name: 'api', requester: 'test', policy: { ips: ['127.0.0.1'], profiles: ['server'] } });
  await svc.createCa({ name: 'load', requester: 'test', policy: { dns: ['*.load.svc'] } });
  trust = (await svc.getCa('api')).chain.at(-1)?.toPem() as string;
  const key = generateKey('ecdsa-p256').privateKey;
  csr = createCsr({ subject: 'CN=c.load.svc', privateKey: key, sans: { dns: ['c.load.svc'] } }).toPem();
  const first = await svc.issue({ ca: 'load', csr, profile: 'client', requester: 'test' });
  clientCert = first.certificate.toPem();
  clientKey = key.export({ format: 'pem', type: 'pkcs8' }) as string;
  replicas.push(await startReplica(), await startReplica());
}, 300_000);

afterAll(async () => {
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

function renew(url: string, agent: Agent): Promise<{ status: number; body: { serial?: string; logIndex?: number; error?: string } }> {
  const data = Buffer.from(JSON.stringify({ ca: 'load', csr }));
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/v1/renew', url),
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': data.length }, timeout: 60_000 },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString()) });
          } catch (e) {
            reject(e);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

describe('two replicas on PostgreSQL', () => {
  it(`issue ${TOTAL} certificates concurrently, one replica killed mid-run: no duplicate serial, nothing acknowledged is lost`, async () => {
    const agents = replicas.map(() => new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: trust, cert: clientCert, key: clientKey }));
    const acked = new Map<string, number>();
    let next = 0;
    let retried = 0;
    let killed = false;
    const worker = async (w: number) => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        for (let attempt = 0; ; attempt++) {
          // Workers alternate between the replicas; once one is dead, all go to the other.
          const target = killed ? 0 : (w + attempt) % 2;
          const r = replicas[target] as { url: string };
          try {
            const res = await renew(r.url, agents[target] as Agent);
            if (res.status !== 201) throw new Error(`replica answered ${res.status}: ${res.body.error}`);
            expect(acked.has(res.body.serial as string)).toBe(false);
            acked.set(res.body.serial as string, res.body.logIndex as number);
            break;
          } catch (e) {
            if (attempt > 5) throw e;
            retried++;
          }
        }
        if (!killed && acked.size >= TOTAL / 3) {
          killed = true;
          replicas[1]?.proc.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)));
    for (const a of agents) a.destroy();
    expect(killed).toBe(true);
    expect(acked.size).toBe(TOTAL);

    const rows = await store.all<{ serial: string; log_index: number }>("SELECT serial, log_index FROM ca_certificates WHERE ca = 'load'");
    const inDb = new Map(rows.map((r) => [r.serial, Number(r.log_index)]));
    expect(new Set(rows.map((r) => r.serial)).size).toBe(rows.length);
    const missing = [...acked].filter(([s, idx]) => inDb.get(s) !== idx);
    expect(missing).toEqual([]);
    // Every certificate in the database (acknowledged or cut off by the kill) has its log entry; the log has no gap.
    const log = parseLogExport(JSON.stringify(await svc.exportLog()));
    const logged = new Map<string, number>();
    log.entries.forEach((e, i) => {
      const x = JSON.parse(e) as { type: string; serial?: string };
      if (x.type === 'renew' || x.type === 'issue') logged.set(x.serial as string, i);
    });
    expect([...inDb].filter(([s, idx]) => logged.get(s) !== idx)).toEqual([]);
    const gaps = await store.get<{ n: number; top: number }>('SELECT COUNT(*) AS n, MAX(idx) AS top FROM ca_log');
    expect(Number(gaps?.top) + 1).toBe(Number(gaps?.n));
    expect(verifyLog(log).problems).toEqual([]);
    process.stderr.write(`ca-postgres: ${TOTAL} acknowledged, ${rows.length - 1} in the database, ${retried} retried after the kill\n`);
  }, 1_800_000);

  it('the database down: 503 with the reason, nothing issued; back up: issuance resumes', async () => {
    const agent = new Agent({ keepAlive: false, ca: trust, cert: clientCert, key: clientKey });
    const url = (replicas[0] as { url: string }).url;
    const before = Number((await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM ca_certificates'))?.n);
    await pg.stop();
    const down = await renew(url, agent);
    expect(down.status).toBe(503);
    expect(down.body.error).toMatch(/unavailable/);
    await pg.start();
    await waitFor('replica back on the database', async () => (await renew(url, agent)).status === 201, 60_000, 500);
    expect(Number((await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM ca_certificates'))?.n)).toBe(before + 1);
    agent.destroy();
  }, 180_000);
});
