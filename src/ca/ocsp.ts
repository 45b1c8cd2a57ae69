// OCSP (RFC 6960): read a request, answer it with a BasicOCSPResponse signed by the CA itself (the CA
// is its own responder, section 4.2.2.2), echoing the request's nonce (RFC 8954).
import { createHash, type KeyObject } from 'node:crypto';
import type { Certificate } from '../x509/certificate.ts';
import {
  bitString,
  bitStringBytes,
  DerError,
  decodeOid,
  explicit,
  generalizedTime,
  implicit,
  type Node,
  octetString,
  oid,
  parse,
  seq,
  seqList,
  TAG,
  tlv,
} from '../x509/der.ts';
import { externalSignerFor, isExternalKey, type SigningKey, signerFor } from '../x509/keys.ts';
import { CRL_REASONS, type CrlReason, OID } from '../x509/oids.ts';

export const OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
export const OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
/** Largest OCSP request read (real ones: a few hundred bytes). */
export const MAX_OCSP_REQUEST = 16 * 1024;
const MAX_OCSP_ITEMS = 100;

export type ResponseStatus = 'successful' | 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';
const STATUS_CODE: Record<ResponseStatus, number> = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
};

export interface CertId {
  hashOid: string;
  issuerNameHash: string;
  issuerKeyHash: string;
  /** Lowercase hex of the INTEGER contents without one leading 00 (as Certificate.serialNumber). */
  serial: string;
  raw: Uint8Array;
}

export interface OcspRequest {
  ids: CertId[];
  /** The nonce extension's extnValue contents (the DER of the nonce OCTET STRING), echoed as is. */
  nonce?: Uint8Array;
}

const serialHex = (v: Uint8Array): string => {
  const h = Buffer.from(v).toString('hex');
  return h.length > 2 && h.startsWith('00') ? h.slice(2) : h;
};

export function parseOcspRequest(der: Uint8Array): OcspRequest {
  if (der.length > MAX_OCSP_REQUEST) throw new DerError(`too large: an OCSP request of ${der.length} bytes`, 0);
  const top = parse(der).expect(TAG.SEQUENCE, 'OCSPRequest');
  const tbs = top.child(0).expect(TAG.SEQUENCE, 'TBSRequest');
  let list: Node | undefined;
  let exts: Node | undefined;
  for (const f of tbs.children()) {
    if (f.tag === TAG.SEQUENCE) list = f;
    else if (f.tag === 0xa2) exts = f.inner();
  }
  if (!list) throw new DerError('OCSP request has no requestList', 0);
  const reqs = list.children();
  if (reqs.length === 0 || reqs.length > MAX_OCSP_ITEMS) throw new DerError(`OCSP request asks about ${reqs.length} certificates`, 0);
  const ids = reqs.map((r) => {
    const cid = r.expect(TAG.SEQUENCE, 'Request').child(0).expect(TAG.SEQUENCE, 'CertID');
    const [alg, nameHash, keyHash, sn] = cid.children();
    if (!alg || !nameHash || !keyHash || !sn) throw new DerError('CertID is incomplete', cid.start);
    return {
      hashOid: decodeOid(alg.child(0).expect(TAG.OID, 'hashAlgorithm')),
      issuerNameHash: Buffer.from(nameHash.expect(TAG.OCTET_STRING, 'issuerNameHash').value).toString('hex'),
      issuerKeyHash: Buffer.from(keyHash.expect(TAG.OCTET_STRING, 'issuerKeyHash').value).toString('hex'),
      serial: serialHex(sn.expect(TAG.INTEGER, 'serialNumber').value),
      raw: cid.raw,
    };
  });
  let nonce: Uint8Array | undefined;
  if (exts)
    for (const e of exts.children()) {
      if (decodeOid(e.child(0)) === OCSP_NONCE) nonce = e.children().at(-1)?.value;
    }
  return { ids, ...(nonce ? { nonce } : {}) };
}

const HASHES: Record<string, string> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Does this CertID name `issuer` as its issuer? */
export function certIdMatches(id: CertId, issuer: Certificate): boolean {
  const h = HASHES[id.hashOid];
  if (!h) return false;
  const keyBits = bitStringBytes(parse(issuer.spki).child(1));
  return (
    createHash(h).update(issuer.subjectRaw).digest('hex') === id.issuerNameHash &&
    createHash(h).update(keyBits).digest('hex') === id.issuerKeyHash
  );
}

export type SingleStatus = { status: 'good' } | { status: 'unknown' } | { status: 'revoked'; revokedAt: Date; reason?: CrlReason };

export function ocspError(status: Exclude<ResponseStatus, 'successful'>): Uint8Array {
  return seq(tlv(TAG.ENUMERATED, Uint8Array.of(STATUS_CODE[status])));
}

export interface OcspAnswer {
  id: CertId;
  status: SingleStatus;
}

/** A signed, successful response for `answers`, valid from thisUpdate to nextUpdate. */
export function ocspResponse(
  issuer: { cert: Certificate; key: KeyObject },
  answers: readonly OcspAnswer[],
  thisUpdate: Date,
  nextUpdate: Date,
  nonce?: Uint8Array,
): Uint8Array {
  const tbs = responseData(issuer.cert, answers, thisUpdate, nextUpdate, nonce);
  const signer = signerFor(issuer.key);
  return wrapBasic(seq(tbs, signer.algorithmId, bitString(signer.sign(tbs))));
}

/** ocspResponse for a key that may live on a token (ExternalKey), signed asynchronously; a KeyObject goes through ocspResponse. */
export async function ocspResponseAsync(
  issuer: { cert: Certificate; key: SigningKey },
  answers: readonly OcspAnswer[],
  thisUpdate: Date,
  nextUpdate: Date,
  nonce?: Uint8Array,
): Promise<Uint8Array> {
  const key = issuer.key;
  if (!isExternalKey(key)) return ocspResponse({ cert: issuer.cert, key }, answers, thisUpdate, nextUpdate, nonce);
  const tbs = responseData(issuer.cert, answers, thisUpdate, nextUpdate, nonce);
  const signer = externalSignerFor(key);
  return wrapBasic(seq(tbs, signer.algorithmId, bitString(await signer.sign(tbs))));
}

const wrapBasic = (basic: Uint8Array): Uint8Array =>
  seq(tlv(TAG.ENUMERATED, Uint8Array.of(0)), explicit(0, seq(oid(OCSP_BASIC), octetString(basic))));

function responseData(
  cert: Certificate,
  answers: readonly OcspAnswer[],
  thisUpdate: Date,
  nextUpdate: Date,
  nonce: Uint8Array | undefined,
): Uint8Array {
  const keyHash = createHash('sha1')
    .update(bitStringBytes(parse(cert.spki).child(1)))
    .digest();
  const singles = answers.map(({ id, status }) => {
    let cs: Uint8Array;
    if (status.status === 'good') cs = implicit(0, new Uint8Array(0));
    else if (status.status === 'unknown') cs = implicit(2, new Uint8Array(0));
    else {
      const parts = [generalizedTime(status.revokedAt)];
      if (status.reason && status.reason !== 'unspecified')
        parts.push(explicit(0, tlv(TAG.ENUMERATED, Uint8Array.of(CRL_REASONS.indexOf(status.reason)))));
      cs = tlv(0xa1, ...parts);
    }
    return seq(id.raw, cs, generalizedTime(thisUpdate), explicit(0, generalizedTime(nextUpdate)));
  });
  const exts = nonce ? [explicit(1, seq(seq(oid(OCSP_NONCE), octetString(nonce))))] : [];
  return seq(explicit(2, octetString(keyHash)), generalizedTime(new Date()), seqList(singles), ...exts);
}
