// JKS against the real peer: keystores made by keytool are read; keystores we write are listed by keytool
// and converted by keytool -importkeystore (which must decrypt our key protector to do so).
import { execFile, execFileSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from './build.ts';
import { Certificate } from './certificate.ts';
import {
  isJks,
  JKS_WRONG_PASSWORD,
  type JksKeyEntry,
  type JksTrustedEntry,
  readJks,
  writeJks,
  writeJksKeystore,
  writeJksTruststore,
} from './jks.ts';
import { generateKey, keyMatchesSpki } from './keys.ts';
import { readPkcs12 } from './pkcs12.ts';

const execFileAsync = promisify(execFile);
const PW = 'storepass-1';
const KEYPW = 'keypass-2';

let dir: string;
let ca: Certificate;
let leaf: Certificate;
let leafKey: KeyObject;
const f = (name: string): string => join(dir, name);
/** keytool with stdin closed and a timeout: a prompt fails the test instead of hanging it. */
function keytool(args: string[]): Promise<string> {
  const p = execFileAsync('keytool', args, { cwd: dir, timeout: 60_000 });
  p.child.stdin?.end();
  return p.then((r) => r.stdout);
}
const pemCerts = (text: string): Buffer[] =>
  [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1] as string, 'base64'));
const colonHex = (hex: string): string => hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-jks-'));
  const caKey = generateKey('ecdsa-p256');
  ca = issueCertificate({
    profile: { subject: 'CN=Anchorage JKS CA,O=Anchorage', ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days: 30 } },
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
  });
  const lk = generateKey('ecdsa-p256');
  leafKey = lk.privateKey;
  leaf = issueCertificate({
    profile: { subject: 'CN=leaf.example,O=Anchorage', sans: { dns: ['leaf.example'] }, validity: { days: 10 } },
    publicKey: lk.publicKey,
    issuer: { cert: ca, key: caKey.privateKey },
  });
  writeFileSync(f('ca.pem'), ca.toPem());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading keystores keytool made', () => {
  let listed: string;
  let startedAt: number;

  beforeAll(async () => {
    startedAt = Date.now();
    const store = ['-storetype', 'JKS', '-storepass', PW];
    const gen = ['-genkeypair', '-validity', '5', ...store];
    await Promise.all([
      (async () => {
        const server = [
          '-alias',
          'server',
          '-keyalg',
          'RSA',
          '-keysize',
          '2048',
          '-dname',
          'CN=server.example,O=Anchorage',
          '-keypass',
          PW,
        ];
        await keytool([...gen, ...server, '-keystore', 'gen.jks']);
        await keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'gen.jks', ...store]);
        listed = await keytool(['-list', '-rfc', '-keystore', 'gen.jks', ...store]);
      })(),
      // A key password different from the store password.
      keytool([...gen, '-alias', 'other', '-keyalg', 'EC', '-dname', 'CN=other', '-keypass', KEYPW, '-keystore', 'other.jks']),
    ]);
  });

  it('a private key entry (RSA) and a trusted certificate entry, as keytool lists them', () => {
    const ks = readJks(readFileSync(f('gen.jks')), PW);
    expect(ks.version).toBe(2);
    expect(ks.entries.map((e) => [e.type, e.alias]).sort()).toEqual([
      ['private-key', 'server'],
      ['trusted-cert', 'ca'],
    ]);
    const key = ks.entries.find((e): e is JksKeyEntry => e.type === 'private-key') as JksKeyEntry;
    const trusted = ks.entries.find((e): e is JksTrustedEntry => e.type === 'trusted-cert') as JksTrustedEntry;
    expect(key.chain).toHaveLength(1);
    expect(key.key.asymmetricKeyType).toBe('rsa');
    // Creation time: Java's millisecond timestamp, taken while the fixture hook ran.
    expect(key.created.getTime()).toBeGreaterThanOrEqual(startedAt);
    expect(key.created.getTime()).toBeLessThanOrEqual(Date.now());
    const cert = new Certificate(key.chain[0] as Uint8Array);
    expect(keyMatchesSpki(key.key, cert.spki)).toBe(true);
    expect(Buffer.from(trusted.der)).toEqual(Buffer.from(ca.der));
    // keytool -list -rfc prints the same certificates (the key entry's chain and the trusted one).
    expect(pemCerts(listed).sort(Buffer.compare)).toEqual([Buffer.from(cert.der), Buffer.from(ca.der)].sort(Buffer.compare));
    // and openssl agrees on the fields
    writeFileSync(f('server.der'), cert.der);
    const out = execFileSync(
      'openssl',
      ['x509', '-inform', 'DER', '-in', f('server.der'), '-noout', '-subject', '-serial', '-fingerprint', '-sha256', '-nameopt', 'RFC2253'],
      { encoding: 'utf8' },
    );
    expect(cert.subject).toBe('CN=server.example,O=Anchorage');
    expect(out).toContain(`subject=${cert.subject}\n`);
    expect(out).toContain(`serial=${cert.serialNumber.toUpperCase()}\n`);
    expect(out).toContain(`Fingerprint=${colonHex(cert.sha256)}\n`);
  });

  it('a key password that differs from the store password', () => {
    const buf = readFileSync(f('other.jks'));
    expect(() => readJks(buf, PW)).toThrow(new InputError("wrong key password for JKS entry 'other'"));
    const ks = readJks(buf, PW, KEYPW);
    const e = ks.entries[0] as JksKeyEntry;
    expect(e.key.asymmetricKeyType).toBe('ec');
    expect(keyMatchesSpki(e.key, new Certificate(e.chain[0] as Uint8Array).spki)).toBe(true);
  });

  it('wrong store password, garbage and truncation are InputErrors with clear messages', () => {
    const buf = readFileSync(f('gen.jks'));
    expect(() => readJks(buf, 'nope')).toThrow(new InputError(JKS_WRONG_PASSWORD));
    expect(() => readJks(buf.subarray(0, 100), PW)).toThrow(/not a valid JKS keystore \(truncated/);
    expect(() => readJks(buf.subarray(0, buf.length - 1), PW)).toThrow(InputError);
    expect(() => readJks(Buffer.concat([buf, Buffer.of(0)]), PW)).toThrow(InputError);
    expect(() => readJks(Buffer.from('definitely not a keystore'), PW)).toThrow(/not a JKS keystore/);
    expect(() => readJks(Buffer.from('feedfeed0000000200010000', 'hex'), PW)).toThrow(InputError);
    expect(() => readJks(Buffer.from('cececece00000002', 'hex'), PW)).toThrow(/JCEKS/);
    for (let i = 0; i < buf.length; i += 5) expect(() => readJks(buf.subarray(0, i), PW)).toThrow(InputError);
    expect(isJks(buf)).toBe(true);
    expect(isJks(ca.der)).toBe(false);
  });
});

describe('writing keystores keytool reads', () => {
  const lists: Record<string, string> = {};

  beforeAll(async () => {
    writeFileSync(
      f('trust.jks'),
      writeJksTruststore(
        [
          { alias: 'Anchorage-CA', der: ca.der },
          { alias: 'leaf', der: leaf.der },
        ],
        PW,
      ),
    );
    writeFileSync(f('key.jks'), writeJksKeystore({ alias: 'tls', key: leafKey, chain: [leaf.der, ca.der] }, PW));
    const list = (file: string) => keytool(['-list', '-v', '-keystore', file, '-storepass', PW, '-storetype', 'JKS']);
    const [trust, key] = await Promise.all([
      list('trust.jks'),
      list('key.jks'),
      keytool([
        ...['-importkeystore', '-noprompt', '-srckeystore', 'key.jks', '-srcstoretype', 'JKS', '-srcstorepass', PW],
        ...['-destkeystore', 'converted.p12', '-deststoretype', 'PKCS12', '-deststorepass', PW],
      ]),
    ]);
    lists.trust = trust;
    lists.key = key;
  });

  it('a truststore: keytool lists two trustedCertEntry with our fingerprints (aliases lowercased, as Java does)', () => {
    const out = lists.trust as string;
    expect(out).toContain('Your keystore contains 2 entries');
    expect(out.match(/Entry type: trustedCertEntry/g)).toHaveLength(2);
    expect(out).toContain('Alias name: anchorage-ca\n');
    expect(out).toContain('Alias name: leaf\n');
    expect(out).toContain(`SHA256: ${colonHex(ca.sha256)}`);
    expect(out).toContain(`SHA256: ${colonHex(leaf.sha256)}`);
    const ks = readJks(readFileSync(f('trust.jks')), PW);
    expect(ks.entries.map((e) => (e as JksTrustedEntry).der).map((d) => Buffer.from(d))).toEqual([
      Buffer.from(ca.der),
      Buffer.from(leaf.der),
    ]);
  });

  it('a key entry: keytool lists the chain, and -importkeystore decrypts our key protector', () => {
    const out = lists.key as string;
    expect(out).toContain('Your keystore contains 1 entry');
    expect(out).toContain('Entry type: PrivateKeyEntry');
    expect(out).toContain('Certificate chain length: 2');
    expect(out).toContain(`SHA256: ${colonHex(leaf.sha256)}`);
    const p12 = readPkcs12(readFileSync(f('converted.p12')), PW);
    expect(p12.keys).toHaveLength(1);
    expect(keyMatchesSpki(p12.keys[0]?.key as KeyObject, leaf.spki)).toBe(true);
    expect(p12.keys[0]?.friendlyName).toBe('tls');
  });

  it('round-trips, including a separate key password', () => {
    const buf = writeJks({
      keys: [{ alias: 'k', key: leafKey, chain: [leaf.der] }],
      trusted: [{ alias: 'ca', der: ca.der }],
      password: PW,
      keyPassword: KEYPW,
    });
    expect(() => readJks(buf, PW)).toThrow(/wrong key password for JKS entry 'k'/);
    const ks = readJks(buf, PW, KEYPW);
    const [k, t] = ks.entries as [JksKeyEntry, JksTrustedEntry];
    expect(keyMatchesSpki(k.key, leaf.spki)).toBe(true);
    expect(k.chain.map((c) => Buffer.from(c))).toEqual([Buffer.from(leaf.der)]);
    expect(Buffer.from(t.der)).toEqual(Buffer.from(ca.der));
    expect(() => readJks(buf, KEYPW)).toThrow(new InputError(JKS_WRONG_PASSWORD));
  });

  it('refuses aliases that collide case-insensitively', () => {
    expect(() =>
      writeJksTruststore(
        [
          { alias: 'CA', der: ca.der },
          { alias: 'ca', der: leaf.der },
        ],
        PW,
      ),
    ).toThrow(/duplicate JKS alias/);
  });
});

describe('deterministic keystores (same inputs, same bytes)', () => {
  const NB = new Date('2024-03-05T06:07:08Z');
  let old: Certificate;
  let oldKey: KeyObject;
  let listed: string;

  beforeAll(async () => {
    const k = generateKey('ecdsa-p256');
    oldKey = k.privateKey;
    old = issueCertificate({
      profile: { subject: 'CN=dated.example', validity: { notBefore: NB, notAfter: new Date('2034-03-05T06:07:08Z') } },
      publicKey: k.publicKey,
      issuer: { cert: ca, key: generateKey('ecdsa-p256').privateKey },
    });
    writeFileSync(
      f('dated.jks'),
      writeJks({ keys: [{ alias: 'dated', key: oldKey, chain: [old.der] }], trusted: [{ alias: 'ca', der: ca.der }], password: PW }),
    );
    listed = await keytool([
      '-list',
      '-v',
      '-keystore',
      'dated.jks',
      '-storepass',
      PW,
      '-storetype',
      'JKS',
      '-J-Duser.language=en',
      '-J-Duser.country=US',
    ]);
  });

  it('writes a truststore and a key entry twice to identical bytes', () => {
    const trust = () =>
      writeJksTruststore(
        [
          { alias: 'ca', der: ca.der },
          { alias: 'leaf', der: leaf.der },
        ],
        PW,
      );
    expect(Buffer.from(trust()).equals(Buffer.from(trust()))).toBe(true);
    const keys = () => writeJksKeystore({ alias: 'tls', key: leafKey, chain: [leaf.der, ca.der] }, PW);
    expect(Buffer.from(keys()).equals(Buffer.from(keys()))).toBe(true);
  });

  it("dates each entry with its certificate's notBefore, as keytool shows", () => {
    expect(listed.match(/Creation date: Mar 5, 2024/g)).toHaveLength(1);
    const ks = readJks(readFileSync(f('dated.jks')), PW);
    expect(ks.entries.map((e) => e.created.toISOString())).toEqual([NB.toISOString(), ca.notBefore.toISOString()]);
    expect(listed).toContain('Entry type: PrivateKeyEntry');
  });

  it('never reuses a key-protector keystream across keys: the salt differs per key and per password', () => {
    // The protected key is SEQUENCE { AlgorithmIdentifier, OCTET STRING salt(20) || body || check(20) }.
    const salt = (buf: Uint8Array): string => {
      const e = readJksRaw(buf);
      return e.subarray(0, 20).toString('hex');
    };
    const a = salt(writeJksKeystore({ alias: 'a', key: leafKey, chain: [leaf.der] }, PW));
    const b = salt(writeJksKeystore({ alias: 'a', key: oldKey, chain: [old.der] }, PW));
    const c = salt(writeJksKeystore({ alias: 'a', key: leafKey, chain: [leaf.der] }, `${PW}x`));
    expect(new Set([a, b, c]).size).toBe(3);
  });
});

/** The encrypted-key OCTET STRING of the first (key) entry of a JKS we wrote, located by the JKS layout. */
function readJksRaw(buf: Uint8Array): Buffer {
  const b = Buffer.from(buf);
  let p = 12 + 4; // magic, version, count, tag
  p += 2 + b.readUInt16BE(p) + 8; // alias, timestamp
  const len = b.readUInt32BE(p);
  const der = b.subarray(p + 4, p + 4 + len);
  // SEQUENCE(len) { SEQUENCE AlgId, OCTET STRING }: skip to the OCTET STRING's content.
  const hdr = (at: number): [number, number] => {
    const l = der[at + 1] as number;
    if (l < 0x80) return [2, l];
    const n = l & 0x7f;
    return [2 + n, der.subarray(at + 2, at + 2 + n).reduce((x, y) => x * 256 + y, 0)];
  };
  const [h0] = hdr(0);
  const [h1, l1] = hdr(h0);
  const at = h0 + h1 + l1;
  const [h2, l2] = hdr(at);
  return der.subarray(at + h2, at + h2 + l2);
}
