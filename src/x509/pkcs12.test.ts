// PKCS#12 against real peers: files made by openssl pkcs12 -export and keytool are read; files we write
// are opened by openssl pkcs12 and keytool -list.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createDecipheriv, createPrivateKey, type KeyObject, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from './build.ts';
import { Certificate } from './certificate.ts';
import { concat, explicit, implicit, integer, octetString, oid, parse, seq } from './der.ts';
import { generateKey, keyMatchesSpki } from './keys.ts';
import { OID } from './oids.ts';
import { pbes2Encrypt } from './pbe.ts';
import {
  isPkcs12,
  PKCS12_UNVERIFIED_WRONG_PASSWORD,
  PKCS12_WRONG_PASSWORD,
  type Pkcs12Contents,
  readPkcs12,
  writePkcs12,
} from './pkcs12.ts';
import { rc2DecryptBlock } from './rc2.ts';

const execFileAsync = promisify(execFile);
// Non-ASCII on purpose: OpenSSL's UTF-8 to BMP conversion must match ours. Java's PBES2 rejects
// non-ASCII passwords ("Password is not ASCII"), so keytool gets an ASCII one.
const PW = 's3cret-pässword';
const JPW = 'changeit-123';

let dir: string;
let ca: Certificate;
let leaf: Certificate;
let leafKey: KeyObject;
const f = (name: string): string => join(dir, name);
const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** keytool with stdin closed and a timeout: a prompt fails the test instead of hanging it. */
function keytool(args: string[]): Promise<string> {
  const p = execFileAsync('keytool', args, { cwd: dir, timeout: 60_000 });
  p.child.stdin?.end();
  return p.then((r) => r.stdout);
}

/** stdout and stderr together (openssl pkcs12 -info prints the MAC line on stderr); fails on a non-zero exit. */
function runBoth(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout + r.stderr;
}
const pemCerts = (text: string): Buffer[] =>
  [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1] as string, 'base64'));
const colonHex = (hex: string): string => hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');

/** What `openssl x509` says about a certificate, compared with our model. */
function expectOpensslAgrees(der: Uint8Array): void {
  writeFileSync(f('check.der'), der);
  const out = run('openssl', [
    'x509',
    '-inform',
    'DER',
    '-in',
    'check.der',
    '-noout',
    '-subject',
    '-serial',
    '-fingerprint',
    '-sha256',
    '-nameopt',
    'RFC2253',
  ]);
  const c = new Certificate(der);
  expect(out).toContain(`subject=${c.subject}\n`);
  expect(out).toContain(`serial=${c.serialNumber.toUpperCase()}\n`);
  expect(out).toContain(`Fingerprint=${colonHex(c.sha256)}\n`);
}

/** The key bag and the certificate with the same localKeyId, and the key matches it. */
function expectKeyAndCert(p12: Pkcs12Contents, name: string): Certificate {
  expect(p12.keys).toHaveLength(1);
  const k = p12.keys[0] as Pkcs12Contents['keys'][number];
  expect(k.friendlyName).toBe(name);
  expect(k.localKeyId).toMatch(/^[0-9a-f]+$/);
  const bag = p12.certificates.find((c) => c.localKeyId === k.localKeyId);
  expect(bag?.friendlyName).toBe(name);
  const cert = new Certificate(bag?.der as Uint8Array);
  expect(keyMatchesSpki(k.key, cert.spki)).toBe(true);
  return cert;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-p12-'));
  const caKey = generateKey('ecdsa-p256');
  ca = issueCertificate({
    profile: { subject: 'CN=Anchorage P12 CA,O=Anchorage', ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days: 30 } },
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
  });
  const lk = generateKey('rsa-2048');
  leafKey = lk.privateKey;
  leaf = issueCertificate({
    profile: { subject: 'CN=leaf.example,O=Anchorage', sans: { dns: ['leaf.example'] }, validity: { days: 10 } },
    publicKey: lk.publicKey,
    issuer: { cert: ca, key: caKey.privateKey },
  });
  writeFileSync(f('leaf.pem'), leaf.toPem());
  writeFileSync(f('leaf.key'), leafKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(f('ca.pem'), ca.toPem());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading openssl pkcs12 -export output (CA + leaf)', () => {
  const variants: { name: string; args: string[]; info: string; password?: string; legacyInfo?: boolean }[] = [
    { name: 'OpenSSL 3 default', args: [], info: 'PBES2, PBKDF2, AES-256-CBC' },
    { name: '-legacy (RC2-40 certificates, 3DES key, SHA-1 MAC)', args: ['-legacy'], info: 'pbeWithSHA1And40BitRC2-CBC', legacyInfo: true },
    { name: 'unencrypted bags (-keypbe NONE -certpbe NONE)', args: ['-keypbe', 'NONE', '-certpbe', 'NONE'], info: 'PKCS7 Data' },
    {
      name: 'PBES2 AES-128 key, PBES2 3DES certificates, SHA-512 MAC',
      args: ['-keypbe', 'AES-128-CBC', '-certpbe', 'DES-EDE3-CBC', '-macalg', 'sha512'],
      info: 'MAC: sha512',
    },
    {
      name: '2-key 3DES key and 128-bit RC2 certificates',
      args: ['-legacy', '-keypbe', 'PBE-SHA1-2DES', '-certpbe', 'PBE-SHA1-RC2-128'],
      info: 'pbeWithSHA1And128BitRC2-CBC',
      legacyInfo: true,
    },
    { name: 'no MAC (-nomac)', args: ['-nomac'], info: 'PBES2' },
    { name: 'empty password', args: [], info: 'MAC: sha256', password: '' },
  ];

  it.each(variants)('$name', ({ args, info, password = PW, legacyInfo }) => {
    const out = f('in.p12');
    const common = ['-in', 'leaf.pem', '-inkey', 'leaf.key', '-certfile', 'ca.pem', '-name', 'leaf', '-passout', `pass:${password}`];
    run('openssl', ['pkcs12', '-export', ...common, ...args, '-out', out]);
    const infoArgs = ['pkcs12', '-info', '-in', out, '-noout', '-passin', `pass:${password}`, ...(legacyInfo ? ['-legacy'] : [])];
    expect(runBoth('openssl', infoArgs)).toContain(info);

    const p12 = readPkcs12(readFileSync(out), password);
    expect(p12.certificates.map((c) => Buffer.from(c.der))).toEqual([Buffer.from(leaf.der), Buffer.from(ca.der)]);
    const cert = expectKeyAndCert(p12, 'leaf');
    expectOpensslAgrees(cert.der);
    expectOpensslAgrees(p12.certificates[1]?.der as Uint8Array);
  });

  it('says "wrong password" (MAC check failed) for a wrong password, and for tampering', () => {
    run('openssl', ['pkcs12', '-export', '-in', 'leaf.pem', '-inkey', 'leaf.key', '-passout', `pass:${PW}`, '-out', 'w.p12']);
    const buf = readFileSync(f('w.p12'));
    expect(() => readPkcs12(buf, 'not-it')).toThrow(new InputError(PKCS12_WRONG_PASSWORD));
    const tampered = Buffer.from(buf);
    tampered[200] = (tampered[200] as number) ^ 1;
    expect(() => readPkcs12(tampered, PW)).toThrow(InputError);
  });

  it('throws InputError for garbage and truncated input, never a raw parser error', () => {
    const buf = readFileSync(f('w.p12'));
    for (const bad of [Buffer.from('not a pkcs12 file at all'), buf.subarray(0, 300), buf.subarray(0, buf.length - 1), Buffer.alloc(0)]) {
      expect(() => readPkcs12(bad, PW)).toThrow(InputError);
    }
    expect(() => readPkcs12(Buffer.from('3003020101', 'hex'), PW)).toThrow(/not a PKCS#12 file/);
    // Every truncation point: an InputError, never a DerError, RangeError or TypeError.
    for (let i = 0; i < buf.length; i += 7) expect(() => readPkcs12(buf.subarray(0, i), PW)).toThrow(InputError);
    expect(isPkcs12(buf)).toBe(true);
    expect(isPkcs12(leaf.der)).toBe(false);
    expect(isPkcs12(Buffer.from('garbage'))).toBe(false);
  });

  it('reads BER: indefinite lengths and a chunked authSafe OCTET STRING (MAC over the joined chunks)', () => {
    const der = readFileSync(f('w.p12'));
    const pfx = parse(der);
    const [ver, authSafe, mac] = pfx.children();
    const content = authSafe?.child(1).inner().value as Uint8Array;
    const chunk = (b: Uint8Array): Uint8Array => concat([Uint8Array.of(0x04, 0x82, b.length >> 8, b.length & 0xff), b]);
    const half = content.length >> 1;
    const eoc = Uint8Array.of(0, 0);
    const ber = concat([
      Uint8Array.of(0x30, 0x80),
      (ver as { raw: Uint8Array }).raw,
      Uint8Array.of(0x30, 0x80),
      authSafe?.child(0).raw as Uint8Array,
      Uint8Array.of(0xa0, 0x80, 0x24, 0x80),
      chunk(content.subarray(0, half)),
      chunk(content.subarray(half)),
      eoc,
      eoc,
      eoc,
      (mac as { raw: Uint8Array }).raw,
      eoc,
    ]);
    expect(() => parse(ber)).toThrow(/indefinite/);
    const p12 = readPkcs12(ber, PW);
    expect(keyMatchesSpki(p12.keys[0]?.key as KeyObject, leaf.spki)).toBe(true);
  });
});

describe('reading keytool -storetype PKCS12 output', () => {
  beforeAll(async () => {
    const kt = (args: string[]) => keytool([...args, '-storetype', 'PKCS12', '-storepass', JPW]);
    const gen = ['-genkeypair', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '5'];
    await Promise.all([
      kt([...gen, '-alias', 'modern', '-dname', 'CN=java.example,O=Anchorage', '-keystore', 'java.p12']),
      // Java 8's format: RC2-40 certificates, 3DES key, HMAC-SHA1 with 100000 iterations.
      kt(['-J-Dkeystore.pkcs12.legacy', ...gen, '-alias', 'old', '-dname', 'CN=old.example', '-keystore', 'java-legacy.p12']),
      kt(['-importcert', '-noprompt', '-alias', 'anchor', '-file', 'ca.pem', '-keystore', 'java-trust.p12']),
    ]);
  });

  it.each([
    ['java.p12', 'modern', []],
    ['java-legacy.p12', 'old', ['-legacy']],
  ])('%s: key entry with its certificate, fields as openssl reads them', (file, alias, legacy) => {
    const p12 = readPkcs12(readFileSync(f(file)), JPW);
    const cert = expectKeyAndCert(p12, alias);
    const viaOpenssl = pemCerts(run('openssl', ['pkcs12', '-in', file, '-nokeys', '-passin', `pass:${JPW}`, ...legacy]));
    expect(viaOpenssl).toEqual([Buffer.from(cert.der)]);
    expectOpensslAgrees(cert.der);
  });

  it('java-trust.p12: a trusted certificate entry', () => {
    const p12 = readPkcs12(readFileSync(f('java-trust.p12')), JPW);
    expect(p12.keys).toEqual([]);
    expect(p12.certificates).toHaveLength(1);
    expect(p12.certificates[0]?.friendlyName).toBe('anchor');
    expect(Buffer.from(p12.certificates[0]?.der as Uint8Array)).toEqual(Buffer.from(ca.der));
  });

  it('wrong password on a Java file', () => {
    expect(() => readPkcs12(readFileSync(f('java.p12')), 'nope')).toThrow(/wrong password for the PKCS#12 file/);
  });
});

describe('writePkcs12', () => {
  const written: Record<string, string> = {};
  const keytoolList: Record<string, string> = {};

  beforeAll(async () => {
    const opts = { cert: leaf.der, chain: [ca.der], password: JPW, friendlyName: 'leaf' };
    writeFileSync(f('modern.p12'), writePkcs12({ ...opts, key: leafKey, profile: 'modern' }));
    writeFileSync(f('legacy.p12'), writePkcs12({ ...opts, key: leafKey, profile: 'legacy' }));
    writeFileSync(f('trust.p12'), writePkcs12({ ...opts, friendlyName: 'anchor', profile: 'modern' }));
    for (const n of ['modern', 'legacy', 'trust']) written[n] = f(`${n}.p12`);
    const lists = await Promise.all(
      Object.entries(written).map(([n, p]) =>
        keytool(['-list', '-v', '-keystore', p, '-storepass', JPW, '-storetype', 'PKCS12']).then((out) => [n, out] as const),
      ),
    );
    for (const [n, out] of lists) keytoolList[n] = out;
  });

  it.each([
    ['modern', ['MAC: sha256, Iteration 2048', 'PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256']],
    ['legacy', ['MAC: sha1, Iteration 2048', 'pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048']],
  ])('%s: openssl pkcs12 (no -legacy needed) sees the algorithms, key and chain', (name, expected) => {
    const file = written[name] as string;
    const info = runBoth('openssl', ['pkcs12', '-info', '-nokeys', '-in', file, '-passin', `pass:${JPW}`]);
    for (const e of expected) expect(info).toContain(e);
    expect(info).toMatch(/Shrouded Keybag: (PBES2|pbeWithSHA1And3-KeyTripleDES-CBC)/);
    expect(info).toContain('friendlyName: leaf');

    const all = run('openssl', ['pkcs12', '-in', file, '-nodes', '-passin', `pass:${JPW}`]);
    const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/.exec(all)?.[0] as string;
    expect(keyMatchesSpki(createPrivateKey(keyPem), leaf.spki)).toBe(true);
    expect(pemCerts(all)).toEqual([Buffer.from(leaf.der), Buffer.from(ca.der)]);
  });

  it.each(['modern', 'legacy'])('%s: keytool lists one PrivateKeyEntry with a chain of 2', (name) => {
    const out = keytoolList[name] as string;
    expect(out).toContain('Your keystore contains 1 entry');
    expect(out).toContain('Alias name: leaf');
    expect(out).toContain('Entry type: PrivateKeyEntry');
    expect(out).toContain('Certificate chain length: 2');
    expect(out).toContain(`SHA256: ${colonHex(leaf.sha256)}`);
    expect(out).toContain(`SHA256: ${colonHex(ca.sha256)}`);
  });

  it.each(['modern', 'legacy'])('%s: round-trips through readPkcs12', (name) => {
    const p12 = readPkcs12(readFileSync(written[name] as string), JPW);
    const cert = expectKeyAndCert(p12, 'leaf');
    expect(Buffer.from(cert.der)).toEqual(Buffer.from(leaf.der));
    expect(p12.certificates.map((c) => Buffer.from(c.der))).toEqual([Buffer.from(leaf.der), Buffer.from(ca.der)]);
    expect(() => readPkcs12(readFileSync(written[name] as string), JPW.toUpperCase())).toThrow(new InputError(PKCS12_WRONG_PASSWORD));
  });

  it('without a key: a truststore keytool lists as two trustedCertEntry', () => {
    const out = keytoolList.trust as string;
    expect(out).toContain('Your keystore contains 2 entries');
    expect(out.match(/Entry type: trustedCertEntry/g)).toHaveLength(2);
    expect(out).toContain('Alias name: anchor\n');
    expect(out).toContain('Alias name: anchor-1\n');
    const p12 = readPkcs12(readFileSync(f('trust.p12')), JPW);
    expect(p12.keys).toEqual([]);
    expect(p12.certificates.map((c) => c.friendlyName)).toEqual(['anchor', 'anchor-1']);
  });

  it('a non-ASCII password means the same to openssl as to us', () => {
    writeFileSync(f('utf8.p12'), writePkcs12({ key: leafKey, cert: leaf.der, password: PW, profile: 'modern' }));
    writeFileSync(f('utf8-legacy.p12'), writePkcs12({ key: leafKey, cert: leaf.der, password: PW, profile: 'legacy' }));
    for (const file of ['utf8.p12', 'utf8-legacy.p12']) {
      const all = run('openssl', ['pkcs12', '-in', file, '-nodes', '-passin', `pass:${PW}`]);
      expect(pemCerts(all)).toEqual([Buffer.from(leaf.der)]);
      expect(all).toContain('BEGIN PRIVATE KEY');
    }
  });

  it('refuses a key that does not match the certificate', () => {
    const other = generateKey('ecdsa-p256').privateKey;
    expect(() => writePkcs12({ key: other, cert: leaf.der, password: JPW, profile: 'modern' })).toThrow(InputError);
  });
});

describe('algorithm vectors', () => {
  // RFC 9579 appendix A.1: PBMAC1 (PBKDF2-HMAC-SHA256, HMAC-SHA256), password "1234".
  const A1 = [
    'MIIKigIBAzCCCgUGCSqGSIb3DQEHAaCCCfYEggnyMIIJ7jCCBGIGCSqGSIb3DQEH',
    'BqCCBFMwggRPAgEAMIIESAYJKoZIhvcNAQcBMFcGCSqGSIb3DQEFDTBKMCkGCSqG',
    'SIb3DQEFDDAcBAg9pxXxY2yscwICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQME',
    'ASoEEK7yYaFQDi1pYwWzm9F/fs+AggPgFIT2XapyaFgDppdvLkdvaF3HXw+zjzKb',
    '7xFC76DtVPhVTWVHD+kIss+jsj+XyvMwY0aCuAhAG/Dig+vzWomnsqB5ssw5/kTb',
    '+TMQ5PXLkNeoBmB6ArKeGc/QmCBQvQG/a6b+nXSWmxNpP+71772dmWmB8gcSJ0kF',
    'Fj75NrIbmNiDMCb71Q8gOzBMFf6BpXf/3xWAJtxyic+tSNETfOJa8zTZb0+lV0w9',
    '5eUmDrPUpuxEVbb0KJtIc63gRkcfrPtDd6Ii4Zzbzj2Evr4/S4hnrQBsiryVzJWy',
    'IEjaD0y6+DmG0JwMgRuGi1wBoGowi37GMrDCOyOZWC4n5wHLtYyhR6JaElxbrhxP',
    'H46z2USLKmZoF+YgEQgYcSBXMgP0t36+XQocFWYi2N5niy02TnctwF430FYsQlhJ',
    'Suma4I33E808dJuMv8T/soF66HsD4Zj46hOf4nWmas7IaoSAbGKXgIa7KhGRJvij',
    'xM3WOX0aqNi/8bhnxSA7fCmIy/7opyx5UYJFWGBSmHP1pBHBVmx7Ad8SAsB9MSsh',
    'nbGjGiUk4h0QcOi29/M9WwFlo4urePyI8PK2qtVAmpD3rTLlsmgzguZ69L0Q/CFU',
    'fbtqsMF0bgEuh8cfivd1DYFABEt1gypuwCUtCqQ7AXK2nQqOjsQCxVz9i9K8NDeD',
    'aau98VAl0To2sk3/VR/QUq0PRwU1jPN5BzUevhE7SOy/ImuJKwpGqqFljYdrQmj5',
    'jDe+LmYH9QGVRlfN8zuU+48FY8CAoeBeHn5AAPml0PYPVUnt3/jQN1+v+CahNVI+',
    'La8q1Nen+j1R44aa2I3y/pUgtzXRwK+tPrxTQbG030EU51LYJn8amPWmn3w75ZIA',
    'MJrXWeKj44de7u4zdUsEBVC2uM44rIHM8MFjyYAwYsey0rcp0emsaxzar+7ZA67r',
    'lDoXvvS3NqsnTXHcn3T9tkPRoee6L7Dh3x4Od96lcRwgdYT5BwyH7e34ld4VTUmJ',
    'bDEq7Ijvn4JKrwQJh1RCC+Z/ObfkC42xAm7G010u3g08xB0Qujpdg4a7VcuWrywF',
    'c7hLNquuaF4qoDaVwYXHH3iuX6YlJ/3siTKbYCVXPEZOAMBP9lF/OU76UMJBQNfU',
    '0xjDx+3AhUVgnGuCsmYlK6ETDp8qOZKGyV0KrNSGtqLx3uMhd7PETeW+ML3tDQ/0',
    'X9fMkcZHi4C2fXnoHV/qa2dGhBj4jjQ0Xh1poU6mxGn2Mebe2hDsBZkkBpnn7pK4',
    'wP/VqXdQTwqEuvzGHLVFsCuADe40ZFBmtBrf70wG7ZkO8SUZ8Zz1IX3+S024g7yj',
    'QRev/6x6TtkwggWEBgkqhkiG9w0BBwGgggV1BIIFcTCCBW0wggVpBgsqhkiG9w0B',
    'DAoBAqCCBTEwggUtMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhTxzw+',
    'VptrYAICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEK9nSqc1I2t4tMVG',
    'bWHpdtQEggTQzCwI7j34gCTvfj6nuOSndAjShGv7mN2j7WMV0pslTpq2b9Bn3vn1',
    'Y0JMvL4E7sLrUzNU02pdOcfCnEpMFccNv2sQrLp1mOCKxu8OjSqHZLoKVL0ROVsZ',
    '8dMECLLigDlPKRiSyLErl14tErX4/zbkUaWMROO28kFbTbubQ8YoHlRUwsKW1xLg',
    'vfi0gRkG/zHXRfQHjX/8NStv7hXlehn7/Gy2EKPsRFhadm/iUHAfmCMkMgHTU248',
    'JER9+nsXltd59H+IeDpj/kbxZ+YvHow9XUZKu828d3MQnUpLZ1BfJGhMBPVwbVUD',
    'A40CiQBVdCoGtPJyalL28xoS3H0ILFCnwQOr6u0HwleNJPGHq78HUyH6Hwxnh0b0',
    '5o163r6wTFZn5cMOxpbs/Ttd+3TrxmrYpd2XnuRme3cnaYJ0ILvpc/8eLLR7SKjD',
    'T4JhZ0h/CfcV2WWvhpQugkY0pWrZ+EIMneB1dZB96mJVLxOi148OeSgi0PsxZMNi',
    'YM33rTpwQT5WqOsEyDwUQpne5b8Kkt/s7EN0LJNnPyJJRL1LcqOdr6j+6YqRtPa7',
    'a9oWJqMcuTP+bqzGRJh+3HDlFBw2Yzp9iadv4KmB2MzhStLUoi2MSjvnnkkd5Led',
    'sshAd6WbKfF7kLAHQHT4Ai6dMEO4EKkEVF9JBtxCR4JEn6C98Lpg+Lk+rfY7gHOf',
    'ZxtgGURwgXRY3aLUrdT55ZKgk3ExVKPzi5EhdpAau7JKhpOwyKozAp/OKWMNrz6h',
    'obu2Mbn1B+IA60psYHHxynBgsJHv7WQmbYh8HyGfHgVvaA8pZCYqxxjpLjSJrR8B',
    'Bu9H9xkTh7KlhxgreXYv19uAYbUd95kcox9izad6VPnovgFSb+Omdy6PJACPj6hF',
    'W6PJbucP0YPpO0VtWtQdZZ3df1P0hZ7qvKwOPFA+gKZSckgqASfygiP9V3Zc8jIi',
    'wjNzoDM2QT+UUJKiiGYXJUEOO9hxzFHlGj759DcNRhpgl5AgR57ofISD9yBuCAJY',
    'PQ/aZHPFuRTrcVG3RaIbCAS73nEznKyFaLOXfzyfyaSmyhsH253tnyL1MejC+2bR',
    'Eko/yldgFUxvU5JI+Q3KJ6Awj+PnduHXx71E4UwSuu2xXYMpxnQwI6rroQpZBX82',
    'HhqgcLV83P8lpzQwPdHjH5zkoxmWdC0+jU/tcQfNXYpJdyoaX7tDmVclLhwl9ps/',
    'O841pIsNLJWXwvxG6B+3LN/kw4QjwN194PopiOD7+oDm5mhttO78CrBrRxHMD/0Q',
    'qniZjKzSZepxlZq+J792u8vtMnuzzChxu0Bf3PhIXcJNcVhwUtr0yKe/N+NvC0tm',
    'p8wyik/BlndxN9eKbdTOi2wIi64h2QG8nOk66wQ/PSIJYwZl6eDNEQSzH/1mGCfU',
    'QnUT17UC/p+Qgenf6Auap2GWlvsJrB7u/pytz65rtjt/ouo6Ih6EwWqwVVpGXZD0',
    '7gVWH0Ke/Vr6aPGNvkLcmftPuDZsn9jiig3guhdeyRVf10Ox369kKWcG75q77hxE',
    'IzSzDyUlBNbnom9SIjut3r+qVYmWONatC6q/4D0I42Lnjd3dEyZx7jmH3g/S2ASM',
    'FzWr9pvXc61dsYOkdZ4PYa9XPUZxXFagZsoS3F1sU799+IJVU0tC0MExJTAjBgkq',
    'hkiG9w0BCRUxFgQUwWO5DorvVWYF3BWUmAw0rUEajScwfDBtMEkGCSqGSIb3DQEF',
    'DjA8MCwGCSqGSIb3DQEFDDAfBAhvRzw4sC4xcwICCAACASAwDAYIKoZIhvcNAgkF',
    'ADAMBggqhkiG9w0CCQUABCB6pW2FOdcCNj87zS64NUXG36K5aXDnFHctIk5Bf4kG',
    '3QQITk9UIFVTRUQCAQE=',
  ].join('');

  it('PBMAC1 (RFC 9579 A.1) verifies with the right password only', () => {
    const buf = Buffer.from(A1, 'base64');
    const p12 = readPkcs12(buf, '1234');
    expect(p12.certificates).toHaveLength(1);
    expect(p12.keys).toHaveLength(1);
    expect(keyMatchesSpki(p12.keys[0]?.key as KeyObject, new Certificate(p12.certificates[0]?.der as Uint8Array).spki)).toBe(true);
    expect(() => readPkcs12(buf, '12345')).toThrow(new InputError(PKCS12_WRONG_PASSWORD));
  });

  it('RC2 decrypts the RFC 2268 section 5 vectors', () => {
    const vectors: [string, number, string, string][] = [
      ['0000000000000000', 63, '0000000000000000', 'ebb773f993278eff'],
      ['ffffffffffffffff', 64, 'ffffffffffffffff', '278b27e42e2f0d49'],
      ['3000000000000000', 64, '1000000000000001', '30649edf9be7d2c2'],
      ['88', 64, '0000000000000000', '61a8a244adacccf0'],
      ['88bca90e90875a', 64, '0000000000000000', '6ccf4308974c267f'],
      ['88bca90e90875a7f0f79c384627bafb2', 64, '0000000000000000', '1a807d272bbe5db1'],
      ['88bca90e90875a7f0f79c384627bafb2', 128, '0000000000000000', '2269552ab0f85ca6'],
      ['88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e', 129, '0000000000000000', '5b78d3a43dfff1f1'],
    ];
    for (const [key, bits, plain, cipher] of vectors) {
      const out = rc2DecryptBlock(Buffer.from(key, 'hex'), bits, Buffer.from(cipher, 'hex'));
      expect(Buffer.from(out).toString('hex')).toBe(plain);
    }
  });
});

describe('deterministic PKCS#12 (same inputs, same bytes)', () => {
  /** The MacData salt: PFX = SEQUENCE { version, authSafe, MacData { DigestInfo, salt, iterations } }. */
  const macSalt = (buf: Uint8Array): string => Buffer.from(parse(buf).child(2).child(1).value).toString('hex');

  it.each(['modern', 'legacy'] as const)(
    '%s: a key file and a truststore are byte-identical when written twice, and openssl opens both',
    (profile) => {
      const withKey = () => writePkcs12({ key: leafKey, cert: leaf.der, chain: [ca.der], password: JPW, friendlyName: 'leaf', profile });
      const trust = () =>
        writePkcs12({ cert: ca.der, chain: [leaf.der], chainNames: ['leaf'], password: JPW, friendlyName: 'ca', profile });
      const [a, b] = [withKey(), withKey()];
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
      expect(Buffer.from(trust()).equals(Buffer.from(trust()))).toBe(true);
      writeFileSync(f(`det-${profile}.p12`), a);
      writeFileSync(f(`det-trust-${profile}.p12`), trust());
      const all = run('openssl', ['pkcs12', '-in', `det-${profile}.p12`, '-nodes', '-passin', `pass:${JPW}`]);
      expect(pemCerts(all)).toEqual([Buffer.from(leaf.der), Buffer.from(ca.der)]);
      expect(all).toContain('BEGIN PRIVATE KEY');
      const info = runBoth('openssl', ['pkcs12', '-info', '-nokeys', '-in', `det-trust-${profile}.p12`, '-passin', `pass:${JPW}`]);
      expect(info).toContain('friendlyName: ca');
      expect(info).toContain('friendlyName: leaf');
    },
  );

  it('salts change with the content and the password; salts: random gives fresh ones', () => {
    const base = { cert: leaf.der, chain: [ca.der], password: JPW, profile: 'modern' as const };
    const other = generateKey('ecdsa-p256');
    const otherLeaf = issueCertificate({
      profile: { subject: 'CN=other', validity: { days: 1 } },
      publicKey: other.publicKey,
      signingKey: other.privateKey,
    });
    const salts = [
      macSalt(writePkcs12({ ...base, key: leafKey })),
      macSalt(writePkcs12({ ...base, key: leafKey, password: `${JPW}!` })),
      macSalt(writePkcs12({ ...base, key: leafKey, friendlyName: 'renamed' })),
      macSalt(writePkcs12({ ...base, chain: [], key: leafKey })),
      macSalt(writePkcs12({ ...base, cert: otherLeaf.der, chain: [], key: other.privateKey })),
      macSalt(writePkcs12(base)),
    ];
    expect(new Set(salts).size).toBe(salts.length);
    const r1 = writePkcs12({ ...base, key: leafKey, salts: 'random' });
    const r2 = writePkcs12({ ...base, key: leafKey, salts: 'random' });
    expect(macSalt(r1)).not.toBe(macSalt(r2));
    expect(readPkcs12(r1, JPW).keys).toHaveLength(1);
  });
});

describe('a PKCS#12 file without a MAC and the wrong password', () => {
  // Nothing checks the password before decrypting: AES-CBC under a wrong one leaves valid padding about once in
  // 256, and what comes out is garbage. Salts are tried in order until Node's decipher accepts the padding under
  // the wrong password, so the case is built rather than waited for. The files are laid out as `openssl pkcs12
  // -export -nomac` lays them out, with one PBKDF2 iteration.
  const iv = Buffer.alloc(16, 3);
  const unluckySalt = (plain: Uint8Array): Buffer => {
    for (let i = 0; i < 16_384; i++) {
      const salt = Buffer.alloc(8);
      salt.writeUInt32BE(i, 4);
      const { data } = pbes2Encrypt('secret', plain, 1, salt, iv);
      const d = createDecipheriv('aes-256-cbc', pbkdf2Sync('bad', salt, 1, 32, 'sha256'), iv);
      try {
        Buffer.concat([d.update(data), d.final()]);
        return salt;
      } catch {}
    }
    throw new Error('no salt in 16,384 left valid padding under the wrong password');
  };
  const certBags = (): Uint8Array =>
    seq(seq(oid('1.2.840.113549.1.12.10.1.3'), explicit(0, seq(oid('1.2.840.113549.1.9.22.1'), explicit(0, octetString(leaf.der))))));
  const pfx = (authSafe: Uint8Array): Uint8Array => seq(integer(3), seq(oid(OID.data), explicit(0, octetString(authSafe))));
  const encryptedCerts = (salt: Buffer): Uint8Array => {
    const e = pbes2Encrypt('secret', certBags(), 1, salt, iv);
    return seq(oid(OID.encryptedData), explicit(0, seq(integer(0), seq(oid(OID.data), e.algorithmId, implicit(0, e.data)))));
  };
  const shroudedKey = (salt: Buffer): Uint8Array => {
    const e = pbes2Encrypt('secret', leafKey.export({ type: 'pkcs8', format: 'der' }), 1, salt, iv);
    const bag = seq(oid('1.2.840.113549.1.12.10.1.2'), explicit(0, seq(e.algorithmId, octetString(e.data))));
    return seq(oid(OID.data), explicit(0, octetString(seq(bag))));
  };

  it.each([
    ['its certificates', (): Uint8Array => pfx(seq(encryptedCerts(unluckySalt(certBags()))))],
    ['its private key', (): Uint8Array => pfx(seq(shroudedKey(unluckySalt(leafKey.export({ type: 'pkcs8', format: 'der' })))))],
  ])('says wrong password when %s decrypt to garbage', (_, build) => {
    const file = build();
    writeFileSync(f('nomac.p12'), file);
    // The oracle: openssl reads it with the password it was made with and refuses the wrong one.
    runBoth('openssl', ['pkcs12', '-in', 'nomac.p12', '-passin', 'pass:secret', '-nomacver', '-noenc', '-out', 'nomac.pem']);
    expect(
      spawnSync('openssl', ['pkcs12', '-in', 'nomac.p12', '-passin', 'pass:bad', '-nomacver', '-noenc'], { cwd: dir }).status,
    ).not.toBe(0);
    const good = readPkcs12(file, 'secret');
    expect(good.protection?.mac).toBeUndefined();
    expect(good.certificates.length + good.keys.length).toBe(1);
    expect(() => readPkcs12(file, 'bad')).toThrow(new InputError(PKCS12_UNVERIFIED_WRONG_PASSWORD));
  });
});
