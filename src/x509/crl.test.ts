import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from './build.ts';
import { Certificate } from './certificate.ts';
import { Crl, createCrl, normalizeSerialHex, parseCrl } from './crl.ts';
import { createCsr } from './csr.ts';
import { DerError, explicit, implicit, implicitConstructed, NULL, seq } from './der.ts';
import { encodeGeneralName } from './extensions.ts';
import { generateKey, type KeyType } from './keys.ts';
import { type CrlReason, OID } from './oids.ts';

const KEY_TYPES: KeyType[] = ['rsa-2048', 'ecdsa-p256', 'ecdsa-p384', 'ed25519'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-crl-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openssl(cwd: string, ...args: string[]): { out: string; err: string; status: number | null } {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, status: r.status };
}
function write(d: string, name: string, data: string | Uint8Array): string {
  const p = join(d, name);
  writeFileSync(p, data);
  return p;
}

// ---------- reading openssl crl -text ----------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "Jan  1 12:00:00 2024 GMT" */
function opensslDate(s: string): Date {
  const m = /(\w{3})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT/.exec(s);
  if (!m) throw new Error(`unparsed openssl date '${s}'`);
  return new Date(Date.UTC(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}
const REASON_TEXT: Record<string, CrlReason> = {
  Unspecified: 'unspecified',
  'Key Compromise': 'keyCompromise',
  'CA Compromise': 'cACompromise',
  'Affiliation Changed': 'affiliationChanged',
  Superseded: 'superseded',
  'Cessation Of Operation': 'cessationOfOperation',
  'Certificate Hold': 'certificateHold',
  'Remove From CRL': 'removeFromCRL',
  'Privilege Withdrawn': 'privilegeWithdrawn',
  'AA Compromise': 'aACompromise',
};
interface TextEntry {
  serialNumber: string;
  revocationDate: Date;
  reason?: CrlReason;
  invalidityDate?: Date;
}
function opensslCrlText(text: string): { crlNumber?: bigint; lastUpdate: Date; nextUpdate: Date; aki?: string; entries: TextEntry[] } {
  const lines = text.split('\n').map((l) => l.trim());
  const next = (heading: string, from = 0): string | undefined => {
    const i = lines.findIndex((l, k) => k >= from && l.startsWith(heading));
    return i < 0 ? undefined : lines[i + 1];
  };
  const num = next('X509v3 CRL Number');
  const aki = next('X509v3 Authority Key Identifier');
  const entries: TextEntry[] = [];
  lines.forEach((l, i) => {
    if (!l.startsWith('Serial Number:')) return;
    const e: TextEntry = { serialNumber: l.slice(14).trim().toLowerCase(), revocationDate: opensslDate(lines[i + 1] ?? '') };
    for (let k = i + 2; k < lines.length && !lines[k]!.startsWith('Serial Number:') && !lines[k]!.startsWith('Signature'); k++) {
      if (lines[k]!.startsWith('X509v3 CRL Reason Code')) e.reason = REASON_TEXT[lines[k + 1]!];
      if (lines[k]!.startsWith('Invalidity Date')) e.invalidityDate = opensslDate(lines[k + 1]!);
    }
    entries.push(e);
  });
  return {
    ...(num ? { crlNumber: BigInt(num) } : {}),
    ...(aki
      ? {
          aki: aki
            .replace(/^keyid:/, '')
            .replace(/:/g, '')
            .toLowerCase(),
        }
      : {}),
    lastUpdate: opensslDate(lines.find((l) => l.startsWith('Last Update:')) ?? ''),
    nextUpdate: opensslDate(lines.find((l) => l.startsWith('Next Update:')) ?? ''),
    entries,
  };
}

interface Ca {
  cert: Certificate;
  key: KeyObject;
  dir: string;
  path: string;
}
function makeCa(type: KeyType, name: string): Ca {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const kp = generateKey(type);
  const cert = issueCertificate({
    profile: {
      subject: `CN=CRL Test CA ${type},O=Anchorage`,
      ca: true,
      keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
      validity: { days: 30 },
    },
    publicKey: kp.publicKey,
    signingKey: kp.privateKey,
  });
  return { cert, key: kp.privateKey, dir: d, path: write(d, 'ca.pem', cert.toPem()) };
}
function leafOf(ca: Ca, cn: string): { cert: Certificate; path: string } {
  const kp = generateKey('ecdsa-p256');
  const cert = issueCertificate({
    profile: { subject: `CN=${cn}`, keyUsage: ['digitalSignature'], extKeyUsage: ['clientAuth'], validity: { days: 5 } },
    publicKey: kp.publicKey,
    issuer: ca,
  });
  return { cert, path: write(ca.dir, `${cn}.pem`, cert.toPem()) };
}
const sec = (d: Date): number => Math.floor(d.getTime() / 1000);

describe('createCrl', () => {
  for (const type of KEY_TYPES) {
    it(`${type}: openssl verifies it, lists the same entries, and revocation checks follow it`, () => {
      const ca = makeCa(type, `made-${type}`);
      const revokedA = leafOf(ca, 'revoked-a');
      const revokedB = leafOf(ca, 'revoked-b');
      const good = leafOf(ca, 'good');
      const now = new Date();
      const at = new Date(now.getTime() - 3600_000);
      const crl = createCrl({
        issuer: ca,
        crlNumber: 4097n,
        nextUpdate: new Date(now.getTime() + 7 * 86400_000),
        entries: [
          {
            serial: revokedA.cert.serialNumber,
            revokedAt: at,
            reason: 'keyCompromise',
            invalidityDate: new Date(Date.UTC(2024, 0, 1, 12)),
          },
          { serial: revokedB.cert.serialBytes, revokedAt: at, reason: 'superseded' },
          { serial: '0a:1b:2c', revokedAt: at, reason: 'cessationOfOperation' },
          { serial: 123456789n, revokedAt: at },
          { serial: 'ff01', revokedAt: at, reason: 'unspecified' },
          { serial: '7f', revokedAt: at, reason: 'certificateHold' },
        ],
      });
      const crlPath = write(ca.dir, 'crl.pem', crl.toPem());

      const shown = openssl(ca.dir, 'crl', '-in', crlPath, '-noout', '-text', '-CAfile', ca.path);
      expect(shown.status, shown.err).toBe(0);
      expect(shown.err).toContain('verify OK');
      const t = opensslCrlText(shown.out);
      expect(t.crlNumber).toBe(4097n);
      expect(t.aki).toBe(ca.cert.subjectKeyId);
      expect(t.lastUpdate.getTime()).toBe(sec(crl.thisUpdate) * 1000);
      expect(t.nextUpdate.getTime()).toBe(crl.nextUpdate?.getTime());
      const expected = [
        {
          serialNumber: revokedA.cert.serialNumber,
          revocationDate: new Date(sec(at) * 1000),
          reason: 'keyCompromise',
          invalidityDate: new Date(Date.UTC(2024, 0, 1, 12)),
        },
        { serialNumber: revokedB.cert.serialNumber, revocationDate: new Date(sec(at) * 1000), reason: 'superseded' },
        { serialNumber: '0a1b2c', revocationDate: new Date(sec(at) * 1000), reason: 'cessationOfOperation' },
        { serialNumber: (123456789).toString(16).padStart(8, '0'), revocationDate: new Date(sec(at) * 1000) },
        { serialNumber: 'ff01', revocationDate: new Date(sec(at) * 1000) },
        { serialNumber: '7f', revocationDate: new Date(sec(at) * 1000), reason: 'certificateHold' },
      ];
      // openssl prints serials without leading zero nibbles' padding rules of its own; compare numerically.
      const norm = (es: TextEntry[]): TextEntry[] => es.map((e) => ({ ...e, serialNumber: BigInt(`0x${e.serialNumber}`).toString(16) }));
      expect(norm(t.entries)).toEqual(norm(expected as TextEntry[]));
      expect(crl.entries).toEqual(expected);

      // Our reading of what we wrote.
      const back = parseCrl(readFileSync(crlPath));
      expect(back.crlNumber).toBe(4097n);
      expect(back.authorityKeyId).toBe(ca.cert.subjectKeyId);
      expect(back.issuer).toBe(ca.cert.subject);
      expect(Buffer.from(back.issuerRaw).equals(Buffer.from(ca.cert.subjectRaw))).toBe(true);
      expect(back.version).toBe(2);
      expect(back.verifiedBy(ca.cert.publicKey)).toBe(true);
      expect(back.verifiedBy(generateKey(type).publicKey)).toBe(false);
      expect(back.unknownCriticalExtensions).toEqual([]);
      expect(back.warnings).toEqual([]);
      expect(back.isRevoked(revokedA.cert.serialNumber)).toBe(true);
      expect(back.isRevoked(revokedB.cert.serialNumber)).toBe(true);
      expect(back.isRevoked(good.cert.serialNumber)).toBe(false);
      expect(back.isRevoked('0A:1B:2C')).toBe(true);
      expect(back.revocationOf('0x0a1b2c')?.reason).toBe('cessationOfOperation');
      const json = back.toJSON(now);
      expect(json).toMatchObject({ kind: 'crl', crlNumber: '4097', stale: false, nextUpdate: crl.nextUpdate?.toISOString() });
      expect(json.entries).toHaveLength(6);
      expect(json.entries[0]).toEqual({
        serialNumber: revokedA.cert.serialNumber,
        revocationDate: new Date(sec(at) * 1000).toISOString(),
        reason: 'keyCompromise',
        invalidityDate: '2024-01-01T12:00:00.000Z',
      });

      const bad = openssl(ca.dir, 'verify', '-crl_check', '-CRLfile', crlPath, '-CAfile', ca.path, revokedA.path);
      expect(bad.status).not.toBe(0);
      expect(bad.out + bad.err).toContain('certificate revoked');
      const bad2 = openssl(ca.dir, 'verify', '-crl_check', '-CRLfile', crlPath, '-CAfile', ca.path, revokedB.path);
      expect(bad2.out + bad2.err).toContain('certificate revoked');
      const ok = openssl(ca.dir, 'verify', '-crl_check', '-CRLfile', crlPath, '-CAfile', ca.path, good.path);
      expect(ok.status, ok.out + ok.err).toBe(0);
      expect(ok.out).toContain(': OK');
    });
  }

  it('writes an empty CRL without a revokedCertificates field', () => {
    const ca = makeCa('ecdsa-p256', 'empty');
    const good = leafOf(ca, 'good');
    const crl = createCrl({ issuer: ca, entries: [], crlNumber: 1, nextUpdate: new Date(Date.now() + 86400_000) });
    expect(crl.entries).toEqual([]);
    expect(crl.warnings).toEqual([]);
    const p = write(ca.dir, 'crl.pem', crl.toPem());
    expect(openssl(ca.dir, 'crl', '-in', p, '-noout', '-CAfile', ca.path).err).toContain('verify OK');
    expect(openssl(ca.dir, 'verify', '-crl_check', '-CRLfile', p, '-CAfile', ca.path, good.path).status).toBe(0);
  });

  it('matches a negative serial when given the raw serial bytes', () => {
    const ca = makeCa('ecdsa-p256', 'negative');
    const crl = createCrl({
      issuer: ca,
      entries: [{ serial: Uint8Array.of(0xff, 0x01), revokedAt: new Date() }],
      crlNumber: 2,
      nextUpdate: new Date(Date.now() + 86400_000),
    });
    const negCert = { serialNumber: Buffer.from([0xff, 0x01]).toString('hex') }; // as Certificate prints bytes ff 01
    expect(crl.isRevoked(negCert.serialNumber)).toBe(true);
    expect(() =>
      createCrl({
        issuer: ca,
        entries: [{ serial: Uint8Array.of(0, 1), revokedAt: new Date() }],
        crlNumber: 2,
        nextUpdate: new Date(Date.now() + 1e6),
      }),
    ).toThrow(InputError);
  });

  it('reports unknown critical extensions on the CRL and its entries; openssl rejects such a CRL too', () => {
    const ca = makeCa('ecdsa-p384', 'critical');
    const leaf = leafOf(ca, 'leaf');
    const crl = createCrl({
      issuer: ca,
      crlNumber: 9,
      nextUpdate: new Date(Date.now() + 86400_000),
      entries: [
        {
          serial: 'abcd',
          revokedAt: new Date(),
          extraExtensions: [{ oid: OID.certificateIssuer, critical: true, value: seq(explicit(4, seq())) }],
        },
      ],
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: NULL }],
    });
    expect(crl.unknownCriticalExtensions).toEqual([{ oid: '1.3.6.1.4.1.55555.1' }, { oid: OID.certificateIssuer, serialNumber: 'abcd' }]);
    expect(crl.toJSON().unknownCriticalExtensions).toEqual([
      { oid: '1.3.6.1.4.1.55555.1', serialNumber: null },
      { oid: OID.certificateIssuer, serialNumber: 'abcd' },
    ]);
    const p = write(ca.dir, 'crl.pem', crl.toPem());
    const v = openssl(ca.dir, 'verify', '-crl_check', '-CRLfile', p, '-CAfile', ca.path, leaf.path);
    expect(v.status).not.toBe(0);
    expect(v.out + v.err).toMatch(/unhandled critical CRL extension/i);
  });

  it('exposes an issuingDistributionPoint and treats it as known', () => {
    const ca = makeCa('ed25519', 'idp');
    // distributionPoint [0] { fullName [0] GeneralNames }, onlyContainsUserCerts [1] TRUE
    const uri = encodeGeneralName({ type: 'uri', value: 'http://crl.example/ca.crl' });
    const idpValue = seq(implicitConstructed(0, implicitConstructed(0, uri)), implicit(1, Uint8Array.of(0xff)));
    const crl = createCrl({
      issuer: ca,
      crlNumber: 1,
      nextUpdate: new Date(Date.now() + 86400_000),
      entries: [],
      extraExtensions: [{ oid: OID.issuingDistributionPoint, critical: true, value: idpValue }],
    });
    expect(crl.issuingDistributionPoint).toEqual({
      fullName: ['http://crl.example/ca.crl'],
      onlyContainsUserCerts: true,
      onlyContainsCACerts: false,
      onlySomeReasons: null,
      indirectCrl: false,
      onlyContainsAttributeCerts: false,
    });
    expect(crl.unknownCriticalExtensions).toEqual([]);
    const p = write(ca.dir, 'crl.pem', crl.toPem());
    expect(openssl(ca.dir, 'crl', '-in', p, '-noout', '-text').out).toContain('URI:http://crl.example/ca.crl');
  });

  it('refuses bad requests with InputError', () => {
    const ca = makeCa('ecdsa-p256', 'refuse');
    const leaf = leafOf(ca, 'leaf');
    const next = new Date(Date.now() + 86400_000);
    const base = { issuer: ca, entries: [], crlNumber: 1, nextUpdate: next };
    expect(() => createCrl({ ...base, issuer: { cert: ca.cert, key: generateKey('ecdsa-p256').privateKey } })).toThrow(/does not belong/);
    expect(() => createCrl({ ...base, issuer: { cert: leaf.cert, key: ca.key } })).toThrow(InputError);
    expect(() => createCrl({ ...base, thisUpdate: next })).toThrow(/nextUpdate must be after/);
    expect(() => createCrl({ ...base, crlNumber: -1 })).toThrow(InputError);
    expect(() => createCrl({ ...base, entries: [{ serial: 'xyz', revokedAt: new Date() }] })).toThrow(/not hexadecimal/);
    expect(() =>
      createCrl({
        ...base,
        entries: [
          { serial: '01', revokedAt: new Date() },
          { serial: 1n, revokedAt: new Date() },
        ],
      }),
    ).toThrow(/listed twice/);
    expect(() => createCrl({ ...base, entries: [{ serial: '01', revokedAt: new Date(), reason: 'removeFromCRL' }] })).toThrow(InputError);
    expect(() => createCrl({ ...base, entries: [{ serial: '01', revokedAt: new Date('nope') }] })).toThrow(InputError);
  });
});

describe('parsing CRLs made by openssl ca -gencrl', () => {
  for (const type of KEY_TYPES) {
    it(`${type} CA: entries, reasons, numbers and dates match openssl`, () => {
      const ca = makeCa(type, `ossl-${type}`);
      const d = ca.dir;
      write(d, 'ca.key', ca.key.export({ type: 'pkcs8', format: 'pem' }) as string);
      write(d, 'index.txt', '');
      write(d, 'serial', '1A2B3C\n');
      write(d, 'crlnumber', '0100\n');
      mkdirSync(join(d, 'newcerts'));
      write(
        d,
        'ca.cnf',
        [
          '[ ca ]',
          'default_ca = CA_default',
          '[ CA_default ]',
          'database = ./index.txt',
          'new_certs_dir = ./newcerts',
          'certificate = ./ca.pem',
          'private_key = ./ca.key',
          'serial = ./serial',
          'crlnumber = ./crlnumber',
          'default_md = default',
          'default_days = 30',
          'default_crl_days = 7',
          'policy = policy_any',
          'unique_subject = no',
          'x509_extensions = leaf_ext',
          '[ policy_any ]',
          'commonName = supplied',
          '[ leaf_ext ]',
          'basicConstraints = CA:FALSE',
          'keyUsage = critical, digitalSignature',
          'subjectKeyIdentifier = hash',
          'authorityKeyIdentifier = keyid',
          '[ crl_ext ]',
          'authorityKeyIdentifier = keyid:always',
          '',
        ].join('\n'),
      );
      const leaves: Certificate[] = [];
      for (const n of [1, 2, 3, 4, 5]) {
        const csr = createCsr({ subject: `CN=leaf-${n}`, privateKey: generateKey('ecdsa-p256').privateKey });
        write(d, `leaf-${n}.csr`, csr.toPem());
        const r = openssl(d, 'ca', '-batch', '-config', 'ca.cnf', '-in', `leaf-${n}.csr`, '-out', `leaf-${n}.pem`, '-notext');
        expect(r.status, r.err).toBe(0);
        leaves.push(new Certificate(pemToDer(readFileSync(join(d, `leaf-${n}.pem`), 'utf8'))));
      }
      const revoke = (n: number, ...extra: string[]): void => {
        const r = openssl(d, 'ca', '-config', 'ca.cnf', '-revoke', `leaf-${n}.pem`, ...extra);
        expect(r.status, r.err).toBe(0);
      };
      revoke(1, '-crl_reason', 'keyCompromise');
      revoke(2, '-crl_compromise', '20240101120000Z');
      revoke(3);
      revoke(5, '-crl_hold', 'holdInstructionReject');
      const g = openssl(d, 'ca', '-config', 'ca.cnf', '-gencrl', '-crlexts', 'crl_ext', '-out', 'crl.pem');
      expect(g.status, g.err).toBe(0);

      const text = openssl(d, 'crl', '-in', 'crl.pem', '-noout', '-text').out;
      const t = opensslCrlText(text);
      const crl = parseCrl(readFileSync(join(d, 'crl.pem')));

      expect(crl.version).toBe(2);
      expect(crl.crlNumber).toBe(0x100n);
      expect(crl.crlNumber).toBe(t.crlNumber);
      expect(crl.thisUpdate.getTime()).toBe(t.lastUpdate.getTime());
      expect(crl.nextUpdate?.getTime()).toBe(t.nextUpdate.getTime());
      expect((crl.nextUpdate?.getTime() ?? 0) - crl.thisUpdate.getTime()).toBe(7 * 86400_000);
      expect(crl.authorityKeyId).toBe(ca.cert.subjectKeyId);
      expect(crl.authorityKeyId).toBe(t.aki);
      expect(crl.issuer).toBe(ca.cert.subject);
      expect(crl.verifiedBy(ca.cert.publicKey)).toBe(true);
      expect(crl.unknownCriticalExtensions).toEqual([]);
      expect(crl.warnings).toEqual([]);

      const serial = (n: number): string => (leaves[n - 1] as Certificate).serialNumber;
      expect(crl.entries.map((e) => e.serialNumber)).toEqual(t.entries.map((e) => e.serialNumber));
      expect(crl.entries).toEqual(t.entries);
      expect(crl.entries.map((e) => [e.serialNumber, e.reason ?? null])).toEqual([
        [serial(1), 'keyCompromise'],
        [serial(2), 'keyCompromise'],
        [serial(3), null],
        [serial(5), 'certificateHold'],
      ]);
      expect(crl.revocationOf(serial(2))?.invalidityDate?.toISOString()).toBe('2024-01-01T12:00:00.000Z');
      expect(crl.isRevoked(serial(1))).toBe(true);
      expect(crl.isRevoked(serial(4))).toBe(false);
      expect(serial(1)).toBe('1a2b3c');
    });
  }
});

function pemToDer(pem: string): Uint8Array {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

describe('garbage', () => {
  it('gives one-line InputErrors from parseCrl', () => {
    const ca = makeCa('ecdsa-p256', 'garbage');
    const cases: (string | Uint8Array)[] = [
      '',
      'hello',
      new Uint8Array(0),
      Uint8Array.of(0x30, 0x03, 0x02, 0x01),
      Buffer.from('-----BEGIN X509 CRL-----\nMAMCAQA=\n-----END X509 CRL-----\n'),
      ca.cert.toPem(),
      ca.cert.der,
      Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff),
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        parseCrl(c);
      } catch (e) {
        err = e;
      }
      expect(err, String(c)).toBeInstanceOf(InputError);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(() => new Crl(ca.cert.der)).toThrow(DerError);
  });

  it('never throws anything but DerError/InputError on truncated or mutated CRLs', () => {
    const ca = makeCa('ecdsa-p256', 'fuzz');
    const crl = createCrl({
      issuer: ca,
      crlNumber: 77,
      nextUpdate: new Date(Date.now() + 86400_000),
      entries: [
        { serial: '01', revokedAt: new Date(), reason: 'keyCompromise', invalidityDate: new Date() },
        { serial: '0203', revokedAt: new Date(), reason: 'superseded' },
        { serial: 'ff', revokedAt: new Date() },
      ],
    });
    for (let n = 0; n < crl.der.length; n++) expect(() => parseCrl(crl.der.subarray(0, n))).toThrow(InputError);
    let seed = 0xc51;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(crl.der);
      for (let k = 0; k <= rand() % 3; k++) b[rand() % b.length] = rand() & 0xff;
      try {
        const c = new Crl(b);
        c.toJSON();
        c.isRevoked('01');
        c.verifiedBy(ca.cert.publicKey);
      } catch (e) {
        if (!(e instanceof DerError || e instanceof InputError))
          throw new Error(`unexpected ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  });

  it('normalises serial spellings the way Certificate.serialNumber prints them', () => {
    expect(normalizeSerialHex('0A:1B')).toBe('0a1b');
    expect(normalizeSerialHex('0x00ff')).toBe('ff');
    expect(normalizeSerialHex('abc')).toBe('0abc');
    expect(normalizeSerialHex('00')).toBe('00');
  });
});
