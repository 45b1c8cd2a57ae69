// Certificate fixtures for the lint tests and the benchmark: typed issuance through build.ts, and TBS
// surgery plus re-signing for defects the builder refuses to produce.
import { type KeyObject, sign as nodeSign, randomBytes } from 'node:crypto';
import { type CertProfile, type IssuerRef, issueCertificate } from '../../src/x509/build.ts';
import { Certificate } from '../../src/x509/certificate.ts';
import { bitString, explicit, integer, NULL, oid, parse, seq } from '../../src/x509/der.ts';
import { generateKey, type KeyPair, signerFor } from '../../src/x509/keys.ts';
import { OID } from '../../src/x509/oids.ts';

/** A fixed evaluation time: fixtures and expiry lints never depend on the clock. */
export const NOW = new Date('2026-01-15T12:00:00Z');
export const DAY = 86_400_000;

export interface IssueOpts {
  issuer?: IssuerRef | null;
  key?: KeyPair;
  publicKey?: Uint8Array | KeyObject;
  now?: Date;
}

export function newCa(
  subject = 'CN=Anchorage Test Root,O=Anchorage',
  extra: Partial<CertProfile> = {},
  now = NOW,
): IssuerRef & { pair: KeyPair } {
  const pair = generateKey('ecdsa-p256');
  const cert = issueCertificate({
    profile: { subject, ca: true, keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'], validity: { days: 3650 }, ...extra },
    publicKey: pair.publicKey,
    signingKey: pair.privateKey,
    now,
  });
  return { cert, key: pair.privateKey, pair };
}

/** A leaf (default: a TLS server for leaf.example.com, 90 days, ECDSA P-256) issued by `issuer`, or self-signed with issuer null. */
export function issue(issuer: IssuerRef | null, profile: Partial<CertProfile> = {}, o: Omit<IssueOpts, 'issuer'> = {}): Certificate {
  const pair = o.key ?? generateKey('ecdsa-p256');
  const full: CertProfile = {
    subject: 'CN=leaf.example.com',
    sans: { dns: ['leaf.example.com'] },
    keyUsage: ['digitalSignature'],
    extKeyUsage: ['serverAuth'],
    validity: { days: 90 },
    ...profile,
  };
  const now = o.now ?? NOW;
  const publicKey = o.publicKey ?? pair.publicKey;
  return issuer
    ? issueCertificate({ profile: full, publicKey, issuer, now })
    : issueCertificate({ profile: full, publicKey, signingKey: pair.privateKey, now });
}

/** TBS fields as raw TLVs: [version, serial, signature, issuer, validity, subject, spki, extensions?]. */
export function tbsFields(cert: Certificate): Uint8Array[] {
  return parse(cert.der)
    .child(0)
    .children()
    .map((n) => Uint8Array.from(n.raw));
}

/**
 * Rebuild a certificate from edited TBS fields and sign it with `key`. `hash: 'sha1'` signs with
 * ecdsa-with-SHA1 / sha1WithRSA (the builder refuses); `outerAlg` overrides the outer AlgorithmIdentifier.
 */
export function rebuild(
  cert: Certificate,
  key: KeyObject,
  edit: (fields: Uint8Array[]) => Uint8Array[] | undefined,
  opts: { hash?: 'sha1'; outerAlg?: Uint8Array } = {},
): Certificate {
  const fields = tbsFields(cert);
  const edited = edit(fields) ?? fields;
  let alg: Uint8Array;
  let signFn: (d: Uint8Array) => Uint8Array;
  if (opts.hash === 'sha1') {
    alg = key.asymmetricKeyType === 'rsa' ? seq(oid(OID.sha1WithRSA), NULL) : seq(oid(OID.ecdsaWithSHA1));
    signFn = (d) => nodeSign('sha1', d, key);
  } else {
    const s = signerFor(key);
    alg = s.algorithmId;
    signFn = (d) => s.sign(d);
  }
  const tbs = seq(...edited);
  return new Certificate(seq(tbs, opts.outerAlg ?? alg, bitString(signFn(tbs))));
}

/** Index of the explicit [3] extensions field, or -1. */
export function extensionsIndex(fields: Uint8Array[]): number {
  return fields.findIndex((f) => f[0] === 0xa3);
}

/** Append a raw Extension TLV to the certificate's extension list. */
export function appendRawExtension(fields: Uint8Array[], ext: Uint8Array): Uint8Array[] {
  const i = extensionsIndex(fields);
  const existing =
    i >= 0
      ? parse(fields[i] as Uint8Array)
          .inner()
          .children()
          .map((n) => n.raw)
      : [];
  const out = [...fields];
  const wrapped = explicit(3, seq(...existing, ext));
  if (i >= 0) out[i] = wrapped;
  else out.push(wrapped);
  return out;
}

/** A bare RSA SubjectPublicKeyInfo for a chosen modulus and exponent (the certificate is signed by someone else). */
export function rsaSpki(n: bigint, e: bigint): Uint8Array {
  return seq(seq(oid(OID.rsaEncryption), NULL), bitString(seq(integer(n), integer(e))));
}

/** A random odd integer of exactly `bits` bits. */
export function randomOdd(bits: number): bigint {
  const b = randomBytes(Math.ceil(bits / 8));
  let x = BigInt(`0x${b.toString('hex')}`);
  x &= (1n << BigInt(bits)) - 1n;
  x |= (1n << BigInt(bits - 1)) | 1n;
  return x;
}

/** A modulus whose primes lie close together: Fermat's method splits it at once. */
export function fermatModulus(bits = 2048): bigint {
  const p = randomOdd(bits / 2);
  return p * (p + 2n * 7919n);
}

/** A modulus built like Infineon RSALib's: primes k*M + (65537^a mod M), M the primorial of the primes to 167. */
export function rocaModulus(bits = 2048): bigint {
  const primes = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137,
    139, 149, 151, 157, 163, 167,
  ];
  const m = primes.reduce((acc, p) => acc * BigInt(p), 1n);
  const modPow = (b: bigint, e: bigint, mod: bigint): bigint => {
    let r = 1n;
    b %= mod;
    while (e > 0n) {
      if (e & 1n) r = (r * b) % mod;
      b = (b * b) % mod;
      e >>= 1n;
    }
    return r;
  };
  const mbits = m.toString(2).length;
  const prime = (): bigint => randomOdd(bits / 2 - mbits + 1) * m + modPow(65537n, BigInt(1 + Math.floor(Math.random() * 1e6)), m);
  for (;;) {
    const n = prime() * prime();
    if (n.toString(2).length === bits) return n;
  }
}
