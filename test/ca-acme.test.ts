// ACME (RFC 8555) with a real client: Debian's certbot (installed by test/deps.sh) obtains a certificate
// from `anchorage ca serve --acme` over http-01 (certbot's standalone server answers the challenge on a
// free loopback port); a name outside the CA's policy is refused at finalize, and the refusal is audited.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { freePort, waitFor } from './cluster/harness.ts';
import { openssl } from './support/openssl.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'ca-acme-'));
const db = `sqlite:${join(dir, 'ca.db')}`;
let store: Store;
let svc: CaService;
let serve: ChildProcess;
let api = '';
let httpPort = 0;

beforeAll(async () => {
  writeFileSync(join(dir, 'kek'), `${'e'.repeat(64)}\n`, { mode: 0o600 });
  store = await openStore(db);
  svc = await CaService.open({ store, kek: loadKek(`file:${join(dir, 'kek')}`) });
  await svc.createCa({ name: 'api', requester: 'test', policy: { ips: ['127.0.0.1'], profiles: ['server'] } });
  await svc.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.internal'], profiles: ['server'] } });
  writeFileSync(join(dir, 'api-root.pem'), (await svc.getCa('api')).chain.at(-1)?.toPem() as string);
  writeFileSync(join(dir, 'web-root.pem'), (await svc.getCa('web')).chain.at(-1)?.toPem() as string);
  httpPort = await freePort();
  serve = spawn(
    node,
    [
      main,
      'ca',
      'serve',
      '--db',
      db,
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
    { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  serve.stdout?.on('data', (d: Buffer) => {
    out += d;
  });
  await waitFor(
    'ca serve',
    () => {
      api = /api (https:\/\/\S+)/.exec(out)?.[1] ?? '';
      return api !== '';
    },
    60_000,
    100,
  );
}, 120_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const done = new Promise((r) => serve.once('exit', r));
    serve.kill('SIGTERM');
    await done;
  }
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const certbot = (domain: string) =>
  spawnSync(
    'certbot',
    [
      'certonly',
      '--standalone',
      '--http-01-port',
      String(httpPort),
      '--http-01-address',
      '127.0.0.1',
      '-d',
      domain,
      '--server',
      `${api}/acme/web/directory`,
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
    { encoding: 'utf8', env: { ...process.env, REQUESTS_CA_BUNDLE: join(dir, 'api-root.pem') }, timeout: 300_000 },
  );

describe('ACME with certbot', () => {
  it('certbot obtains a certificate over http-01; openssl verifies it against the CA', () => {
    const r = certbot('srv.web.internal');
    expect(r.status, r.stderr).toBe(0);
    const live = join(dir, 'cb', 'config', 'live', 'srv.web.internal');
    expect(existsSync(join(live, 'fullchain.pem'))).toBe(true);
    expect(openssl(live, 'verify', '-CAfile', join(dir, 'web-root.pem'), '-purpose', 'sslserver', 'cert.pem').trim()).toBe('cert.pem: OK');
    expect(openssl(live, 'x509', '-in', 'cert.pem', '-noout', '-ext', 'subjectAltName')).toContain('DNS:srv.web.internal');
  }, 300_000);

  it('a name outside the policy is refused at finalize, with the reason, and audited', async () => {
    const r = certbot('evil.example.org');
    expect(r.status).not.toBe(0);
    expect(existsSync(join(dir, 'cb', 'config', 'live', 'evil.example.org'))).toBe(false);
    // The order's error carries the reason. Debian's certbot 2.1 then trips over its own error class on
    // Python 3.11+ ("AttributeError: can't set attribute", fixed upstream in certbot 2.2), so the reason
    // is read from certbot's debug log, which records the server's answers.
    const log = readFileSync(join(dir, 'cb', 'logs', 'letsencrypt.log'), 'utf8');
    expect(log).toMatch(/rejectedIdentifier :: .*refused by the policy of web: DNS name evil\.example\.org is outside the policy/);
    const audit = await svc.audit('web', 10);
    expect(audit.find((a) => a.outcome === 'refused')).toMatchObject({
      requester: expect.stringMatching(/^acme:/),
      reason: expect.stringMatching(/outside the policy/),
    });
    expect(audit.find((a) => a.outcome === 'issued')).toMatchObject({ requester: expect.stringMatching(/^acme:/) });
  }, 300_000);
});
