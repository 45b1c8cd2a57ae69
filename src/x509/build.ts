// Issue certificates from a typed profile. DER is written by hand (see der.ts) and signed with Node's crypto.

import { hash, type KeyObject, randomFillSync } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { Certificate } from './certificate.ts';
import { bitString, bitStringBytes, explicit, integer, octetString, parse, seq, seqList, time } from './der.ts';
import {
  type AuthorityInfoAccess,
  type Extension,
  encodeAia,
  encodeAki,
  encodeBasicConstraints,
  encodeCrlDistributionPoints,
  encodeExtension,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeNameConstraints,
  encodePolicies,
  encodeSans,
  type NameConstraintSet,
  type SubjectAltNames,
} from './extensions.ts';
import { externalSignerFor, isExternalKey, type SigningKey, signerFor, spkiDer } from './keys.ts';
import { encodeName, parseDn, type Rdns } from './name.ts';
import { ekuOid, type KeyUsage, OID } from './oids.ts';

export interface Validity {
  /** Lifetime from notBefore+backdate, in days; or use hours, or an explicit notAfter. */
  days?: number;
  hours?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** Seconds to backdate notBefore from `now` (kubeadm: 300). Ignored with an explicit notBefore. */
  backdateSeconds?: number;
}

export interface CertProfile {
  /** RFC 4514 string ("CN=x,O=y") or RDNs. */
  subject: string | Rdns;
  sans?: Partial<SubjectAltNames>;
  keyUsage?: KeyUsage[];
  keyUsageCritical?: boolean;
  /** EKU names (serverAuth, clientAuth, server, client, any) or OIDs. */
  extKeyUsage?: string[];
  /** Emit basicConstraints cA=TRUE; leaves get cA=FALSE only when basicConstraints is true. */
  ca?: boolean;
  pathLen?: number;
  /** Emit basicConstraints on leaves too (CA:FALSE), as kubeadm/Go do. Default true. */
  basicConstraints?: boolean;
  validity: Validity;
  nameConstraints?: { permitted?: Partial<NameConstraintSet>; excluded?: Partial<NameConstraintSet>; critical?: boolean };
  crlDistributionPoints?: string[];
  authorityInfoAccess?: Partial<AuthorityInfoAccess>;
  policies?: string[];
  serial?: bigint | Uint8Array;
  /** Subject key identifier: computed (default) or omitted. */
  subjectKeyId?: boolean;
  /** Authority key identifier: default on for certificates with a separate issuer, off for self-signed (as Go does). */
  authorityKeyId?: boolean;
  extraExtensions?: Extension[];
  hash?: 'sha256' | 'sha384' | 'sha512';
}

export interface IssuerRef {
  cert: Certificate;
  key: KeyObject;
}

export interface IssueRequest {
  profile: CertProfile;
  /** The subject's public key (KeyObject or SPKI DER). */
  publicKey: KeyObject | Uint8Array;
  /** Omit for a self-signed certificate: then `signingKey` must be the subject's private key. */
  issuer?: IssuerRef;
  signingKey?: KeyObject;
  now?: Date;
}

// Serials come from a pooled random buffer: one randomFill per 256 certificates.
const pool = new Uint8Array(4096);
let poolPos = pool.length;
export function randomSerial(): Uint8Array {
  if (poolPos + 16 > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const s = pool.slice(poolPos, poolPos + 16);
  poolPos += 16;
  s[0] = ((s[0] as number) & 0x7f) | 0x40; // positive, and exactly 127 significant bits: never shrinks
  return s;
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const bits = bitStringBytes(parse(spki).child(1));
  return hash('sha1', bits, 'buffer');
}

export function resolveValidity(v: Validity, now: Date): { notBefore: Date; notAfter: Date } {
  const notBefore = v.notBefore ?? new Date(now.getTime() - (v.backdateSeconds ?? 300) * 1000);
  let notAfter = v.notAfter;
  if (!notAfter) {
    const ms = v.days !== undefined ? v.days * 86400000 : v.hours !== undefined ? v.hours * 3600000 : undefined;
    if (ms === undefined) throw new InputError('validity needs days, hours or notAfter');
    // Lifetime counts from now, as kubeadm does (notBefore is only backdated).
    notAfter = new Date((v.notBefore ? notBefore.getTime() : now.getTime()) + ms);
  }
  if (notAfter <= notBefore) throw new InputError('validity: notAfter must be after notBefore');
  return { notBefore, notAfter };
}

function buildExtensions(p: CertProfile, spki: Uint8Array, issuerSkid: Uint8Array | undefined): Extension[] {
  const exts: Extension[] = [];
  if (p.keyUsage?.length) exts.push({ oid: OID.keyUsage, critical: p.keyUsageCritical ?? true, value: encodeKeyUsage(p.keyUsage) });
  if (p.extKeyUsage?.length) {
    const oids = p.extKeyUsage.map((e) => {
      const o = ekuOid(e);
      if (!o) throw new InputError(`unknown extended key usage '${e}'`);
      return o;
    });
    exts.push({ oid: OID.extKeyUsage, critical: false, value: encodeExtKeyUsage(oids) });
  }
  if (p.ca || p.basicConstraints !== false) {
    const bc = p.pathLen !== undefined ? { ca: p.ca === true, pathLen: p.pathLen } : { ca: p.ca === true };
    exts.push({ oid: OID.basicConstraints, critical: true, value: encodeBasicConstraints(bc) });
  }
  if (p.subjectKeyId !== false) exts.push({ oid: OID.subjectKeyIdentifier, critical: false, value: octetString(keyIdentifier(spki)) });
  if (issuerSkid) exts.push({ oid: OID.authorityKeyIdentifier, critical: false, value: encodeAki(issuerSkid) });
  const aia = p.authorityInfoAccess;
  if (aia && ((aia.ocsp?.length ?? 0) > 0 || (aia.caIssuers?.length ?? 0) > 0))
    exts.push({ oid: OID.authorityInfoAccess, critical: false, value: encodeAia(aia) });
  const s = p.sans;
  if (s && (s.dns?.length ?? 0) + (s.ip?.length ?? 0) + (s.email?.length ?? 0) + (s.uri?.length ?? 0) > 0) {
    // RFC 5280: critical when the subject is empty.
    const emptySubject = typeof p.subject === 'string' ? p.subject.trim() === '' : p.subject.length === 0;
    exts.push({ oid: OID.subjectAltName, critical: emptySubject, value: encodeSans(s) });
  }
  if (p.policies?.length) exts.push({ oid: OID.certificatePolicies, critical: false, value: encodePolicies(p.policies) });
  if (p.nameConstraints)
    exts.push({ oid: OID.nameConstraints, critical: p.nameConstraints.critical ?? true, value: encodeNameConstraints(p.nameConstraints) });
  if (p.crlDistributionPoints?.length)
    exts.push({ oid: OID.crlDistributionPoints, critical: false, value: encodeCrlDistributionPoints(p.crlDistributionPoints) });
  for (const e of p.extraExtensions ?? []) exts.push(e);
  return exts;
}

export function issueCertificate(req: IssueRequest): Certificate {
  const signKey = req.issuer ? req.issuer.key : req.signingKey;
  if (!signKey) throw new InputError('a self-signed certificate needs signingKey');
  const signer = signerFor(signKey, req.profile.hash);
  const tbs = tbsCertificate(req, signer.algorithmId);
  return new Certificate(seq(tbs, signer.algorithmId, bitString(signer.sign(tbs))));
}

export interface ExternalIssueRequest extends Omit<IssueRequest, 'issuer' | 'signingKey'> {
  issuer?: { cert: Certificate; key: SigningKey };
  signingKey?: SigningKey;
}

/**
 * issueCertificate for a key that may live on a token (ExternalKey): the same certificate, signed
 * asynchronously. A KeyObject goes through issueCertificate unchanged.
 */
export async function issueCertificateAsync(req: ExternalIssueRequest): Promise<Certificate> {
  const signKey = req.issuer ? req.issuer.key : req.signingKey;
  if (!signKey) throw new InputError('a self-signed certificate needs signingKey');
  if (!isExternalKey(signKey)) return issueCertificate(req as IssueRequest);
  const signer = externalSignerFor(signKey, req.profile.hash);
  const tbs = tbsCertificate(req, signer.algorithmId);
  return new Certificate(seq(tbs, signer.algorithmId, bitString(await signer.sign(tbs))));
}

function tbsCertificate(req: ExternalIssueRequest, algorithmId: Uint8Array): Uint8Array {
  const p = req.profile;
  const now = req.now ?? new Date();
  const spki = req.publicKey instanceof Uint8Array ? req.publicKey : spkiDer(req.publicKey);
  const subject = encodeName(typeof p.subject === 'string' ? parseDn(p.subject) : p.subject);
  const issuerName = req.issuer ? req.issuer.cert.subjectRaw : subject;
  const wantAki = p.authorityKeyId ?? req.issuer !== undefined;
  let issuerSkid: Uint8Array | undefined;
  if (wantAki) {
    const skid = req.issuer ? req.issuer.cert.subjectKeyId : undefined;
    issuerSkid = skid ? Buffer.from(skid, 'hex') : keyIdentifier(req.issuer ? req.issuer.cert.spki : spki);
  }
  const { notBefore, notAfter } = resolveValidity(p.validity, now);
  const exts = buildExtensions(p, spki, issuerSkid);
  const serial = p.serial === undefined ? randomSerial() : p.serial;
  return seq(
    explicit(0, integer(2)),
    integer(serial),
    algorithmId,
    issuerName,
    seq(time(notBefore), time(notAfter)),
    subject,
    spki,
    ...(exts.length ? [explicit(3, seqList(exts.map(encodeExtension)))] : []),
  );
}
