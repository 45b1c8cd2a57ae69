// Decoders under crafted values (issue 9): string types, BIT STRING padding, INTEGER size, PEM scanning,
// key-derivation budgets. Expectations come from X.680/X.690 and RFC 7468, not from the code under test.
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { bitStringBytes, DerError, decodeBigInt, decodeString, MAX_BIGINT_OCTETS, parse, TAG, tlv } from './der.ts';
import { generateKey } from './keys.ts';
import { FILE_WORK_BUDGET, MAX_ITERATIONS, pkcs12Kdf, WorkBudget } from './pbe.ts';
import { scanPem } from './pem.ts';

const str = (tag: number, hex: string): string => decodeString(parse(tlv(tag, Buffer.from(hex, 'hex'))));

describe('string types', () => {
  it('UniversalString (UCS-4BE): valid scalars decode, values above U+10FFFF and surrogates are escaped', () => {
    expect(str(TAG.UNIVERSAL_STRING, '000000410001f600')).toBe('A\u{1f600}');
    expect(str(TAG.UNIVERSAL_STRING, '00110000')).toBe('\\u{110000}');
    expect(str(TAG.UNIVERSAL_STRING, 'ffffffff')).toBe('\\u{ffffffff}');
    expect(str(TAG.UNIVERSAL_STRING, '0000dfff')).toBe('\\u{dfff}');
  });
  it('BMPString (UCS-2BE): surrogate pairs combine, a lone surrogate is escaped, an odd byte dropped', () => {
    expect(str(TAG.BMP_STRING, '0041d83dde00')).toBe('A\u{1f600}');
    expect(str(TAG.BMP_STRING, 'd800')).toBe('\\u{d800}');
    expect(str(TAG.BMP_STRING, '004100')).toBe('A');
  });
  it('UTF8String and T61String with invalid bytes decode with replacement characters', () => {
    expect(str(TAG.UTF8_STRING, 'c0ff41')).toMatch(/A$/);
    expect(str(TAG.T61_STRING, 'ff41')).toMatch(/A$/);
  });
});

describe('BIT STRING and INTEGER bounds', () => {
  it('more than 7 unused bits is not a BIT STRING (X.690 8.6.2.2)', () => {
    expect(() => bitStringBytes(parse(tlv(TAG.BIT_STRING, Uint8Array.of(9, 0xff))))).toThrow(DerError);
    expect(() => bitStringBytes(parse(tlv(TAG.BIT_STRING, Uint8Array.of(1))))).toThrow(DerError);
    expect(bitStringBytes(parse(tlv(TAG.BIT_STRING, Uint8Array.of(0, 1, 2))))).toEqual(Uint8Array.of(1, 2));
  });
  it('INTEGERs decode in linear time up to the cap and are refused beyond it', () => {
    expect(decodeBigInt(parse(tlv(TAG.INTEGER, Uint8Array.of(0xff, 0x00))))).toBe(-256n);
    expect(decodeBigInt(parse(tlv(TAG.INTEGER, Buffer.alloc(MAX_BIGINT_OCTETS, 0x01))))).toBe(
      BigInt(`0x${'01'.repeat(MAX_BIGINT_OCTETS)}`),
    );
    expect(() => decodeBigInt(parse(tlv(TAG.INTEGER, Buffer.alloc(400_000, 0x5a))))).toThrow(/INTEGER too large/);
  });
});

describe('PEM scanning', () => {
  it('line numbers stay right when counted incrementally', () => {
    const block = '-----BEGIN X-----\nAAAA\n-----END X-----\n';
    const blocks = scanPem(`junk\r\n\r\n${block}text\n${block}${block}`);
    expect(blocks.map((b) => b.line)).toEqual([3, 7, 10]);
  });
  it('a BEGIN line without closing dashes is skipped; a label never spans lines', () => {
    const blocks = scanPem('-----BEGIN broken\n-----BEGIN Y-----\nAAAA\n-----END Y-----\n');
    expect(blocks.map((b) => [b.label, b.line])).toEqual([['Y', 2]]);
  });
  it('200k broken BEGIN lines followed by one block: every BEGIN is looked at once', () => {
    const text = `${'-----BEGIN \n'.repeat(200_000)}-----BEGIN Z-----\nAAAA\n-----END Z-----\n`;
    const blocks = scanPem(text);
    expect(blocks[0]?.line).toBe(200_001);
  });
});

describe('key-derivation budget', () => {
  it('is charged per file and refuses once the sum passes the budget', () => {
    const b = new WorkBudget(1000);
    b.spend(600, 'one');
    expect(() => b.spend(600, 'two')).toThrow(InputError);
    expect(() => new WorkBudget(1000).spend(1001, 'x')).toThrow(/too large/);
  });
  it('the PKCS#12 KDF charges iterations x blocks x 8 before it runs', () => {
    const b = new WorkBudget(FILE_WORK_BUDGET);
    // 24-byte 3DES key from SHA-1 (20-byte blocks): 2 blocks.
    pkcs12Kdf('sha1', Uint8Array.of(0, 0), Uint8Array.of(1), 1, 1000, 24, b);
    expect(b.spent).toBe(1000 * 2 * 8);
    const tight = new WorkBudget(100);
    expect(() => pkcs12Kdf('sha1', Uint8Array.of(0, 0), Uint8Array.of(1), 1, MAX_ITERATIONS, 24, tight)).toThrow(/too large/);
  });
  it('an encrypted PKCS#8 key whose derivation exceeds a budget is refused before OpenSSL runs it', async () => {
    const { loadPrivateKey } = await import('./keys.ts');
    const kp = generateKey('ecdsa-p256');
    const pem = kp.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(loadPrivateKey(pem, 'pw').asymmetricKeyType).toBe('ec');
    expect(() => loadPrivateKey(pem, 'pw', new WorkBudget(10))).toThrow(/too large/);
  });
});
