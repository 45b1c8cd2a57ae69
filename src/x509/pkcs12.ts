// PKCS#12 (RFC 7292). Reads what OpenSSL (default and -legacy), Java keytool and Windows write; writes
// either the OpenSSL 3 default ('modern') or 3DES with a SHA-1 MAC ('legacy', for Java 8 and older keytool).
import { createHash, createHmac, createPrivateKey, type KeyObject, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { berToDer } from './ber.ts';
import { Certificate } from './certificate.ts';
import {
  bmp,
  concat,
  DerError,
  decodeOid,
  decodeSmallInt,
  decodeString,
  explicit,
  implicit,
  integer,
  type Node,
  NULL,
  octetString,
  oid,
  parse,
  seq,
  setOf,
  TAG,
} from './der.ts';
import { keyMatchesSpki } from './keys.ts';
import { OID } from './oids.ts';
import {
  bmpPassword,
  DecryptError,
  describePbe,
  type Encrypted,
  HASH_BY_OID,
  type PasswordForms,
  PBE_OID,
  type PbeDescription,
  passwordForms,
  pbeDecrypt,
  pbeSha1Des3Encrypt,
  pbes2Encrypt,
  pbkdf2Budgeted,
  pkcs12Kdf,
  readPbkdf2Params,
  UnsupportedAlgorithmError,
  WorkBudget,
} from './pbe.ts';

const BAG = {
  key: '1.2.840.113549.1.12.10.1.1',
  shroudedKey: '1.2.840.113549.1.12.10.1.2',
  cert: '1.2.840.113549.1.12.10.1.3',
  safeContents: '1.2.840.113549.1.12.10.1.6',
} as const;
const X509_CERT_TYPE = '1.2.840.113549.1.9.22.1';
const ENVELOPED_DATA = '1.2.840.113549.1.7.3';
// Java lists certificate-only entries as trusted only with this attribute (what `openssl pkcs12 -jdktrust` adds).
const ORACLE_TRUSTED_KEY_USAGE = '2.16.840.1.113894.746875.1.1';
const DIGEST_LEN: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };
const MAX_NESTING = 8;

export interface Pkcs12Certificate {
  der: Uint8Array;
  friendlyName?: string;
  /** Hex; equal on a key and its certificate. */
  localKeyId?: string;
}

export interface Pkcs12Key {
  key: KeyObject;
  friendlyName?: string;
  localKeyId?: string;
}

/** How the file is protected: what `openssl pkcs12 -info` prints, read without decrypting anything twice. */
export interface Pkcs12Protection {
  /** The integrity MAC; absent in a `-nomac` file. */
  mac?: { algorithm: string; iterations?: number };
  /** Each encrypted part: the certificate bags' EncryptedData and each shrouded key bag. */
  encryption: ({ what: 'certificates' | 'private key' } & PbeDescription)[];
}

export interface Pkcs12Contents {
  certificates: Pkcs12Certificate[];
  keys: Pkcs12Key[];
  protection?: Pkcs12Protection;
}

export const PKCS12_WRONG_PASSWORD = 'wrong password for the PKCS#12 file (MAC check failed)';
/** A file without a MAC whose content decrypted to something unreadable. */
export const PKCS12_UNVERIFIED_WRONG_PASSWORD =
  'wrong password for the PKCS#12 file (it has no MAC to check the password; what it decrypts to is not readable), or the file is damaged';

/** Structural sniff: a version-3 PFX wrapping a ContentInfo (BER tolerated). */
export function isPkcs12(buf: Uint8Array): boolean {
  try {
    const pfx = parse(berToDer(buf));
    const ver = pfx.child(0);
    const ct = pfx.child(1).child(0);
    return pfx.tag === TAG.SEQUENCE && ver.tag === TAG.INTEGER && decodeSmallInt(ver) === 3 && ct.tag === TAG.OID;
  } catch {
    return false;
  }
}

/** Read a PKCS#12 file. Every failure is an InputError with one clear line. */
export function readPkcs12(input: Uint8Array, password: string, budget: WorkBudget = new WorkBudget()): Pkcs12Contents {
  try {
    return read(input, password, budget);
  } catch (e) {
    if (e instanceof InputError) throw e;
    if (e instanceof UnsupportedAlgorithmError) throw new InputError(`the PKCS#12 file uses an unsupported algorithm: ${e.message}`);
    if (e instanceof DecryptError) throw new InputError('wrong password for the PKCS#12 file (decryption failed)');
    throw new InputError(`not a valid PKCS#12 file (${(e as Error).message})`);
  }
}

function read(input: Uint8Array, password: string, budget: WorkBudget): Pkcs12Contents {
  const pfx = parse(berToDer(input));
  const [ver, authSafe, macData] = pfx.children();
  if (pfx.tag !== TAG.SEQUENCE || ver?.tag !== TAG.INTEGER || decodeSmallInt(ver) !== 3 || authSafe?.tag !== TAG.SEQUENCE)
    throw new InputError('not a PKCS#12 file (expected a version 3 PFX structure)');
  const contentType = decodeOid(authSafe.child(0).expect(TAG.OID, 'content type'));
  if (contentType === OID.signedData) throw new InputError('PKCS#12 files in public-key integrity mode (signed) are not supported');
  if (contentType !== OID.data) throw new InputError(`not a PKCS#12 file (content type ${contentType})`);
  const authBytes = octets(explicitContent(authSafe));
  // No MacData means no integrity protection (e.g. `-nomac`): the password then only decrypts.
  const pw = macData
    ? verifyMac(macData.expect(TAG.SEQUENCE, 'MacData'), authBytes, password, budget)
    : passwordForms(password, undefined, budget);
  const protection: Pkcs12Protection = { encryption: [] };
  if (macData) protection.mac = describeMac(macData);
  const out: Pkcs12Contents = { certificates: [], keys: [], protection };
  // Without a MAC nothing checks the password first: a wrong one decrypts to garbage, and about once in 256 the
  // padding still checks out; what then fails to parse is the password's fault, not the file's.
  const unverified = !macData;
  for (const ci of parse(berToDer(authBytes)).expect(TAG.SEQUENCE, 'AuthenticatedSafe').children()) {
    const t = decodeOid(ci.child(0).expect(TAG.OID, 'content type'));
    if (t === OID.data) readSafeContents(octets(explicitContent(ci)), pw, out, 0, unverified);
    else if (t === OID.encryptedData) {
      const alg = explicitContent(ci).child(1).children()[1];
      if (alg) protection.encryption.push({ what: 'certificates', ...describePbe(alg) });
      const plain = decryptEncryptedData(explicitContent(ci), pw);
      try {
        readSafeContents(plain, pw, out, 0, unverified);
      } catch (e) {
        if (unverified && e instanceof DerError) throw new InputError(PKCS12_UNVERIFIED_WRONG_PASSWORD);
        throw e;
      }
    } else if (t === ENVELOPED_DATA) throw new InputError('PKCS#12 files in public-key privacy mode (enveloped) are not supported');
    else throw new InputError(`unsupported PKCS#12 content type ${t}`);
  }
  return out;
}

/** The `[0] EXPLICIT` second field of a ContentInfo or SafeBag. */
function explicitContent(n: Node, what = 'ContentInfo content'): Node {
  return n.child(1).expect(0xa0, what).inner();
}

function octets(n: Node): Uint8Array {
  return n.expect(TAG.OCTET_STRING, 'OCTET STRING').value;
}

/** MacData's algorithm and iterations (PBMAC1 names its own PBKDF2). */
function describeMac(macData: Node): { algorithm: string; iterations?: number } {
  try {
    const alg = macData.child(0).child(0);
    const algOid = decodeOid(alg.child(0));
    if (algOid === PBE_OID.pbmac1) {
      const k = readPbkdf2Params(alg.child(1).child(0));
      return { algorithm: `PBMAC1 (PBKDF2 HMAC-${k.hash.toUpperCase()})`, iterations: k.iterations };
    }
    const hash = HASH_BY_OID[algOid] ?? algOid;
    const iterNode = macData.children()[2];
    return { algorithm: `HMAC-${hash.toUpperCase()}`, iterations: iterNode ? decodeSmallInt(iterNode) : 1 };
  } catch {
    return { algorithm: 'unreadable MAC' };
  }
}

function verifyMac(macData: Node, data: Uint8Array, password: string, budget: WorkBudget): PasswordForms {
  const digestInfo = macData.child(0).expect(TAG.SEQUENCE, 'DigestInfo');
  const alg = digestInfo.child(0).expect(TAG.SEQUENCE, 'MAC algorithm');
  const algOid = decodeOid(alg.child(0).expect(TAG.OID, 'MAC algorithm'));
  const expected = octets(digestInfo.child(1));
  if (algOid === PBE_OID.pbmac1) {
    if (!sameBytes(pbmac1(alg.child(1), password, data, budget), expected)) throw new InputError(PKCS12_WRONG_PASSWORD);
    return passwordForms(password, undefined, budget);
  }
  const hash = HASH_BY_OID[algOid];
  if (!hash) throw new UnsupportedAlgorithmError(`MAC digest ${algOid}`);
  const salt = octets(macData.child(1));
  const iterNode = macData.children()[2];
  const iterations = iterNode ? decodeSmallInt(iterNode.expect(TAG.INTEGER, 'MAC iterations')) : 1;
  // An empty password is ambiguous: most writers use the bare BMP terminator, some no bytes at all.
  const candidates = password === '' ? [bmpPassword(''), new Uint8Array(0)] : [bmpPassword(password)];
  for (const p of candidates) {
    const key = pkcs12Kdf(hash, p, salt, 3, iterations, DIGEST_LEN[hash] as number, budget);
    if (sameBytes(createHmac(hash, key).update(data).digest(), expected)) return passwordForms(password, p, budget);
  }
  throw new InputError(PKCS12_WRONG_PASSWORD);
}

/** RFC 9579: PBKDF2 over the UTF-8 password, then HMAC; MacData's own salt and iterations are ignored. */
function pbmac1(params: Node, password: string, data: Uint8Array, budget: WorkBudget): Buffer {
  const kdf = readPbkdf2Params(params.child(0));
  const macOid = decodeOid(params.child(1).child(0));
  const macHash = HASH_BY_OID[macOid];
  if (!macHash) throw new UnsupportedAlgorithmError(`PBMAC1 MAC ${macOid}`);
  if (kdf.keyLength === undefined) throw new InputError('not a valid PKCS#12 file (PBMAC1 without a key length)');
  const key = pbkdf2Budgeted(password, kdf.salt, kdf.iterations, kdf.keyLength, kdf.hash, budget);
  return createHmac(macHash, key).update(data).digest();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function decryptEncryptedData(ed: Node, pw: PasswordForms): Uint8Array {
  const eci = ed.expect(TAG.SEQUENCE, 'EncryptedData').child(1);
  const content = eci.children()[2];
  if (!content) return seq();
  // [0] IMPLICIT OCTET STRING: primitive in DER, a series of OCTET STRING chunks in BER.
  const bytes = content.tag === 0x80 ? content.value : content.tag === 0xa0 ? concat(content.children().map(octets)) : undefined;
  if (!bytes) throw new InputError('not a valid PKCS#12 file (bad encrypted content)');
  return pbeDecrypt(eci.child(1), pw, bytes);
}

/** `unverified`: the file has no MAC, so a key that decrypts to something unreadable says wrong password. */
function readSafeContents(bytes: Uint8Array, pw: PasswordForms, out: Pkcs12Contents, depth: number, unverified: boolean): void {
  if (depth > MAX_NESTING) throw new InputError('not a valid PKCS#12 file (safe contents nested too deeply)');
  for (const bag of parse(berToDer(bytes)).expect(TAG.SEQUENCE, 'SafeContents').children()) {
    const id = decodeOid(bag.child(0).expect(TAG.OID, 'bag type'));
    const value = explicitContent(bag, 'bag value');
    const attrs = readAttributes(bag.children()[2]);
    if (id === BAG.key) out.keys.push({ key: loadPkcs8(value.raw), ...attrs });
    else if (id === BAG.shroudedKey) {
      out.protection?.encryption.push({ what: 'private key', ...describePbe(value.child(0)) });
      const plain = pbeDecrypt(value.child(0), pw, octets(value.child(1)));
      out.keys.push({ key: loadPkcs8(plain, unverified), ...attrs });
    } else if (id === BAG.cert) {
      // SDSI certificates exist in the spec and nowhere else; skip anything but X.509.
      if (decodeOid(value.child(0)) !== X509_CERT_TYPE) continue;
      out.certificates.push({ der: Uint8Array.from(octets(value.child(1).inner())), ...attrs });
    } else if (id === BAG.safeContents) readSafeContents(value.raw, pw, out, depth + 1, unverified);
    // CRL and secret bags are not Anchorage's business.
  }
}

function readAttributes(set: Node | undefined): { friendlyName?: string; localKeyId?: string } {
  const out: { friendlyName?: string; localKeyId?: string } = {};
  if (!set || set.tag !== TAG.SET) return out;
  for (const attr of set.children()) {
    const type = decodeOid(attr.child(0));
    const first = attr.child(1).children()[0];
    if (!first) continue;
    if (type === OID.friendlyName) out.friendlyName = decodeString(first);
    else if (type === OID.localKeyId) out.localKeyId = Buffer.from(first.value).toString('hex');
  }
  return out;
}

function loadPkcs8(der: Uint8Array, decryptedUnverified = false): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (e) {
    if (decryptedUnverified) throw new InputError(PKCS12_UNVERIFIED_WRONG_PASSWORD);
    throw new InputError(`cannot read the private key in the PKCS#12 file (${(e as Error).message})`);
  }
}

// ---------- writing ----------

export interface Pkcs12WriteOptions {
  key?: KeyObject;
  cert: Uint8Array;
  /** Issuers, leaf's issuer first. */
  chain?: Uint8Array[];
  password: string;
  friendlyName?: string;
  /** Truststores only (no key): the names of the `chain` certificates (default: friendlyName-1, -2, ...). */
  chainNames?: string[];
  /** modern: PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC, HMAC-SHA256 MAC. legacy: 3DES and HMAC-SHA1 for Java 8. */
  profile: 'modern' | 'legacy';
  /** KDF and MAC iterations; OpenSSL's default is 2048. */
  iterations?: number;
  /**
   * derived (default): salts and IVs come from the content and the password (see `saltSource`), so the
   * same inputs give byte-identical files; random: fresh random salts and IVs on every write.
   */
  salts?: 'derived' | 'random';
}

export function writePkcs12(o: Pkcs12WriteOptions): Uint8Array {
  const iterations = o.iterations ?? 2048;
  const leaf = new Certificate(o.cert);
  const certs = [o.cert, ...(o.chain ?? [])];
  let keyPlain: Uint8Array | undefined;
  let keyAttrs: Uint8Array[] = [];
  let certAttrs: (i: number) => Uint8Array[];
  if (o.key) {
    if (!keyMatchesSpki(o.key, leaf.spki)) throw new InputError('the private key does not match the certificate');
    // OpenSSL's localKeyId: SHA-1 of the certificate; it ties the key to its certificate.
    const keyId = createHash('sha1').update(o.cert).digest();
    keyAttrs = [...nameAttr(o.friendlyName), attribute(OID.localKeyId, octetString(keyId))];
    keyPlain = o.key.export({ type: 'pkcs8', format: 'der' });
    certAttrs = (i) => (i === 0 ? keyAttrs : []);
  } else {
    // A truststore: every certificate is its own trusted entry, so each gets a name.
    const trusted = attribute(ORACLE_TRUSTED_KEY_USAGE, oid(OID.anyExtendedKeyUsage));
    const nameOf = (i: number): string | undefined =>
      i === 0 ? o.friendlyName : (o.chainNames?.[i - 1] ?? (o.friendlyName === undefined ? undefined : `${o.friendlyName}-${i}`));
    certAttrs = (i) => [...nameAttr(nameOf(i)), trusted];
  }
  const bags = certs.map((der, i) => {
    const a = certAttrs(i);
    const bag = [oid(BAG.cert), explicit(0, seq(oid(X509_CERT_TYPE), explicit(0, octetString(der))))];
    return seq(...bag, ...(a.length ? [setOf(...a)] : []));
  });
  const certsPlain = seq(...bags);
  const salt = saltSource(o, iterations, [keyPlain ?? new Uint8Array(0), ...keyAttrs, certsPlain]);
  const encrypt = (data: Uint8Array, what: string): Encrypted =>
    o.profile === 'modern'
      ? pbes2Encrypt(o.password, data, iterations, salt(`${what} salt`, 8), salt(`${what} iv`, 16))
      : pbeSha1Des3Encrypt(o.password, data, iterations, salt(`${what} salt`, 8));
  let keyCi: Uint8Array | undefined;
  if (o.key && keyPlain) {
    const enc = encrypt(keyPlain, 'key');
    const keyBag = seq(oid(BAG.shroudedKey), explicit(0, seq(enc.algorithmId, octetString(enc.data))), setOf(...keyAttrs));
    keyCi = seq(oid(OID.data), explicit(0, octetString(seq(keyBag))));
  }
  const enc = encrypt(certsPlain, 'certificates');
  const certCi = seq(oid(OID.encryptedData), explicit(0, seq(integer(0), seq(oid(OID.data), enc.algorithmId, implicit(0, enc.data)))));
  const authSafe = seq(certCi, ...(keyCi ? [keyCi] : []));
  return seq(integer(3), seq(oid(OID.data), explicit(0, octetString(authSafe))), macData(o, authSafe, iterations, salt('mac salt', 8)));
}

/**
 * Where salts and IVs come from. Random salts exist so that one password guess cannot be tried against
 * many files at once and so that equal plaintexts do not look equal. Derived salts keep both, except
 * that byte-identical inputs give byte-identical files (which is the point: a truststore in Git changes
 * only when its certificates do):
 * - seed = PBKDF2-HMAC-SHA256(password, SHA-256(every plaintext: the key, its attributes, the certificate
 *   bags), same iteration count); each salt or IV = HMAC-SHA256(seed, its label).
 * - Different content gives unrelated salts and IVs, so no key/IV pair ever encrypts two plaintexts.
 * - The content includes the private key, so a file holding a key has salts nobody can precompute or use
 *   to test a password without that key. A truststore holds only public certificates: there a salt
 *   lets a guesser test a password, but at the cost of a full PBKDF2, no cheaper than the MAC check
 *   the file already offers.
 */
function saltSource(o: Pkcs12WriteOptions, iterations: number, content: Uint8Array[]): (label: string, n: number) => Uint8Array {
  if (o.salts === 'random') return (_label, n) => randomBytes(n);
  const h = createHash('sha256').update(`anchorage/pkcs12-salts/v1 ${o.profile} ${iterations}`);
  for (const c of content) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(c.length);
    h.update(len).update(c);
  }
  const seed = pbkdf2Sync(Buffer.from(o.password, 'utf8'), h.digest(), iterations, 32, 'sha256');
  return (label, n) => createHmac('sha256', seed).update(label).digest().subarray(0, n);
}

function macData(o: Pkcs12WriteOptions, authSafe: Uint8Array, iterations: number, salt: Uint8Array): Uint8Array {
  const hash = o.profile === 'modern' ? 'sha256' : 'sha1';
  const key = pkcs12Kdf(hash, bmpPassword(o.password), salt, 3, iterations, DIGEST_LEN[hash] as number);
  const mac = createHmac(hash, key).update(authSafe).digest();
  const digestOid = hash === 'sha256' ? OID.sha256 : OID.sha1;
  return seq(seq(seq(oid(digestOid), NULL), octetString(mac)), octetString(salt), integer(iterations));
}

function attribute(type: string, ...values: Uint8Array[]): Uint8Array {
  return seq(oid(type), setOf(...values));
}

function nameAttr(name: string | undefined): Uint8Array[] {
  return name === undefined ? [] : [attribute(OID.friendlyName, bmp(name))];
}
