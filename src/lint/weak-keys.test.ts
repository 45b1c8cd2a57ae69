// The RSA weakness tests against moduli with known structure, and against real keys.
import { describe, expect, it } from 'vitest';
import { fermatModulus, issue, newCa, randomOdd, rocaModulus } from '../../test/support/lint-testkit.ts';
import { generateKey } from '../x509/keys.ts';
import { rsaPublicNumbers } from './der-facts.ts';
import { fermatFactor, hasRocaFingerprint, isqrt } from './weak-keys.ts';

describe('isqrt', () => {
  it('is the floor square root', () => {
    for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, 10n ** 40n, 10n ** 40n - 1n]) {
      const r = isqrt(n);
      expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
    }
    // Every size around the float start's limit and the recursion's, squares and their neighbours included.
    for (const bits of [50, 51, 52, 53, 54, 100, 103, 104, 105, 106, 200, 511, 512, 1024, 2048, 3072, 4096, 8191]) {
      const big = randomOdd(bits);
      const root = isqrt(big);
      for (const m of [big, big - 1n, big + 1n, root * root, root * root - 1n, (root + 1n) * (root + 1n)]) {
        const r = isqrt(m);
        expect(r * r <= m && (r + 1n) * (r + 1n) > m, `${bits} bits`).toBe(true);
      }
    }
  });
});

describe('Fermat factoring', () => {
  it('splits a modulus whose primes are close', () => {
    const n = fermatModulus();
    const f = fermatFactor(n, 100);
    expect(f).not.toBeNull();
    const [p, q] = f as [bigint, bigint];
    expect(p * q).toBe(n);
    expect(p > 1n && q > 1n).toBe(true);
  });

  it('finds a gap reachable only after many steps, within the round budget', () => {
    const p = randomOdd(512);
    // (p+q)/2 - sqrt(n) is about d^2 / (8 sqrt n): pick d so that takes a few hundred steps.
    const d = isqrt(8n * p * 300n);
    const q = p + 2n * (d / 2n) + 2n;
    const n = p * q;
    expect(fermatFactor(n, 10)).toBeNull();
    expect(fermatFactor(n, 2000)).not.toBeNull();
  });

  it('leaves real keys and even numbers alone', () => {
    const cert = issue(newCa(), {}, { key: generateKey('rsa-2048') });
    const rsa = rsaPublicNumbers(cert);
    expect(rsa).not.toBeNull();
    expect(fermatFactor(rsa?.n ?? 0n, 1000)).toBeNull();
    expect(fermatFactor(randomOdd(2048) - 1n, 100)).toBeNull();
  });
});

describe('ROCA fingerprint', () => {
  it('detects RSALib-structured moduli of several sizes', () => {
    for (const bits of [1024, 2048, 3072]) expect(hasRocaFingerprint(rocaModulus(bits))).toBe(true);
  });

  it('does not flag random moduli or real keys', () => {
    for (let i = 0; i < 50; i++) expect(hasRocaFingerprint(randomOdd(2048))).toBe(false);
    const cert = issue(newCa(), {}, { key: generateKey('rsa-2048') });
    expect(hasRocaFingerprint(rsaPublicNumbers(cert)?.n ?? 0n)).toBe(false);
  });
});
