// Run the catalog over a set of certificates. The set matters: it tells which certificate issued which
// (backdating, CA evidence, wrong signer) and which share a key. Pure: no clock, no disk.

import { InputError } from '../common/errors.ts';
import { detectRole } from '../k8s/role-detect.ts';
import type { Certificate } from '../x509/certificate.ts';
import { DerError } from '../x509/der.ts';
import { CATALOG } from './catalog.ts';
import { DEFAULT_POLICY, type Policy } from './policy.ts';
import { type Finding, type Lint, type LintContext, SEVERITY_RANK, type Severity } from './types.ts';

export interface LintTarget {
  cert: Certificate;
  /** File path it was read from (also used to infer the Kubernetes role). */
  source?: string;
  /** Position inside the file. */
  location?: string;
  /** How many certificates its source holds, when the caller lints one representative place of many
   * (default: how many targets share its source). */
  sourceCount?: number;
}

export interface LintOptions {
  policy?: Policy;
  /** The evaluation time for expiry lints. Required: the engine never reads the clock. */
  now: Date;
  /** Run only these lints (default: the whole catalog minus policy.lints.disabled). */
  lints?: readonly Lint[];
}

export interface LintReport {
  certificates: number;
  summary: Record<Severity, number>;
  findings: Finding[];
}

const key = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

/** Did `issuer`'s key sign `c`? Cached: one signature check per pair. */
const signedCache = new WeakMap<Certificate, Map<Certificate, boolean>>();
function signedBy(c: Certificate, issuer: Certificate): boolean {
  let m = signedCache.get(c);
  if (!m) {
    m = new Map();
    signedCache.set(c, m);
  }
  let v = m.get(issuer);
  if (v === undefined) {
    try {
      v = c.verifiedBy(issuer.publicKey);
    } catch {
      v = false; // an unreadable key or signature: not this issuer
    }
    m.set(issuer, v);
  }
  return v;
}

/**
 * The issuer of `c` among `bySubject`: same name and the key that made the signature (the same key id first,
 * when both sides carry one). When certificates with the issuer's name are in the set but none of their
 * keys signed, the best of them is returned as `claimed` (x509.signature.not-by-issuer: a leaf from a CA
 * that was re-keyed, or from another CA with the same name).
 */
function findIssuer(c: Certificate, bySubject: Map<string, Certificate[]>): { issuer?: Certificate; claimed?: Certificate } {
  if (c.selfIssued) return {};
  const cands = bySubject.get(key(c.issuerRaw));
  if (!cands) return {};
  const aki = c.authorityKeyId;
  // Same key id first, then candidates without one, then other key ids (a CA re-keyed under the same name).
  const sameId: Certificate[] = [];
  const noId: Certificate[] = [];
  const otherId: Certificate[] = [];
  for (const cand of cands) {
    if (cand === c) continue;
    const ski = cand.subjectKeyId;
    if (aki === undefined || ski === undefined) noId.push(cand);
    else (ski === aki ? sameId : otherId).push(cand);
  }
  // A matching key id is taken as the answer without a signature check (the common case, kept cheap:
  // linting never verified signatures before); the rest must prove it with a signature.
  if (sameId[0]) return { issuer: sameId[0] };
  const ranked = [...noId, ...otherId];
  for (const cand of ranked) if (signedBy(c, cand)) return { issuer: cand };
  return ranked[0] ? { claimed: ranked[0] } : {};
}

/** Parts of the context that depend on the whole set. */
function setContext(targets: readonly LintTarget[]): {
  issuer: (Certificate | undefined)[];
  claimed: (Certificate | undefined)[];
  issuers: Set<Certificate>;
  sharers: { listed: Certificate[]; total: number }[];
} {
  const bySubject = new Map<string, Certificate[]>();
  const bySpki = new Map<string, Certificate[]>();
  // One certificate linted at many places (anchorage scan) is one candidate, not one per place: else every
  // issuer lookup walks all its copies (quadratic: 10k Secrets carrying one CA).
  const seen = new Set<Certificate>();
  for (const { cert } of targets) {
    if (seen.has(cert)) continue;
    seen.add(cert);
    try {
      const k = key(cert.subjectRaw);
      const l = bySubject.get(k);
      if (l) l.push(cert);
      else bySubject.set(k, [cert]);
      const s = bySpki.get(cert.spkiSha256);
      if (s) s.push(cert);
      else bySpki.set(cert.spkiSha256, [cert]);
    } catch (e) {
      if (!(e instanceof DerError)) throw e;
    }
  }
  const issuers = new Set<Certificate>();
  const found = targets.map(({ cert }) => {
    try {
      const i = findIssuer(cert, bySubject);
      if (i.issuer) issuers.add(i.issuer);
      return i;
    } catch (e) {
      if (e instanceof DerError) return {};
      throw e;
    }
  });
  const issuer = found.map((f) => f.issuer);
  const claimed = found.map((f) => f.claimed);
  // Per key: its distinct subjects, once. Each certificate then lists a bounded number of the others
  // (10k certificates sharing one key must not build 10k lists of 10k).
  const distinct = new Map<string, { subjects: Set<string>; certs: Certificate[] }>();
  for (const [spki, same] of bySpki) {
    if (same.length < 2) continue;
    const subjects = new Set<string>();
    const certs: Certificate[] = [];
    for (const o of same) {
      const k = key(o.subjectRaw);
      if (subjects.has(k)) continue;
      subjects.add(k);
      certs.push(o);
    }
    distinct.set(spki, { subjects, certs });
  }
  const sharers = targets.map(({ cert }): { listed: Certificate[]; total: number } => {
    let d: { subjects: Set<string>; certs: Certificate[] } | undefined;
    try {
      d = distinct.get(cert.spkiSha256);
    } catch (e) {
      if (!(e instanceof DerError)) throw e;
    }
    if (!d) return { listed: [], total: 0 };
    const mine = key(cert.subjectRaw);
    const listed: Certificate[] = [];
    for (const o of d.certs) {
      if (listed.length >= MAX_SHARERS_LISTED) break;
      if (key(o.subjectRaw) !== mine) listed.push(o);
    }
    return { listed, total: d.subjects.size - (d.subjects.has(mine) ? 1 : 0) };
  });
  return { issuer, claimed, issuers, sharers };
}

/** Other subjects named per shared-key finding; the rest are counted. */
export const MAX_SHARERS_LISTED = 10;

export function activeLints(policy: Policy, lints: readonly Lint[] = CATALOG): Lint[] {
  const off = new Set(policy.lints.disabled);
  return lints.filter((l) => !off.has(l.id));
}

export function lintCertificates(targets: readonly LintTarget[], opts: LintOptions): LintReport {
  const policy = opts.policy ?? DEFAULT_POLICY;
  const lints = activeLints(policy, opts.lints);
  const overrides = policy.lints.severity;
  const perSource = new Map<string, number>();
  for (const t of targets) if (t.source !== undefined) perSource.set(t.source, (perSource.get(t.source) ?? 0) + 1);
  const set = setContext(targets);
  const findings: Finding[] = [];
  targets.forEach((t, i) => {
    const sourceCount = t.sourceCount ?? (t.source === undefined ? 1 : (perSource.get(t.source) ?? 1));
    const ctx: LintContext = {
      now: opts.now,
      policy,
      issuesOthers: set.issuers.has(t.cert),
      sharedKeyWith: set.sharers[i]?.listed ?? [],
      sharedKeyTotal: set.sharers[i]?.total ?? 0,
      sourceCount,
    };
    if (t.source !== undefined) ctx.source = t.source;
    if (t.location !== undefined) ctx.location = t.location;
    const issuer = set.issuer[i];
    if (issuer) ctx.issuer = issuer;
    const claimed = set.claimed[i];
    if (claimed) ctx.claimedIssuer = claimed;
    try {
      const role = detectRole(t.cert, {
        ...(t.source !== undefined && { path: t.source }),
        ...(t.location !== undefined && { location: t.location }),
        multiple: sourceCount > 1,
      });
      if (role) ctx.role = role;
    } catch (e) {
      if (!(e instanceof DerError)) throw e;
    }
    const refused = new Set<string>();
    for (const lint of lints) {
      let found: Finding[];
      try {
        if (!lint.appliesTo(t.cert, ctx)) continue;
        found = lint.check(t.cert, ctx);
      } catch (e) {
        // An undecodable part is x509.der.malformed's finding; the lints that needed it stay quiet.
        if (e instanceof DerError) continue;
        // Over a work budget (a 64-Mbit RSA modulus): reported once for this certificate, the rest goes on.
        if (e instanceof InputError) {
          if (refused.has(e.message)) continue;
          refused.add(e.message);
          found = [
            {
              lintId: lint.id,
              severity: lint.severity,
              message: e.message,
              subject: safeSubject(t.cert),
              sha256: t.cert.sha256,
              ...(t.source !== undefined && { source: t.source }),
              ...(t.location !== undefined && { location: t.location }),
            },
          ];
        } else throw e;
      }
      const sev = overrides[lint.id] ?? (policy.profile === 'strict' ? lint.strictSeverity : undefined);
      for (const f of found) findings.push(sev ? { ...f, severity: sev } : f);
    }
  });
  const summary: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  for (const f of findings) summary[f.severity]++;
  return { certificates: targets.length, summary, findings };
}

function safeSubject(c: Certificate): string {
  try {
    return c.subject;
  } catch {
    return '';
  }
}

/** True when some finding is at or above `threshold`. */
export function failsAt(report: LintReport, threshold: Severity): boolean {
  return report.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[threshold]);
}
