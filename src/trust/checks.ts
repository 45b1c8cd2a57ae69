// Validation of one complete path (leaf first, anchor last): everything except signatures, which the
// builder already checked, and revocation (revocation.ts). Each check reports every problem it sees,
// so a rejected path explains itself fully rather than by its first fault.
import type { Certificate } from '../x509/certificate.ts';
import { extName } from '../x509/oids.ts';
import type { ReasonCode } from './codes.ts';
import { goNameConstraintFailures } from './gonames.ts';
import { checkNameConstraints, describeNames, type HostTarget, matchesHost } from './names.ts';
import type { Anchor } from './pool.ts';
import {
  goParseProblem,
  goSignatureProblem,
  goSignerKeyProblem,
  goUnhandledCritical,
  goView,
  type Profile,
  pssProblem,
} from './profiles.ts';
import { ekuRejects, keyUsageRejects, type Purpose } from './purpose.ts';
import { strictProblems } from './strict.ts';

export interface Finding {
  code: ReasonCode;
  /** Index in the path, leaf = 0, anchor = last. */
  step: number;
  message: string;
  /** The strict-profile rule (PROFILE_VIOLATION only). */
  rule?: string;
  /** A few words for a one-line verdict ("SHA-1 signature"). */
  detail?: string;
}

export interface PathContext {
  at: Date;
  purpose: Purpose;
  host?: HostTarget;
  /** Whose rules: default 'openssl' (the RFC 5280 algorithm as openssl applies it). */
  profile?: Profile;
}

export const q = (s: string): string => `\`${s === '' ? '(empty name)' : s}\``;
const day = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

/** The certificates of a path with the anchor's certificate (when it has one) last. */
export function pathCerts(certs: readonly Certificate[], anchor: Anchor): Certificate[] {
  return anchor.cert ? [...certs, anchor.cert] : [...certs];
}

export function checkPath(certs: readonly Certificate[], anchor: Anchor, ctx: PathContext): Finding[] {
  const profile = ctx.profile ?? 'openssl';
  const go = profile === 'kubernetes';
  // Go's view: extensions of version 1 and 2 certificates ignored, an empty EKU as none.
  const all = go ? pathCerts(certs, anchor).map(goView) : pathCerts(certs, anchor);
  const out: Finding[] = [];
  const leaf = all[0];
  if (!leaf) return out;
  const anchorStep = certs.length; // index of the anchor, with or without a certificate
  out.push(...profileChecks(all, anchorStep, ctx, profile));

  all.forEach((c, i) => {
    // Validity applies to anchors given as certificates too, as in openssl and Go.
    if (ctx.at > c.notAfter)
      out.push({
        code: 'EXPIRED',
        step: i,
        message: `${q(c.subject)} expired on ${day(c.notAfter)}, before the check time ${day(ctx.at)}`,
      });
    else if (ctx.at < c.notBefore)
      out.push({
        code: 'NOT_YET_VALID',
        step: i,
        message: `${q(c.subject)} is not valid until ${day(c.notBefore)}, after the check time ${day(ctx.at)}`,
      });
    const unknown = go ? goUnhandledCritical(c) : c.unknownCriticalExtensions;
    if (unknown.length)
      out.push({
        code: 'UNKNOWN_CRITICAL_EXTENSION',
        step: i,
        message: go
          ? `${q(c.subject)} has critical extension(s) ${unknown.map(extName).join(', ')} that Go does not process, so Go rejects it`
          : `${q(c.subject)} has critical extension(s) ${unknown.map(extName).join(', ')} that Anchorage does not process, so it must be rejected`,
      });
    if (i > 0) out.push(...issuerChecks(c, i, all, i === anchorStep, go));
    out.push(...ekuCheck(c, i, ctx.purpose));
  });

  // Go ignores the leaf's keyUsage (crypto/x509 verify.go: "KeyUsage status flags are ignored").
  const ku = go ? undefined : keyUsageRejects(leaf, ctx.purpose);
  if (ku)
    out.push({
      code: 'KEY_USAGE_MISMATCH',
      step: 0,
      message: `${q(leaf.subject)} cannot be used for ${ctx.purpose.name}: its keyUsage (${ku.has.join(', ') || 'empty'}) has none of ${ku.needs.join(', ')}`,
    });

  if (go)
    for (const f of goNameConstraintFailures(all))
      out.push({
        code: 'NAME_CONSTRAINT_VIOLATION',
        step: f.step,
        message: f.ca
          ? `${f.message} in ${q((all[f.step] as Certificate).subject)}: not authorized by ${q(f.ca.subject)}`
          : `${q((all[f.step] as Certificate).subject)}: ${f.message} (Go)`,
      });
  else out.push(...nameConstraintChecks(all));

  if (ctx.host && !matchesHost(leaf, ctx.host))
    out.push({
      code: 'HOST_MISMATCH',
      step: 0,
      message: `${q(leaf.subject)} is not valid for ${ctx.host.type === 'dns' ? 'host' : ctx.host.type === 'ip' ? 'IP address' : 'URI'} ${ctx.host.value}: its names are ${describeNames(leaf)}`,
    });
  return out;
}

function issuerChecks(c: Certificate, i: number, all: readonly Certificate[], isAnchor: boolean, go: boolean): Finding[] {
  const out: Finding[] = [];
  const child = all[i - 1] as Certificate;
  const bc = c.basicConstraints;
  // Go (CheckSignatureFrom, isValid): an anchor of version 1 or 2 without basicConstraints may sign.
  const notCa = go && isAnchor ? (bc ? !bc.ca : c.version >= 3) : !bc?.ca;
  if (notCa)
    out.push({
      code: 'NOT_A_CA',
      step: i,
      message: `${q(c.subject)} issued ${q(child.subject)} but is not a CA (basicConstraints ${bc ? 'cA=FALSE' : 'absent'}): a leaf certificate cannot act as an issuer`,
    });
  const ku = c.keyUsage;
  // Go reads a keyUsage with no bit set as no keyUsage at all.
  if (ku !== undefined && !ku.includes('keyCertSign') && !(go && ku.length === 0))
    out.push({
      code: 'MISSING_KEY_CERT_SIGN',
      step: i,
      message: `${q(c.subject)} issued ${q(child.subject)} but its keyUsage (${ku.join(', ') || 'empty'}) does not include keyCertSign`,
    });
  // pathLen counts the non-self-issued intermediates below this CA, the leaf excluded (RFC 5280 6.1.4).
  if (bc?.ca && bc.pathLen !== undefined) {
    let below = 0;
    // Go counts self-issued intermediates too.
    for (let k = 1; k < i; k++) if (go || !(all[k] as Certificate).selfIssued) below++;
    if (below > bc.pathLen)
      out.push({
        code: 'PATH_LEN_EXCEEDED',
        step: i,
        message: `${q(c.subject)}${isAnchor ? ' (trust anchor)' : ''} allows ${bc.pathLen} intermediate CA(s) below it (pathLen ${bc.pathLen}), but this path has ${below}`,
      });
  }
  return out;
}

function ekuCheck(c: Certificate, i: number, purpose: Purpose): Finding[] {
  const eku = ekuRejects(c, purpose);
  if (!eku) return [];
  const message =
    i === 0
      ? `${q(c.subject)} is not valid for ${purpose.name}: its extended key usage allows only ${eku.join(', ')}`
      : `${q(c.subject)} restricts the certificates below it to ${eku.join(', ')}, so it cannot vouch for ${purpose.name}`;
  return [{ code: 'EKU_MISMATCH', step: i, message }];
}

// A CA's name constraints bind every certificate below it; self-issued intermediates are exempt
// (RFC 5280 6.1.3 b), the leaf never is.
function nameConstraintChecks(all: readonly Certificate[]): Finding[] {
  const out: Finding[] = [];
  for (let k = 1; k < all.length; k++) {
    const ca = all[k] as Certificate;
    const nc = ca.nameConstraints;
    if (!nc) continue;
    for (let j = 0; j < k; j++) {
      const c = all[j] as Certificate;
      if (j > 0 && c.selfIssued) continue;
      for (const v of checkNameConstraints(c, nc, j === 0)) {
        const label =
          v.type === 'directory'
            ? 'subject'
            : `${v.type === 'dns' ? 'DNS' : v.type === 'ip' ? 'IP' : v.type === 'uri' ? 'URI' : 'email'} name`;
        const how =
          v.kind === 'permitted'
            ? `is outside the ${v.type} names ${q(ca.subject)} permits (${v.subtrees.join(', ')})`
            : `is excluded by ${q(ca.subject)} (${v.subtrees.join(', ')})`;
        out.push({ code: 'NAME_CONSTRAINT_VIOLATION', step: j, message: `${label} ${v.name} of ${q(c.subject)} ${how}` });
      }
    }
  }
  return out;
}

// What the profile adds: kubernetes, Go's parse refusals and signature rules; openssl, RSA-PSS parameter
// combinations it cannot verify; strict, those plus the strict rules.
function profileChecks(all: readonly Certificate[], anchorStep: number, ctx: PathContext, profile: Profile): Finding[] {
  const out: Finding[] = [];
  all.forEach((c, i) => {
    const signed = i < anchorStep; // the anchor's own signature is never relied on
    if (profile === 'kubernetes') {
      const p = goParseProblem(c);
      if (p)
        out.push({
          code: 'MALFORMED_CERTIFICATE',
          step: i,
          detail: p,
          message: `${q(c.subject)} is refused by Go's x509.ParseCertificate: ${p}`,
        });
      if (signed) {
        const s = goSignatureProblem(c);
        if (s)
          out.push({
            code: s.code,
            step: i,
            detail: s.why,
            message: `${q(c.subject)} is signed with an algorithm Go refuses: ${s.why}`,
          });
        const issuer = all[i + 1];
        const k = issuer ? goSignerKeyProblem(issuer) : undefined;
        if (k) out.push({ code: 'UNSUPPORTED_SIGNATURE_ALGORITHM', step: i, detail: k, message: `${q(c.subject)} is signed by a ${k}` });
      }
    } else if (signed) {
      const p = pssProblem(c);
      if (p) out.push({ code: 'UNSUPPORTED_SIGNATURE_ALGORITHM', step: i, detail: p, message: `${q(c.subject)} is signed with ${p}` });
    }
    if (profile === 'strict') {
      const role = i === 0 && anchorStep > 0 ? 'leaf' : i === anchorStep ? 'anchor' : 'intermediate';
      for (const s of strictProblems(c, role, ctx.purpose, signed))
        out.push({
          code: 'PROFILE_VIOLATION',
          step: i,
          rule: `strict.${s.rule}`,
          detail: s.detail,
          message: `${q(c.subject)} breaks strict rule ${s.rule}: ${s.detail}`,
        });
    }
  });
  return out;
}
