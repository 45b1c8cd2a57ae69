// Test-only certificate fixtures for the trust tests and the benchmark: small CA hierarchies built in memory
// with issueCertificate. Pure; the tests write them to disk.
import type { KeyObject } from 'node:crypto';
import { type CertProfile, issueCertificate } from '../../src/x509/build.ts';
import type { Certificate } from '../../src/x509/certificate.ts';
import { generateKey, type KeyPair } from '../../src/x509/keys.ts';

export interface Issued {
  cert: Certificate;
  key: KeyObject;
  pair: KeyPair;
}

/** Check time of the scenario corpus; fixtures are valid from 2025-01-01 to 2030-01-01 unless told. */
export const AT = new Date('2025-06-01T00:00:00Z');
export const FROM = new Date('2025-01-01T00:00:00Z');
export const UNTIL = new Date('2030-01-01T00:00:00Z');

export type Opts = Partial<Omit<CertProfile, 'subject' | 'validity'>> & {
  notBefore?: Date;
  notAfter?: Date;
  pair?: KeyPair;
  /** Sign with this key instead of the issuer's (a forged or corrupted signature). */
  signWith?: KeyObject;
};

export function key(): KeyPair {
  return generateKey('ecdsa-p256');
}

function issue(subject: string, issuer: Issued | undefined, o: Opts, defaults: Partial<CertProfile>): Issued {
  const pair = o.pair ?? key();
  const { notBefore, notAfter, pair: _p, signWith, ...rest } = o;
  const profile: CertProfile = { subject, ...defaults, ...rest, validity: { notBefore: notBefore ?? FROM, notAfter: notAfter ?? UNTIL } };
  const cert = issuer
    ? issueCertificate({ profile, publicKey: pair.publicKey, issuer: { cert: issuer.cert, key: signWith ?? issuer.key } })
    : issueCertificate({ profile, publicKey: pair.publicKey, signingKey: signWith ?? pair.privateKey });
  return { cert, key: pair.privateKey, pair };
}

/** A CA: self-signed without an issuer. keyCertSign+cRLSign, as strict validators expect. */
export function ca(subject: string, issuer?: Issued, o: Opts = {}): Issued {
  return issue(subject, issuer, o, { ca: true, keyUsage: ['keyCertSign', 'cRLSign'] });
}

/** A TLS leaf: digitalSignature, CA:FALSE. Self-signed without an issuer (a pinned server certificate). */
export function leaf(subject: string, issuer: Issued | undefined, o: Opts = {}): Issued {
  return issue(subject, issuer, o, { keyUsage: ['digitalSignature', 'keyEncipherment'] });
}

/** A depth-3 chain: root -> intermediate -> `n` server leaves. */
export function chain3(n: number): { root: Issued; int: Issued; leaves: Issued[] } {
  const root = ca('CN=Bench Root');
  const int = ca('CN=Bench Intermediate', root, { pathLen: 0 });
  const leaves = Array.from({ length: n }, (_, i) =>
    leaf(`CN=node-${i}.bench.example`, int, { extKeyUsage: ['serverAuth'], sans: { dns: [`node-${i}.bench.example`] } }),
  );
  return { root, int, leaves };
}
