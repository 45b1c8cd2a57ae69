// Which entries a keystore (JKS, PKCS#12) gets from a set of certificates and keys: each key with the
// chain of its certificate (a PrivateKeyEntry), every other certificate as a trusted entry, and stable
// aliases: the input's own (a PKCS#12 friendlyName, a JKS alias), else the one name asked for, else one
// derived from the content (subject CN and SHA-256 prefix), so the same inputs always give the same store.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import type { Certificate } from './certificate.ts';
import { keyMatchesSpki } from './keys.ts';

export interface NamedCert {
  cert: Certificate;
  alias?: string;
}

export interface NamedKey {
  key: KeyObject;
  alias?: string;
}

export interface KeystoreKeyEntry {
  alias: string;
  key: KeyObject;
  /** Leaf first, then its issuers as far as the inputs reach. */
  chain: Certificate[];
}

export interface KeystorePlan {
  keys: KeystoreKeyEntry[];
  trusted: { alias: string; cert: Certificate }[];
}

/** An alias from the certificate alone: its CN (or subject) made alias-safe, and 8 hex digits of its SHA-256. */
export function contentAlias(cert: Certificate): string {
  const base =
    (cert.commonName ?? cert.subject)
      .toLowerCase()
      .replace(/[^a-z0-9.@_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 64) || 'cert';
  return `${base}-${cert.sha256.slice(0, 8)}`;
}

/** The issuer of `c` among `pool`: same name, and the same key identifier when both carry one. */
function issuerOf(c: Certificate, pool: readonly Certificate[], used: ReadonlySet<Certificate>): Certificate | undefined {
  if (c.selfIssued) return undefined;
  return pool.find(
    (p) =>
      !used.has(p) &&
      Buffer.from(p.subjectRaw).equals(Buffer.from(c.issuerRaw)) &&
      (p.subjectKeyId === undefined || c.authorityKeyId === undefined || p.subjectKeyId === c.authorityKeyId),
  );
}

/**
 * Plan the entries. Refuses (one line) a key whose certificate is not among the inputs: a keystore never
 * silently drops a key.
 */
export function planKeystore(certsIn: readonly NamedCert[], keys: readonly NamedKey[], name?: string): KeystorePlan {
  // The same certificate given twice (a PKCS#12 and its PEM chain) is one entry; the first alias wins.
  const bySha = new Map<string, NamedCert>();
  for (const c of certsIn) {
    const seen = bySha.get(c.cert.sha256);
    if (!seen) bySha.set(c.cert.sha256, { ...c });
    else if (seen.alias === undefined && c.alias !== undefined) seen.alias = c.alias;
  }
  const certs = [...bySha.values()];
  const pool = certs.map((c) => c.cert);
  const inChain = new Set<Certificate>();
  const plan: KeystorePlan = { keys: [], trusted: [] };
  keys.forEach((k, i) => {
    const leaf = certs.find((c) => keyMatchesSpki(k.key, c.cert.spki));
    if (!leaf)
      throw new InputError(
        `private key ${k.alias !== undefined ? `'${k.alias}'` : `#${i + 1}`} has no matching certificate among the inputs`,
      );
    const chain = [leaf.cert];
    const used = new Set(chain);
    for (let next = issuerOf(leaf.cert, pool, used); next; next = issuerOf(next, pool, used)) {
      chain.push(next);
      used.add(next);
    }
    for (const c of chain) inChain.add(c);
    const alias = k.alias ?? leaf.alias ?? (name !== undefined && keys.length === 1 ? name : contentAlias(leaf.cert));
    plan.keys.push({ alias, key: k.key, chain });
  });
  const rest = certs.filter((c) => !inChain.has(c.cert));
  for (const c of rest) {
    const alias =
      c.alias ??
      (name === undefined ? contentAlias(c.cert) : rest.length === 1 && keys.length === 0 ? name : `${name}-${c.cert.sha256.slice(0, 8)}`);
    plan.trusted.push({ alias, cert: c.cert });
  }
  return plan;
}
