// Revocation against supplied CRLs. Per certificate: find CRLs by its issuer name, keep those the
// issuer's key signed, take the newest, check freshness, then look the serial up.
import type { Certificate } from '../x509/certificate.ts';
import type { Crl } from '../x509/crl.ts';
import type { Finding } from './checks.ts';
import { q } from './checks.ts';
import type { Anchor } from './pool.ts';
import type { SignatureCache } from './sigcache.ts';

export type RevocationPolicy = 'none' | 'if-present' | 'require';

export interface RevocationContext {
  crls: readonly Crl[];
  policy: RevocationPolicy;
  at: Date;
  sigCache: SignatureCache;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const day = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

/** A CRL whose issuingDistributionPoint limits it to CA or to end-entity certificates does not cover the others. */
function covers(crl: Crl, c: Certificate): boolean {
  const idp = crl.issuingDistributionPoint;
  if (!idp) return true;
  if (idp.onlyContainsAttributeCerts) return false;
  if (idp.onlyContainsCACerts && !c.isCA) return false;
  if (idp.onlyContainsUserCerts && c.isCA) return false;
  return true;
}

/** Findings for every certificate below the anchor. The anchor itself is trusted, not checked. */
export function checkRevocation(certs: readonly Certificate[], anchor: Anchor, ctx: RevocationContext): Finding[] {
  if (ctx.policy === 'none') return [];
  const byIssuer = new Map<string, Crl[]>();
  for (const crl of ctx.crls) {
    const k = hex(crl.issuerRaw);
    byIssuer.set(k, [...(byIssuer.get(k) ?? []), crl]);
  }
  const out: Finding[] = [];
  certs.forEach((c, i) => {
    const issuerCert = i + 1 < certs.length ? certs[i + 1] : anchor.cert;
    const issuerKey = issuerCert ? issuerCert.publicKey : anchor.publicKey;
    const issuerKeySha = issuerCert ? issuerCert.spkiSha256 : anchor.spkiSha256;
    const issuerName = issuerCert ? issuerCert.subject : anchor.label;
    const named = (byIssuer.get(hex(c.issuerRaw)) ?? []).filter((crl) => covers(crl, c));
    if (named.length === 0) {
      if (ctx.policy === 'require')
        out.push({
          code: 'CRL_MISSING',
          step: i,
          message: `no CRL from ${q(issuerName)} was supplied, so the revocation of ${q(c.subject)} cannot be checked and the policy requires it`,
        });
      return;
    }
    const signed = named.filter((crl) => ctx.sigCache.verify(crl, issuerKey, issuerKeySha));
    if (signed.length === 0) {
      out.push({
        code: 'CRL_SIGNATURE_INVALID',
        step: i,
        message: `a CRL names ${q(issuerName)} as its issuer, but that CA's key did not sign it, so the revocation of ${q(c.subject)} cannot be checked`,
      });
      return;
    }
    const ku = issuerCert?.keyUsage;
    if (ku !== undefined && !ku.includes('cRLSign'))
      out.push({
        code: 'CRL_MISSING_CRL_SIGN',
        step: i,
        message: `${q(issuerName)} signed the CRL for ${q(c.subject)}, but its keyUsage (${ku.join(', ') || 'empty'}) does not include cRLSign`,
      });
    const crl = signed.reduce((a, b) => (b.thisUpdate > a.thisUpdate ? b : a));
    const unknown = crl.unknownCriticalExtensions;
    if (unknown.length)
      out.push({
        code: 'CRL_UNKNOWN_CRITICAL_EXTENSION',
        step: i,
        message: `the CRL from ${q(issuerName)} has critical extension(s) ${unknown.map((u) => (u.serialNumber ? `${u.oid} on entry ${u.serialNumber}` : u.oid)).join(', ')} that Anchorage does not process (a delta CRL, for one), so it cannot be used`,
      });
    if (crl.thisUpdate > ctx.at)
      out.push({
        code: 'CRL_NOT_YET_VALID',
        step: i,
        message: `the CRL from ${q(issuerName)} is dated ${day(crl.thisUpdate)}, after the check time ${day(ctx.at)}`,
      });
    else if (crl.nextUpdate && crl.nextUpdate < ctx.at)
      out.push({
        code: 'CRL_EXPIRED',
        step: i,
        message: `the newest CRL from ${q(issuerName)} expired on ${day(crl.nextUpdate)} (nextUpdate), before the check time ${day(ctx.at)}: revocation of ${q(c.subject)} cannot be trusted`,
      });
    const e = crl.revocationOf(c.serialNumber);
    // removeFromCRL only appears in delta CRLs and undoes a hold: it is not a revocation.
    if (e && e.reason !== 'removeFromCRL')
      out.push({
        code: 'REVOKED',
        step: i,
        message: `${q(c.subject)} (serial ${c.serialNumber}) was ${e.reason === 'certificateHold' ? 'put on hold' : 'revoked'} by ${q(issuerName)} on ${day(e.revocationDate)}${e.reason ? ` (reason: ${e.reason})` : ''}`,
      });
  });
  return out;
}
