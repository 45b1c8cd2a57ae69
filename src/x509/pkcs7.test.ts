// PKCS#7 certs-only bundles against real peers: openssl crl2pkcs7 / pkcs7 and keytool -printcert.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from './build.ts';
import type { Certificate } from './certificate.ts';
import { concat, parse, seq } from './der.ts';
import { generateKey } from './keys.ts';
import { isPkcs7, readPkcs7, writePkcs7 } from './pkcs7.ts';

let dir: string;
let ca: Certificate;
let leaf: Certificate;
const f = (name: string): string => join(dir, name);
const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const pemCerts = (text: string): Buffer[] =>
  [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1] as string, 'base64'));
const colonHex = (hex: string): string => hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-p7-'));
  const caKey = generateKey('ecdsa-p256');
  ca = issueCertificate({
    profile: { subject: 'CN=Anchorage P7 CA,O=Anchorage', ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days: 30 } },
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
  });
  const leafKey = generateKey('ecdsa-p256');
  leaf = issueCertificate({
    profile: { subject: 'CN=leaf.example,O=Anchorage', sans: { dns: ['leaf.example'] }, validity: { days: 10 } },
    publicKey: leafKey.publicKey,
    issuer: { cert: ca, key: caKey.privateKey },
  });
  writeFileSync(f('chain.pem'), leaf.toPem() + ca.toPem());
  writeFileSync(f('ca.pem'), ca.toPem());
  writeFileSync(f('ca.key'), caKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', 'chain.pem', '-outform', 'DER', '-out', 'chain.p7b']);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readPkcs7', () => {
  it('reads openssl crl2pkcs7 -nocrl output (DER) in file order, with the fields openssl sees', () => {
    const p7 = readPkcs7(readFileSync(f('chain.p7b')));
    expect(p7.crls).toEqual([]);
    expect(p7.certificates.map((c) => Buffer.from(c))).toEqual([Buffer.from(leaf.der), Buffer.from(ca.der)]);
    writeFileSync(f('first.der'), p7.certificates[0] as Uint8Array);
    const out = run('openssl', [
      'x509',
      '-inform',
      'DER',
      '-in',
      'first.der',
      '-noout',
      '-subject',
      '-serial',
      '-fingerprint',
      '-sha256',
      '-nameopt',
      'RFC2253',
    ]);
    expect(out).toContain(`subject=${leaf.subject}\n`);
    expect(out).toContain(`serial=${leaf.serialNumber.toUpperCase()}\n`);
    expect(out).toContain(`Fingerprint=${colonHex(leaf.sha256)}\n`);
  });

  it('reads PEM (-----BEGIN PKCS7-----) input', () => {
    const pem = run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', 'chain.pem']);
    expect(pem).toContain('BEGIN PKCS7');
    expect(readPkcs7(Buffer.from(pem)).certificates).toHaveLength(2);
  });

  it('returns the CRLs of a bundle made with a CRL', () => {
    writeFileSync(f('index.txt'), '');
    writeFileSync(f('crlnumber'), '01\n');
    writeFileSync(
      f('ca.cnf'),
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${f('index.txt')}\ncrlnumber = ${f('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 7\n`,
    );
    run('openssl', ['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-out', 'crl.pem']);
    run('openssl', ['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der']);
    run('openssl', ['crl2pkcs7', '-in', 'crl.pem', '-certfile', 'chain.pem', '-outform', 'DER', '-out', 'withcrl.p7b']);
    const p7 = readPkcs7(readFileSync(f('withcrl.p7b')));
    expect(p7.certificates).toHaveLength(2);
    expect(p7.crls.map((c) => Buffer.from(c))).toEqual([readFileSync(f('crl.der'))]);
  });

  it('reads BER with indefinite lengths (streaming CMS writers)', () => {
    const der = readFileSync(f('chain.p7b'));
    // Rewrap ContentInfo { OID, [0] SignedData } with indefinite lengths on both constructed levels.
    const ci = parse(der);
    const eoc = Uint8Array.of(0, 0);
    const ber = concat([Uint8Array.of(0x30, 0x80), ci.child(0).raw, Uint8Array.of(0xa0, 0x80), ci.child(1).inner().raw, eoc, eoc]);
    expect(() => parse(ber)).toThrow(/indefinite/);
    expect(readPkcs7(ber)).toEqual(readPkcs7(der));
  });

  it('throws InputError on garbage, truncation and other content types', () => {
    const der = readFileSync(f('chain.p7b'));
    expect(() => readPkcs7(Buffer.from('hello, this is not a bundle'))).toThrow(InputError);
    expect(() => readPkcs7(der.subarray(0, 200))).toThrow(InputError);
    expect(() => readPkcs7(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00))).toThrow(InputError);
    // ContentInfo of type data
    const dataCi = Buffer.from('300f06092a864886f70d010701a0020400', 'hex');
    expect(() => readPkcs7(dataCi)).toThrow(/content type 1\.2\.840\.113549\.1\.7\.1/);
    expect(isPkcs7(der)).toBe(true);
    expect(isPkcs7(dataCi)).toBe(false);
    expect(isPkcs7(seq())).toBe(false);
  });
});

describe('writePkcs7', () => {
  it('writes exactly what openssl crl2pkcs7 -nocrl writes', () => {
    expect(Buffer.from(writePkcs7([leaf.der, ca.der]))).toEqual(readFileSync(f('chain.p7b')));
  });

  it('is read by openssl pkcs7 -print_certs and keytool -printcert, in order', () => {
    writeFileSync(f('ours.p7b'), writePkcs7([leaf.der, ca.der]));
    const printed = run('openssl', ['pkcs7', '-inform', 'DER', '-in', 'ours.p7b', '-print_certs']);
    expect(pemCerts(printed)).toEqual([Buffer.from(leaf.der), Buffer.from(ca.der)]);
    const kt = run('keytool', ['-printcert', '-file', 'ours.p7b']);
    expect(kt).toContain('Certificate[1]:');
    expect(kt).toContain('Certificate[2]:');
    expect(kt.indexOf(colonHex(leaf.sha256))).toBeLessThan(kt.indexOf(colonHex(ca.sha256)));
    expect(kt.indexOf(colonHex(leaf.sha256))).toBeGreaterThan(0);
  });

  it('round-trips certificates and CRLs through readPkcs7', () => {
    const crl = readFileSync(f('crl.der'));
    const p7 = readPkcs7(writePkcs7([ca.der], [crl]));
    expect(p7.certificates.map((c) => Buffer.from(c))).toEqual([Buffer.from(ca.der)]);
    expect(p7.crls.map((c) => Buffer.from(c))).toEqual([crl]);
    writeFileSync(f('crl.p7b'), writePkcs7([ca.der], [crl]));
    expect(run('openssl', ['pkcs7', '-inform', 'DER', '-in', 'crl.p7b', '-print_certs'])).toContain('BEGIN X509 CRL');
  });
});
