// Password-based encryption for PKCS#12 and PKCS#8: the PKCS#12 KDF (RFC 7292 appendix B), its
// pbeWithSHAAnd* schemes, and PBES2/PBKDF2 (RFC 8018). All primitives are Node's crypto except RC2.
import { InputError } from '../common/errors.ts';
import { DerError, decodeOid, decodeSmallInt, integer, type Node, NULL, octetString, oid, seq, TAG } from './der.ts';
import { rc2CbcDecrypt } from './rc2.ts';

const {
  createCipheriv,
  createDecipheriv,
  createHash,
  hash: oneShotHash,
  pbkdf2Sync,
  randomBytes,
} = process.getBuiltinModule('node:crypto');

export const PBE_OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbmac1: '1.2.840.113549.1.5.14',
  pbeSha1Rc4_128: '1.2.840.113549.1.12.1.1',
  pbeSha1Rc4_40: '1.2.840.113549.1.12.1.2',
  pbeSha1Des3: '1.2.840.113549.1.12.1.3',
  pbeSha1Des2: '1.2.840.113549.1.12.1.4',
  pbeSha1Rc2_128: '1.2.840.113549.1.12.1.5',
  pbeSha1Rc2_40: '1.2.840.113549.1.12.1.6',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  aes192cbc: '2.16.840.1.101.3.4.1.22',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  desEde3cbc: '1.2.840.113549.3.7',
} as const;

/** Digest OIDs (for MACs) and HMAC OIDs (PBKDF2 PRFs) to Node hash names. */
export const HASH_BY_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const HMAC_SHA256 = '1.2.840.113549.2.9';

const PBES2_CIPHERS: Record<string, { name: string; keyLen: number }> = {
  [PBE_OID.aes128cbc]: { name: 'aes-128-cbc', keyLen: 16 },
  [PBE_OID.aes192cbc]: { name: 'aes-192-cbc', keyLen: 24 },
  [PBE_OID.aes256cbc]: { name: 'aes-256-cbc', keyLen: 32 },
  [PBE_OID.desEde3cbc]: { name: 'des-ede3-cbc', keyLen: 24 },
};

/** Refuse absurd iteration counts: a hostile file must not pin a CPU for minutes. */
export const MAX_ITERATIONS = 2_000_000;

/**
 * Work one input file may spend on password-based key derivation, summed over every derivation in it
 * (MAC, each encrypted bag, each encrypted key): a file of ten derivations at MAX_ITERATIONS must not
 * cost ten times the cap. Units: one PBKDF2 iteration for one output block. The PKCS#12 KDF runs its
 * hash loop in JavaScript, about 8 times slower per iteration, and is charged 8 units.
 */
export const FILE_WORK_BUDGET = 16_000_000;
export const PKCS12_KDF_WEIGHT = 8;

export class WorkBudget {
  spent = 0;
  readonly limit: number;
  constructor(limit: number = FILE_WORK_BUDGET) {
    this.limit = limit;
  }
  /** Charge `units` before doing the work; refuse with one line when the file is over budget. */
  spend(units: number, what: string): void {
    this.spent += units;
    if (this.spent > this.limit)
      throw new InputError(
        `too large: ${what} would bring this file's password-based key derivation work to ${this.spent} units, over the per-file budget of ${this.limit} (iterations x blocks)`,
      );
  }
}

/** Thrown when a decryption fails in a way that means the password (or the data) is wrong. */
export class DecryptError extends Error {
  override name = 'DecryptError';
}

/** Unsupported algorithm: the caller turns it into an InputError naming the OID. */
export class UnsupportedAlgorithmError extends Error {
  override name = 'UnsupportedAlgorithmError';
}

/** PKCS#12 password: BMPString (UTF-16BE) with a two-byte terminator; '' is just the terminator. */
export function bmpPassword(password: string): Uint8Array {
  const b = Buffer.alloc(password.length * 2 + 2);
  b.write(password, 'utf16le');
  b.swap16();
  return b;
}

const BLOCK_SIZE: Record<string, number> = { sha1: 64, sha224: 64, sha256: 64, sha384: 128, sha512: 128 };
export const DIGEST_BYTES: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** PBKDF2 charged to `budget` (iterations x output blocks), then run. */
export function pbkdf2Budgeted(
  password: string,
  salt: Uint8Array,
  iterations: number,
  keyLen: number,
  hash: string,
  budget?: WorkBudget,
): Buffer {
  checkIterations(iterations);
  budget?.spend(iterations * Math.ceil(keyLen / (DIGEST_BYTES[hash] ?? 20)), `a PBKDF2 derivation of ${iterations} iterations`);
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, keyLen, hash);
}

/** RFC 7292 B.2. id 1 = key, 2 = IV, 3 = MAC key. `password` is already BMP-encoded. */
export function pkcs12Kdf(
  hash: string,
  password: Uint8Array,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  n: number,
  budget?: WorkBudget,
): Buffer {
  const v = BLOCK_SIZE[hash];
  if (v === undefined) throw new UnsupportedAlgorithmError(`PKCS#12 key derivation with ${hash}`);
  checkIterations(iterations);
  budget?.spend(
    iterations * Math.ceil(n / (DIGEST_BYTES[hash] as number)) * PKCS12_KDF_WEIGHT,
    `a PKCS#12 KDF of ${iterations} iterations`,
  );
  const fill = (src: Uint8Array): Buffer => {
    const out = Buffer.alloc(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([fill(salt), fill(password)]);
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    let a = createHash(hash).update(d).update(i).digest();
    // One-shot hash(): about 1.5x faster than createHash() in this loop (Java writes 100000 iterations).
    for (let r = 1; r < iterations; r++) a = oneShotHash(hash, a, 'buffer');
    parts.push(a);
    have += a.length;
    if (have >= n) break;
    // I_j = (I_j + B + 1) mod 2^(8v), with B = A repeated to v bytes.
    const b = Buffer.alloc(v);
    for (let k = 0; k < v; k++) b[k] = a[k % a.length] as number;
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const s = (i[j + k] as number) + (b[k] as number) + carry;
        i[j + k] = s & 0xff;
        carry = s >> 8;
      }
    }
  }
  return Buffer.concat(parts).subarray(0, n);
}

function checkIterations(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ITERATIONS)
    throw new InputError(`iteration count ${n} is out of range (1..${MAX_ITERATIONS})`);
}

/** Passwords for the two KDF families: BMP for the PKCS#12 KDF, UTF-8 for PBKDF2. */
export interface PasswordForms {
  text: string;
  bmp: Uint8Array;
  /** The file's derivation budget, shared by every derivation that uses these forms. */
  budget?: WorkBudget;
}

export function passwordForms(password: string, bmp: Uint8Array = bmpPassword(password), budget?: WorkBudget): PasswordForms {
  return budget ? { text: password, bmp, budget } : { text: password, bmp };
}

/** Decrypt data protected by an AlgorithmIdentifier (PBES2 or a PKCS#12 PBE scheme). */
export function pbeDecrypt(algId: Node, pw: PasswordForms, data: Uint8Array): Uint8Array {
  const algOid = decodeOid(algId.child(0));
  const params = algId.children()[1];
  if (algOid === PBE_OID.pbes2) {
    if (!params) throw new DerError('PBES2 without parameters', algId.start);
    return pbes2Decrypt(params, pw.text, data, pw.budget);
  }
  const scheme = P12_SCHEMES[algOid];
  if (!scheme) throw new UnsupportedAlgorithmError(algorithmName(algOid));
  if (!params) throw new DerError('PBE without parameters', algId.start);
  const salt = params.child(0).expect(TAG.OCTET_STRING, 'PBE salt').value;
  const iterations = decodeSmallInt(params.child(1).expect(TAG.INTEGER, 'PBE iterations'));
  const key = pkcs12Kdf('sha1', pw.bmp, salt, 1, iterations, scheme.keyLen, pw.budget);
  const iv = pkcs12Kdf('sha1', pw.bmp, salt, 2, iterations, 8, pw.budget);
  if (scheme.rc2Bits) {
    try {
      return rc2CbcDecrypt(key, scheme.rc2Bits, iv, data);
    } catch (e) {
      throw new DecryptError((e as Error).message);
    }
  }
  // Two-key 3DES is K1 K2 K1.
  const k = scheme.keyLen === 16 ? Buffer.concat([key, key.subarray(0, 8)]) : key;
  return decipher('des-ede3-cbc', k, iv, data);
}

const P12_SCHEMES: Record<string, { keyLen: number; rc2Bits?: number }> = {
  [PBE_OID.pbeSha1Des3]: { keyLen: 24 },
  [PBE_OID.pbeSha1Des2]: { keyLen: 16 },
  [PBE_OID.pbeSha1Rc2_128]: { keyLen: 16, rc2Bits: 128 },
  [PBE_OID.pbeSha1Rc2_40]: { keyLen: 5, rc2Bits: 40 },
};

function algorithmName(o: string): string {
  if (o === PBE_OID.pbeSha1Rc4_128 || o === PBE_OID.pbeSha1Rc4_40) return `RC4 (pbeWithSHAAnd*BitRC4, ${o})`;
  return o;
}

interface Pbkdf2Params {
  salt: Uint8Array;
  iterations: number;
  keyLength?: number;
  hash: string;
}

/** PBKDF2-params; the salt must be the `specified` OCTET STRING choice. */
export function readPbkdf2Params(kdf: Node): Pbkdf2Params {
  const kdfOid = decodeOid(kdf.child(0));
  if (kdfOid !== PBE_OID.pbkdf2) throw new UnsupportedAlgorithmError(`key derivation ${kdfOid}`);
  const p = kdf.child(1).children();
  const salt = (p[0] as Node).expect(TAG.OCTET_STRING, 'PBKDF2 salt').value;
  const iterations = decodeSmallInt((p[1] as Node).expect(TAG.INTEGER, 'PBKDF2 iterations'));
  checkIterations(iterations);
  let keyLength: number | undefined;
  let hash = 'sha1';
  for (const n of p.slice(2)) {
    if (n.tag === TAG.INTEGER) keyLength = decodeSmallInt(n);
    else if (n.tag === TAG.SEQUENCE) {
      const prf = decodeOid(n.child(0));
      const h = HASH_BY_OID[prf];
      if (!h) throw new UnsupportedAlgorithmError(`PBKDF2 PRF ${prf}`);
      hash = h;
    }
  }
  return keyLength === undefined ? { salt, iterations, hash } : { salt, iterations, keyLength, hash };
}

function pbes2Decrypt(params: Node, password: string, data: Uint8Array, budget?: WorkBudget): Uint8Array {
  const kdf = readPbkdf2Params(params.child(0));
  const enc = params.child(1);
  const encOid = decodeOid(enc.child(0));
  const cipher = PBES2_CIPHERS[encOid];
  if (!cipher) throw new UnsupportedAlgorithmError(`PBES2 cipher ${encOid}`);
  const iv = enc.child(1).expect(TAG.OCTET_STRING, 'PBES2 IV').value;
  if (kdf.keyLength !== undefined && kdf.keyLength !== cipher.keyLen)
    throw new DerError(`PBES2 key length ${kdf.keyLength} does not fit ${cipher.name}`, enc.start);
  const key = pbkdf2Budgeted(password, kdf.salt, kdf.iterations, cipher.keyLen, kdf.hash, budget);
  return decipher(cipher.name, key, iv, data);
}

const P12_NAMES: Record<string, string> = {
  [PBE_OID.pbeSha1Des3]: 'pbeWithSHA1And3-KeyTripleDES-CBC',
  [PBE_OID.pbeSha1Des2]: 'pbeWithSHA1And2-KeyTripleDES-CBC',
  [PBE_OID.pbeSha1Rc2_128]: 'pbeWithSHA1And128BitRC2-CBC',
  [PBE_OID.pbeSha1Rc2_40]: 'pbeWithSHA1And40BitRC2-CBC',
  [PBE_OID.pbeSha1Rc4_128]: 'pbeWithSHA1And128BitRC4',
  [PBE_OID.pbeSha1Rc4_40]: 'pbeWithSHA1And40BitRC4',
};

/** What protects an encrypted item, in the words `openssl pkcs12 -info` uses (cipher, KDF, iterations). */
export interface PbeDescription {
  /** e.g. "PBES2, PBKDF2, AES-256-CBC" or "pbeWithSHA1And40BitRC2-CBC". */
  algorithm: string;
  cipher?: string;
  kdf?: string;
  prf?: string;
  iterations?: number;
}

/** Describe an encryption AlgorithmIdentifier without decrypting anything (never throws on odd input). */
export function describePbe(algId: Node): PbeDescription {
  try {
    const algOid = decodeOid(algId.child(0));
    const params = algId.children()[1];
    if (algOid === PBE_OID.pbes2 && params) {
      const kdf = params.child(0);
      const kdfOid = decodeOid(kdf.child(0));
      const encOid = decodeOid(params.child(1).child(0));
      const cipher = (PBES2_CIPHERS[encOid]?.name ?? encOid).toUpperCase();
      if (kdfOid === SCRYPT_OID) return { algorithm: `PBES2, scrypt, ${cipher}`, cipher, kdf: 'scrypt' };
      const k = readPbkdf2Params(kdf);
      const prf = `HMAC-${k.hash.toUpperCase()}`;
      return { algorithm: `PBES2, PBKDF2, ${cipher}`, cipher, kdf: 'PBKDF2', prf, iterations: k.iterations };
    }
    const name = P12_NAMES[algOid] ?? algOid;
    const iterations = params ? decodeSmallInt(params.child(1)) : undefined;
    return iterations === undefined ? { algorithm: name } : { algorithm: name, iterations };
  } catch {
    return { algorithm: 'unreadable algorithm identifier' };
  }
}

const SCRYPT_OID = '1.3.6.1.4.1.11591.4.11';

/**
 * The key-derivation work an EncryptedPrivateKeyInfo asks for, in budget units, read before any
 * derivation runs (OpenSSL does the decryption, and it has no iteration cap). Throws InputError when a
 * single derivation is out of range; undefined when the scheme is not one we can size (OpenSSL then
 * refuses it or it is cheap).
 */
export function encryptedPkcs8Work(algId: Node): number | undefined {
  const algOid = decodeOid(algId.child(0).expect(TAG.OID, 'encryption algorithm'));
  const params = algId.children()[1];
  if (!params) return undefined;
  if (algOid === PBE_OID.pbes2) {
    const kdf = params.child(0);
    const kdfOid = decodeOid(kdf.child(0));
    if (kdfOid === SCRYPT_OID) {
      const p = kdf.child(1).children();
      const ints = p.filter((x) => x.tag === TAG.INTEGER).map((x) => decodeSmallInt(x));
      const [cost = 0, blockSize = 0, parallel = 0] = ints;
      const work = cost * blockSize * parallel;
      if (!Number.isSafeInteger(work) || work <= 0 || work > FILE_WORK_BUDGET)
        throw new InputError(`too large: scrypt parameters N=${cost} r=${blockSize} p=${parallel} exceed the key derivation budget`);
      return work;
    }
    const k = readPbkdf2Params(kdf);
    const encOid = decodeOid(params.child(1).child(0));
    const keyLen = PBES2_CIPHERS[encOid]?.keyLen ?? 32;
    return k.iterations * Math.ceil(keyLen / (DIGEST_BYTES[k.hash] ?? 20));
  }
  const scheme = P12_SCHEMES[algOid];
  if (!scheme) return undefined;
  const iterations = decodeSmallInt(params.child(1).expect(TAG.INTEGER, 'PBE iterations'));
  checkIterations(iterations);
  return iterations * (Math.ceil(scheme.keyLen / 20) + 1) * PKCS12_KDF_WEIGHT;
}

function decipher(name: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  try {
    const d = createDecipheriv(name, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch (e) {
    throw new DecryptError((e as Error).message);
  }
}

// ---------- encryption (for writers) ----------

export interface Encrypted {
  algorithmId: Uint8Array;
  data: Uint8Array;
}

/** PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, as OpenSSL 3 writes by default. Salt and IV: random unless given. */
export function pbes2Encrypt(
  password: string,
  data: Uint8Array,
  iterations: number,
  salt: Uint8Array = randomBytes(8),
  iv: Uint8Array = randomBytes(16),
): Encrypted {
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const c = createCipheriv('aes-256-cbc', key, iv);
  const out = Buffer.concat([c.update(data), c.final()]);
  const kdf = seq(oid(PBE_OID.pbkdf2), seq(octetString(salt), integer(iterations), seq(oid(HMAC_SHA256), NULL)));
  const algorithmId = seq(oid(PBE_OID.pbes2), seq(kdf, seq(oid(PBE_OID.aes256cbc), octetString(iv))));
  return { algorithmId, data: out };
}

/** pbeWithSHAAnd3-KeyTripleDES-CBC: the scheme every PKCS#12 reader since the 1990s understands. */
export function pbeSha1Des3Encrypt(password: string, data: Uint8Array, iterations: number, salt: Uint8Array = randomBytes(8)): Encrypted {
  const bmp = bmpPassword(password);
  const key = pkcs12Kdf('sha1', bmp, salt, 1, iterations, 24);
  const iv = pkcs12Kdf('sha1', bmp, salt, 2, iterations, 8);
  const c = createCipheriv('des-ede3-cbc', key, iv);
  const out = Buffer.concat([c.update(data), c.final()]);
  return { algorithmId: seq(oid(PBE_OID.pbeSha1Des3), seq(octetString(salt), integer(iterations))), data: out };
}
