// Signature algorithm names as printed by sigAlgName (openssl's spelling), mapped to OIDs, for the policy allow-list.
import { OID, sigAlgName } from '../x509/oids.ts';

export const KNOWN_SIGNATURE_ALGORITHMS: ReadonlyMap<string, string> = new Map(
  Object.values(OID)
    .filter((o) => sigAlgName(o) !== o)
    .map((o) => [sigAlgName(o), o]),
);

const cache = new WeakMap<readonly string[], ReadonlySet<string>>();

/** Policy entries (names or dotted OIDs) to a set of OIDs; cached per policy list. */
export function signatureOids(names: readonly string[]): ReadonlySet<string> {
  let s = cache.get(names);
  if (!s) {
    s = new Set(names.map((n) => KNOWN_SIGNATURE_ALGORITHMS.get(n) ?? n));
    cache.set(names, s);
  }
  return s;
}

/** The signature algorithms a policy allows when it names none (the policy's default, in its schema too). */
export const DEFAULT_SIGNATURES: readonly string[] = [
  'sha256WithRSAEncryption',
  'sha384WithRSAEncryption',
  'sha512WithRSAEncryption',
  'rsassaPss',
  'ecdsa-with-SHA256',
  'ecdsa-with-SHA384',
  'ecdsa-with-SHA512',
  'ED25519',
  'ED448',
];
