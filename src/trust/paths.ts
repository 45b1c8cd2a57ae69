// Path building: every way up from a leaf to a trust anchor through the pool. Issuers are matched by
// subject name (RFC 5280 name chaining); the AKI/SKI pair orders candidates and explains failures.
// Signatures are checked here, while building, so that a same-name CA with another key is reported
// as such instead of turning into a confusing validation failure later.
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import type { ReasonCode } from './codes.ts';
import { type Anchor, identityOf, type TrustIndex } from './pool.ts';
import type { SignatureCache } from './sigcache.ts';

/** A building failure, located at `step` (index in `certs`); `other` is the issuer it concerns. */
export interface BuildFailure {
  code: ReasonCode;
  step: number;
  message: string;
  other?: Certificate | Anchor;
  detail?: string;
}

/** Certificates from the leaf up; `anchor` set when the path reached one. */
export interface RawPath {
  certs: Certificate[];
  anchor?: Anchor;
  failure?: BuildFailure;
}

export interface BuildOptions {
  /** Most intermediates a path may hold (openssl's -verify_depth). */
  maxDepth: number;
  /** Stop after this many paths: cross-signed meshes grow combinatorially. */
  maxPaths: number;
  sigCache: SignatureCache;
  /** Reject a same-name issuer on an AKI/SKI mismatch without a signature check (default true; Go does not). */
  keyIdShortcut?: boolean;
  /** When a signature fails to verify: the algorithm's own problem (PSS parameters...), reported instead. */
  signatureProblem?: (c: Certificate) => { code: ReasonCode; why: string } | undefined;
}

const q = (s: string): string => `\`${s === '' ? '(empty name)' : s}\``;

/**
 * Most same-name candidates (anchors and intermediates) examined for one certificate: each costs a
 * signature check. A pool with more than this many CAs of one name is refused as too large.
 */
export const MAX_ISSUER_CANDIDATES = 1024;
/** Most signature checks one path build may make (a crafted mesh of same-name CAs is refused, not walked for minutes). */
export const MAX_SIGNATURE_CHECKS = 8192;

export function buildPaths(leaf: Certificate, index: TrustIndex, opts: BuildOptions): RawPath[] {
  const out: RawPath[] = [];
  // The leaf itself is trusted: a one-certificate path (a pinned self-signed server, for example).
  if (index.isAnchorCert(leaf)) {
    const a = index.anchors.find((x) => x.cert?.sha256 === leaf.sha256) as Anchor;
    return [{ certs: [], anchor: a }];
  }
  // Candidates are ranked by signature validity before any of the path budget is spent: every issuer
  // whose key verifies is followed first, and rejected same-name candidates (rotated CAs, decoys
  // carrying the issuer's name and key identifier) are recorded only with the budget left over. So 64
  // decoys ahead of the real intermediate cannot crowd out the valid path.
  let checks = 0;
  const verify = (c: Certificate, key: Anchor['publicKey'], keySha256: string): boolean => {
    if (++checks > MAX_SIGNATURE_CHECKS)
      throw new InputError(
        `too large: building paths for ${q(leaf.subject)} needs more than ${MAX_SIGNATURE_CHECKS} signature checks (too many same-name CAs in the pool)`,
      );
    return opts.sigCache.verify(c, key, keySha256);
  };
  const walk = (path: Certificate[], ids: Set<string>): void => {
    if (out.length >= opts.maxPaths) return;
    const c = path[path.length - 1] as Certificate;
    const step = path.length - 1;
    const aki = c.authorityKeyId;
    const anchors = index.anchorsFor(c);
    const issuers = index.issuersFor(c);
    if (anchors.length + issuers.length > MAX_ISSUER_CANDIDATES)
      throw new InputError(
        `too large: ${anchors.length + issuers.length} CAs are named ${q(c.issuer)}, over the budget of ${MAX_ISSUER_CANDIDATES} candidate issuers per certificate`,
      );
    let found = false;
    const rejected: BuildFailure[] = [];
    const goodAnchors: Anchor[] = [];
    const goodIssuers: Certificate[] = [];

    for (const a of anchors) {
      if (a.cert && identityOf(a.cert) === identityOf(c)) continue;
      const named = a.cert !== undefined || a.name !== undefined;
      if (opts.keyIdShortcut !== false && a.cert && aki && a.cert.subjectKeyId && aki !== a.cert.subjectKeyId) {
        rejected.push(sameNameOtherKey(c, step, a.label, a, a.cert.subjectKeyId));
        found = true;
        continue;
      }
      if (verify(c, a.publicKey, a.spkiSha256)) {
        goodAnchors.push(a);
        found = true;
      } else if (named) {
        found = true;
        const sp = opts.signatureProblem?.(c);
        if (sp)
          rejected.push({
            code: sp.code,
            step,
            detail: sp.why,
            message: `the signature of ${q(c.subject)} cannot be checked: ${sp.why}`,
            other: a,
          });
        else
          rejected.push(aki !== undefined && aki === a.keyId ? badSignature(c, step, a.label, a) : sameNameOtherKey(c, step, a.label, a));
      }
    }

    // A self-signed certificate that no anchor's key verifies is the end of its path: its own key signed it,
    // so no other same-name CA can be its issuer. Report it as the untrusted root it is (openssl: error 19).
    if (path.length > 1 && goodAnchors.length === 0 && c.selfIssued && c.selfSigned) {
      if (out.length < opts.maxPaths) out.push({ certs: path, failure: notFound(c, step, index) });
      return;
    }

    for (const i of sortIssuers(issuers, aki)) {
      if (identityOf(i) === identityOf(c)) continue;
      found = true;
      if (opts.keyIdShortcut !== false && aki && i.subjectKeyId && aki !== i.subjectKeyId) {
        rejected.push(sameNameOtherKey(c, step, i.subject, i, i.subjectKeyId));
        continue;
      }
      if (!verify(c, i.publicKey, i.spkiSha256)) {
        const sp = opts.signatureProblem?.(c);
        if (sp) {
          rejected.push({
            code: sp.code,
            step,
            detail: sp.why,
            message: `the signature of ${q(c.subject)} cannot be checked: ${sp.why}`,
            other: i,
          });
          continue;
        }
        rejected.push(
          aki !== undefined && aki === i.subjectKeyId ? badSignature(c, step, i.subject, i) : sameNameOtherKey(c, step, i.subject, i),
        );
        continue;
      }
      goodIssuers.push(i);
    }

    for (const a of goodAnchors) {
      if (out.length >= opts.maxPaths) return;
      out.push({ certs: path, anchor: a });
    }
    for (const i of goodIssuers) {
      if (out.length >= opts.maxPaths) return;
      if (ids.has(identityOf(i))) {
        out.push({
          certs: path,
          failure: {
            code: 'LOOP',
            step,
            message: `issuer ${q(i.subject)} of ${q(c.subject)} is already on this path: the certificates loop through cross-signatures`,
            other: i,
          },
        });
        continue;
      }
      if (path.length > opts.maxDepth) {
        out.push({
          certs: path,
          failure: {
            code: 'DEPTH_EXCEEDED',
            step,
            message: `reaching a trust anchor above ${q(c.subject)} needs more than ${opts.maxDepth} intermediate(s), the depth limit`,
            other: i,
          },
        });
        continue;
      }
      const next = new Set(ids);
      next.add(identityOf(i));
      walk([...path, i], next);
    }
    for (const f of rejected) {
      if (out.length >= opts.maxPaths) return;
      out.push({ certs: path, failure: f });
    }

    if (!found) out.push({ certs: path, failure: notFound(c, step, index) });
  };
  walk([leaf], new Set([identityOf(leaf)]));
  return out;
}

// Prefer issuers whose SKI is the certificate's AKI: the usual case first, the odd ones after.
function sortIssuers(list: Certificate[], aki: string | undefined): Certificate[] {
  if (!aki || list.length < 2) return list;
  return [...list].sort((a, b) => Number(b.subjectKeyId === aki) - Number(a.subjectKeyId === aki));
}

/** `otherSki` set: rejected on the AKI/SKI mismatch alone; unset: the signature failed. */
function sameNameOtherKey(c: Certificate, step: number, issuer: string, other: Certificate | Anchor, otherSki?: string): BuildFailure {
  const why =
    otherSki !== undefined
      ? `its key identifier ${otherSki} is not the ${c.authorityKeyId} this certificate names`
      : 'its key did not sign this certificate';
  return {
    code: 'NAME_MISMATCH_KEY',
    step,
    message: `issuer ${q(issuer)} found, but ${why}: another CA uses the same name (a rotated or rogue CA)`,
    other,
  };
}

function badSignature(c: Certificate, step: number, issuer: string, other: Certificate | Anchor): BuildFailure {
  return {
    code: 'SIGNATURE_INVALID',
    step,
    message: `the signature of ${q(c.subject)} does not verify with the key of ${q(issuer)}, the issuer it names by key identifier: the certificate was altered or corrupted`,
    other,
  };
}

function notFound(c: Certificate, step: number, index: TrustIndex): BuildFailure {
  if (c.selfIssued && c.selfSigned)
    return {
      code: 'UNTRUSTED_ROOT',
      step,
      message: `the path ends at the self-signed ${q(c.subject)}, which is not among the trust anchors`,
    };
  const aki = c.authorityKeyId;
  const sameKey = aki
    ? [...index.byKeyId(aki).map((x) => x.subject), ...index.anchors.filter((a) => a.cert && a.keyId === aki).map((a) => a.label)]
    : [];
  const hint = sameKey.length ? ` (a CA with the key identifier it names exists, but is called ${sameKey.map(q).join(', ')})` : '';
  return {
    code: 'ISSUER_NOT_FOUND',
    step,
    message: `no trust anchor or intermediate is named ${q(c.issuer)}, the issuer of ${q(c.subject)}${hint}`,
  };
}
