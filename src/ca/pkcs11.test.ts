// RFC 7512 URIs as `ca create --key-store` takes them, and the ECDSA r||s → DER conversion a token's
// signature goes through (checked by Node's verifier on both encodings).
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaRawToDer } from '../x509/keys.ts';
import { formatPkcs11Uri, parsePkcs11Uri } from './pkcs11.ts';

describe('PKCS#11 URIs', () => {
  it('reads token, object and a percent-encoded id, and writes them back', () => {
    const u = parsePkcs11Uri('pkcs11:token=ca%20keys;object=web-ca;id=%01%ff;type=private');
    expect(u).toEqual({ token: 'ca keys', object: 'web-ca', id: Buffer.from([1, 255]) });
    expect(formatPkcs11Uri(u)).toBe('pkcs11:token=ca%20keys;object=web-ca;id=%01%ff');
    expect(parsePkcs11Uri(formatPkcs11Uri(u))).toEqual(u);
  });
  it('refuses a PIN in the URI, unknown attributes, and a URI without a token or a key', () => {
    expect(() => parsePkcs11Uri('pkcs11:token=t;object=k;pin-value=1234')).toThrow(/a PIN does not go in the URI/);
    expect(() => parsePkcs11Uri('pkcs11:token=t;object=k?pin-value=1234')).toThrow(/query attributes/);
    expect(() => parsePkcs11Uri('pkcs11:token=t;object=k;serial=9')).toThrow(/attribute 'serial' is not supported/);
    expect(() => parsePkcs11Uri('pkcs11:object=k')).toThrow(/token=LABEL is required/);
    expect(() => parsePkcs11Uri('pkcs11:token=t')).toThrow(/object=LABEL/);
    expect(() => parsePkcs11Uri('pkcs11:token=t;object=%zz')).toThrow(/bad percent-encoding/);
    expect(() => parsePkcs11Uri('file:/etc/key.pem')).toThrow(/not a PKCS#11 URI/);
    expect(() => parsePkcs11Uri(`pkcs11:token=${'a'.repeat(2000)}`)).toThrow(/longer than 1024/);
  });
});

describe('ecdsaRawToDer', () => {
  it('turns r||s into the DER signature X.509 carries (P-256 and P-384, leading zeros and high bits)', () => {
    for (const namedCurve of ['prime256v1', 'secp384r1']) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
      for (let i = 0; i < 64; i++) {
        const data = Buffer.from(`message ${i}`);
        const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const der = ecdsaRawToDer(raw);
        expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
      }
    }
    expect(() => ecdsaRawToDer(new Uint8Array(63))).toThrow(/not r\|\|s/);
  });
});
