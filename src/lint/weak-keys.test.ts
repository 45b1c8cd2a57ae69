// The RSA weakness tests against moduli with known structure, and against real keys.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fermatModulus, issue, NOW, newCa, randomOdd, rocaModulus, rsaSpki } from '../../test/support/lint-testkit.ts';
import { generateKey } from '../x509/keys.ts';
import { rsaPublicNumbers } from './der-facts.ts';
import { lintCertificates } from './engine.ts';
import { fermatFactor, hasRocaFingerprint, isqrt, modulusMemo } from './weak-keys.ts';

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

describe('rsaPublicNumbers', () => {
  it("reads each certificate's modulus and exponent as Node's JWK export gives them, however often a key recurs", () => {
    const keys = [generateKey('rsa-2048'), generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }), generateKey('rsa-3072')];
    const ca = newCa();
    const big = (b64: string | undefined): bigint => BigInt(`0x${Buffer.from(b64 ?? '', 'base64url').toString('hex')}`);
    // Each key in three certificates, the keys interleaved: later reads of a key come from its bytes' cache.
    for (let round = 0; round < 3; round++)
      keys.forEach((key, i) => {
        const cert = issue(ca, { subject: `CN=holder-${i}-${round}` }, { key });
        const jwk = key.publicKey.export({ format: 'jwk' });
        expect(rsaPublicNumbers(cert), `key ${i}, round ${round}`).toEqual({ n: big(jwk.n), e: big(jwk.e) });
      });
    expect(rsaPublicNumbers(issue(ca))).toBeNull();
  });
});

describe('modulusMemo', () => {
  it('computes once per modulus, forgets the oldest past its size, and answers what the function answers', () => {
    let calls = 0;
    const f = (n: bigint): bigint => {
      calls++;
      return n % 1000n;
    };
    const once = modulusMemo(f, 3);
    const moduli = [randomOdd(2048), randomOdd(2048), randomOdd(2048), randomOdd(2048)];
    for (const n of [...moduli.slice(0, 3), ...moduli.slice(0, 3)]) expect(once(n)).toBe(n % 1000n);
    expect(calls).toBe(3);
    // The same value as another bigint object is the same modulus.
    expect(once(BigInt(`0x${(moduli[0] as bigint).toString(16)}`))).toBe((moduli[0] as bigint) % 1000n);
    expect(calls).toBe(3);
    // A fourth modulus pushes the first out.
    once(moduli[3] as bigint);
    once(moduli[0] as bigint);
    expect(calls).toBe(5);
  });

  it('leaves every certificate that holds a weak modulus with its own finding', () => {
    const ca = newCa('CN=memo CA');
    for (const [id, n] of [
      ['x509.key.rsa-small-factor', 751n * randomOdd(2040)],
      ['x509.key.rsa-fermat-factorable', fermatModulus()],
      ['x509.key.roca', rocaModulus()],
    ] as const) {
      const certs = ['a', 'b', 'c'].map((name) =>
        issue(ca, { subject: `CN=${name}`, sans: { dns: [`${name}.example`] } }, { publicKey: rsaSpki(n, 65537n) }),
      );
      const report = lintCertificates(
        certs.map((cert) => ({ cert })),
        { now: NOW },
      );
      expect(
        report.findings.filter((f) => f.lintId === id).map((f) => f.subject),
        id,
      ).toEqual(['CN=a', 'CN=b', 'CN=c']);
    }
  });
});
