// CA keys on a PKCS#11 token: a throw-away SoftHSM token (Debian's softhsm2, test/deps.sh) in a temp dir,
// SOFTHSM2_CONF pointing at it. `anchorage ca create --key-store pkcs11:…` makes the CA key on the token;
// `ca issue` signs a server certificate, `ca serve` (its own TLS certificate from a second token CA) answers
// a CRL and OCSP, and openssl verifies all three (verify -CAfile, crl -verify, ocsp -CAfile). The private
// keys are sensitive and never extractable (OpenSC's pkcs11-tool reads the token independently), the store
// holds only their URIs, no file outside the token dir holds a private key. Wrong PIN, a missing object, a
// missing token and a missing module: one line, non-zero exit.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import { freePort } from './cluster/harness.ts';
import { startCaServe } from './support/ca-serve.ts';
import { openssl } from './support/openssl.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'pkcs11-ca-'));
const tokenDir = join(dir, 'tokens');
const TOKEN = 'anchorage-test';
const PIN = '246810';
const env: NodeJS.ProcessEnv = {
  ...process.env,
  SOFTHSM2_CONF: join(dir, 'softhsm2.conf'),
  ANCHORAGE_CA_DB: `sqlite:${join(dir, 'ca.db')}`,
  ANCHORAGE_CA_KEK_SPEC: `file:${join(dir, 'kek')}`,
  ANCHORAGE_PKCS11_PIN_SPEC: `file:${join(dir, 'pin')}`,
};
delete env.ANCHORAGE_PKCS11_MODULE;
delete env.ANCHORAGE_PKCS11_PIN;

/** SoftHSM's module where Debian puts it (the CLI finds it the same way). */
const MODULE = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
function cli(extraEnv: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
function cli(first: string | NodeJS.ProcessEnv, ...rest: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const extra = typeof first === 'string' ? {} : first;
  const args = typeof first === 'string' ? [first, ...rest] : rest;
  return new Promise((resolve) => {
    const p = spawn(node, [main, ...args], { cwd: dir, env: { ...env, ...extra } });
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

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8' });
const p11tool = (...args: string[]) => run('pkcs11-tool', ['--module', MODULE as string, '--token-label', TOKEN, ...args]);

/** Ask the token itself for a private key's value (CKA_VALUE), through the PKCS#11 API: the refusal's code. */
function readPrivateValue(label: string): string {
  const p = createRequire(import.meta.url)('pkcs11js');
  const m = new p.PKCS11();
  process.env.SOFTHSM2_CONF = env.SOFTHSM2_CONF;
  m.load(MODULE);
  m.C_Initialize();
  try {
    const slot = m.C_GetSlotList(true).find((s: Buffer) => m.C_GetTokenInfo(s).label.trim() === TOKEN);
    const s = m.C_OpenSession(slot, p.CKF_SERIAL_SESSION);
    m.C_Login(s, p.CKU_USER, PIN);
    m.C_FindObjectsInit(s, [
      { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
      { type: p.CKA_LABEL, value: label },
    ]);
    const [key] = m.C_FindObjects(s, 2);
    m.C_FindObjectsFinal(s);
    try {
      m.C_GetAttributeValue(s, key, [{ type: p.CKA_VALUE }]);
      return 'read';
    } catch (e) {
      return /CKR_[A-Z_]+/.exec((e as Error).message)?.[0] ?? (e as Error).message;
    }
  } finally {
    m.C_Finalize();
  }
}

let serve: ChildProcess | undefined;
let pubPort = 0;
let api = '';

beforeAll(async () => {
  expect(MODULE, 'SoftHSM (softhsm2) is installed by test/deps.sh').toBeDefined();
  mkdirSync(tokenDir, { mode: 0o700 });
  writeFileSync(env.SOFTHSM2_CONF as string, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const init = run('softhsm2-util', ['--init-token', '--free', '--label', TOKEN, '--so-pin', '13579135', '--pin', PIN]);
  expect(init.status, init.stderr).toBe(0);
  writeFileSync(join(dir, 'pin'), `${PIN}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'kek'), `${'d'.repeat(64)}\n`, { mode: 0o600 });
  pubPort = await freePort();
}, 60_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const done = new Promise((r) => serve?.once('exit', r));
    serve.kill('SIGTERM');
    await done;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('a CA whose key lives on a SoftHSM token', () => {
  it('ca create --key-store makes the key on the token (ECDSA P-256, and RSA)', async () => {
    const web = await cli(
      'ca',
      'create',
      'web',
      '--key-store',
      `pkcs11:token=${TOKEN};object=web-ca`,
      '--allow-dns',
      '*.web.svc',
      '--public-url',
      `http://127.0.0.1:${pubPort}`,
    );
    expect([web.code, web.stderr]).toEqual([0, '']);
    expect(web.stdout).toMatch(/^created CA web: CN=web CA,O=Anchorage \(ecdsa-p256, key on PKCS#11 token, until /);
    const apiCa = await cli('ca', 'create', 'api', '--key-store', `pkcs11:token=${TOKEN};object=api-ca`, '--allow-ip', '127.0.0.1');
    expect([apiCa.code, apiCa.stderr]).toEqual([0, '']);
    const rsa = await cli(
      'ca',
      'create',
      'legacy',
      '--key-type',
      'rsa-2048',
      '--key-store',
      `pkcs11:token=${TOKEN};object=legacy-ca`,
      '--allow-dns',
      '*.example',
    );
    expect([rsa.code, rsa.stderr]).toEqual([0, '']);
    for (const ca of ['web', 'api', 'legacy']) {
      const c = await cli('ca', 'chain', ca, '--root-only', '--out', `${ca}-root.pem`);
      expect(c.code, c.stderr).toBe(0);
      // A self-signed CA certificate signed on the token: openssl checks its signature.
      const v = run('openssl', ['verify', '-CAfile', `${ca}-root.pem`, `${ca}-root.pem`]);
      expect(v.stdout, v.stderr).toContain('OK');
    }
  }, 480_000);

  it('the private keys are sensitive, never extractable, and nowhere but on the token', async () => {
    const list = p11tool('--login', '--pin', PIN, '--list-objects', '--type', 'privkey');
    expect(list.status, list.stderr).toBe(0);
    for (const label of ['web-ca', 'api-ca', 'legacy-ca']) {
      const block = list.stdout.split(/\n(?=\S)/).find((b) => b.includes(`label:      ${label}\n`)) ?? '';
      expect(block, list.stdout).toMatch(/Usage:\s+sign\n/);
      expect(block, list.stdout).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
    }
    // Asked for the private value, the token refuses (CKR_ATTRIBUTE_SENSITIVE).
    expect(readPrivateValue('web-ca')).toBe('CKR_ATTRIBUTE_SENSITIVE');
    // The store keeps each CA key's URI, never a sealed key.
    const store = await openStore(env.ANCHORAGE_CA_DB as string);
    try {
      const rows = await store.all<{ ca: string; key_sealed: string }>('SELECT ca, key_sealed FROM ca_generations ORDER BY ca');
      expect(rows.map((r) => r.ca)).toEqual(['api', 'legacy', 'web']);
      for (const r of rows) expect(r.key_sealed).toMatch(new RegExp(`^pkcs11:token=${TOKEN};object=${r.ca}-ca;id=(%[0-9a-f]{2}){16}$`));
    } finally {
      await store.close();
    }
    // No file outside the token directory holds a private key (PEM or the token's PIN-protected blobs).
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (p === tokenDir) continue;
        if (e.isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(dir);
    for (const f of files) expect(readFileSync(f).toString('latin1'), f).not.toMatch(/PRIVATE KEY-----/);
  }, 120_000);

  it('ca issue signs a server certificate on the token; openssl verifies it (ECDSA and RSA CAs)', async () => {
    for (const [ca, name, san] of [
      ['web', 'srv', 'DNS:srv.web.svc'],
      ['web', 'old', 'DNS:old.web.svc'],
      ['legacy', 'leg', 'DNS:leg.example'],
    ] as const) {
      const r = await cli('ca', 'issue', ca, '--san', san, '--profile', 'server', '--out', `${name}.crt`);
      expect([r.code, r.stderr]).toEqual([0, '']);
      const v = run('openssl', ['verify', '-CAfile', `${ca}-root.pem`, '-purpose', 'sslserver', `${name}.crt`]);
      expect(v.stdout.trim(), v.stderr).toBe(`${name}.crt: OK`);
    }
    const text = run('openssl', ['x509', '-in', 'leg.crt', '-noout', '-text']).stdout;
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
  }, 480_000);

  it('ca serve: its API certificate, the CRL and OCSP answers are signed on the token; openssl verifies them', async () => {
    const revoke = await cli('ca', 'revoke', 'web', '--identity', 'DNS:old.web.svc', '--reason', 'keyCompromise');
    expect([revoke.code, revoke.stderr]).toEqual([0, '']);
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
      { cwd: dir, env, ms: 90_000 },
    ));
    // The API's own certificate was issued by the token CA 'api': a TLS handshake verifies it.
    const tls = run('openssl', [
      's_client',
      '-connect',
      api.replace('https://', '').replace(/\/.*$/, ''),
      '-CAfile',
      'api-root.pem',
      '-verify_return_error',
      '-brief',
    ]);
    expect(tls.stderr).toMatch(/Verification: OK/);

    const pub = `http://127.0.0.1:${pubPort}`;
    const crl = Buffer.from(await (await fetch(`${pub}/crl/web`)).arrayBuffer());
    writeFileSync(join(dir, 'web.crl.der'), crl);
    const crlCheck = run('openssl', ['crl', '-inform', 'DER', '-in', 'web.crl.der', '-CAfile', 'web-root.pem', '-noout', '-text']);
    expect(crlCheck.stderr.trim(), crlCheck.stdout).toBe('verify OK');
    expect(crlCheck.stdout).toMatch(/Key Compromise/);
    openssl(dir, 'crl', '-inform', 'DER', '-in', 'web.crl.der', '-out', 'web.crl.pem');
    const good = run('openssl', ['verify', '-crl_check', '-CAfile', 'web-root.pem', '-CRLfile', 'web.crl.pem', 'srv.crt']);
    expect(good.stdout.trim(), good.stderr).toBe('srv.crt: OK');
    const bad = run('openssl', ['verify', '-crl_check', '-CAfile', 'web-root.pem', '-CRLfile', 'web.crl.pem', 'old.crt']);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/certificate revoked/);

    const ocsp = (cert: string) =>
      run('openssl', ['ocsp', '-issuer', 'web-root.pem', '-cert', cert, '-url', `${pub}/ocsp/web`, '-CAfile', 'web-root.pem']);
    const ok = ocsp('srv.crt');
    expect(ok.stdout).toContain('srv.crt: good');
    expect(ok.stderr).toContain('Response verify OK');
    const revoked = ocsp('old.crt');
    expect(revoked.stdout).toMatch(/old\.crt: revoked[\s\S]*Reason: keyCompromise/);
    expect(revoked.stderr).toContain('Response verify OK');
  }, 480_000);

  it('ca rotate begin makes the next key on the same token; after switch it issues and openssl verifies', async () => {
    const begin = await cli('ca', 'rotate', 'begin', 'legacy');
    expect([begin.code, begin.stderr]).toEqual([0, '']);
    const list = p11tool('--login', '--pin', PIN, '--list-objects', '--type', 'privkey');
    const block = list.stdout.split(/\n(?=\S)/).find((b) => b.includes('label:      legacy-ca-gen2\n')) ?? '';
    expect(block, list.stdout).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
    const sw = await cli('ca', 'rotate', 'switch', 'legacy');
    expect([sw.code, sw.stderr]).toEqual([0, '']);
    const b = await cli('ca', 'bundle', 'legacy', '--out', 'legacy-bundle.pem');
    expect(b.code, b.stderr).toBe(0);
    const r = await cli('ca', 'issue', 'legacy', '--san', 'DNS:next.example', '--out', 'next.crt');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const v = run('openssl', ['verify', '-CAfile', 'legacy-bundle.pem', 'next.crt']);
    expect(v.stdout.trim(), v.stderr).toBe('next.crt: OK');
  }, 480_000);

  it('a ca create interrupted after the token made its key: the rerun takes that key over; a key it did not make is refused', async () => {
    // `ca create` interrupted after the token made its key and before the store recorded the CA: the service,
    // in this process over the same database, whose store fails the write (what a kill at that point leaves).
    process.env.SOFTHSM2_CONF = env.SOFTHSM2_CONF;
    const store = await openStore(env.ANCHORAGE_CA_DB as string);
    const svc = await CaService.open({
      store,
      kek: loadKek(env.ANCHORAGE_CA_KEK_SPEC as string),
      pkcs11: { module: MODULE as string, pin: () => PIN },
    });
    store.transaction = () => Promise.reject(new Error('killed'));
    for (const [name, object] of [
      ['orphan', 'orphan-ca'],
      ['orphan2', 'orphan-p256'],
    ] as const)
      await expect(
        svc.createCa({ name, requester: 'test', keyStore: `pkcs11:token=${TOKEN};object=${object}`, policy: { dns: ['*.orphan'] } }),
      ).rejects.toThrow('killed');
    svc.closeKeys();
    await store.close();
    const labelled = (label: string, type: string) =>
      p11tool('--login', '--pin', PIN, '--list-objects', '--type', type)
        .stdout.split(/\n(?=\S)/)
        .filter((b) => b.includes(`label:      ${label}\n`)).length;
    expect([labelled('orphan-ca', 'privkey'), labelled('orphan-ca', 'pubkey')]).toEqual([1, 1]);
    const rerun = await cli('ca', 'create', 'orphan', '--key-store', `pkcs11:token=${TOKEN};object=orphan-ca`, '--allow-dns', '*.orphan');
    expect([rerun.code, rerun.stderr]).toEqual([0, '']);
    // The CA certificate holds the key the token already had (pkcs11-tool reads it), and no second key was made.
    expect([labelled('orphan-ca', 'privkey'), labelled('orphan-ca', 'pubkey')]).toEqual([1, 1]);
    const pub = p11tool('--read-object', '--type', 'pubkey', '--label', 'orphan-ca', '--output-file', join(dir, 'orphan.pub.der'));
    expect(pub.status, pub.stderr).toBe(0);
    expect((await cli('ca', 'chain', 'orphan', '--root-only', '--out', 'orphan-root.pem')).code).toBe(0);
    const certPub = run('openssl', ['x509', '-in', 'orphan-root.pem', '-pubkey', '-noout']);
    const tokenPub = run('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', join(dir, 'orphan.pub.der')]);
    expect(certPub.stdout).toContain('BEGIN PUBLIC KEY');
    expect(certPub.stdout).toBe(tokenPub.stdout);
    const issued = await cli('ca', 'issue', 'orphan', '--san', 'DNS:a.orphan', '--out', 'a.orphan.crt');
    expect([issued.code, issued.stderr]).toEqual([0, '']);
    const v = run('openssl', ['verify', '-CAfile', 'orphan-root.pem', 'a.orphan.crt']);
    expect(v.stdout.trim(), v.stderr).toBe('a.orphan.crt: OK');
    // A rerun that asks for another key type: one line, the key stays.
    const other = await cli('ca', 'create', 'orphan2', '--key-type', 'rsa-2048', '--key-store', `pkcs11:token=${TOKEN};object=orphan-p256`);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(
      /^error: PKCS#11 token 'anchorage-test' holds an unused ecdsa-p256 key 'orphan-p256' left by an interrupted run, not rsa-2048: [^\n]+\n$/,
    );
    expect(labelled('orphan-p256', 'privkey')).toBe(1);
    // A key pair someone else made with that label (pkcs11-tool) is never taken over.
    const foreign = p11tool('--login', '--pin', PIN, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'foreign-ca');
    expect(foreign.status, foreign.stderr).toBe(0);
    const taken = await cli('ca', 'create', 'foreign', '--key-store', `pkcs11:token=${TOKEN};object=foreign-ca`);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/already holds an object labelled 'foreign-ca'/);
  }, 480_000);

  it('bad input: wrong PIN, missing object, missing token, missing module: one line, non-zero exit', async () => {
    const oneLine = (r: { code: number; stdout: string; stderr: string }, re: RegExp) => {
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^error: [^\n]+\n$/);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toContain(PIN);
    };
    oneLine(
      await cli({ WRONG_PIN: '000000' }, 'ca', 'crl', 'web', '--out', 'x.crl', '--pkcs11-pin', 'env:WRONG_PIN'),
      /wrong PIN for PKCS#11 token 'anchorage-test'/,
    );
    oneLine(
      await cli('ca', 'issue', 'web', '--san', 'DNS:x.web.svc', '--out', 'x.crt', '--pkcs11-module', join(dir, 'no-such-module.so')),
      /PKCS#11 module \S+no-such-module\.so does not exist/,
    );
    oneLine(
      await cli('ca', 'create', 'nope', '--key-store', 'pkcs11:token=no-such-token;object=k'),
      /no PKCS#11 token labelled 'no-such-token'/,
    );
    oneLine(
      await cli('ca', 'create', 'twice', '--key-store', `pkcs11:token=${TOKEN};object=web-ca`),
      /already holds an object labelled 'web-ca'/,
    );
    oneLine(
      await cli('ca', 'create', 'pin-in-uri', '--key-store', `pkcs11:token=${TOKEN};object=x?pin-value=${PIN}`),
      /a PIN|query attributes/,
    );
    // A CA whose key was removed from the token: its next signature is refused with the reason.
    const gone = await cli('ca', 'create', 'gone', '--key-store', `pkcs11:token=${TOKEN};object=gone-ca`);
    expect(gone.code, gone.stderr).toBe(0);
    for (const type of ['privkey', 'pubkey']) {
      const del = p11tool('--login', '--pin', PIN, '--delete-object', '--type', type, '--label', 'gone-ca');
      expect(del.status, del.stderr).toBe(0);
    }
    oneLine(
      await cli('ca', 'crl', 'gone', '--out', 'gone.crl'),
      /no private key pkcs11:token=anchorage-test;object=gone-ca;id=\S+ on PKCS#11 token/,
    );
  }, 480_000);
});
