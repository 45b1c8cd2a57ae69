// Keys: generation with Node's crypto, SPKI inspection, private-key loading, signing, key matching.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { bitStringBytes, DerError, decodeOid, type Node, NULL, oid, parse, seq, TAG } from './der.ts';
import { CURVE_NAME, OID, sigAlgDigest } from './oids.ts';

export const KEY_TYPES = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ecdsa-p256', 'ecdsa-p384', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function keyGenArgs(type: KeyType): ['rsa', { modulusLength: number }] | ['ec', { namedCurve: string }] | ['ed25519', object] {
  switch (type) {
    case 'rsa-2048':
      return ['rsa', { modulusLength: 2048 }];
    case 'rsa-3072':
      return ['rsa', { modulusLength: 3072 }];
    case 'rsa-4096':
      return ['rsa', { modulusLength: 4096 }];
    case 'ecdsa-p256':
      return ['ec', { namedCurve: 'prime256v1' }];
    case 'ecdsa-p384':
      return ['ec', { namedCurve: 'secp384r1' }];
    case 'ed25519':
      return ['ed25519', {}];
    default:
      throw new Error(`unknown key type '${type as string}' (expected one of ${KEY_TYPES.join(', ')})`);
  }
}

export function generateKey(type: KeyType): KeyPair {
  const [alg, opts] = keyGenArgs(type);
  // biome-ignore lint/suspicious/noExplicitAny: overloads of generateKeyPairSync do not accept a union
  return generateKeyPairSync(alg as any, opts as any) as unknown as KeyPair;
}

/** Async generation runs on libuv's thread pool, so RSA keys spread over all cores. */
export function generateKeyAsync(type: KeyType): Promise<KeyPair> {
  const [alg, opts] = keyGenArgs(type);
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: see generateKey
    generateKeyPair(alg as any, opts as any, (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      err ? reject(err) : resolve({ publicKey, privateKey }),
    );
  });
}

export function spkiDer(pub: KeyObject): Uint8Array {
  return pub.export({ type: 'spki', format: 'der' });
}

export interface PublicKeyInfo {
  /** RSA, EC, Ed25519, Ed448, DSA, or the algorithm OID. */
  algorithm: string;
  /** Key size in bits (RSA modulus, curve size). */
  size?: number;
  curve?: string;
  /** RSA public exponent. */
  exponent?: number;
}

const CURVE_BITS: Record<string, number> = { 'P-256': 256, 'P-384': 384, 'P-521': 521, secp256k1: 256 };

export function describeSpki(spki: Node): PublicKeyInfo {
  const algId = spki.child(0);
  const algOid = decodeOid(algId.child(0));
  const key = bitStringBytes(spki.child(1));
  switch (algOid) {
    case OID.rsaEncryption:
    case OID.rsassaPss: {
      const rsa = parse(key);
      const n = rsa.child(0).value;
      let i = 0;
      while (i < n.length && n[i] === 0) i++;
      const first = n[i] ?? 0;
      const bits = (n.length - i - 1) * 8 + (first ? 32 - Math.clz32(first) : 0);
      const e = rsa.child(1).value;
      let exp = 0;
      for (const b of e) exp = exp * 256 + b;
      return { algorithm: 'RSA', size: bits, exponent: exp };
    }
    case OID.ecPublicKey: {
      const params = algId.children()[1];
      const curveOid = params && params.tag === TAG.OID ? decodeOid(params) : 'explicit';
      const curve = CURVE_NAME[curveOid] ?? curveOid;
      const size = CURVE_BITS[curve] ?? (key.length > 1 ? ((key.length - 1) / 2) * 8 : undefined);
      return size === undefined ? { algorithm: 'EC', curve } : { algorithm: 'EC', size, curve };
    }
    case OID.ed25519:
      return { algorithm: 'Ed25519', size: 256 };
    case OID.ed448:
      return { algorithm: 'Ed448', size: 456 };
    case OID.dsa:
      return { algorithm: 'DSA' };
    default:
      return { algorithm: algOid };
  }
}

export function keyTypeOf(info: PublicKeyInfo): string {
  if (info.algorithm === 'RSA') return `RSA-${info.size}`;
  if (info.algorithm === 'EC') return `ECDSA-${info.curve}`;
  return info.algorithm;
}

export class KeyError extends InputError {
  override name = 'KeyError';
}

/** Load a private key from PEM or DER (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8). */
export function loadPrivateKey(input: Uint8Array | string, passphrase?: string): KeyObject {
  const isPem = typeof input === 'string' || Buffer.from(input.subarray(0, 64)).toString('latin1').includes('-----BEGIN');
  try {
    if (isPem) {
      const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
      return createPrivateKey(passphrase !== undefined ? { key: text, passphrase } : { key: text });
    }
    const der = Buffer.from(input as Uint8Array);
    const kind = sniffPrivateKeyDer(der);
    if (kind === 'encrypted-pkcs8') {
      if (passphrase === undefined) throw new KeyError('the private key is encrypted: a password is needed');
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase });
    }
    return createPrivateKey({ key: der, format: 'der', type: kind });
  } catch (e) {
    throw translateKeyError(e);
  }
}

export function translateKeyError(e: unknown): Error {
  if (e instanceof KeyError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code ?? '';
  if (/bad decrypt|BAD_DECRYPT|wrong password|mac verify/i.test(msg)) return new KeyError('wrong password for the encrypted private key');
  if (code === 'ERR_MISSING_PASSPHRASE' || /passphrase|interrupted or cancelled/i.test(msg))
    return new KeyError('the private key is encrypted: a password is needed');
  return new KeyError(`not a readable private key (${msg.replace(/^error:[0-9A-F]+:[^:]*:+/, '')})`);
}

/** Which DER private-key structure this is. */
export function sniffPrivateKeyDer(der: Uint8Array): 'pkcs1' | 'pkcs8' | 'sec1' | 'encrypted-pkcs8' {
  const top = parse(der).expect(TAG.SEQUENCE, 'private key');
  const first = top.child(0);
  if (first.tag === TAG.SEQUENCE) return 'encrypted-pkcs8';
  const second = top.child(1);
  if (second.tag === TAG.SEQUENCE) return 'pkcs8';
  if (second.tag === TAG.OCTET_STRING) return 'sec1';
  if (second.tag === TAG.INTEGER) return 'pkcs1';
  throw new DerError('unrecognised private key structure', 0);
}

/** SHA-256 over the SPKI DER: the stable identity of a key pair. */
export function spkiSha256(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

export function publicKeyOf(priv: KeyObject): KeyObject {
  return createPublicKey(priv);
}

/** True when the private key belongs to the certificate's public key. */
export function keyMatchesSpki(priv: KeyObject, spki: Uint8Array): boolean {
  return Buffer.from(spkiDer(createPublicKey(priv))).equals(Buffer.from(spki));
}

// ---------- signing ----------

export interface Signer {
  /** AlgorithmIdentifier DER for the signature. */
  algorithmId: Uint8Array;
  algorithmOid: string;
  sign(data: Uint8Array): Uint8Array;
}

export function signerFor(priv: KeyObject, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer {
  const t = priv.asymmetricKeyType;
  if (t === 'rsa') {
    const o = hash === 'sha256' ? OID.sha256WithRSA : hash === 'sha384' ? OID.sha384WithRSA : OID.sha512WithRSA;
    return { algorithmOid: o, algorithmId: seq(oid(o), NULL), sign: (d) => nodeSign(hash, d, priv) };
  }
  if (t === 'ec') {
    // Match the curve's strength, as Go and openssl do by default.
    const curve = priv.asymmetricKeyDetails?.namedCurve;
    const h = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : hash;
    const o = h === 'sha256' ? OID.ecdsaWithSHA256 : h === 'sha384' ? OID.ecdsaWithSHA384 : OID.ecdsaWithSHA512;
    return { algorithmOid: o, algorithmId: seq(oid(o)), sign: (d) => nodeSign(h, d, priv) };
  }
  if (t === 'ed25519') return { algorithmOid: OID.ed25519, algorithmId: seq(oid(OID.ed25519)), sign: (d) => nodeSign(null, d, priv) };
  throw new Error(`cannot sign with a ${t} key`);
}

// An RSA signature "labelled" ECDSA would still verify under Node's crypto: the OID must agree with the key.
function keyTypesFor(sigAlgOid: string): readonly string[] {
  switch (sigAlgOid) {
    case OID.md5WithRSA:
    case OID.sha1WithRSA:
    case OID.sha256WithRSA:
    case OID.sha384WithRSA:
    case OID.sha512WithRSA:
      return ['rsa'];
    case OID.rsassaPss:
      return ['rsa', 'rsa-pss'];
    case OID.ecdsaWithSHA1:
    case OID.ecdsaWithSHA256:
    case OID.ecdsaWithSHA384:
    case OID.ecdsaWithSHA512:
      return ['ec'];
    case OID.ed25519:
      return ['ed25519'];
    case OID.ed448:
      return ['ed448'];
    default:
      return [];
  }
}

/** Verify a signature made with a signature algorithm OID. Returns false on any mismatch, including a
 * signature algorithm that does not fit the key's type. */
export function verifySignature(
  sigAlgOid: string,
  sigAlgParams: Node | undefined,
  data: Uint8Array,
  signature: Uint8Array,
  pub: KeyObject,
): boolean {
  try {
    if (!keyTypesFor(sigAlgOid).includes(pub.asymmetricKeyType ?? '')) return false;
    if (sigAlgOid === OID.rsassaPss) {
      const p = pssParams(sigAlgParams);
      return nodeVerify(p.hash, data, { key: pub, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: p.saltLength }, signature);
    }
    const digest = sigAlgDigest(sigAlgOid);
    if (digest === undefined) return false;
    return nodeVerify(digest, data, pub, signature);
  } catch {
    return false;
  }
}

function pssParams(params: Node | undefined): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let saltLength = 20;
  if (params && params.tag === TAG.SEQUENCE) {
    for (const c of params.children()) {
      if (c.tag === 0xa0) {
        const h = decodeOid(c.inner().child(0));
        hash = h === OID.sha256 ? 'sha256' : h === OID.sha384 ? 'sha384' : h === OID.sha512 ? 'sha512' : 'sha1';
      } else if (c.tag === 0xa2) {
        const v = c.inner().value;
        saltLength = 0;
        for (const b of v) saltLength = saltLength * 256 + b;
      }
    }
  }
  return { hash, saltLength };
}

export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}
