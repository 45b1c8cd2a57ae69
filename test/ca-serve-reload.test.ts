// `ca serve` keeps its TLS context current while it runs, checked with a Go client (test/ca-tls-client), the
// peer that cares: Go's crypto/tls sends its client certificate only when the certificate's issuer is among
// the CA names in the server's CertificateRequest.
// - A CA created after start-up: before a reload a Go client holding its certificate cannot renew (it sends no
//   certificate: 401); after SIGHUP the CA is named (openssl s_client lists it) and the same client renews.
// - The API's own certificate, issued by --tls-ca for a short life here, is renewed at two thirds of it and
//   served without a restart; Go verifies the new one against the CA's root. (That server also prunes at start.)
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { waitFor } from './cluster/harness.ts';
import { startCaServe } from './support/ca-serve.ts';
import { openssl } from './support/openssl.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ca-reload-'));
const db = `sqlite:${join(dir, 'ca.db')}`;
const env = { ...process.env, ANCHORAGE_CA_DB: db, ANCHORAGE_CA_KEK_SPEC: `file:${join(dir, 'kek')}` };
let store: Store;
let svc: CaService;
let goClient = '';
const procs: ChildProcess[] = [];

/** `ca serve` as a process; resolves with its API URL and a view of its stderr. */
async function serve(
  tlsCa: string,
  reload: string,
  extra: string[] = [],
): Promise<{ p: ChildProcess; api: string; port: number; err: () => string }> {
  const {
    proc: p,
    url: api,
    err,
  } = await startCaServe(
    [
      '--listen',
      '127.0.0.1:0',
      '--public-listen',
      '127.0.0.1:0',
      '--tls-ca',
      tlsCa,
      '--server-name',
      'IP:127.0.0.1',
      '--reload',
      reload,
      ...extra,
    ],
    { cwd: dir, env, what: `ca serve --tls-ca ${tlsCa}` },
  );
  procs.push(p);
  return { p, api, port: Number(new URL(api).port), err };
}

/** One request by the Go client: [status, body]. */
function go(args: string[]): [number, string] {
  const out = execFileSync(goClient, args, { cwd: dir, encoding: 'utf8', timeout: 180_000 });
  const nl = out.indexOf('\n');
  return [Number(out.slice(0, nl)), out.slice(nl + 1)];
}

beforeAll(async () => {
  goClient = execFileSync('bash', [join(root, 'test', 'ca-tls-client', 'build.sh')], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop() as string;
  expect(dirname(goClient)).toContain('ca-tls-client');
  writeFileSync(join(dir, 'kek'), `${'d'.repeat(64)}\n`, { mode: 0o600 });
  store = await openStore(db);
  svc = await CaService.open({ store, kek: loadKek(`file:${join(dir, 'kek')}`) });
  await svc.createCa({ name: 'api', requester: 'test', policy: { ips: ['127.0.0.1'], profiles: ['server'] } });
  // 45 s asked, plus the minute notBefore is backdated: renewal is due 10 s after issuance.
  await svc.createCa({
    name: 'short',
    requester: 'test',
    policy: { ips: ['127.0.0.1'], profiles: ['server'], maxDays: 1, defaultDays: 45 / 86400 },
  });
  writeFileSync(join(dir, 'api-root.pem'), (await svc.getCa('api')).chain.at(-1)?.toPem() as string);
  writeFileSync(join(dir, 'short-root.pem'), (await svc.getCa('short')).chain.at(-1)?.toPem() as string);
}, 300_000);

afterAll(async () => {
  for (const p of procs)
    if (p.exitCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ca serve reloads its TLS context', () => {
  it('names a CA created after start-up once reloaded (SIGHUP): a Go client holding its certificate renews only then', async () => {
    const s = await serve('api', '0');
    // The CA appears after the server started; a client certificate from it, for a key openssl made.
    await svc.createCa({ name: 'late', requester: 'test', policy: { dns: ['*.late.svc'], profiles: ['client'] } });
    for (const n of ['late', 'late2'])
      openssl(
        dir,
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${n}.key`,
        '-out',
        `${n}.csr`,
        '-subj',
        '/CN=app.late.svc',
        '-addext',
        'subjectAltName=DNS:app.late.svc',
      );
    const issued = await svc.issue({ ca: 'late', csr: readFileSync(join(dir, 'late.csr'), 'utf8'), profile: 'client', requester: 'test' });
    writeFileSync(join(dir, 'late.crt'), issued.certificate.toPem());
    writeFileSync(join(dir, 'renew.json'), JSON.stringify({ ca: 'late', csr: readFileSync(join(dir, 'late2.csr'), 'utf8') }));
    const renew = ['-url', `${s.api}/v1/renew`, '-ca', 'api-root.pem', '-cert', 'late.crt', '-key', 'late.key', '-body', 'renew.json'];
    const names = () =>
      execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${s.port}`, '-CAfile', 'api-root.pem'], {
        cwd: dir,
        input: '',
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['pipe', 'pipe', 'pipe'],
      });

    const [before, why] = go(renew);
    expect(before, why).toBe(401);
    expect(why).toContain('renewal needs the current certificate');
    expect(names()).not.toContain('CN = late CA');

    s.p.kill('SIGHUP');
    await waitFor('the reload', () => s.err().includes('reloaded client CAs'), 60_000, 100);
    expect(names()).toMatch(/Acceptable client certificate CA names[\s\S]*CN = late CA/);
    const [after, body] = go(renew);
    expect(after, body).toBe(201);
    const renewed = JSON.parse(body) as { certificate: string };
    writeFileSync(join(dir, 'late-renewed.crt'), renewed.certificate);
    writeFileSync(join(dir, 'late-root.pem'), (await svc.getCa('late')).chain.at(-1)?.toPem() as string);
    expect(openssl(dir, 'verify', '-CAfile', 'late-root.pem', '-purpose', 'sslclient', 'late-renewed.crt').trim()).toBe(
      'late-renewed.crt: OK',
    );
  }, 300_000);

  it('renews its own certificate at two thirds of its life and serves the new one without a restart', async () => {
    const s = await serve('short', '1', ['--prune-expired-for', '30d']);
    const served = () =>
      execFileSync('bash', ['-c', `openssl s_client -connect 127.0.0.1:${s.port} </dev/null 2>/dev/null | openssl x509 -noout -serial`], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
      }).trim();
    const first = served();
    expect(first).toMatch(/^serial=/);
    await waitFor('a renewed API certificate', () => served() !== first, 240_000, 500);
    // The log line travels on stderr, not on the TLS connection that showed the change: wait for it too.
    await waitFor('the renewal logged', () => /reloaded API certificate renewed: serial /.test(s.err()), 60_000, 100);
    // --prune-expired-for pruned at start (nothing had been expired for 30 days).
    expect(s.err()).toMatch(/^pruned 0 certificate record\(s\) and 0 token\(s\) expired before \S+$/m);
    // Go connects to the renewed server and verifies its certificate against the CA's root.
    const [status, body] = go(['-url', `${s.api}/v1/cas/short`, '-ca', 'short-root.pem']);
    expect(status, body).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ name: 'short' });
  }, 300_000);
});
