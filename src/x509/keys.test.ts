// The SPKI of a freshly generated key is built from its JWK export (src/x509/keys.ts freshSpki), not by
// OpenSSL's encoder: it must be byte for byte what OpenSSL writes (KeyObject.export and the openssl CLI).
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, createPublicKey, generateKeyPairSync, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toPem } from './certificate.ts';
import { octetString, seq } from './der.ts';
import {
  generateKey,
  generateKeyAsync,
  KEY_TYPES,
  keyMatchesSpki,
  loadPrivateKey,
  privateKeySpki,
  publicKeyFromSpki,
  spkiDer,
} from './keys.ts';
import { pbes2Encrypt } from './pbe.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-keys-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opensslSpki = (b: Buffer): Buffer => execFileSync('openssl', ['pkey', '-pubin', '-inform', 'DER', '-outform', 'DER'], { input: b });

describe('SPKI of generated keys', () => {
  // Many EC and Ed25519 keys, so coordinates with leading zero bytes (1 in 256 per coordinate) occur.
  const counts: Record<string, number> = { 'ecdsa-p256': 2000, 'ecdsa-p384': 1000, ed25519: 2000, 'rsa-2048': 2 };
  for (const t of KEY_TYPES) {
    const n = counts[t] ?? 1;
    it(`${t}: equals OpenSSL's encoding for ${n} keys, from the public and the private key`, () => {
      for (let i = 0; i < n; i++) {
        const kp = generateKey(t);
        const ours = Buffer.from(spkiDer(kp.publicKey));
        const openssl = kp.publicKey.export({ type: 'spki', format: 'der' });
        expect(ours.equals(openssl)).toBe(true);
        expect(Buffer.from(privateKeySpki(kp.privateKey)).equals(openssl)).toBe(true);
        expect(keyMatchesSpki(kp.privateKey, openssl)).toBe(true);
        if (i === 0) expect(opensslSpki(ours).equals(ours)).toBe(true);
      }
    });
  }

  it('async generation remembers the same SPKI', async () => {
    for (const t of ['ecdsa-p256', 'ed25519', 'rsa-2048'] as const) {
      const kp = await generateKeyAsync(t);
      expect(Buffer.from(spkiDer(kp.publicKey)).equals(kp.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    }
  });

  it('an imported key with a compressed point is exported as OpenSSL keeps it, not rebuilt uncompressed', () => {
    const kp = generateKey('ecdsa-p256');
    writeFileSync(join(dir, 'pub.pem'), kp.publicKey.export({ type: 'spki', format: 'pem' }));
    const compressed = execFileSync(
      'openssl',
      ['ec', '-pubin', '-in', join(dir, 'pub.pem'), '-conv_form', 'compressed', '-outform', 'DER'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    expect(compressed.length).toBe(59);
    const imported = createPublicKey({ key: compressed, format: 'der', type: 'spki' });
    expect(Buffer.from(spkiDer(imported)).equals(compressed)).toBe(true);
    expect(Buffer.from(spkiDer(publicKeyFromSpki(compressed))).equals(compressed)).toBe(true);
    expect(keyMatchesSpki(kp.privateKey, compressed)).toBe(false);
  });
});

describe('publicKeyFromSpki (imported through PEM text)', () => {
  const derImport = (b: Uint8Array) => createPublicKey({ key: Buffer.from(b), format: 'der', type: 'spki' });
  const outcome = (f: () => ReturnType<typeof createPublicKey>): string => {
    try {
      const k = f();
      const details = JSON.stringify(k.asymmetricKeyDetails, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      return `${k.asymmetricKeyType} ${k.export({ type: 'spki', format: 'der' }).toString('hex')} ${details}`;
    } catch (e) {
      return `throws ${(e as Error).message}`;
    }
  };
  const spkis = (
    [
      ['ec', { namedCurve: 'P-256' }],
      ['ec', { namedCurve: 'P-384' }],
      ['ec', { namedCurve: 'P-521' }],
      ['ec', { namedCurve: 'secp256k1' }],
      ['rsa', { modulusLength: 1024 }],
      ['rsa-pss', { modulusLength: 1024 }],
      ['ed25519', {}],
      ['ed448', {}],
      ['x25519', {}],
    ] as const
  ).map(([t, o]) => generateKeyPairSync(t as 'ec', o as { namedCurve: string }).publicKey.export({ type: 'spki', format: 'der' }));

  it('gives the key the DER import gives, and throws its error, on every key type and on damaged copies', () => {
    // Damaged copies: every byte of each SPKI changed in turn, plus a byte short and a byte over.
    for (const spki of spkis) {
      const inputs: Uint8Array[] = [spki, spki.subarray(0, spki.length - 1), Buffer.concat([spki, Buffer.from([0])])];
      for (let i = 0; i < spki.length; i += spki.length > 200 ? 7 : 1) {
        const d = Buffer.from(spki);
        d[i] = (d[i] as number) ^ 0x01;
        inputs.push(d);
      }
      for (const d of inputs) expect(outcome(() => publicKeyFromSpki(d))).toBe(outcome(() => derImport(d)));
    }
  });
});

describe('an encrypted private key with the wrong password', () => {
  // AES-CBC decryption under a wrong password leaves valid padding about once in 256: then OpenSSL decrypts to
  // garbage and no padding error says "wrong password". Salts are tried in order until Node's own decipher
  // accepts the padding under the wrong password, so the case is built, not waited for (CI met it by chance).
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const iv = Buffer.alloc(16, 7);
  const paddingPasses = (salt: Buffer, data: Uint8Array): boolean => {
    const d = createDecipheriv('aes-256-cbc', pbkdf2Sync('bad', salt, 1, 32, 'sha256'), iv);
    try {
      Buffer.concat([d.update(data), d.final()]);
      return true;
    } catch {
      return false;
    }
  };
  const built = (): { pem: string; salt: number } => {
    for (let i = 0; i < 16_384; i++) {
      const salt = Buffer.alloc(8);
      salt.writeUInt32BE(i, 4);
      const e = pbes2Encrypt('secret', pkcs8, 1, salt, iv);
      if (paddingPasses(salt, e.data)) return { pem: toPem('ENCRYPTED PRIVATE KEY', seq(e.algorithmId, octetString(e.data))), salt: i };
    }
    throw new Error('no salt in 16,384 left valid padding under the wrong password');
  };

  it('is called a wrong password even when the padding happens to check out', () => {
    const { pem } = built();
    const file = join(dir, 'unlucky.key');
    writeFileSync(file, pem);
    // The oracle: openssl refuses it with "bad" and reads it with "secret".
    expect(() => execFileSync('openssl', ['pkey', '-in', file, '-passin', 'pass:bad', '-noout'], { stdio: 'pipe' })).toThrow();
    execFileSync('openssl', ['pkey', '-in', file, '-passin', 'pass:secret', '-noout'], { stdio: 'pipe' });
    expect(() => loadPrivateKey(pem, 'bad')).toThrow(/^wrong password for the encrypted private key/);
    expect(loadPrivateKey(pem, 'secret').asymmetricKeyType).toBe('ec');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(() => loadPrivateKey(der, 'bad')).toThrow(/^wrong password for the encrypted private key/);
  });

  it('and so is a legacy OpenSSL PEM (Proc-Type: 4,ENCRYPTED) in the same case', () => {
    // EVP_BytesToKey(MD5, salt = the IV's first 8 bytes, one round), as `openssl ec -aes256` writes it.
    const sec1 = privateKey.export({ type: 'sec1', format: 'der' });
    const keyOf = (pass: string, salt: Buffer): Buffer => {
      const d1 = createHash('md5').update(pass).update(salt).digest();
      return Buffer.concat([d1, createHash('md5').update(d1).update(pass).update(salt).digest()]);
    };
    let pem = '';
    for (let i = 0; i < 16_384 && !pem; i++) {
      const ivi = Buffer.alloc(16, 9);
      ivi.writeUInt32BE(i, 4);
      const c = createCipheriv('aes-256-cbc', keyOf('secret', ivi.subarray(0, 8)), ivi);
      const data = Buffer.concat([c.update(sec1), c.final()]);
      const d = createDecipheriv('aes-256-cbc', keyOf('bad', ivi.subarray(0, 8)), ivi);
      try {
        Buffer.concat([d.update(data), d.final()]);
      } catch {
        continue;
      }
      const body = data.toString('base64').replace(/.{64}/g, '$&\n');
      pem = `-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${ivi.toString('hex').toUpperCase()}\n\n${body}\n-----END EC PRIVATE KEY-----\n`;
    }
    expect(pem).not.toBe('');
    const file = join(dir, 'unlucky-legacy.key');
    writeFileSync(file, pem);
    expect(() => execFileSync('openssl', ['pkey', '-in', file, '-passin', 'pass:bad', '-noout'], { stdio: 'pipe' })).toThrow();
    execFileSync('openssl', ['pkey', '-in', file, '-passin', 'pass:secret', '-noout'], { stdio: 'pipe' });
    expect(loadPrivateKey(pem, 'secret').asymmetricKeyType).toBe('ec');
    expect(() => loadPrivateKey(pem, 'bad')).toThrow(/^wrong password for the encrypted private key/);
  });

  it('still names an unknown cipher as unreadable, not as a wrong password', () => {
    const e = pbes2Encrypt('secret', pkcs8, 1, Buffer.alloc(8, 1), iv);
    const alg = Buffer.from(e.algorithmId);
    const at = alg.indexOf(Buffer.from([0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a])); // aes256-CBC's OID
    expect(at).toBeGreaterThan(0);
    alg[at + 8] = 0x7f; // an arc no cipher has
    const pem = toPem('ENCRYPTED PRIVATE KEY', seq(alg, octetString(e.data)));
    expect(() => loadPrivateKey(pem, 'secret')).toThrow(/^not a readable private key/);
  });
});
