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

/**
 * The certificates of a set that its lookups can return, by subject and by key: the issuer of a
 * certificate (findIssuer) and the others sharing its key. lintCertificates builds one over its targets;
 * a streaming caller (`anchorage lint` over a directory) builds one over the few certificates that can be
 * an answer (those named as an issuer, those whose key is shared) and lints the rest one at a time.
 */
export class LintIndex {
  private readonly bySubject = new Map<string, Certificate[]>();
  private readonly bySpki = new Map<string, Certificate[]>();
  // One certificate linted at many places (anchorage scan) is one candidate, not one per place: else every
  // issuer lookup walks all its copies (quadratic: 10k Secrets carrying one CA).
  private readonly seen = new Set<Certificate>();
  /**
   * Per shared key: its distinct subjects, the first holder of each (`certs`, their subject keys in `keys`), and the
   * list every holder of a subject outside the first MAX_SHARERS_LISTED gets (`common`: one array for them all).
   */
  private distinct:
    | Map<string, { subjects: Set<string>; certs: Certificate[]; keys: string[]; common: readonly Certificate[] }>
    | undefined;
  // Keys whose holders the index has only in part (their first subjects' first holders): how many subjects
  // hold each in the whole set (by SPKI SHA-256).
  private readonly keySubjects = new Map<string, number>();

  /**
   * The whole set has `subjects` distinct subjects holding the key with this SPKI SHA-256, of which the index
   * is given the first MAX_SHARERS_LISTED + 1 (each by its first holder, in the set's order): enough for
   * sharersOf, which then counts the others from this number.
   */
  setKeySubjects(spkiSha256: string, subjects: number): void {
    this.keySubjects.set(spkiSha256, subjects);
  }

  add(cert: Certificate): void {
    if (this.seen.has(cert)) return;
    this.seen.add(cert);
    this.distinct = undefined;
    try {
      const k = key(cert.subjectRaw);
      const l = this.bySubject.get(k);
      if (l) l.push(cert);
      else this.bySubject.set(k, [cert]);
      const s = this.bySpki.get(cert.spkiSha256);
      if (s) s.push(cert);
      else this.bySpki.set(cert.spkiSha256, [cert]);
    } catch (e) {
      if (!(e instanceof DerError)) throw e;
    }
  }

  get size(): number {
    return this.seen.size;
  }

  /** The issuer of `cert` in the set, or the same-name certificate that claims to be (findIssuer). */
  issuerOf(cert: Certificate): { issuer?: Certificate; claimed?: Certificate } {
    try {
      return findIssuer(cert, this.bySubject);
    } catch (e) {
      if (e instanceof DerError) return {};
      throw e;
    }
  }

  /** The key the index files a name's raw DER under (issuerNameKey's argument). */
  static nameKey(raw: Uint8Array): string {
    return key(raw);
  }

  /**
   * What issuerOf answers as the issuer of any certificate that is not self-issued and carries this issuer
   * name (LintIndex.nameKey of its raw DER) and authority key id, when the answer does not depend on the
   * certificate itself: `{}` (no issuer in the set) or `{ issuer }` (the first with that name and key id).
   * undefined when a signature must decide (findIssuer on the certificate).
   */
  issuerByKeyId(nameKey: string, aki: string | undefined): { issuer?: Certificate } | undefined {
    const cands = this.bySubject.get(nameKey);
    if (!cands) return {};
    // findIssuer's order: every candidate's key id read first (an unreadable one makes issuerOf answer {}).
    let first: Certificate | undefined;
    let others = 0;
    try {
      for (const cand of cands) {
        const ski = cand.subjectKeyId;
        if (aki !== undefined && ski !== undefined && ski === aki) first ??= cand;
        else others++;
      }
    } catch (e) {
      if (e instanceof DerError) return {};
      throw e;
    }
    if (first) return { issuer: first };
    return others ? undefined : {};
  }

  /** Other certificates with the same key and another subject: at most MAX_SHARERS_LISTED, and how many in all. */
  sharersOf(cert: Certificate): { listed: readonly Certificate[]; total: number } {
    if (!this.distinct) {
      // Per key: its distinct subjects, once. Each certificate then lists a bounded number of the others
      // (10k certificates sharing one key must not build 10k lists of 10k).
      this.distinct = new Map();
      for (const [spki, same] of this.bySpki) {
        if (same.length < 2) continue;
        const subjects = new Set<string>();
        const certs: Certificate[] = [];
        const keys: string[] = [];
        for (const o of same) {
          const k = key(o.subjectRaw);
          if (subjects.has(k)) continue;
          subjects.add(k);
          certs.push(o);
          keys.push(k);
        }
        this.distinct.set(spki, { subjects, certs, keys, common: Object.freeze(certs.slice(0, MAX_SHARERS_LISTED)) });
      }
    }
    let d: { subjects: Set<string>; certs: Certificate[]; keys: string[]; common: readonly Certificate[] } | undefined;
    try {
      d = this.distinct.get(cert.spkiSha256);
    } catch (e) {
      if (!(e instanceof DerError)) throw e;
    }
    if (!d) return { listed: [], total: 0 };
    const mine = key(cert.subjectRaw);
    // A subject among the first listed is left out of its own list; any other gets the common one.
    // Only the first MAX_SHARERS_LISTED are looked at: a key may have thousands of subjects (lintCertificates).
    let listed = d.common;
    let at = -1;
    for (let i = 0; i < d.keys.length && i < MAX_SHARERS_LISTED && at < 0; i++) if (d.keys[i] === mine) at = i;
    if (at >= 0) {
      const own: Certificate[] = [];
      for (let i = 0; i < d.certs.length && own.length < MAX_SHARERS_LISTED; i++)
        if (d.keys[i] !== mine) own.push(d.certs[i] as Certificate);
      listed = own;
    }
    // Given in part: the certificate holds the key, so its own subject is one of the set's.
    const whole = this.keySubjects.get(cert.spkiSha256);
    return { listed, total: whole !== undefined ? whole - 1 : d.subjects.size - (d.subjects.has(mine) ? 1 : 0) };
  }
}

/** What the set tells about one certificate of it (LintIndex), for lintTarget. */
export interface SetFacts {
  issuer?: Certificate | undefined;
  claimed?: Certificate | undefined;
  issuesOthers: boolean;
  sharers: { listed: readonly Certificate[]; total: number };
  /** Certificates read from the same source (1 without a source). */
  sourceCount: number;
}

/** Other subjects named per shared-key finding; the rest are counted. */
export const MAX_SHARERS_LISTED = 10;

export function activeLints(policy: Policy, lints: readonly Lint[] = CATALOG): Lint[] {
  const off = new Set(policy.lints.disabled);
  return lints.filter((l) => !off.has(l.id));
}

/**
 * `lintCopies`: each certificate is linted on a copy with nothing decoded (Certificate.undecoded, one per run of
 * targets of the same certificate), so the fields the lints decode (~10 KiB a certificate) are garbage after it
 * instead of staying on the caller's objects (scan's inventory holds its certificates until its report is made).
 * The set's lookups still answer with the caller's objects.
 */
export function lintCertificates(targets: readonly LintTarget[], opts: LintOptions & { lintCopies?: boolean }): LintReport {
  const lints = activeLints(opts.policy ?? DEFAULT_POLICY, opts.lints);
  const perSource = new Map<string, number>();
  for (const t of targets) if (t.source !== undefined) perSource.set(t.source, (perSource.get(t.source) ?? 0) + 1);
  const index = new LintIndex();
  for (const { cert } of targets) index.add(cert);
  const found = targets.map(({ cert }) => index.issuerOf(cert));
  const issuers = new Set<Certificate>();
  for (const f of found) if (f.issuer) issuers.add(f.issuer);
  const findings: Finding[] = [];
  let original: Certificate | undefined;
  let copy: Certificate | undefined;
  targets.forEach((t, i) => {
    const f = found[i] as { issuer?: Certificate; claimed?: Certificate };
    const facts: SetFacts = {
      issuer: f.issuer,
      claimed: f.claimed,
      issuesOthers: issuers.has(t.cert),
      sharers: index.sharersOf(t.cert),
      sourceCount: t.sourceCount ?? (t.source === undefined ? 1 : (perSource.get(t.source) ?? 1)),
    };
    let target = t;
    if (opts.lintCopies) {
      if (t.cert !== original) {
        original = t.cert;
        copy = t.cert.undecoded();
      }
      target = { ...t, cert: copy as Certificate };
    }
    for (const x of lintTarget(target, facts, opts, lints)) findings.push(x);
  });
  const summary: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  for (const f of findings) summary[f.severity]++;
  return { certificates: targets.length, summary, findings };
}

/** The findings on one certificate, given what its set tells about it; `lints` from activeLints(policy). */
export function lintTarget(t: LintTarget, set: SetFacts, opts: LintOptions, lints: readonly Lint[]): Finding[] {
  const policy = opts.policy ?? DEFAULT_POLICY;
  const overrides = policy.lints.severity;
  const findings: Finding[] = [];
  const sourceCount = set.sourceCount;
  const ctx: LintContext = {
    now: opts.now,
    policy,
    issuesOthers: set.issuesOthers,
    sharedKeyWith: set.sharers.listed,
    sharedKeyTotal: set.sharers.total,
    sourceCount,
  };
  if (t.source !== undefined) ctx.source = t.source;
  if (t.location !== undefined) ctx.location = t.location;
  if (set.issuer) ctx.issuer = set.issuer;
  if (set.claimed) ctx.claimedIssuer = set.claimed;
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
  // Indexed loops: iterators here were ~2 KiB of garbage a certificate (V8 kept them).
  for (let i = 0; i < lints.length; i++) {
    const lint = lints[i] as Lint;
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
    for (let k = 0; k < found.length; k++) {
      const f = found[k] as Finding;
      findings.push(sev ? { ...f, severity: sev } : f);
    }
  }
  return findings;
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
