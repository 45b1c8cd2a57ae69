// The SubjectPublicKeyInfo of an unencrypted private key, read from the key's own DER without node:crypto:
// an RSA key carries its modulus and exponent, an EC key (SEC1, or PKCS#8 as OpenSSL, Go and Node write
// it) its public point, a PKCS#8 v2 Ed25519/Ed448 key its public key. A scan of 20k TLS Secrets spends
// most of its key work loading each key into OpenSSL and exporting the public half; this costs a walk over
// a few hundred bytes. Anything else (an EC key without its public point, a v1 Ed25519 key, RSA-PSS, a
// malformed key) answers undefined and the caller falls back to node:crypto.
import { bitString, DerError, NULL, parse, readNode, seq, TAG } from '../x509/der.ts';

const RSA_ENCRYPTION = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);
const EC_PUBLIC_KEY = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
const ED25519 = Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70);
const ED448 = Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x71);

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** RSAPrivateKey (PKCS#1) → SPKI: version 0, then modulus and public exponent, copied as encoded. */
function rsaSpki(der: Uint8Array): Uint8Array | undefined {
  const k = parse(der).expect(TAG.SEQUENCE, 'RSAPrivateKey');
  const version = k.child(0).expect(TAG.INTEGER, 'version');
  if (version.length !== 1 || version.value[0] !== 0) return undefined; // multi-prime (v1): leave to OpenSSL
  const n = k.after(version).expect(TAG.INTEGER, 'modulus');
  const e = k.after(n).expect(TAG.INTEGER, 'publicExponent');
  return seq(seq(RSA_ENCRYPTION, NULL), bitString(seq(n.raw, e.raw)));
}

/** ECPrivateKey (SEC1): the public point in [1], the curve in [0] unless PKCS#8 gave it (`algorithm`). */
function ecSpki(der: Uint8Array, algorithm?: Uint8Array): Uint8Array | undefined {
  const k = parse(der).expect(TAG.SEQUENCE, 'ECPrivateKey');
  let curve: Uint8Array | undefined;
  let point: Uint8Array | undefined;
  for (const c of k.children().slice(2)) {
    if (c.tag === 0xa0) curve = c.inner().expect(TAG.OID, 'namedCurve').raw;
    else if (c.tag === 0xa1) point = c.inner().expect(TAG.BIT_STRING, 'publicKey').raw;
  }
  if (!point) return undefined;
  if (algorithm) return seq(algorithm, point);
  if (!curve) return undefined;
  return seq(seq(EC_PUBLIC_KEY, curve), point);
}

/** PrivateKeyInfo / OneAsymmetricKey (PKCS#8, RFC 5958). */
function pkcs8Spki(der: Uint8Array): Uint8Array | undefined {
  const k = parse(der).expect(TAG.SEQUENCE, 'PrivateKeyInfo');
  const version = k.child(0).expect(TAG.INTEGER, 'version');
  const alg = k.after(version).expect(TAG.SEQUENCE, 'privateKeyAlgorithm');
  const priv = k.after(alg).expect(TAG.OCTET_STRING, 'privateKey');
  const algOid = alg.child(0).expect(TAG.OID, 'algorithm').raw;
  if (same(algOid, RSA_ENCRYPTION)) return rsaSpki(priv.value);
  if (same(algOid, EC_PUBLIC_KEY)) {
    const curve = alg.after(alg.child(0));
    if (curve.tag !== TAG.OID) return undefined; // explicit curve parameters: leave to OpenSSL
    return ecSpki(priv.value, alg.raw);
  }
  if (same(algOid, ED25519) || same(algOid, ED448)) {
    // v2 keys carry the public key as [1] IMPLICIT BIT STRING after the optional attributes.
    let pos = priv.end;
    while (pos < k.end) {
      const n = readNode(k.buf, pos, k.end);
      if (n.tag === 0x81) {
        const pub = bitStringOf(n.value);
        return pub && seq(seq(algOid), pub);
      }
      pos = n.end;
    }
  }
  return undefined;
}

/** A BIT STRING's contents (unused-bits byte first) re-tagged as a universal BIT STRING. */
function bitStringOf(contents: Uint8Array): Uint8Array | undefined {
  if (contents[0] !== 0) return undefined;
  return bitString(contents.subarray(1));
}

/** The SPKI DER of an unencrypted PEM private key (`label` as in the BEGIN line), or undefined when it cannot tell. */
export function privateKeySpki(label: string, der: Uint8Array): Uint8Array | undefined {
  try {
    if (label === 'RSA PRIVATE KEY') return rsaSpki(der);
    if (label === 'EC PRIVATE KEY') return ecSpki(der);
    if (label === 'PRIVATE KEY') return pkcs8Spki(der);
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
  return undefined;
}
