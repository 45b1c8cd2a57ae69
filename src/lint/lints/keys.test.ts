import { describe, expect, it } from 'vitest';
import { smallFactor } from './keys.ts';

/** The odd primes below 752 by trial division (CA/B BR 6.1.6's "no factor smaller than 752"). */
const PRIMES: bigint[] = [];
for (let n = 3n; n < 752n; n += 2n) {
  let prime = true;
  for (let d = 3n; d * d <= n; d += 2n) if (n % d === 0n) prime = false;
  if (prime) PRIMES.push(n);
}

/** The BR's rule read literally: the first such prime dividing n, other than n itself. */
const firstSmallFactor = (n: bigint): number | undefined => {
  const p = PRIMES.find((q) => n % q === 0n && n !== q);
  return p === undefined ? undefined : Number(p);
};

/** A seeded odd number of `bits` bits (xorshift). */
function oddOf(bits: number, seed: number): bigint {
  let x = seed >>> 0 || 1;
  let n = 1n;
  for (let i = 1; i < bits; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    n = (n << 1n) | BigInt((x >>> 0) & 1);
  }
  return n | 1n;
}

describe('smallFactor', () => {
  it('finds the first prime below 752 that divides the modulus, as trial division by each does', () => {
    const cases: bigint[] = [3n, 5n, 751n, 9n, 751n * 751n, 743n * 751n, 757n, 757n * 761n, 3n * 751n];
    for (let i = 0; i < 300; i++) {
      const n = oddOf([64, 512, 1024, 2048, 3072, 4096][i % 6] as number, i + 1);
      cases.push(n);
      // Planted factors: one prime, two, a prime power, and a prime above 752.
      const p = PRIMES[(i * 7) % PRIMES.length] as bigint;
      const q = PRIMES[(i * 13) % PRIMES.length] as bigint;
      cases.push(n * p, n * p * q, n * q * q, n * 757n);
    }
    let factored = 0;
    for (const n of cases) {
      const want = firstSmallFactor(n);
      expect(smallFactor(n), n.toString(16)).toBe(want);
      if (want !== undefined) factored++;
    }
    expect(factored).toBeGreaterThan(900);
  });
});
