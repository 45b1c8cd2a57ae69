// Keys: generation with Node's crypto, SPKI inspection, private-key loading, signing, key matching.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { bitString, bitStringBytes, DerError, decodeOid, integer, latin1, type Node, NULL, oid, parse, seq, TAG } from './der.ts';
import { CURVE_NAME, OID, sigAlgDigest } from './oids.ts';
import { encryptedPkcs8Work, WorkBudget } from './pbe.ts';

// Not an ESM import: that builds a facade reading every export of node:crypto, webcrypto's included (CLI start-up).
const crypto = process.getBuiltinModule('node:crypto');
const {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  hash: nodeHash,
  sign: nodeSign,
  verify: nodeVerify,
  publicEncrypt,
} = crypto;

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
  return remember(generateKeyPairSync(alg as any, opts as any) as unknown as KeyPair);
}

/** Async generation runs on libuv's thread pool, so RSA keys spread over all cores. */
export function generateKeyAsync(type: KeyType): Promise<KeyPair> {
  const [alg, opts] = keyGenArgs(type);
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: see generateKey
    generateKeyPair(alg as any, opts as any, (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      err ? reject(err) : resolve(remember({ publicKey, privateKey })),
    );
  });
}

/** SPKI DER of the public keys this process generated or exported once (a KeyObject is immutable), and
 * of the private keys it generated. */
const spkiOf = new WeakMap<KeyObject, Uint8Array>();

export function spkiDer(pub: KeyObject): Uint8Array {
  let d = spkiOf.get(pub);
  if (!d) {
    d = pub.export({ type: 'spki', format: 'der' });
    if (pub.type === 'public') spkiOf.set(pub, d);
  }
  return d;
}

/** The SPKI DER of a private key's public half (cached for keys this process generated). */
export function privateKeySpki(priv: KeyObject): Uint8Array {
  return spkiOf.get(priv) ?? spkiDer(createPublicKey(priv));
}

// DER before the key bytes of an SPKI, for the shapes a fresh key always has (named curve, uncompressed
// point; RFC 8410 for Ed25519): what OpenSSL's SPKI encoder writes for them.
const EC_SPKI_PREFIX: Record<string, { prefix: Buffer; coord: number }> = {
  'P-256': { prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'), coord: 32 },
  'P-384': { prefix: Buffer.from('3076301006072a8648ce3d020106052b8104002203620004', 'hex'), coord: 48 },
};
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const RSA_ALGORITHM_ID = seq(oid(OID.rsaEncryption), NULL);

/**
 * The SPKI of a freshly generated key, built from its JWK export: OpenSSL's SPKI encoder (KeyObject.export)
 * cost more than generating a P-256 key and signing with it together (~3x the JWK export). Only for fresh
 * keys: an imported EC key may keep a compressed point, which OpenSSL would export as it came.
 * Undefined when the key is of another shape; spkiDer then asks OpenSSL.
 */
function freshSpki(pub: KeyObject): Uint8Array | undefined {
  const t = pub.asymmetricKeyType;
  if (t !== 'ec' && t !== 'ed25519' && t !== 'rsa') return undefined;
  const jwk = pub.export({ format: 'jwk' });
  if (t === 'ed25519') {
    const x = Buffer.from(jwk.x ?? '', 'base64url');
    return x.length === 32 ? Buffer.concat([ED25519_SPKI_PREFIX, x]) : undefined;
  }
  if (t === 'ec') {
    // The JWK's curve name (asymmetricKeyDetails cost more than the export itself).
    const c = EC_SPKI_PREFIX[jwk.crv ?? ''];
    if (!c) return undefined;
    // Decoded straight into the SPKI: one buffer. A JWK coordinate is always the curve's full size.
    const out = Buffer.allocUnsafe(c.prefix.length + 2 * c.coord);
    c.prefix.copy(out, 0);
    const xl = out.write(jwk.x ?? '', c.prefix.length, 'base64url');
    const yl = out.write(jwk.y ?? '', c.prefix.length + c.coord, 'base64url');
    return xl === c.coord && yl === c.coord ? out : undefined;
  }
  const n = Buffer.from(jwk.n ?? '', 'base64url');
  const e = Buffer.from(jwk.e ?? '', 'base64url');
  if (n.length === 0 || e.length === 0) return undefined;
  return seq(RSA_ALGORITHM_ID, bitString(seq(integer(n), integer(e))));
}

function remember(kp: KeyPair): KeyPair {
  const spki = freshSpki(kp.publicKey);
  if (spki) {
    spkiOf.set(kp.publicKey, spki);
    spkiOf.set(kp.privateKey, spki);
  }
  return kp;
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

/** The generation type of a public key, when it is one Anchorage generates (RSA sizes round up). */
export function keyTypeFromInfo(info: PublicKeyInfo): KeyType | undefined {
  if (info.algorithm === 'RSA') {
    const bits = info.size ?? 0;
    return bits <= 2048 ? 'rsa-2048' : bits <= 3072 ? 'rsa-3072' : 'rsa-4096';
  }
  if (info.algorithm === 'EC') return info.curve === 'P-384' ? 'ecdsa-p384' : info.curve === 'P-256' ? 'ecdsa-p256' : undefined;
  if (info.algorithm === 'Ed25519') return 'ed25519';
  return undefined;
}

export class KeyError extends InputError {
  override name = 'KeyError';
}

/** Load a private key from PEM or DER (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8). An encrypted key's
 * key-derivation work is sized and charged to `budget` (one per input file) before OpenSSL runs it. */
export function loadPrivateKey(input: Uint8Array | string, passphrase?: string, budget: WorkBudget = new WorkBudget()): KeyObject {
  const isPem = typeof input === 'string' || Buffer.from(input.subarray(0, 64)).toString('latin1').includes('-----BEGIN');
  let decrypting = false;
  try {
    if (isPem) {
      const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
      if (passphrase !== undefined) {
        chargePemDerivations(text, budget);
        decrypting = ENCRYPTED_PEM.test(text);
      }
      return createPrivateKey(passphrase !== undefined ? { key: text, passphrase } : { key: text });
    }
    const der = Buffer.from(input as Uint8Array);
    const kind = sniffPrivateKeyDer(der);
    if (kind === 'encrypted-pkcs8') {
      if (passphrase === undefined) throw new KeyError('the private key is encrypted: a password is needed');
      chargeDerivation(der, budget);
      decrypting = true;
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase });
    }
    return createPrivateKey({ key: der, format: 'der', type: kind });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw translateKeyError(e, decrypting);
  }
}

const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,ENCRYPTED/m;

function chargePemDerivations(text: string, budget: WorkBudget): void {
  for (const m of text.matchAll(/-----BEGIN ENCRYPTED PRIVATE KEY-----([A-Za-z0-9+/=\s]*)-----END ENCRYPTED PRIVATE KEY-----/g))
    chargeDerivation(Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64'), budget);
}

function chargeDerivation(der: Uint8Array, budget: WorkBudget): void {
  let work: number | undefined;
  try {
    work = encryptedPkcs8Work(parse(der).child(0));
  } catch (e) {
    if (e instanceof InputError) throw e;
    return; // malformed: OpenSSL refuses it without deriving anything
  }
  if (work !== undefined) budget.spend(work, 'decrypting this private key');
}

/** OpenSSL's error in Anchorage's words. `decrypting`: a password was given for an encrypted key. */
function translateKeyError(e: unknown, decrypting: boolean): Error {
  if (e instanceof KeyError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code ?? '';
  if (/bad decrypt|BAD_DECRYPT|wrong password|mac verify/i.test(msg)) return new KeyError('wrong password for the encrypted private key');
  // A wrong password leaves valid CBC padding about once in 256 tries; OpenSSL then decrypts garbage and finds
  // no key in it: its PEM decoders say "unsupported" (ERR_OSSL_UNSUPPORTED; an unknown cipher is
  // ERR_OSSL_EVP_UNSUPPORTED instead), its DER reader an ASN.1 error.
  if (decrypting && (code === 'ERR_OSSL_UNSUPPORTED' || code.startsWith('ERR_OSSL_ASN1_')))
    return new KeyError('wrong password for the encrypted private key (what it decrypts to is not a key), or the key is damaged');
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
  return nodeHash('sha256', spki);
}

export function publicKeyOf(priv: KeyObject): KeyObject {
  return createPublicKey(priv);
}

/** True when the private key belongs to the certificate's public key. */
export function keyMatchesSpki(priv: KeyObject, spki: Uint8Array): boolean {
  return Buffer.from(privateKeySpki(priv)).equals(Buffer.from(spki));
}

// ---------- signing ----------

export interface Signer {
  /** AlgorithmIdentifier DER for the signature. */
  algorithmId: Uint8Array;
  algorithmOid: string;
  sign(data: Uint8Array): Uint8Array;
}

/** Signers by key and hash: a CA key signs many certificates, and a KeyObject cannot be changed. */
const signers = new WeakMap<KeyObject, Map<string, Signer>>();

export function signerFor(priv: KeyObject, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer {
  let byHash = signers.get(priv);
  if (!byHash) {
    byHash = new Map();
    signers.set(priv, byHash);
  }
  let s = byHash.get(hash);
  if (!s) {
    s = makeSigner(priv, hash);
    byHash.set(hash, s);
  }
  return s;
}

function makeSigner(priv: KeyObject, hash: 'sha256' | 'sha384' | 'sha512'): Signer {
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

// ---------- keys held elsewhere (a PKCS#11 token): asynchronous signing ----------
//
// A KeyObject signs synchronously through signerFor (the fast path, unchanged). A key that never leaves
// its holder is an ExternalKey: it knows its public key and signs a message with a digest; the caller
// picks the X.509 signature algorithm from the public key exactly as for a KeyObject.

export type Digest = 'sha256' | 'sha384' | 'sha512';

export interface ExternalKey {
  /** The public half (the holder keeps the private one). */
  readonly publicKey: KeyObject;
  /**
   * Sign `data` (the whole message, not a digest) with `digest`: RSA PKCS#1 v1.5 or ECDSA, the signature in
   * the form X.509 carries it (ECDSA: the DER Ecdsa-Sig-Value).
   */
  sign(data: Uint8Array, digest: Digest): Promise<Uint8Array>;
}

/** A CA's signing key: a KeyObject (synchronous) or a key on a token. */
export type SigningKey = KeyObject | ExternalKey;

export const isExternalKey = (k: SigningKey): k is ExternalKey => !(k instanceof crypto.KeyObject);

export interface AsyncSigner {
  algorithmId: Uint8Array;
  algorithmOid: string;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** The signature algorithm for an external key: the same choice signerFor makes for a KeyObject. */
export function externalSignerFor(key: ExternalKey, hash: Digest = 'sha256'): AsyncSigner {
  const pub = key.publicKey;
  const t = pub.asymmetricKeyType;
  if (t === 'rsa') {
    const o = hash === 'sha256' ? OID.sha256WithRSA : hash === 'sha384' ? OID.sha384WithRSA : OID.sha512WithRSA;
    return { algorithmOid: o, algorithmId: seq(oid(o), NULL), sign: (d) => key.sign(d, hash) };
  }
  if (t === 'ec') {
    const curve = pub.asymmetricKeyDetails?.namedCurve;
    const h: Digest = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : hash;
    const o = h === 'sha256' ? OID.ecdsaWithSHA256 : h === 'sha384' ? OID.ecdsaWithSHA384 : OID.ecdsaWithSHA512;
    return { algorithmOid: o, algorithmId: seq(oid(o)), sign: (d) => key.sign(d, h) };
  }
  throw new InputError(`cannot sign with an external ${t} key (RSA and ECDSA are supported)`);
}

/** ECDSA r||s (PKCS#11, WebCrypto) as the DER Ecdsa-Sig-Value X.509 carries. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 132)
    throw new InputError(`an ECDSA signature of ${raw.length} bytes is not r||s`);
  const half = raw.length / 2;
  return seq(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

/** Does this key (private KeyObject or external key) belong to the SPKI? */
export function signingKeyMatchesSpki(key: SigningKey, spki: Uint8Array): boolean {
  if (isExternalKey(key)) return Buffer.from(spkiDer(key.publicKey)).equals(Buffer.from(spki));
  return keyMatchesSpki(key, spki);
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
      const p = parsePssParams(sigAlgParams);
      if (pssUnsupported(p)) return false;
      return verifyPss(pub, p, data, signature);
    }
    const digest = sigAlgDigest(sigAlgOid);
    if (digest === undefined) return false;
    return nodeVerify(digest, data, pub, signature);
  } catch {
    return false;
  }
}

/** RSASSA-PSS-params (RFC 4055), read exactly; absent fields take their DEFAULTs (SHA-1, MGF1-SHA-1, 20, 1). */
export interface PssParams {
  /** sha1, sha224, sha256, sha384, sha512, or the OID when unknown. */
  hash: string;
  /** The MGF OID (id-mgf1 is the only one defined). */
  mgf: string;
  /** MGF1's hash, named like `hash`. */
  mgf1Hash: string;
  saltLength: number;
  trailerField: number;
  /** Which fields were encoded (Go requires hash, MGF and salt to be explicit). */
  explicit: { hash: boolean; mgf: boolean; salt: boolean };
  /** The hash AlgorithmIdentifiers carry parameters other than NULL or nothing. */
  oddHashParams: boolean;
}

const HASH_NAMES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

/** Throws DerError when the parameters are not a well-formed RSASSA-PSS-params. */
export function parsePssParams(params: Node | undefined): PssParams {
  const out: PssParams = {
    hash: 'sha1',
    mgf: OID.mgf1,
    mgf1Hash: 'sha1',
    saltLength: 20,
    trailerField: 1,
    explicit: { hash: false, mgf: false, salt: false },
    oddHashParams: false,
  };
  if (!params || params.tag === TAG.NULL) return out;
  params.expect(TAG.SEQUENCE, 'RSASSA-PSS-params');
  const hashOf = (ai: Node): string => {
    ai.expect(TAG.SEQUENCE, 'hash AlgorithmIdentifier');
    const o = decodeOid(ai.child(0).expect(TAG.OID, 'hash OID'));
    const p = ai.children()[1];
    if (p && p.tag !== TAG.NULL) out.oddHashParams = true;
    return HASH_NAMES[o] ?? o;
  };
  const smallInt = (n: Node): number => {
    const v = n.expect(TAG.INTEGER, 'PSS parameter').value;
    if (v.length === 0 || v.length > 4 || ((v[0] as number) & 0x80) !== 0) throw new DerError('PSS parameter out of range', n.start);
    let x = 0;
    for (const b of v) x = x * 256 + b;
    return x;
  };
  let last = -1;
  for (const c of params.children()) {
    const k = c.contextNumber;
    if (k <= last || k > 3 || !c.constructed) throw new DerError('unexpected field in RSASSA-PSS-params', c.start);
    last = k;
    const inner = c.inner();
    if (k === 0) {
      out.hash = hashOf(inner);
      out.explicit.hash = true;
    } else if (k === 1) {
      inner.expect(TAG.SEQUENCE, 'maskGenAlgorithm');
      out.mgf = decodeOid(inner.child(0).expect(TAG.OID, 'MGF OID'));
      out.mgf1Hash = hashOf(inner.child(1));
      out.explicit.mgf = true;
    } else if (k === 2) {
      out.saltLength = smallInt(inner);
      out.explicit.salt = true;
    } else out.trailerField = smallInt(inner);
  }
  return out;
}

/** Why Node/OpenSSL cannot verify with these PSS parameters, or undefined when it can. */
export function pssUnsupported(p: PssParams): string | undefined {
  if (p.mgf !== OID.mgf1) return `RSA-PSS with mask generation function ${p.mgf} (only MGF1 is defined)`;
  if (!['sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(p.hash)) return `RSA-PSS with unknown hash ${p.hash}`;
  if (!['sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(p.mgf1Hash)) return `RSA-PSS with unknown MGF1 hash ${p.mgf1Hash}`;
  if (p.trailerField !== 1) return `RSA-PSS with trailer field ${p.trailerField} (only 1 is defined)`;
  return undefined;
}

/**
 * EMSA-PSS-VERIFY (RFC 8017 9.1.2) by hand: Node's verify ties MGF1's hash to the message hash, and
 * RSASSA-PSS-params may name another. The RSA operation is Node's (raw, no padding).
 */
function verifyPss(pub: KeyObject, p: PssParams, data: Uint8Array, signature: Uint8Array): boolean {
  const modBits = pub.asymmetricKeyDetails?.modulusLength;
  if (!modBits) return false;
  const k = Math.ceil(modBits / 8);
  if (signature.length !== k) return false;
  // RSAVP1: s^e mod n. publicEncrypt with no padding computes exactly that on a k-byte input.
  let em: Buffer;
  try {
    em = publicEncrypt({ key: pub, padding: 3 /* RSA_NO_PADDING */ }, Buffer.from(signature));
  } catch {
    return false;
  }
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (em.length > emLen) {
    if (em.subarray(0, em.length - emLen).some((b) => b !== 0)) return false;
    em = em.subarray(em.length - emLen);
  }
  const hLen = createHash(p.hash).digest().length;
  const sLen = p.saltLength;
  if (emLen < hLen + sLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 8 * emLen - emBits;
  if (topBits && ((maskedDb[0] as number) & (0xff << (8 - topBits)) & 0xff) !== 0) return false;
  // MGF1 with the parameters' MGF hash.
  const mask = Buffer.alloc(maskedDb.length);
  for (let counter = 0, off = 0; off < mask.length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(p.mgf1Hash).update(h).update(c).digest();
    block.copy(mask, off, 0, Math.min(block.length, mask.length - off));
    off += block.length;
  }
  const db = Buffer.from(maskedDb.map((b, i) => b ^ (mask[i] as number)));
  if (topBits) db[0] = (db[0] as number) & (0xff >> topBits);
  const psLen = emLen - hLen - sLen - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen);
  const mHash = createHash(p.hash).update(data).digest();
  const h2 = createHash(p.hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return h2.equals(h);
}

/**
 * Public keys imported from SPKI DER, by their bytes: importing one into a KeyObject (parsing it and, for
 * EC keys, checking the point) cost 20-40 us, as much as the signature check it serves, and a run meets
 * the same few CA keys again and again (every leaf a CA signed, every chain through it, every copy of
 * the CA). Bounded; public keys only, and a KeyObject cannot be changed, so sharing one is safe.
 */
const KEY_CACHE_MAX = 4096;
const keyCache = new Map<string, KeyObject>();

/**
 * A KeyObject from SPKI DER, imported through PEM text: Node 24 (OpenSSL 3.5) imports a PUBLIC KEY PEM
 * block in well under half the CPU time it takes for the same bytes as `format: 'der', type: 'spki'`
 * (P-256: ~24 us against ~60, base64 included), and the key verifies sooner after. Both accept the same
 * inputs and give the same key (checked on 30,000 mutated SPKIs of every key type; keys.test.ts checks the
 * key types and odd encodings); should the PEM import refuse, the DER import runs, so a refused key throws
 * the DER import's error as before.
 */
const base64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');

function importSpki(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey(`-----BEGIN PUBLIC KEY-----\n${base64(spki)}\n-----END PUBLIC KEY-----\n`);
  } catch {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  }
}

/**
 * Empty the cache above. For measurements only: bench/peers.bench.ts's cold verify imports each chain's
 * issuer keys afresh with it, as Go's parser does for every certificate it parses.
 */
export function forgetImportedPublicKeys(): void {
  keyCache.clear();
}

export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  // The bytes as a latin1 string: a Map key compared by content (SPKIs of up to a few KiB).
  const id = spki.length <= 16384 ? latin1(spki) : undefined;
  const hit = id === undefined ? undefined : keyCache.get(id);
  if (hit) return hit;
  const key = importSpki(spki);
  if (id !== undefined) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(id, key);
  }
  return key;
}
