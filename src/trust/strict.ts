// The strict profile's certificate rules: RFC 5280 profile requirements plus the CA/Browser Forum
// rules a well-run private PKI also meets. Each rule has a stable id (docs/trust.md lists them); a
// path fails with PROFILE_VIOLATION and the rule id. They come on top of the openssl profile's checks.
import type { Certificate } from '../x509/certificate.ts';
import { parse } from '../x509/der.ts';
import { parsePssParams } from '../x509/keys.ts';
import { OID } from '../x509/oids.ts';
import type { Purpose } from './purpose.ts';

export const STRICT_RULES = {
  'not-der': 'the encoding is BER but not DER',
  'duplicate-extension': 'an extension appears twice',
  serial: 'the serial number is negative, zero, or longer than 20 octets',
  'aki-missing': 'no authorityKeyIdentifier on a certificate other than a self-signed root',
  'ski-missing': 'no subjectKeyIdentifier on a CA',
  'empty-issuer': 'the issuer name is empty',
  'empty-subject': 'the subject is empty and the subjectAltName is absent or not critical',
  'name-constraints': 'nameConstraints on a non-CA, not critical, or without any subtree',
  'key-cert-sign-without-ca': 'keyUsage keyCertSign without basicConstraints cA=TRUE',
  'basic-constraints-not-critical': 'a CA whose basicConstraints is not critical',
  'aia-critical': 'authorityInfoAccess marked critical',
  'aia-malformed': 'authorityInfoAccess that does not parse, or whose locations are not absolute URIs',
  'server-eku': 'a server leaf with no extendedKeyUsage or with anyExtendedKeyUsage',
  'root-eku': 'a root (self-signed anchor) with extendedKeyUsage',
  'weak-key': 'a DSA key or an elliptic curve under 224 bits (P-192)',
  'weak-signature': 'a SHA-1 or MD5 signature',
} as const;

export type StrictRule = keyof typeof STRICT_RULES;

export interface StrictProblem {
  rule: StrictRule;
  detail: string;
}

const WEAK_CURVES = new Set(['1.2.840.10045.3.1.1', 'P-192', 'prime192v1', 'secp192r1']);

/**
 * Strict-profile problems of one certificate. `role`: where it sits on the path; `checkSignature`:
 * its signature is relied on (false for the anchor itself).
 */
export function strictProblems(
  c: Certificate,
  role: 'leaf' | 'intermediate' | 'anchor',
  purpose: Purpose,
  checkSignature: boolean,
): StrictProblem[] {
  const out: StrictProblem[] = [];
  const add = (rule: StrictRule, detail: string): void => {
    out.push({ rule, detail });
  };
  if (!c.isDer) add('not-der', c.encodingIssues[0] as string);
  const seen = new Set<string>();
  for (const e of c.extensions) {
    if (seen.has(e.oid)) add('duplicate-extension', `extension ${e.oid} appears more than once`);
    seen.add(e.oid);
  }
  const serial = c.serialBytes;
  const body = serial.length > 1 && serial[0] === 0 ? serial.subarray(1) : serial;
  if (c.serialNegative) add('serial', 'the serial number is negative');
  else if (body.every((b) => b === 0)) add('serial', 'the serial number is zero');
  else if (serial.length > 20) add('serial', `the serial number is ${serial.length} octets (at most 20)`);
  const selfSignedRoot = c.selfIssued && c.selfSigned;
  if (!selfSignedRoot && !c.hasExtension(OID.authorityKeyIdentifier)) add('aki-missing', 'no authorityKeyIdentifier');
  const bc = c.basicConstraints;
  if (bc?.ca && !c.hasExtension(OID.subjectKeyIdentifier)) add('ski-missing', 'a CA without subjectKeyIdentifier');
  if (c.issuerRdns.length === 0) add('empty-issuer', 'the issuer name is empty');
  if (c.subjectRdns.length === 0 && !c.isCritical(OID.subjectAltName))
    add(
      'empty-subject',
      c.hasExtension(OID.subjectAltName) ? 'empty subject with a non-critical subjectAltName' : 'empty subject and no subjectAltName',
    );
  if (c.hasExtension(OID.nameConstraints)) {
    const nc = c.nameConstraints;
    const any = nc && [...Object.values(nc.permitted), ...Object.values(nc.excluded)].some((l) => l.length > 0);
    if (!bc?.ca) add('name-constraints', 'nameConstraints on a certificate that is not a CA');
    else if (!c.isCritical(OID.nameConstraints)) add('name-constraints', 'nameConstraints not marked critical');
    else if (!any) add('name-constraints', 'nameConstraints without any subtree');
  }
  if (c.keyUsage?.includes('keyCertSign') && !bc?.ca) add('key-cert-sign-without-ca', 'keyCertSign without cA=TRUE');
  if (bc?.ca && !c.isCritical(OID.basicConstraints)) add('basic-constraints-not-critical', 'basicConstraints of a CA is not critical');
  if (c.hasExtension(OID.authorityInfoAccess)) {
    if (c.isCritical(OID.authorityInfoAccess)) add('aia-critical', 'authorityInfoAccess is critical');
    const aia = c.authorityInfoAccess;
    const malformed = c.warnings.some((w) => w.startsWith('malformed authorityInfoAccess'));
    const bad = [...aia.ocsp, ...aia.caIssuers].find((u) => !/^(https?|ldap):\/\/[^/?#\s]+/i.test(u));
    if (malformed) add('aia-malformed', 'authorityInfoAccess does not parse');
    else if (aia.ocsp.length + aia.caIssuers.length === 0) add('aia-malformed', 'authorityInfoAccess names no location');
    else if (bad !== undefined)
      add('aia-malformed', `authorityInfoAccess location ${JSON.stringify(bad)} is not an absolute http or ldap URI`);
  }
  const eku = c.extKeyUsage;
  if (role === 'leaf' && purpose.oid === OID.serverAuth) {
    if (eku === undefined) add('server-eku', 'a server certificate without extendedKeyUsage');
    else if (eku.includes('anyExtendedKeyUsage')) add('server-eku', 'a server certificate with anyExtendedKeyUsage');
  }
  if (role === 'anchor' && selfSignedRoot && eku !== undefined) add('root-eku', `a root with extendedKeyUsage (${eku.join(', ')})`);
  const k = c.keyInfo;
  if (k.algorithm === 'DSA') add('weak-key', 'a DSA key');
  if (k.algorithm === 'EC' && (WEAK_CURVES.has(k.curve ?? '') || (k.size ?? 256) < 224))
    add('weak-key', `an elliptic-curve key on ${k.curve}`);
  if (checkSignature) {
    const o = c.signatureAlgorithmOid;
    if ([OID.sha1WithRSA, OID.ecdsaWithSHA1, '1.2.840.10040.4.3'].includes(o)) add('weak-signature', 'a SHA-1 signature');
    if (o === OID.md5WithRSA) add('weak-signature', 'an MD5 signature');
    if (o === OID.rsassaPss && pssHash(c) === 'sha1') add('weak-signature', 'an RSA-PSS signature over SHA-1');
  }
  return out;
}

function pssHash(c: Certificate): string | undefined {
  try {
    return parsePssParams(parse(c.der).child(1).children()[1]).hash;
  } catch {
    return undefined;
  }
}
