// PKCS#7 / CMS "certs-only" SignedData (RFC 5652): the .p7b/.p7c bundle format of Windows, Java and
// `openssl crl2pkcs7`. Signatures and signer infos are ignored: only the certificate and CRL sets matter.

import { InputError } from '../common/errors.ts';
import { berToDer } from './ber.ts';
import { DerError, decodeOid, implicitConstructed, integer, type Node, oid, parse, seq, TAG, tlv } from './der.ts';
import { OID } from './oids.ts';

export interface Pkcs7Contents {
  certificates: Uint8Array[];
  crls: Uint8Array[];
}

/** True for a ContentInfo holding SignedData. */
export function isPkcs7(buf: Uint8Array): boolean {
  try {
    const ci = parse(berToDer(fromPem(buf)));
    return ci.tag === TAG.SEQUENCE && decodeOid(ci.child(0)) === OID.signedData;
  } catch {
    return false;
  }
}

/** Read a ContentInfo(SignedData), or a bare SignedData, as DER, BER or PEM ("PKCS7"/"CMS"). */
export function readPkcs7(input: Uint8Array): Pkcs7Contents {
  try {
    return read(parse(berToDer(fromPem(input))));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not a valid PKCS#7 file (${(e as Error).message})`);
  }
}

function read(top: Node): Pkcs7Contents {
  top.expect(TAG.SEQUENCE, 'ContentInfo');
  let sd = top;
  if (top.child(0).tag === TAG.OID) {
    const type = decodeOid(top.child(0));
    if (type !== OID.signedData) throw new InputError(`not a PKCS#7 certificate bundle (content type ${type}, expected signedData)`);
    sd = top.child(1).inner().expect(TAG.SEQUENCE, 'SignedData');
  }
  // SignedData: version, digestAlgorithms SET, encapContentInfo, [0] certificates, [1] crls, signerInfos.
  const kids = sd.children();
  if (kids[0]?.tag !== TAG.INTEGER || kids[1]?.tag !== TAG.SET || kids[2]?.tag !== TAG.SEQUENCE)
    throw new DerError('SignedData: expected version, digestAlgorithms and encapContentInfo', sd.start);
  const out: Pkcs7Contents = { certificates: [], crls: [] };
  for (const k of kids.slice(3)) {
    // Only plain X.509 choices (SEQUENCE); attribute certificates and "other" formats are skipped.
    if (k.tag === 0xa0) for (const c of k.children()) if (c.tag === TAG.SEQUENCE) out.certificates.push(c.raw.slice());
    if (k.tag === 0xa1) for (const c of k.children()) if (c.tag === TAG.SEQUENCE) out.crls.push(c.raw.slice());
  }
  return out;
}

function fromPem(input: Uint8Array): Uint8Array {
  if (input[0] === 0x30) return input;
  const text = Buffer.from(input).toString('latin1');
  const m = /-----BEGIN (PKCS7|CMS)-----([\s\S]*?)-----END \1-----/.exec(text);
  return m ? Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64') : input;
}

/** Certs-only SignedData in a ContentInfo, as `openssl crl2pkcs7 -nocrl` writes it. */
export function writePkcs7(certs: Uint8Array[], crls: Uint8Array[] = []): Uint8Array {
  // The certificate SET keeps the caller's order instead of DER-sorting it: readers (openssl, keytool,
  // Windows) present certificates in file order, and chain order is what people expect to see.
  const signedData = seq(
    integer(1),
    tlv(TAG.SET),
    seq(oid(OID.data)),
    ...(certs.length ? [implicitConstructed(0, ...certs)] : []),
    ...(crls.length ? [implicitConstructed(1, ...crls)] : []),
    tlv(TAG.SET),
  );
  return seq(oid(OID.signedData), tlv(0xa0, signedData));
}
