// CA rotation with overlap, with openssl as the oracle: `ca rotate begin` publishes a new key beside the
// old one (the trust bundle holds both; nothing is issued with the new one yet), `switch` issues with the
// new key while certificates of the old one still verify against the bundle, with each generation's CRL
// and OCSP answers signed by its own key; `retire` is refused while the old key's certificates are still
// valid or another CA's chain runs through it, then drops it from the bundle and destroys its key.
// The rotation steps run through the CLI, issuance in process, on one SQLite store; the transparency log
// records each step.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { verifyLog } from '../src/ca/log-verify.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey } from '../src/x509/keys.ts';
import { scanPem } from '../src/x509/pem.ts';
import { anchorage } from './cluster/harness.ts';
import { openssl } from './support/openssl.ts';

const dir = mkdtempSync(join(tmpdir(), 'ca2-rotate-'));
const db = `sqlite:${join(dir, 'ca.db')}`;
const kekFile = join(dir, 'kek');
const ca = (...args: string[]) => anchorage(['ca', ...args, '--db', db, '--kek', `file:${kekFile}`]);
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
};
const refused = (r: { code: number; stdout: string; stderr: string }) => {
  expect(r.code).toBe(2);
  return r.stderr;
};
const verify = (...args: string[]) => spawnSync('openssl', ['verify', ...args], { cwd: dir, encoding: 'utf8' });
const certCount = (file: string) => (readFileSync(join(dir, file), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length;

async function issue(name: string, ca_ = 'web'): Promise<string> {
  const key = generateKey('ecdsa-p256').privateKey;
  const csr = createCsr({ subject: `CN=${name}.web.svc`, privateKey: key, sans: { dns: [`${name}.web.svc`] } }).toPem();
  const r = await svc.issue({ ca: ca_, csr, requester: 'test' });
  writeFileSync(join(dir, `${name}.crt`), r.certificate.toPem());
  return `${name}.crt`;
}
const serialOf = (file: string) => openssl(dir, 'x509', '-in', file, '-noout', '-serial').trim().replace('serial=', '').toLowerCase();
const revoke = (file: string, reason: 'superseded' | 'keyCompromise') =>
  svc.revoke({ ca: 'web', serial: serialOf(file), reason, requester: 'test' });
const writeBundle = async (name: string, file: string) =>
  writeFileSync(join(dir, file), (await svc.trustBundle(name)).map((c) => c.toPem()).join(''));

let store: Store;
let svc: CaService;

beforeAll(async () => {
  expect(anchorage(['ca', 'kek', '--out', kekFile]).code).toBe(0);
  store = await openStore(db);
  svc = await CaService.open({ store, kek: loadKek(`file:${kekFile}`) });
  await svc.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.svc'] }, publicUrl: 'http://127.0.0.1:1' });
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ca rotate: begin, switch, retire', () => {
  it('publishes the new key first, then issues with it while the old one stays trusted, then retires the old one', async () => {
    await issue('a'); // generation 1
    await writeBundle('web', 'bundle1.pem');
    expect(certCount('bundle1.pem')).toBe(1);
    writeFileSync(join(dir, 'gen1.pem'), readFileSync(join(dir, 'bundle1.pem')));

    // begin: both in the bundle, still issuing with generation 1.
    expect(ok(ca('rotate', 'begin', 'web'))).toContain('generation 2');
    refused(ca('rotate', 'begin', 'web'));
    ok(ca('bundle', 'web', '--out', join(dir, 'bundle2.pem')));
    expect(certCount('bundle2.pem')).toBe(2);
    await issue('b');
    expect(verify('-CAfile', 'gen1.pem', 'b.crt').stdout.trim()).toBe('b.crt: OK');
    const gens = JSON.parse(ok(ca('generations', 'web', '-o', 'json'))) as { gen: number; state: string }[];
    expect(gens.map((g) => [g.gen, g.state])).toEqual([
      [1, 'active'],
      [2, 'next'],
    ]);

    // switch: generation 2 issues; generation 1's certificates still verify against the bundle.
    ok(ca('rotate', 'switch', 'web'));
    await issue('c');
    await issue('d');
    const gen2Only = readFileSync(join(dir, 'bundle2.pem'), 'utf8').replace(readFileSync(join(dir, 'gen1.pem'), 'utf8'), '');
    writeFileSync(join(dir, 'gen2.pem'), gen2Only);
    expect(certCount('gen2.pem')).toBe(1);
    expect(verify('-CAfile', 'gen1.pem', 'c.crt').status).not.toBe(0);
    expect(verify('-CAfile', 'gen2.pem', 'c.crt').stdout.trim()).toBe('c.crt: OK');
    expect(verify('-CAfile', 'gen2.pem', 'a.crt').status).not.toBe(0);
    for (const f of ['a.crt', 'b.crt', 'c.crt']) expect(verify('-CAfile', 'bundle2.pem', f).stdout.trim()).toBe(`${f}: OK`);
    // Same subject, another key: told apart by the key identifiers.
    const subj = (f: string) => openssl(dir, 'x509', '-in', f, '-noout', '-subject');
    expect(subj('gen1.pem')).toBe(subj('gen2.pem'));
    // Each certificate names its generation's CRL.
    expect(openssl(dir, 'x509', '-in', 'a.crt', '-noout', '-ext', 'crlDistributionPoints')).toContain('URI:http://127.0.0.1:1/crl/web\n');
    expect(openssl(dir, 'x509', '-in', 'c.crt', '-noout', '-ext', 'crlDistributionPoints')).toContain('URI:http://127.0.0.1:1/crl/web/2');

    // Revocation in both generations: each CRL signed by its own key, read by openssl together.
    await revoke('a.crt', 'superseded');
    await revoke('c.crt', 'keyCompromise');
    for (const g of [1, 2]) {
      writeFileSync(join(dir, `crl${g}.der`), await svc.crl('web', 3600, g));
      openssl(dir, 'crl', '-inform', 'DER', '-in', `crl${g}.der`, '-out', `crl${g}.pem`);
    }
    expect(
      spawnSync('openssl', ['crl', '-in', 'crl1.pem', '-CAfile', 'gen1.pem', '-noout'], { cwd: dir, encoding: 'utf8' }).stderr,
    ).toMatch(/verify OK/);
    const crlVerify = (f: string) => verify('-crl_check', '-CAfile', 'bundle2.pem', '-CRLfile', 'crl1.pem', '-CRLfile', 'crl2.pem', f);
    for (const f of ['a.crt', 'c.crt']) expect(crlVerify(f).stdout + crlVerify(f).stderr).toMatch(/certificate revoked/);
    for (const f of ['b.crt', 'd.crt']) expect(crlVerify(f).stdout.trim()).toBe(`${f}: OK`);

    // OCSP: the generation the request names answers, signed with its key.
    const ocsp = async (cert: string, issuer: string) => {
      openssl(dir, 'ocsp', '-issuer', issuer, '-cert', cert, '-reqout', 'req.der');
      writeFileSync(join(dir, 'resp.der'), await svc.ocsp('web', readFileSync(join(dir, 'req.der'))));
      return spawnSync(
        'openssl',
        ['ocsp', '-respin', 'resp.der', '-reqin', 'req.der', '-CAfile', issuer, '-verify_other', issuer, '-resp_text'],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
    };
    let o = await ocsp('a.crt', 'gen1.pem');
    expect(o.stdout).toMatch(/Cert Status: revoked[\s\S]*Revocation Reason: superseded/);
    expect(o.stderr).toContain('Response verify OK');
    o = await ocsp('b.crt', 'gen1.pem');
    expect(o.stdout).toMatch(/Cert Status: good/);
    expect(o.stderr).toContain('Response verify OK');
    o = await ocsp('d.crt', 'gen2.pem');
    expect(o.stdout).toMatch(/Cert Status: good/);
    expect(o.stderr).toContain('Response verify OK');

    // retire: refused while b (generation 1) is still valid; b renews onto generation 2 by being re-issued, then revoked.
    expect(refused(ca('rotate', 'retire', 'web'))).toContain("generation 1 of CA 'web' still has 1 valid, unrevoked certificate(s)");
    await revoke('b.crt', 'superseded');
    expect(ok(ca('rotate', 'retire', 'web'))).toContain('generation 1 retired');
    await writeBundle('web', 'bundle3.pem');
    expect(readFileSync(join(dir, 'bundle3.pem'), 'utf8')).toBe(gen2Only);
    expect(verify('-CAfile', 'bundle3.pem', 'b.crt').status).not.toBe(0);
    expect(verify('-CAfile', 'bundle3.pem', 'd.crt').stdout.trim()).toBe('d.crt: OK');
    // The old key is gone from the store; its CRL can no longer be signed.
    const row = await store.get<{ key_sealed: string | null; state: string }>(
      'SELECT key_sealed, state FROM ca_generations WHERE ca = ? AND gen = 1',
      ['web'],
    );
    expect(row).toEqual({ key_sealed: null, state: 'retired' });
    await expect(svc.crl('web', 3600, 1)).rejects.toThrow(/generation 1 of CA 'web' is retired/);
    await expect(svc.retire('web', 'test')).rejects.toThrow("CA 'web' has no previous generation to retire");

    // Every step is in the transparency log, which still verifies.
    const log = await svc.exportLog();
    expect(verifyLog(log, { cert: new Certificate(scanPem(readFileSync(join(dir, 'd.crt'), 'utf8'))[0]?.der as Uint8Array) }).ok).toBe(
      true,
    );
    const reasons = log.entries.map((e) => JSON.parse(e) as { type: string; reason?: string }).filter((e) => e.type === 'ca');
    expect(reasons.map((e) => e.reason ?? 'created')).toEqual([
      'created',
      'generation 2 created (published, not issuing yet)',
      'generation 2 issues from now on',
      'generation 1 retired',
    ]);
  });

  it('retires a parent generation only after the CAs under it have rotated onto the new one', async () => {
    await svc.createCa({ name: 'root', requester: 'test', policy: { dns: ['*.web.svc'] } });
    await svc.createCa({ name: 'svc', parent: 'root', requester: 'test', policy: { dns: ['*.web.svc'] } });
    await svc.rotateBegin({ name: 'root', requester: 'test' });
    await svc.rotateSwitch('root', 'test');
    await expect(svc.retire('root', 'test')).rejects.toThrow('still signs svc (generation 1): rotate those first');
    await svc.rotateBegin({ name: 'svc', requester: 'test' });
    await svc.rotateSwitch('svc', 'test');
    expect(await svc.retire('svc', 'test')).toEqual([1]);
    expect(await svc.retire('root', 'test')).toEqual([1]);
    await issue('e', 'svc');
    await writeBundle('root', 'root-bundle.pem');
    expect(certCount('root-bundle.pem')).toBe(1);
    writeFileSync(join(dir, 'svc-chain.pem'), (await svc.getCa('svc')).chain.map((c) => c.toPem()).join(''));
    expect(verify('-CAfile', 'root-bundle.pem', '-untrusted', 'svc-chain.pem', 'e.crt').stdout.trim()).toBe('e.crt: OK');
  });
});
