// Validation of one complete path (leaf first, anchor last): everything except signatures, which the
// builder already checked, and revocation (revocation.ts). Each check reports every problem it sees,
// so a rejected path explains itself fully rather than by its first fault.
import type { Certificate } from '../x509/certificate.ts';
import { extName } from '../x509/oids.ts';
import type { ReasonCode } from './codes.ts';
import { checkNameConstraints, describeNames, type HostTarget, matchesHost } from './names.ts';
import type { Anchor } from './pool.ts';
import { ekuRejects, keyUsageRejects, type Purpose } from './purpose.ts';

export interface Finding {
  code: ReasonCode;
  /** Index in the path, leaf = 0, anchor = last. */
  step: number;
  message: string;
}

export interface PathContext {
  at: Date;
  purpose: Purpose;
  host?: HostTarget;
}

export const q = (s: string): string => `\`${s === '' ? '(empty name)' : s}\``;
const day = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

/** The certificates of a path with the anchor's certificate (when it has one) last. */
export function pathCerts(certs: readonly Certificate[], anchor: Anchor): Certificate[] {
  return anchor.cert ? [...certs, anchor.cert] : [...certs];
}

export function checkPath(certs: readonly Certificate[], anchor: Anchor, ctx: PathContext): Finding[] {
  const all = pathCerts(certs, anchor);
  const out: Finding[] = [];
  const leaf = all[0];
  if (!leaf) return out;
  const anchorStep = certs.length; // index of the anchor, with or without a certificate

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
    const unknown = c.unknownCriticalExtensions;
    if (unknown.length)
      out.push({
        code: 'UNKNOWN_CRITICAL_EXTENSION',
        step: i,
        message: `${q(c.subject)} has critical extension(s) ${unknown.map(extName).join(', ')} that Anchorage does not process, so it must be rejected`,
      });
    if (i > 0) out.push(...issuerChecks(c, i, all, i === anchorStep));
    out.push(...ekuCheck(c, i, ctx.purpose));
  });

  const ku = keyUsageRejects(leaf, ctx.purpose);
  if (ku)
    out.push({
      code: 'KEY_USAGE_MISMATCH',
      step: 0,
      message: `${q(leaf.subject)} cannot be used for ${ctx.purpose.name}: its keyUsage (${ku.has.join(', ') || 'empty'}) has none of ${ku.needs.join(', ')}`,
    });

  out.push(...nameConstraintChecks(all));

  if (ctx.host && !matchesHost(leaf, ctx.host))
    out.push({
      code: 'HOST_MISMATCH',
      step: 0,
      message: `${q(leaf.subject)} is not valid for ${ctx.host.type === 'dns' ? 'host' : ctx.host.type === 'ip' ? 'IP address' : 'URI'} ${ctx.host.value}: its names are ${describeNames(leaf)}`,
    });
  return out;
}

function issuerChecks(c: Certificate, i: number, all: readonly Certificate[], isAnchor: boolean): Finding[] {
  const out: Finding[] = [];
  const child = all[i - 1] as Certificate;
  const bc = c.basicConstraints;
  if (!bc?.ca)
    out.push({
      code: 'NOT_A_CA',
      step: i,
      message: `${q(c.subject)} issued ${q(child.subject)} but is not a CA (basicConstraints ${bc ? 'cA=FALSE' : 'absent'}): a leaf certificate cannot act as an issuer`,
    });
  const ku = c.keyUsage;
  if (ku !== undefined && !ku.includes('keyCertSign'))
    out.push({
      code: 'MISSING_KEY_CERT_SIGN',
      step: i,
      message: `${q(c.subject)} issued ${q(child.subject)} but its keyUsage (${ku.join(', ') || 'empty'}) does not include keyCertSign`,
    });
  // pathLen counts the non-self-issued intermediates below this CA, the leaf excluded (RFC 5280 6.1.4).
  if (bc?.ca && bc.pathLen !== undefined) {
    let below = 0;
    for (let k = 1; k < i; k++) if (!(all[k] as Certificate).selfIssued) below++;
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
