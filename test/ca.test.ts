// The CA service in process on SQLite, with openssl as the oracle: an offline root made by openssl signs
// a service CA; CSRs made by openssl are issued under policy and verify with `openssl verify`; every bad
// input is refused with its reason, audited and logged, and issues nothing; revocation shows in the CRL
// (`openssl verify -crl_check`) and in OCSP answers (`openssl ocsp -respin`); CA keys are sealed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { parseLogExport, verifyLog } from '../src/ca/log-verify.ts';
import { CaRefusal, CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { loadPrivateKey } from '../src/x509/keys.ts';
import { scanPem } from '../src/x509/pem.ts';
import { openssl, opensslCa } from './support/openssl.ts';

const dir = mkdtempSync(join(tmpdir(), 'ca-svc-'));
const KEK = 'a'.repeat(64);
let store: Store;
let svc: CaService;
const audited: { outcome: string; reason?: string; stored: boolean }[] = [];

const csrFor = (name: string, subj: string, san: string, key = 'ec -pkeyopt ec_paramgen_curve:P-256'): string => {
  openssl(
    dir,
    'req',
    '-new',
    '-newkey',
    ...key.split(' '),
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subj,
    '-addext',
    `subjectAltName=${san}`,
  );
  return readFileSync(join(dir, `${name}.csr`), 'utf8');
};
const write = (name: string, data: string | Uint8Array) => {
  writeFileSync(join(dir, name), data);
  return join(dir, name);
};
const count = async () => Number((await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM ca_certificates'))?.n);
const refusal = async (p: Promise<unknown>): Promise<CaRefusal> => {
  const e = await p.catch((x: unknown) => x);
  expect(e).toBeInstanceOf(CaRefusal);
  return e as CaRefusal;
};

beforeAll(async () => {
  store = await openStore(`sqlite:${join(dir, 'ca.db')}`);
  svc = await CaService.open({ store, kek: loadKek(KEK), onAudit: (e) => audited.push(e) });
  opensslCa(dir, 'root', '/CN=Offline Root', 30);
  const root = new Certificate(scanPem(readFileSync(join(dir, 'root.crt'), 'utf8'))[0]?.der as Uint8Array);
  await svc.createCa({
    name: 'web',
    requester: 'test',
    days: 20,
    offlineIssuer: { chain: [root], key: loadPrivateKey(readFileSync(join(dir, 'root.key'))) },
    policy: { dns: ['*.web.svc', 'web.example.com'], ips: ['10.0.0.0/8'], uris: ['spiffe://cluster.local/ns/web/sa/*'], maxDays: 30 },
    publicUrl: 'http://127.0.0.1:1',
  });
}, 120_000);
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trust zones', () => {
  it('a service CA under an offline root: openssl verifies the chain; the key is sealed, not in the database', async () => {
    const web = await svc.getCa('web');
    write('web-ca.pem', web.chain[0]?.toPem() as string);
    expect(openssl(dir, 'verify', '-CAfile', 'root.crt', 'web-ca.pem').trim()).toBe('web-ca.pem: OK');
    expect(web.chain[0]?.basicConstraints).toEqual({ ca: true, pathLen: 0 });
    const db = readFileSync(join(dir, 'ca.db'));
    expect(db.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    // The same store opened with another key-encryption key cannot use the CA.
    const other = await CaService.open({ store, kek: loadKek('b'.repeat(64)) }).catch((e: unknown) => e);
    expect(String(other)).toMatch(/wrong key-encryption key/);
  });

  it('refuses a CA that would outlive its offline root, a bad name, a duplicate', async () => {
    const root = new Certificate(scanPem(readFileSync(join(dir, 'root.crt'), 'utf8'))[0]?.der as Uint8Array);
    const key = loadPrivateKey(readFileSync(join(dir, 'root.key')));
    await expect(svc.createCa({ name: 'long', requester: 't', offlineIssuer: { chain: [root], key } })).rejects.toThrow(
      /would outlive the issuer/,
    );
    await expect(svc.createCa({ name: 'Bad_Name', requester: 't' })).rejects.toThrow(/lowercase letters/);
    await expect(svc.createCa({ name: 'web', requester: 't' })).rejects.toThrow(/already exists/);
  });
});

describe('issuance', () => {
  let leaf: Certificate;
  it('an openssl CSR inside the policy: openssl verifies the certificate and sees what was asked', async () => {
    const r = await svc.issue({
      ca: 'web',
      csr: csrFor('a', '/CN=a.web.svc', 'DNS:a.web.svc,IP:10.1.2.3,URI:spiffe://cluster.local/ns/web/sa/a'),
      profile: 'peer',
      requester: 'cli:test',
      days: 10,
    });
    leaf = r.certificate;
    write('a.crt', leaf.toPem());
    write('chain.pem', r.chain[0]?.toPem() as string);
    expect(openssl(dir, 'verify', '-CAfile', 'root.crt', '-untrusted', 'chain.pem', '-purpose', 'sslserver', 'a.crt').trim()).toBe(
      'a.crt: OK',
    );
    expect(openssl(dir, 'verify', '-CAfile', 'root.crt', '-untrusted', 'chain.pem', '-purpose', 'sslclient', 'a.crt').trim()).toBe(
      'a.crt: OK',
    );
    const text = openssl(dir, 'x509', '-in', 'a.crt', '-noout', '-text');
    expect(text).toContain('DNS:a.web.svc, IP Address:10.1.2.3, URI:spiffe://cluster.local/ns/web/sa/a');
    expect(text).toMatch(/CRL Distribution Points:\s*\n\s*Full Name:\s*\n\s*URI:http:\/\/127\.0\.0\.1:1\/crl\/web/);
    expect(text).toContain('OCSP - URI:http://127.0.0.1:1/ocsp/web');
    expect(Math.round((leaf.notAfter.getTime() - Date.now()) / 86400000)).toBe(10);
    expect(await svc.lookup(leaf.toJSON().fingerprints.sha256.replace(/:/g, '').toLowerCase())).toMatchObject({
      ca: 'web',
      serial: r.serial,
      revoked: false,
    });
  });

  it('serials are unique by a database constraint', async () => {
    const row = await store.get<{ serial: string; der: string }>('SELECT serial, der FROM ca_certificates LIMIT 1');
    await expect(
      store.run(
        "INSERT INTO ca_certificates (serial, ca, sha256, subject, names, profile, not_before, not_after, der, requester, log_index) VALUES (?, 'web', 'x', 's', '[]', 'server', '', '', '', 't', 0)",
        [row?.serial],
      ),
    ).rejects.toThrow(/UNIQUE/);
  });

  it('bad input: a clear refusal, audited and logged, nothing issued', async () => {
    const before = await count();
    const logBefore = (await svc.exportLog()).entries.length;
    const good = csrFor('b', '/CN=b.web.svc', 'DNS:b.web.svc');
    const der = Buffer.from(good.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const badSig = Buffer.from(der);
    badSig[badSig.length - 3] = (badSig[badSig.length - 3] as number) ^ 0xff;
    const cases: [Promise<unknown>, number, RegExp][] = [
      [svc.issue({ ca: 'web', csr: 'not a csr', requester: 't' }), 400, /malformed certificate request/],
      [svc.issue({ ca: 'web', csr: der.subarray(0, 40), requester: 't' }), 400, /malformed certificate request/],
      [svc.issue({ ca: 'web', csr: badSig, requester: 't' }), 400, /signature does not verify/],
      [svc.issue({ ca: 'nope', csr: good, requester: 't' }), 404, /unknown CA 'nope'/],
      [
        svc.issue({ ca: 'web', csr: csrFor('c', '/CN=evil.com', 'DNS:evil.com'), requester: 't' }),
        403,
        /DNS name evil.com is outside the policy/,
      ],
      [svc.issue({ ca: 'web', csr: csrFor('d', '/CN=x.y.web.svc', 'DNS:x.y.web.svc'), requester: 't' }), 403, /x.y.web.svc is outside/],
      [
        svc.issue({ ca: 'web', csr: csrFor('e', '/CN=e.web.svc', 'DNS:e.web.svc,IP:192.168.0.1'), requester: 't' }),
        403,
        /IP address 192.168.0.1 is outside/,
      ],
      [svc.issue({ ca: 'web', csr: good, requester: 't', days: 365 }), 403, /365 days is over the maximum of 30/],
      [
        svc.issue({ ca: 'web', csr: csrFor('f', '/CN=f.web.svc', 'DNS:f.web.svc', 'rsa:1024'), requester: 't' }),
        403,
        /key RSA-1024 is not allowed/,
      ],
      [svc.issue({ ca: 'web', csr: csrFor('g', '/CN=other', 'DNS:g.web.svc'), requester: 't' }), 403, /common name other is not one of/],
      [svc.issue({ ca: 'web', csr: 'x'.repeat(70_000), requester: 't' }), 413, /too large/],
      [svc.issue({ ca: 'web', csr: good, token: 'atk_unknown', requester: 't' }), 403, /unknown bootstrap token/],
    ];
    for (const [p, status, reason] of cases) {
      const e = await refusal(p);
      expect([e.status, e.message]).toEqual([status, expect.stringMatching(reason)]);
    }
    expect(await count()).toBe(before);
    const log = await svc.exportLog();
    expect(log.entries.length).toBe(logBefore + cases.length);
    const refusals = log.entries.slice(logBefore).map((e) => JSON.parse(e) as { type: string; reason: string });
    expect(refusals.every((r) => r.type === 'refuse')).toBe(true);
    const audit = await svc.audit(undefined, cases.length);
    expect(audit.every((a) => a.outcome === 'refused')).toBe(true);
    expect(audit.map((a) => a.reason).reverse()).toEqual(refusals.map((r) => r.reason));
  });

  it('bootstrap tokens: one-time, expiring, bound to identities and a profile', async () => {
    const t = await svc.createToken('web', ['DNS:t.web.svc'], 'client', 3600);
    const csr = csrFor('t', '/CN=t.web.svc', 'DNS:t.web.svc');
    expect(
      (await refusal(svc.issue({ ca: 'web', csr: csrFor('t2', '/CN=u.web.svc', 'DNS:u.web.svc'), token: t.token, requester: 'token' })))
        .message,
    ).toMatch(/does not cover DNS:u.web.svc/);
    expect((await refusal(svc.issue({ ca: 'web', csr, token: t.token, profile: 'server', requester: 'token' }))).message).toMatch(
      /for a client certificate, not server/,
    );
    const r = await svc.issue({ ca: 'web', csr, token: t.token, requester: 'token' });
    expect(r.certificate.extKeyUsage).toEqual(['clientAuth']);
    expect((await refusal(svc.issue({ ca: 'web', csr, token: t.token, requester: 'token' }))).message).toMatch(/already used/);
    // Expiry: a service whose clock is past the token's end.
    const t2 = await svc.createToken('web', ['DNS:t.web.svc'], 'client', 60);
    const later = await CaService.open({ store, kek: loadKek(KEK), now: () => new Date(Date.now() + 120_000) });
    expect((await refusal(later.issue({ ca: 'web', csr, token: t2.token, requester: 'token' }))).message).toMatch(
      /bootstrap token expired/,
    );
    // Two redemptions racing: exactly one certificate.
    const t3 = await svc.createToken('web', ['DNS:t.web.svc'], 'client', 60);
    const both = await Promise.allSettled([
      svc.issue({ ca: 'web', csr, token: t3.token, requester: 'token' }),
      svc.issue({ ca: 'web', csr, token: t3.token, requester: 'token' }),
    ]);
    expect(both.map((b) => b.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('renewal by the holder: same identities, not after revocation', async () => {
    const r = await svc.issue({ ca: 'web', csr: csrFor('h', '/CN=h.web.svc', 'DNS:h.web.svc'), requester: 't' });
    const renewed = await svc.issue({
      ca: 'web',
      csr: csrFor('h2', '/CN=h.web.svc', 'DNS:h.web.svc'),
      requester: 'cert',
      renewing: r.certificate,
    });
    expect(renewed.serial).not.toBe(r.serial);
    expect(
      (
        await refusal(
          svc.issue({
            ca: 'web',
            csr: csrFor('h3', '/CN=h.web.svc', 'DNS:h.web.svc,DNS:i.web.svc'),
            requester: 'cert',
            renewing: r.certificate,
          }),
        )
      ).message,
    ).toMatch(/keeps the same identities/);
    await svc.revoke({ ca: 'web', serial: r.serial, requester: 't' });
    expect(
      (
        await refusal(
          svc.issue({ ca: 'web', csr: csrFor('h4', '/CN=h.web.svc', 'DNS:h.web.svc'), requester: 'cert', renewing: r.certificate }),
        )
      ).message,
    ).toMatch(/is revoked/);
  });
});

describe('revocation: CRL and OCSP, read by openssl', () => {
  it('openssl verify -crl_check and openssl ocsp see good, then revoked', async () => {
    const r = await svc.issue({ ca: 'web', csr: csrFor('r', '/CN=r.web.svc', 'DNS:r.web.svc'), requester: 't' });
    write('r.crt', r.certificate.toPem());
    const crlCheck = () => {
      return spawnSync(
        'openssl',
        ['verify', '-crl_check', '-CAfile', 'root.crt', '-untrusted', 'chain.pem', '-CRLfile', 'web.crl.pem', 'r.crt'],
        { cwd: dir, encoding: 'utf8' },
      );
    };
    const freshCrl = async () => {
      write('web.crl.der', await svc.crl('web'));
      openssl(dir, 'crl', '-inform', 'DER', '-in', 'web.crl.der', '-out', 'web.crl.pem');
    };
    const ocsp = async () => {
      openssl(dir, 'ocsp', '-issuer', 'chain.pem', '-cert', 'r.crt', '-reqout', 'req.der');
      write('resp.der', await svc.ocsp('web', readFileSync(join(dir, 'req.der'))));
      // -reqin with no -cert: openssl checks the response against that request, its nonce included.
      return spawnSync(
        'openssl',
        ['ocsp', '-respin', 'resp.der', '-reqin', 'req.der', '-CAfile', 'root.crt', '-verify_other', 'chain.pem', '-resp_text'],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
    };
    await freshCrl();
    expect(crlCheck().stdout.trim()).toBe('r.crt: OK');
    let o = await ocsp();
    expect(o.stdout).toMatch(/Cert Status: good/);
    expect(o.stdout).toContain(`Serial Number: ${r.serial.toUpperCase()}`);
    expect(o.stderr).toContain('Response verify OK');
    const serials = await svc.revoke({ ca: 'web', identity: 'DNS:r.web.svc', reason: 'keyCompromise', requester: 't' });
    expect(serials).toEqual([r.serial]);
    await freshCrl();
    const v = crlCheck();
    expect(v.status).not.toBe(0);
    expect(v.stdout + v.stderr).toMatch(/certificate revoked/);
    o = await ocsp();
    expect(o.stdout).toMatch(/Cert Status: revoked[\s\S]*Revocation Reason: keyCompromise/);
    expect(o.stderr).toContain('Response verify OK');
    // CRL numbers only grow.
    const numbers = [await svc.crl('web'), await svc.crl('web')].map((d) => {
      write('n.der', d);
      return Number.parseInt(
        /CRL Number:\s*\n\s*(\d+)/.exec(openssl(dir, 'crl', '-inform', 'DER', '-in', 'n.der', '-noout', '-text'))?.[1] ?? '0',
        10,
      );
    });
    expect(numbers[1]).toBeGreaterThan(numbers[0] as number);
  });

  it('OCSP: garbage is malformedRequest, another issuer is unauthorized (openssl reads both)', async () => {
    write('bad.der', await svc.ocsp('web', Buffer.from('garbage')));
    expect(spawnSync('openssl', ['ocsp', '-respin', 'bad.der', '-resp_text', '-noverify'], { cwd: dir, encoding: 'utf8' }).stdout).toMatch(
      /malformedrequest/i,
    );
    openssl(dir, 'ocsp', '-issuer', 'root.crt', '-cert', 'chain.pem', '-reqout', 'req2.der');
    write('unauth.der', await svc.ocsp('web', readFileSync(join(dir, 'req2.der'))));
    expect(
      spawnSync('openssl', ['ocsp', '-respin', 'unauth.der', '-resp_text', '-noverify'], { cwd: dir, encoding: 'utf8' }).stdout,
    ).toMatch(/unauthorized/i);
  });
});

describe('transparency log', () => {
  it('the exported log verifies; a certificate is proven included; an altered or foreign certificate is caught', async () => {
    const log = await svc.exportLog();
    const a = new Certificate(scanPem(readFileSync(join(dir, 'a.crt'), 'utf8'))[0]?.der as Uint8Array);
    const ok = verifyLog(parseLogExport(JSON.stringify(log)), { cert: a });
    expect(ok.problems).toEqual([]);
    expect(ok.certificate?.included).toBe(true);
    const altered = { ...log, entries: log.entries.map((e, i) => (i === 1 ? e.replace('a.web.svc', 'z.web.svc') : e)) };
    expect(verifyLog(altered).problems.join()).toMatch(/was altered/);
    const dropped = { ...log, entries: log.entries.slice(0, -1) };
    expect(verifyLog(dropped).ok).toBe(false);
    const root = new Certificate(scanPem(readFileSync(join(dir, 'root.crt'), 'utf8'))[0]?.der as Uint8Array);
    expect(verifyLog(log, { cert: root }).problems.join()).toMatch(/is not in the log/);
    // An older tree head is consistent with the newer log; a forged older head is not.
    const later = await svc.issue({ ca: 'web', csr: csrFor('l', '/CN=l.web.svc', 'DNS:l.web.svc'), requester: 't' });
    const newer = await svc.exportLog();
    expect(newer.entries.length).toBeGreaterThan(log.entries.length);
    expect(verifyLog(newer, { since: log.treeHead, cert: later.certificate }).consistentWith).toEqual({
      treeSize: log.treeHead.treeSize,
      ok: true,
    });
    const forged = { ...log.treeHead, rootHash: '00'.repeat(32) };
    expect(verifyLog(newer, { since: forged }).ok).toBe(false);
    // Signed by a different log key than the one pinned.
    const otherStore = await openStore(`sqlite:${join(dir, 'other.db')}`);
    const otherSvc = await CaService.open({ store: otherStore, kek: loadKek(KEK) });
    expect(verifyLog(newer, { logKeyPem: otherSvc.logPublicKeyPem() }).problems.join()).toMatch(
      /another log key|signature does not verify/,
    );
    await otherStore.close();
  });
});
