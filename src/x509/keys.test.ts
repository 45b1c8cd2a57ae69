// The SPKI of a freshly generated key is built from its JWK export (src/x509/keys.ts freshSpki), not by
// OpenSSL's encoder: it must be byte for byte what OpenSSL writes (KeyObject.export and the openssl CLI).
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKey, generateKeyAsync, KEY_TYPES, keyMatchesSpki, privateKeySpki, publicKeyFromSpki, spkiDer } from './keys.ts';

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
