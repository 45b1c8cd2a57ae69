// Encoding facts the certificate model normalises away (time types, explicit defaults, the TBS copy of
// the signature algorithm). Read once per certificate from its DER and cached.
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import { bitStringBytes, decodeBool, decodeOid, latin1Range, type Node, parse, TAG } from '../x509/der.ts';
import { OID } from '../x509/oids.ts';

export interface TimeFact {
  /** 'UTCTime' or 'GeneralizedTime' (or the tag in hex for anything else). */
  type: string;
  text: string;
}

export interface DerFacts {
  notBefore: TimeFact;
  notAfter: TimeFact;
  /** Extensions that spell out critical=FALSE, which DER forbids (it is the default). */
  explicitNonCritical: string[];
  /** AlgorithmIdentifier DER inside TBS and outside it. */
  tbsSigAlg: Uint8Array;
  outerSigAlg: Uint8Array;
  /** The subjectPublicKeyInfo AlgorithmIdentifier DER. */
  spkiAlg: Uint8Array;
  /** Every extension in order, with its raw value (inside the OCTET STRING). */
  extensions: RawExtension[];
}

export interface RawExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

const cache = new WeakMap<Certificate, DerFacts>();

function timeFact(n: Node): TimeFact {
  const type = n.tag === TAG.UTC_TIME ? 'UTCTime' : n.tag === TAG.GENERALIZED_TIME ? 'GeneralizedTime' : `tag 0x${n.tag.toString(16)}`;
  return { type, text: latin1Range(n.buf, n.valueStart, n.end) };
}

export function derFacts(cert: Certificate): DerFacts {
  const hit = cache.get(cert);
  if (hit) return hit;
  const top = parse(cert.der);
  const tbs = top.child(0);
  const fields = tbs.children();
  let i = fields[0]?.tag === 0xa0 ? 1 : 0;
  i++; // serial
  const sigAlg = fields[i++] as Node;
  i++; // issuer
  const validity = fields[i++] as Node;
  i++; // subject
  const spki = fields[i++] as Node;
  const explicitNonCritical: string[] = [];
  const extensions: RawExtension[] = [];
  const exts = fields.find((f) => f.tag === 0xa3);
  if (exts) {
    for (const e of exts.inner().children()) {
      const o = decodeOid(e.child(0));
      const second = e.child(1);
      let critical = false;
      if (second.tag === TAG.BOOLEAN) {
        critical = decodeBool(second);
        if (!critical) explicitNonCritical.push(o);
      }
      const v = e.child(second.tag === TAG.BOOLEAN ? 2 : 1);
      if (v.tag === TAG.OCTET_STRING) extensions.push({ oid: o, critical, value: v.value });
    }
  }
  const facts: DerFacts = {
    notBefore: timeFact(validity.child(0)),
    notAfter: timeFact(validity.child(1)),
    explicitNonCritical,
    tbsSigAlg: sigAlg.raw,
    outerSigAlg: top.child(1).raw,
    spkiAlg: spki.child(0).raw,
    extensions,
  };
  cache.set(cert, facts);
  return facts;
}

/** Largest RSA modulus the key lints analyse. */
export const MAX_RSA_BITS = 16384;

const modulusCache = new WeakMap<Certificate, { n: bigint; e: bigint } | null>();
/**
 * The numbers of the last RSA keys read, by the bytes of their RSAPublicKey (first in, first out): a key recurs
 * in every copy and renewal of its certificates, and reading a 2048-4096-bit modulus into a bigint (via hex)
 * costs more than a lookup by its bytes.
 */
const RSA_KEYS_KEPT = 256;
const rsaByBytes = new Map<string, { n: bigint; e: bigint }>();

/** RSA modulus and exponent as bigints, or null for other keys. */
export function rsaPublicNumbers(cert: Certificate): { n: bigint; e: bigint } | null {
  const hit = modulusCache.get(cert);
  if (hit !== undefined) return hit;
  let out: { n: bigint; e: bigint } | null = null;
  const spki = parse(cert.spki);
  const alg = decodeOid(spki.child(0).child(0));
  if (alg === OID.rsaEncryption || alg === OID.rsassaPss) {
    const key = bitStringBytes(spki.child(1));
    const id = key.length <= MAX_RSA_BITS / 4 ? latin1Range(key, 0, key.length) : undefined;
    const kept = id === undefined ? undefined : rsaByBytes.get(id);
    if (kept) out = kept;
    else {
      const rsa = parse(key);
      const bytes = rsa.child(0).length;
      // Fermat and ROCA on a 64-Mbit modulus take minutes; nothing real is above 16384 bits.
      if (bytes > MAX_RSA_BITS / 8 + 1)
        throw new InputError(`too large: an RSA modulus of about ${bytes * 8} bits, over the ${MAX_RSA_BITS}-bit limit for key analysis`);
      out = Object.freeze({ n: unsigned(rsa.child(0)), e: unsigned(rsa.child(1)) });
      if (id !== undefined) {
        if (rsaByBytes.size >= RSA_KEYS_KEPT) rsaByBytes.delete(rsaByBytes.keys().next().value as string);
        rsaByBytes.set(id, out);
      }
    }
  }
  modulusCache.set(cert, out);
  return out;
}

/** INTEGER contents as a non-negative bigint via hex (linear; byte-wise shifting is quadratic for 4096-bit moduli). */
function unsigned(n: Node): bigint {
  const v = n.value;
  if (v.length === 0) return 0n;
  if ((v[0] as number) & 0x80) return -1n; // negative: no working RSA key, reported as such
  return BigInt(`0x${Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')}`);
}

/** The first extension with this OID, raw, or undefined. */
export function rawExtension(cert: Certificate, oid: string): RawExtension | undefined {
  return derFacts(cert).extensions.find((e) => e.oid === oid);
}
