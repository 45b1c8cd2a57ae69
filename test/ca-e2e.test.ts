// End to end over the API: `anchorage ca serve` (a real process) with a server and a client of one
// service enrolling through `anchorage ca enroll` with one-time tokens; a TLS server with the issued
// certificate accepts the issued client and refuses a client of another service; after
// `anchorage ca revoke`, the CRL fetched over HTTP (`openssl verify -crl_check`), OCSP over HTTP
// (`openssl ocsp -url`) and the TLS server loaded with that CRL all refuse it. Renewal by mTLS;
// the log fetched from the server verifies offline with `anchorage ca log verify`.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { freePort } from './cluster/harness.ts';
import { startCaServe } from './support/ca-serve.ts';
import { openssl } from './support/openssl.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'ca-e2e-'));
const db = `sqlite:${join(dir, 'ca.db')}`;
const env = { ...process.env, ANCHORAGE_CA_DB: db, ANCHORAGE_CA_KEK_SPEC: `file:${join(dir, 'kek')}` };

/** The CLI, asynchronously (several run at once). */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(node, [main, ...args], { cwd: dir, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    p.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let store: Store;
let svc: CaService;
let serve: ChildProcess;
let api = '';
let pubPort = 0;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  writeFileSync(join(dir, 'kek'), `${'c'.repeat(64)}\n`, { mode: 0o600 });
  store = await openStore(db);
  svc = await CaService.open({ store, kek: loadKek(`file:${join(dir, 'kek')}`) });
  pubPort = await freePort();
  const publicUrl = `http://127.0.0.1:${pubPort}`;
  await svc.createCa({ name: 'api', requester: 'test', policy: { ips: ['127.0.0.1'], profiles: ['server'] } });
  await svc.createCa({ name: 'web', requester: 'test', publicUrl, policy: { dns: ['*.web.svc'] } });
  await svc.createCa({ name: 'other', requester: 'test', publicUrl, policy: { dns: ['*.other.svc'] } });
  for (const [ca, n] of [
    ['api', 'api'],
    ['web', 'web'],
    ['other', 'other'],
  ] as const)
    writeFileSync(join(dir, `${n}-root.pem`), (await svc.getCa(ca)).chain.at(-1)?.toPem() as string);
  tokens.server = (await svc.createToken('web', ['DNS:srv.web.svc'], 'server', 600)).token;
  tokens.client = (await svc.createToken('web', ['DNS:cli.web.svc'], 'client', 600)).token;
  tokens.other = (await svc.createToken('other', ['DNS:cli.other.svc'], 'client', 600)).token;
  ({ proc: serve, url: api } = await startCaServe(
    [
      '--listen',
      '127.0.0.1:0',
      '--public-listen',
      `127.0.0.1:${pubPort}`,
      '--tls-ca',
      'api',
      '--server-name',
      'IP:127.0.0.1',
      '--crl-refresh',
      '0',
    ],
    { cwd: dir, env },
  ));
}, 180_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const done = new Promise((r) => serve.once('exit', r));
    serve.kill('SIGTERM');
    await done;
  }
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const enroll = (name: string, ca: string, token: string, id: string) =>
  cli(
    'ca',
    'enroll',
    '--url',
    api,
    '--trust',
    'api-root.pem',
    '--ca',
    ca,
    '--token',
    token,
    '--name',
    id,
    '--out',
    `${name}.crt`,
    '--key-out',
    `${name}.key`,
  );

/** A TLS handshake from a client certificate to the server; resolves with what the server answered or the error. */
function handshake(port: number, name: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      servername: 'srv.web.svc',
      ca: readFileSync(join(dir, 'web-root.pem')),
      cert: readFileSync(join(dir, `${name}.crt`)),
      key: readFileSync(join(dir, `${name}.key`)),
    });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d;
    });
    s.on('end', () => resolve(got || 'closed'));
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.setTimeout(20_000, () => s.destroy(new Error('timeout')));
  });
}

function tlsServer(crl?: Buffer): Promise<{ server: Server; port: number }> {
  const server = createServer(
    {
      cert: readFileSync(join(dir, 'srv.crt')),
      key: readFileSync(join(dir, 'srv.key')),
      ca: readFileSync(join(dir, 'web-root.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      ...(crl ? { crl } : {}),
    },
    (s) => s.end(`hello ${s.getPeerCertificate().subject?.CN}`),
  );
  server.on('tlsClientError', () => undefined);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

describe('ca serve: enrolment, mTLS, revocation over CRL and OCSP', () => {
  it('a server and a client of web and a client of other enrol with one-time tokens; a replayed token is refused', async () => {
    const rs = await Promise.all([
      enroll('srv', 'web', tokens.server as string, 'DNS:srv.web.svc'),
      enroll('cli', 'web', tokens.client as string, 'DNS:cli.web.svc'),
      enroll('oth', 'other', tokens.other as string, 'DNS:cli.other.svc'),
    ]);
    for (const r of rs) expect([r.code, r.stderr]).toEqual([0, '']);
    expect(openssl(dir, 'verify', '-CAfile', 'web-root.pem', '-purpose', 'sslserver', 'srv.crt').trim()).toBe('srv.crt: OK');
    expect(openssl(dir, 'verify', '-CAfile', 'web-root.pem', '-purpose', 'sslclient', 'cli.crt').trim()).toBe('cli.crt: OK');
    const replay = await enroll('again', 'web', tokens.client as string, 'DNS:cli.web.svc');
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(/^error: CA refused \(403\): bootstrap token already used/);
    const outside = await cli(
      'ca',
      'enroll',
      '--url',
      api,
      '--trust',
      'api-root.pem',
      '--ca',
      'nope',
      '--token',
      'atk_x',
      '--name',
      'DNS:a.web.svc',
      '--out',
      'x.crt',
    );
    expect(outside.stderr).toMatch(/CA refused \(404\): unknown CA 'nope'/);
  }, 120_000);

  it("the TLS server accepts web's client and refuses other's", async () => {
    const { server, port } = await tlsServer();
    expect(await handshake(port, 'cli')).toBe('hello cli.web.svc');
    expect(await handshake(port, 'oth')).toMatch(/^error: |^closed$/);
    server.close();
  });

  it('renewal over mTLS with the current certificate gives a new serial for the same name', async () => {
    const r = await cli(
      'ca',
      'renew',
      '--url',
      api,
      '--trust',
      'api-root.pem',
      '--ca',
      'web',
      '--cert',
      'srv.crt',
      '--key',
      'srv.key',
      '--out',
      'srv2.crt',
      '--key-out',
      'srv2.key',
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    const a = openssl(dir, 'x509', '-in', 'srv.crt', '-noout', '-serial', '-ext', 'subjectAltName');
    const b = openssl(dir, 'x509', '-in', 'srv2.crt', '-noout', '-serial', '-ext', 'subjectAltName');
    expect(a.split('\n')[0]).not.toBe(b.split('\n')[0]);
    expect(b).toContain('DNS:srv.web.svc');
    // Another CA's certificate cannot renew at web.
    const wrong = await cli(
      'ca',
      'renew',
      '--url',
      api,
      '--trust',
      'api-root.pem',
      '--ca',
      'web',
      '--cert',
      'oth.crt',
      '--key',
      'oth.key',
      '--out',
      'w.crt',
    );
    expect(wrong.stderr).toMatch(/CA refused \(403\): the presented certificate was not issued by this CA/);
  }, 120_000);

  it('after ca revoke: CRL over HTTP, OCSP over HTTP and the TLS server refuse the client', async () => {
    const pub = `http://127.0.0.1:${pubPort}`;
    const ocsp = () =>
      spawnSync('openssl', ['ocsp', '-issuer', 'web-root.pem', '-cert', 'cli.crt', '-url', `${pub}/ocsp/web`, '-CAfile', 'web-root.pem'], {
        cwd: dir,
        encoding: 'utf8',
      });
    const before = ocsp();
    expect(before.stdout).toContain('cli.crt: good');
    expect(before.stderr).toContain('Response verify OK');
    const rev = await cli('ca', 'revoke', 'web', '--identity', 'DNS:cli.web.svc', '--reason', 'keyCompromise');
    expect([rev.code, rev.stdout]).toEqual([0, expect.stringMatching(/^revoked [0-9a-f]+\n$/)]);
    const after = ocsp();
    expect(after.stdout).toMatch(/cli\.crt: revoked[\s\S]*Reason: keyCompromise/);
    expect(after.stderr).toContain('Response verify OK');
    const crl = Buffer.from(await (await fetch(`${pub}/crl/web`)).arrayBuffer());
    writeFileSync(join(dir, 'web.crl.der'), crl);
    openssl(dir, 'crl', '-inform', 'DER', '-in', 'web.crl.der', '-out', 'web.crl.pem');
    const v = spawnSync('openssl', ['verify', '-crl_check', '-CAfile', 'web-root.pem', '-CRLfile', 'web.crl.pem', 'cli.crt'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(v.status).not.toBe(0);
    expect(v.stdout + v.stderr).toMatch(/certificate revoked/);
    const { server, port } = await tlsServer(readFileSync(join(dir, 'web.crl.pem')));
    expect(await handshake(port, 'cli')).toMatch(/^error: |^closed$/);
    server.close();
    // Renewal with the revoked certificate is refused too.
    const renew = await cli(
      'ca',
      'renew',
      '--url',
      api,
      '--trust',
      'api-root.pem',
      '--ca',
      'web',
      '--cert',
      'cli.crt',
      '--key',
      'cli.key',
      '--out',
      'r.crt',
    );
    expect(renew.stderr).toMatch(/CA refused \(403\): the presented certificate [0-9a-f]+ is revoked/);
  }, 120_000);

  it('the log from the server verifies offline and proves the server certificate was recorded', async () => {
    writeFileSync(join(dir, 'log.json'), await (await fetch(`http://127.0.0.1:${pubPort}/log`)).text());
    const r = await cli('ca', 'log', 'verify', 'log.json', '--cert', 'srv.crt');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: verified\ncertificate [0-9a-f]+ included at index \d+\n$/);
    const audit = await svc.audit('web', 100);
    expect(audit.filter((a) => a.outcome === 'refused').map((a) => a.reason)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/already used/),
        expect.stringMatching(/is revoked/),
        expect.stringMatching(/not issued by this CA/),
      ]),
    );
  }, 60_000);
});
