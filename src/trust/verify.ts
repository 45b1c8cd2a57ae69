// verifyChain: build every candidate path, validate each, pick the best, explain the rest.
import type { Certificate } from '../x509/certificate.ts';
import type { Crl } from '../x509/crl.ts';
import { checkPath, type Finding } from './checks.ts';
import type { ReasonCode } from './codes.ts';
import { type HostTarget, parseHost } from './names.ts';
import { buildPaths, type RawPath } from './paths.ts';
import { type Anchor, type AnchorInput, TrustIndex } from './pool.ts';
import { goParseProblem, goSignatureProblem, goView, type Profile, parseProfile, pssProblem } from './profiles.ts';
import { parsePurpose } from './purpose.ts';
import { checkRevocation, type RevocationPolicy } from './revocation.ts';
import { SignatureCache } from './sigcache.ts';

export interface VerifyOptions {
  leaf: Certificate;
  /** Trust anchors; ignored when `index` is given. */
  anchors?: readonly AnchorInput[];
  /** The pool of untrusted intermediates; ignored when `index` is given. */
  intermediates?: readonly Certificate[];
  /** A prebuilt index, to verify many leaves against the same anchors and pool. */
  index?: TrustIndex;
  /** server, client, any (default), an EKU name or OID. */
  purpose?: string;
  /** DNS name, IP address or URI the leaf must name. */
  host?: string;
  /** Check time; default now. */
  at?: Date;
  crls?: readonly Crl[];
  /** 'if-present' (default): check a certificate when its issuer's CRL was supplied; 'require': every one; 'none'. */
  revocation?: RevocationPolicy;
  /** Most intermediates on a path (default 10, like openssl's -verify_depth). */
  maxDepth?: number;
  /** Most candidate paths to build (default 64). */
  maxPaths?: number;
  sigCache?: SignatureCache;
  /**
   * Whose rules the verdict predicts (src/trust/profiles.ts): 'kubernetes' (default; Go's crypto/x509),
   * 'openssl' (openssl verify -x509_strict) or 'strict' (openssl's plus RFC 5280/CA-B profile rules).
   */
  profile?: Profile | string;
}

export type Role = 'leaf' | 'intermediate' | 'anchor';

export interface CertSummary {
  role: Role;
  subject: string;
  issuer: string | null;
  /** SHA-256 of the certificate; null for an anchor given as a bare key. */
  sha256: string | null;
  spkiSha256: string;
  notBefore: string | null;
  notAfter: string | null;
}

export interface Failure {
  code: ReasonCode;
  /** Index in `path` (leaf = 0) of the certificate the problem is about. */
  step: number;
  subject: string;
  message: string;
  /** The strict-profile rule id, for PROFILE_VIOLATION. */
  rule?: string;
  /** A few words for a one-line verdict, where the code alone is not enough ("SHA-1 signature"). */
  detail?: string;
}

export interface Candidate {
  path: CertSummary[];
  /** The path reached a trust anchor. */
  complete: boolean;
  ok: boolean;
  failures: Failure[];
}

export interface VerifyResult {
  trusted: boolean;
  /** The first reason of the best candidate; null when trusted. */
  code: ReasonCode | null;
  /** The trusted path, or when none, the candidate that came closest. */
  bestPath: CertSummary[];
  /** Every candidate path, the best first. */
  candidates: Candidate[];
  /** Plain-words reasons, best candidate's first, without repeats; empty when trusted. */
  reasons: string[];
  at: string;
  purpose: string;
  host: string | null;
  profile: Profile;
}

const DEFAULT_CACHE = new SignatureCache();

export function verifyChain(opts: VerifyOptions): VerifyResult {
  const index = opts.index ?? new TrustIndex(opts.anchors ?? [], opts.intermediates ?? []);
  const at = opts.at ?? new Date();
  const purpose = parsePurpose(opts.purpose);
  const host: HostTarget | undefined = opts.host === undefined ? undefined : parseHost(opts.host);
  const sigCache = opts.sigCache ?? DEFAULT_CACHE;
  const profile = parseProfile(opts.profile);
  const raw = buildPaths(opts.leaf, index, {
    maxDepth: opts.maxDepth ?? 10,
    maxPaths: opts.maxPaths ?? 64,
    sigCache,
    // Go tries every same-name candidate's signature, whatever the key identifiers say.
    keyIdShortcut: profile !== 'kubernetes',
    signatureProblem: (c) =>
      profile === 'kubernetes'
        ? goSignatureProblem(c)
        : pssProblem(c)
          ? { code: 'UNSUPPORTED_SIGNATURE_ALGORITHM', why: pssProblem(c) as string }
          : undefined,
  });

  // Go cannot even load a leaf its parser refuses: that is the whole verdict.
  const unparsable = profile === 'kubernetes' ? goParseProblem(goView(opts.leaf)) : undefined;
  if (unparsable)
    raw.splice(0, raw.length, {
      certs: [opts.leaf],
      failure: {
        code: 'MALFORMED_CERTIFICATE',
        step: 0,
        message: `${JSON.stringify(opts.leaf.subject)} is refused by Go's x509.ParseCertificate: ${unparsable}`,
      },
    });
  const candidates = raw.map((p): Candidate => {
    const path = summarize(p);
    let findings: Finding[];
    if (p.anchor) {
      findings = checkPath(p.certs, p.anchor, host ? { at, purpose, host, profile } : { at, purpose, profile });
      const policy = opts.revocation ?? 'if-present';
      if (policy === 'require' || (opts.crls?.length && policy !== 'none'))
        findings.push(...checkRevocation(p.certs, p.anchor, { crls: opts.crls ?? [], policy, at, sigCache }));
    } else findings = p.failure ? [p.failure] : [];
    findings.sort((a, b) => a.step - b.step);
    const failures = findings.map(
      (f): Failure => ({
        code: f.code,
        step: f.step,
        subject: path[f.step]?.subject ?? '',
        message: f.message,
        ...(f.rule ? { rule: f.rule } : {}),
        ...(f.detail ? { detail: f.detail } : {}),
      }),
    );
    return { path, complete: p.anchor !== undefined, ok: p.anchor !== undefined && failures.length === 0, failures };
  });
  candidates.sort(rank);
  const best = candidates[0];
  const trusted = best?.ok === true;
  const reasons = trusted ? [] : [...new Set(candidates.flatMap((c) => c.failures.map((f) => f.message)))];
  return {
    trusted,
    code: trusted ? null : (best?.failures[0]?.code ?? 'ISSUER_NOT_FOUND'),
    // A copy: YAML output would otherwise print the shared array as an alias.
    bestPath: (best?.path ?? []).map((c) => ({ ...c })),
    candidates,
    reasons,
    at: at.toISOString(),
    purpose: purpose.name,
    host: host?.value ?? null,
    profile,
  };
}

// Best first: trusted, then reached an anchor, then a chain of good signatures up to a self-signed root
// nobody trusts (what openssl reports as error 19, and the truest diagnosis of a rogue CA), then fewest
// problems, then shortest.
function rank(a: Candidate, b: Candidate): number {
  const toRoot = (c: Candidate): number => Number(!c.complete && c.failures.some((f) => f.code === 'UNTRUSTED_ROOT'));
  return (
    Number(b.ok) - Number(a.ok) ||
    Number(b.complete) - Number(a.complete) ||
    toRoot(b) - toRoot(a) ||
    a.failures.length - b.failures.length ||
    a.path.length - b.path.length
  );
}

// A leaf that is itself an anchor makes a path of one: the anchor.
function summarize(p: RawPath): CertSummary[] {
  const out = p.certs.map((c, i): CertSummary => certSummary(c, i === 0 ? 'leaf' : 'intermediate'));
  if (p.anchor) out.push(anchorSummary(p.anchor));
  return out;
}

export function certSummary(c: Certificate, role: Role): CertSummary {
  return {
    role,
    subject: c.subject,
    issuer: c.issuer,
    sha256: c.sha256,
    spkiSha256: c.spkiSha256,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
  };
}

function anchorSummary(a: Anchor): CertSummary {
  if (a.cert) return certSummary(a.cert, 'anchor');
  return { role: 'anchor', subject: a.label, issuer: null, sha256: null, spkiSha256: a.spkiSha256, notBefore: null, notAfter: null };
}
