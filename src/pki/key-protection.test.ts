import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../../test/support/temp.ts';
import { InputError } from '../common/errors.ts';
import { decryptKeyPem, encryptKeyPem, isEncryptedKeyPem, KDF_ITERATIONS, readKeysRecord } from './key-protection.ts';

const tempDir = tempDirs();

describe('key protection', () => {
  const d = tempDir('keys-unit-');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('writes PBES2 with the stated iteration count (openssl asn1parse reads it), and refuses a wrong passphrase in one line', () => {
    const pem = encryptKeyPem(privateKey, 'pw');
    expect(isEncryptedKeyPem(pem)).toBe(true);
    writeFileSync(join(d, 'k.pem'), pem);
    const asn1 = execFileSync('openssl', ['asn1parse', '-in', join(d, 'k.pem')]).toString();
    // The iteration count as openssl prints it: hexadecimal INTEGER.
    expect(asn1).toMatch(new RegExp(`INTEGER\\s+:${KDF_ITERATIONS.toString(16).toUpperCase().padStart(6, '0')}\\n`));
    expect(decryptKeyPem(pem, 'pw', 'k.pem').export({ type: 'pkcs8', format: 'pem' })).toBe(
      privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    expect(() => decryptKeyPem(pem, 'nope', 'k.pem')).toThrow(
      new InputError('k.pem: wrong CA key passphrase (--ca-passphrase), or the file is damaged'),
    );
    expect(() => encryptKeyPem(privateKey, '')).toThrow(/passphrase is empty/);
  });

  it('a damaged keys.json is one line naming it; an absent one removes nothing', () => {
    const dir = join(d, 'pki');
    mkdirSync(join(dir, 'store'), { recursive: true });
    expect(readKeysRecord(dir).removed).toEqual({});
    for (const bad of [
      '{',
      '{"schema":"x","removed":{}}',
      '{"schema":"anchorage.pki-keys/v1","removed":{"root-ca":{"spkiSha256":"zz"}}}',
    ]) {
      writeFileSync(join(dir, 'store', 'keys.json'), bad);
      expect(() => readKeysRecord(dir)).toThrow(InputError);
      expect(() => readKeysRecord(dir)).toThrow(/store\/keys\.json: not an Anchorage key record .*; restore it from a backup$/);
    }
  });
});
