// Public key strength: sizes, curves, algorithms and the cheap RSA weakness tests.
import { rsaPublicNumbers } from '../der-facts.ts';
import { defineLint } from '../types.ts';
import { fermatFactor, hasRocaFingerprint, modulusMemo } from '../weak-keys.ts';

const isRsa = (cert: { keyInfo: { algorithm: string } }): boolean => cert.keyInfo.algorithm === 'RSA';

export const rsaTooSmall = defineLint({
  id: 'x509.key.rsa-too-small',
  severity: 'error',
  description: 'The RSA modulus is smaller than the policy minimum.',
  remediation: 'Reissue with a new RSA key of at least keys.minRsaBits (2048 by default), or ECDSA P-256.',
  source: 'CA/B BR 6.1.5, policy keys.minRsaBits',
  appliesTo: isRsa,
  check: (cert, ctx) => {
    const bits = cert.keyInfo.size ?? 0;
    return bits < ctx.policy.keys.minRsaBits ? [`RSA key is ${bits} bits (policy minimum ${ctx.policy.keys.minRsaBits})`] : [];
  },
});

export const rsaEvenModulus = defineLint({
  id: 'x509.key.rsa-even-modulus',
  severity: 'error',
  description: 'The RSA modulus is even, so 2 is a factor: the key is broken.',
  remediation: 'Replace the key: generate a new one with a standard library.',
  source: 'CA/B BR 6.1.6',
  appliesTo: isRsa,
  check: (cert) => {
    const rsa = rsaPublicNumbers(cert);
    return rsa && (rsa.n & 1n) === 0n ? ['RSA modulus is even (divisible by 2)'] : [];
  },
});

export const rsaBadExponent = defineLint({
  id: 'x509.key.rsa-bad-exponent',
  severity: 'error',
  description: 'The RSA public exponent is even or below 3, which is not a working RSA key.',
  remediation: 'Replace the key; use the exponent 65537.',
  source: 'CA/B BR 6.1.6',
  appliesTo: isRsa,
  check: (cert) => {
    const rsa = rsaPublicNumbers(cert);
    if (!rsa) return [];
    return rsa.e < 3n || (rsa.e & 1n) === 0n ? [`RSA public exponent is ${rsa.e}`] : [];
  },
});

export const rsaSmallExponent = defineLint({
  id: 'x509.key.rsa-small-exponent',
  severity: 'warning',
  description: 'The RSA public exponent is smaller than 65537 (e=3 invites padding and broadcast attacks).',
  remediation: 'Replace the key with one using exponent 65537.',
  source: 'CA/B BR 6.1.6, NIST SP 800-89',
  appliesTo: isRsa,
  check: (cert) => {
    const rsa = rsaPublicNumbers(cert);
    if (!rsa || rsa.e < 3n || (rsa.e & 1n) === 0n) return [];
    return rsa.e < 65537n ? [`RSA public exponent is ${rsa.e} (expected at least 65537)`] : [];
  },
});

/** The odd primes below 752 (CA/B BR 6.1.6: the modulus SHOULD have no factor smaller than 752). */
const SMALL_PRIMES: readonly number[] = (() => {
  const out: number[] = [];
  for (let n = 3; n < 752; n += 2) {
    let prime = true;
    for (let d = 3; d * d <= n; d += 2) if (n % d === 0) prime = false;
    if (prime) out.push(n);
  }
  return out;
})();

/**
 * The small primes in runs whose products stay below 2^53, in order, and the product of them all: the
 * modulus is reduced once by the whole product, then by each run's product, and each prime divides a
 * remainder that is an exact double (22 bigint divisions instead of 130, ~3x faster at 2048-4096 bits).
 */
const PRIME_RUNS: readonly { primes: readonly number[]; product: bigint }[] = (() => {
  const runs: { primes: number[]; product: bigint }[] = [];
  let primes: number[] = [];
  let product = 1;
  for (const p of SMALL_PRIMES) {
    if (product * p > Number.MAX_SAFE_INTEGER) {
      runs.push({ primes, product: BigInt(product) });
      primes = [];
      product = 1;
    }
    primes.push(p);
    product *= p;
  }
  runs.push({ primes, product: BigInt(product) });
  return runs;
})();
const ALL_SMALL_PRIMES = PRIME_RUNS.reduce((a, r) => a * r.product, 1n);

/** The first of SMALL_PRIMES that divides n other than n itself (n > 1). */
export function smallFactor(n: bigint): number | undefined {
  const r = n % ALL_SMALL_PRIMES;
  for (const run of PRIME_RUNS) {
    const rr = Number(r % run.product);
    for (const p of run.primes) if (rr % p === 0 && n !== BigInt(p)) return p;
  }
  return undefined;
}

const smallFactorOnce = modulusMemo(smallFactor);
const rocaOnce = modulusMemo(hasRocaFingerprint);
/** Per policy round count (a run has one). */
const fermatOnce = new Map<number, (n: bigint) => [bigint, bigint] | null>();

export const rsaSmallFactor = defineLint({
  id: 'x509.key.rsa-small-factor',
  severity: 'error',
  description: 'The RSA modulus has a prime factor below 752, so anyone can factor it.',
  remediation: 'Replace the key: generate a new one with a standard library, and find out what produced this one.',
  source: 'CA/B BR 6.1.6, NIST SP 800-89 5.3.3',
  appliesTo: isRsa,
  check: (cert) => {
    const rsa = rsaPublicNumbers(cert);
    // An even modulus is x509.key.rsa-even-modulus's finding.
    if (!rsa || rsa.n <= 1n || (rsa.n & 1n) === 0n) return [];
    const p = smallFactorOnce(rsa.n);
    return p === undefined ? [] : [`RSA modulus is divisible by ${p}`];
  },
});

export const rsaFermat = defineLint({
  id: 'x509.key.rsa-fermat-factorable',
  severity: 'error',
  description: "The RSA modulus factors quickly with Fermat's method: its two primes are too close.",
  remediation: 'The private key is recoverable by anyone: replace the key and reissue, and fix the key generator.',
  source: 'badkeys (fermat), CA/B BR 6.1.1.3',
  appliesTo: (cert, ctx) => isRsa(cert) && ctx.policy.keys.fermatRounds > 0,
  check: (cert, ctx) => {
    const rsa = rsaPublicNumbers(cert);
    if (!rsa) return [];
    const rounds = ctx.policy.keys.fermatRounds;
    let fermat = fermatOnce.get(rounds);
    if (!fermat) {
      if (fermatOnce.size >= 8) fermatOnce.clear();
      fermat = modulusMemo((n) => fermatFactor(n, rounds));
      fermatOnce.set(rounds, fermat);
    }
    const f = fermat(rsa.n);
    if (!f) return [];
    const gap = f[1] - f[0];
    return [
      `RSA modulus factors by Fermat's method: its primes differ by only ${gap < 1_000_000n ? gap : `about 2^${gap.toString(2).length - 1}`}`,
    ];
  },
});

export const roca = defineLint({
  id: 'x509.key.roca',
  severity: 'error',
  description: 'The RSA key has the Infineon RSALib fingerprint (ROCA, CVE-2017-15361) and is factorable.',
  remediation: 'Replace the key on a device with patched firmware and reissue; revoke the old certificate.',
  source: 'CVE-2017-15361, Nemec et al. CCS 2017',
  appliesTo: isRsa,
  check: (cert) => {
    const rsa = rsaPublicNumbers(cert);
    return rsa && rocaOnce(rsa.n) ? [`RSA-${cert.keyInfo.size} modulus carries the ROCA fingerprint`] : [];
  },
});

export const curveNotAllowed = defineLint({
  id: 'x509.key.ec-curve-not-allowed',
  severity: 'error',
  description: 'The EC key uses a curve outside the policy list (P-256, P-384, P-521 by default).',
  remediation: 'Reissue with a new key on an allowed curve; most TLS stacks do not speak other curves.',
  source: 'CA/B BR 6.1.5, policy keys.allowedCurves',
  appliesTo: (cert) => cert.keyInfo.algorithm === 'EC',
  check: (cert, ctx) => {
    const c = cert.keyInfo.curve ?? 'unknown';
    return ctx.policy.keys.allowedCurves.includes(c) ? [] : [`EC key on curve ${c} (allowed: ${ctx.policy.keys.allowedCurves.join(', ')})`];
  },
});

export const algorithmNotAllowed = defineLint({
  id: 'x509.key.algorithm-not-allowed',
  severity: 'error',
  description: 'The public key algorithm is not in the policy list.',
  remediation: 'Reissue with an allowed key type (RSA, ECDSA or Ed25519 by default).',
  source: 'policy keys.allowedAlgorithms',
  appliesTo: (cert) => cert.keyInfo.algorithm !== 'unreadable',
  check: (cert, ctx) => {
    const a = cert.keyInfo.algorithm;
    return (ctx.policy.keys.allowedAlgorithms as readonly string[]).includes(a)
      ? []
      : [`public key algorithm ${a} is not allowed (allowed: ${ctx.policy.keys.allowedAlgorithms.join(', ')})`];
  },
});

export const KEY_LINTS = [
  rsaTooSmall,
  rsaEvenModulus,
  rsaBadExponent,
  rsaSmallExponent,
  rsaSmallFactor,
  rsaFermat,
  roca,
  curveNotAllowed,
  algorithmNotAllowed,
];
