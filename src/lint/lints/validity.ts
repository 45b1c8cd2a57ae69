// Time: expiry windows against ctx.now (never the clock), lifetime limits, backdating, issuer overlap.
import type { Certificate } from '../../x509/certificate.ts';
import { defineLint, type LintContext } from '../types.ts';
import { DAY_MS, days, isoDate } from './util.ts';

/** A CA by its basicConstraints, or because the set shows it issuing (a v1 root, a CA without basicConstraints). */
export function actsAsCa(cert: Certificate, ctx: LintContext): boolean {
  return cert.isCA || ctx.issuesOthers || (cert.version < 3 && cert.selfIssued);
}

/**
 * Warning and critical windows in days for this certificate (CAs get their own, longer windows). A window
 * never exceeds a third (warning) or a sixth (critical) of the certificate's lifetime, so a fresh short-lived
 * certificate (a 90-day CA, a 24-hour leaf) is not "expiring soon" from the day it is issued.
 */
function windows(cert: Certificate, ctx: LintContext): { warning: number; critical: number } {
  const e = ctx.policy.expiry;
  const life = Math.max(0, cert.notAfter.getTime() - cert.notBefore.getTime()) / DAY_MS;
  const ca = actsAsCa(cert, ctx);
  return {
    warning: Math.min(ca ? e.caWarningDays : e.warningDays, life / 3),
    critical: Math.min(ca ? e.caCriticalDays : e.criticalDays, life / 6),
  };
}
const fmtDays = (d: number): string => days(d * DAY_MS);

const remainingMs = (cert: Certificate, ctx: LintContext): number => cert.notAfter.getTime() - ctx.now.getTime();

export const expired = defineLint({
  id: 'x509.validity.expired',
  severity: 'error',
  description: 'The certificate has expired.',
  remediation: 'Renew it (kubeadm certs renew, or reissue) and restart what uses it; remove expired CAs from bundles.',
  source: 'RFC 5280 4.1.2.5',
  check: (cert, ctx) => {
    const left = remainingMs(cert, ctx);
    return left < 0 ? [`expired on ${isoDate(cert.notAfter)}, ${days(left)} ago`] : [];
  },
});

export const expiringCritical = defineLint({
  id: 'x509.validity.expiring-critical',
  severity: 'error',
  description: 'The certificate expires within the critical window (14 days, CAs 30 days by default; at most a sixth of its lifetime).',
  remediation: 'Renew now; for a CA start the rotation (distribute old+new CA bundle, reissue leaves).',
  source: 'policy expiry.criticalDays / caCriticalDays',
  check: (cert, ctx) => {
    const left = remainingMs(cert, ctx);
    const w = windows(cert, ctx);
    return left >= 0 && left <= w.critical * DAY_MS
      ? [`expires on ${isoDate(cert.notAfter)}, in ${days(left)} (critical window ${fmtDays(w.critical)})`]
      : [];
  },
});

export const expiringSoon = defineLint({
  id: 'x509.validity.expiring-soon',
  severity: 'warning',
  description: 'The certificate expires within the warning window (28 days, CAs 90 days by default; at most a third of its lifetime).',
  remediation: 'Schedule the renewal before it reaches the critical window.',
  source: 'policy expiry.warningDays / caWarningDays',
  check: (cert, ctx) => {
    const left = remainingMs(cert, ctx);
    const w = windows(cert, ctx);
    return left > w.critical * DAY_MS && left <= w.warning * DAY_MS
      ? [`expires on ${isoDate(cert.notAfter)}, in ${days(left)} (warning window ${fmtDays(w.warning)})`]
      : [];
  },
});

export const notYetValid = defineLint({
  id: 'x509.validity.not-yet-valid',
  severity: 'error',
  description: 'The certificate is not valid yet (notBefore is in the future).',
  remediation: 'Check the clocks of the issuing host and of this host; reissue with a current notBefore.',
  source: 'RFC 5280 4.1.2.5',
  check: (cert, ctx) =>
    cert.notBefore > ctx.now
      ? [`not valid before ${isoDate(cert.notBefore)}, ${days(cert.notBefore.getTime() - ctx.now.getTime())} from now`]
      : [],
});

export const tooLong = defineLint({
  id: 'x509.validity.too-long',
  severity: 'warning',
  description:
    'The validity period exceeds the policy maximum (leaves 398 days, intermediate CAs 3653, self-signed roots 7306 by default, plus one day of grace for backdating).',
  remediation: 'Issue shorter-lived certificates and automate renewal; or raise validity.maxLeafDays / maxCaDays / maxRootDays.',
  source: 'CA/B BR 6.3.2, policy validity.maxLeafDays / maxCaDays / maxRootDays',
  appliesTo: (cert) => cert.notAfter > cert.notBefore,
  check: (cert, ctx) => {
    const v = ctx.policy.validity;
    const ca = actsAsCa(cert, ctx);
    const root = ca && cert.selfIssued;
    const max = root ? v.maxRootDays : ca ? v.maxCaDays : v.maxLeafDays;
    const what = root ? 'self-signed roots' : ca ? 'CAs' : 'leaves';
    const life = (cert.notAfter.getTime() - cert.notBefore.getTime()) / DAY_MS;
    // One day of grace: issuers backdate notBefore (kubeadm by 5 minutes) and count the lifetime from issuance.
    return life > max + 1 ? [`valid for ${days(life * DAY_MS)} (policy maximum for ${what}: ${max} days)`] : [];
  },
});

export const backdated = defineLint({
  id: 'x509.validity.backdated',
  severity: 'warning',
  description: 'notBefore lies long before its issuer existed (backdated by more than the policy allows, 48 h by default).',
  remediation: 'Issue with notBefore close to the issuance time (a few minutes of backdating covers clock skew).',
  source: 'CA/B BR 7.1.2.4, policy validity.maxBackdateHours',
  appliesTo: (cert, ctx) => ctx.issuer !== undefined && !cert.selfIssued,
  check: (cert, ctx) => {
    const issuer = ctx.issuer as Certificate;
    const gap = issuer.notBefore.getTime() - cert.notBefore.getTime();
    const maxH = ctx.policy.validity.maxBackdateHours;
    return gap > maxH * 3_600_000
      ? [
          `notBefore ${isoDate(cert.notBefore)} is ${days(gap)} before its issuer's notBefore ${isoDate(issuer.notBefore)} (allowed ${maxH} h)`,
        ]
      : [];
  },
});

export const outlivesIssuer = defineLint({
  id: 'x509.validity.outlives-issuer',
  severity: 'warning',
  description: 'The certificate expires after its issuing CA, so it stops validating early.',
  remediation: 'Plan the CA rotation before the CA expires; reissue from a CA that outlives the certificate.',
  source: 'RFC 5280 6.1.3',
  appliesTo: (cert, ctx) => ctx.issuer !== undefined && !cert.selfIssued,
  check: (cert, ctx) => {
    const issuer = ctx.issuer as Certificate;
    return cert.notAfter > issuer.notAfter
      ? [`expires ${isoDate(cert.notAfter)}, after its issuer ${issuer.subject || '(empty subject)'} (${isoDate(issuer.notAfter)})`]
      : [];
  },
});

export const VALIDITY_LINTS = [expired, expiringCritical, expiringSoon, notYetValid, tooLong, backdated, outlivesIssuer];
