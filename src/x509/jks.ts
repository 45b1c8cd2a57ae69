// Java KeyStore (JKS, magic 0xFEEDFEED, versions 1 and 2): Sun's proprietary format, still what many Java
// services expect for -Djavax.net.ssl.trustStore. Integrity: SHA-1 over (UTF-16BE password ||
// "Mighty Aphrodite" || file). Private keys use Sun's KeyProtector, a SHA-1 keystream XOR.
import { createHash, createHmac, createPrivateKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { Certificate } from './certificate.ts';
import { decodeOid, NULL, octetString, oid, parse, seq, TAG } from './der.ts';

const MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;
const KEY_PROTECTOR_OID = '1.3.6.1.4.1.42.2.17.1.1';
const TAG_KEY = 1;
const TAG_TRUSTED = 2;
const WHITENER = Buffer.from('Mighty Aphrodite', 'utf8');

export interface JksTrustedEntry {
  type: 'trusted-cert';
  alias: string;
  created: Date;
  der: Uint8Array;
}

export interface JksKeyEntry {
  type: 'private-key';
  alias: string;
  created: Date;
  key: KeyObject;
  /** Leaf first. */
  chain: Uint8Array[];
}

export type JksEntry = JksTrustedEntry | JksKeyEntry;

export interface JksContents {
  version: number;
  /** In file order. */
  entries: JksEntry[];
}

export const JKS_WRONG_PASSWORD = 'wrong password for the JKS keystore (integrity check failed)';

export function isJks(buf: Uint8Array): boolean {
  return buf.length >= 4 && Buffer.from(buf.buffer, buf.byteOffset, 4).readUInt32BE(0) === MAGIC;
}

/** True for JCEKS, which shares the layout but not the key protection; callers can say so clearly. */
export function isJceks(buf: Uint8Array): boolean {
  return buf.length >= 4 && Buffer.from(buf.buffer, buf.byteOffset, 4).readUInt32BE(0) === JCEKS_MAGIC;
}

/** UTF-16BE, as Java's char[] feeds the digest: two bytes per char, no terminator. */
function passwordBytes(password: string): Buffer {
  return Buffer.from(password, 'utf16le').swap16();
}

class Reader {
  pos = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.b.length) throw new InputError(`not a valid JKS keystore (truncated ${what})`);
  }
  u16(what: string): number {
    this.need(2, what);
    this.pos += 2;
    return this.b.readUInt16BE(this.pos - 2);
  }
  u32(what: string): number {
    this.need(4, what);
    this.pos += 4;
    return this.b.readUInt32BE(this.pos - 4);
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    this.pos += n;
    return this.b.subarray(this.pos - n, this.pos);
  }
  /** Java's DataInput.readUTF: modified UTF-8 with a u16 length. */
  utf(what: string): string {
    return decodeModifiedUtf8(this.bytes(this.u16(what), what));
  }
}

/**
 * Read a JKS keystore. The store password checks integrity; key entries are decrypted with
 * `keyPassword` (default: the store password, which is what keytool uses unless told otherwise).
 */
export function readJks(input: Uint8Array, password: string, keyPassword: string = password): JksContents {
  if (isJceks(input)) throw new InputError('JCEKS keystores are not supported (convert with keytool -importkeystore to PKCS12)');
  if (!isJks(input)) throw new InputError('not a JKS keystore (bad magic number)');
  const b = Buffer.from(input.buffer, input.byteOffset, input.length);
  const r = new Reader(b);
  r.pos = 4;
  const version = r.u32('header');
  if (version !== 1 && version !== 2) throw new InputError(`unsupported JKS version ${version}`);
  const count = r.u32('header');
  // Each entry takes at least 18 bytes: a cheap bound before trusting the count.
  if (count > b.length / 18) throw new InputError('not a valid JKS keystore (entry count exceeds file size)');
  const cert = (what: string): Uint8Array => {
    if (version === 2) {
      const type = r.utf(what);
      if (type !== 'X.509') throw new InputError(`unsupported certificate type '${type}' in JKS keystore`);
    }
    return Uint8Array.from(r.bytes(r.u32(what), what));
  };
  const raw: { tag: number; alias: string; created: Date; der?: Uint8Array; protectedKey?: Uint8Array; chain?: Uint8Array[] }[] = [];
  for (let i = 0; i < count; i++) {
    const tag = r.u32('entry');
    const alias = r.utf('alias');
    const hi = r.u32('timestamp');
    const created = new Date(hi * 2 ** 32 + r.u32('timestamp'));
    if (tag === TAG_TRUSTED) raw.push({ tag, alias, created, der: cert('certificate') });
    else if (tag === TAG_KEY) {
      const protectedKey = Uint8Array.from(r.bytes(r.u32('key'), 'key'));
      const n = r.u32('chain');
      if (n > b.length / 4) throw new InputError('not a valid JKS keystore (chain length exceeds file size)');
      const chain: Uint8Array[] = [];
      for (let j = 0; j < n; j++) chain.push(cert('chain certificate'));
      raw.push({ tag, alias, created, protectedKey, chain });
    } else
      throw new InputError(`not a valid JKS keystore (unknown entry tag ${tag}${tag === 3 ? ': secret keys exist only in JCEKS' : ''})`);
  }
  const expected = r.bytes(20, 'integrity digest');
  if (r.pos !== b.length) throw new InputError(`not a valid JKS keystore (${b.length - r.pos} bytes after the digest)`);
  const actual = createHash('sha1')
    .update(passwordBytes(password))
    .update(WHITENER)
    .update(b.subarray(0, b.length - 20))
    .digest();
  if (!timingSafeEqual(actual, expected)) throw new InputError(JKS_WRONG_PASSWORD);

  const entries: JksEntry[] = raw.map((e) => {
    if (e.tag === TAG_TRUSTED) return { type: 'trusted-cert', alias: e.alias, created: e.created, der: e.der as Uint8Array };
    const key = unprotectKey(e.protectedKey as Uint8Array, keyPassword, e.alias);
    return { type: 'private-key', alias: e.alias, created: e.created, key, chain: e.chain as Uint8Array[] };
  });
  return { version, entries };
}

// ---------- Sun KeyProtector ----------

/** Keystream: SHA1(pw || salt), then SHA1(pw || previous digest), concatenated. */
function keystream(pw: Buffer, salt: Uint8Array, n: number): Buffer {
  const out = Buffer.alloc(n);
  let d: Uint8Array = salt;
  for (let o = 0; o < n; o += 20) {
    d = createHash('sha1').update(pw).update(d).digest();
    out.set(d.subarray(0, Math.min(20, n - o)), o);
  }
  return out;
}

function unprotectKey(epki: Uint8Array, password: string, alias: string): KeyObject {
  let enc: Uint8Array;
  try {
    const top = parse(epki);
    const algOid = decodeOid(top.child(0).child(0));
    if (algOid !== KEY_PROTECTOR_OID) throw new InputError(`JKS entry '${alias}' uses unsupported key protection ${algOid}`);
    enc = top.child(1).expect(TAG.OCTET_STRING, 'encrypted key').value;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not a valid JKS keystore (entry '${alias}': ${(e as Error).message})`);
  }
  if (enc.length < 41) throw new InputError(`not a valid JKS keystore (entry '${alias}': protected key too short)`);
  const pw = passwordBytes(password);
  const salt = enc.subarray(0, 20);
  const body = enc.subarray(20, enc.length - 20);
  const check = enc.subarray(enc.length - 20);
  const ks = keystream(pw, salt, body.length);
  const plain = Buffer.alloc(body.length);
  for (let i = 0; i < body.length; i++) plain[i] = (body[i] as number) ^ (ks[i] as number);
  if (!timingSafeEqual(createHash('sha1').update(pw).update(plain).digest(), check))
    throw new InputError(`wrong key password for JKS entry '${alias}'`);
  try {
    return createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new InputError(`cannot read the private key of JKS entry '${alias}' (${(e as Error).message})`);
  }
}

/**
 * The salt is derived, not random, so the same key under the same password is always written the same
 * way: HMAC-SHA256 keyed by the password over the plaintext key. Two different keys never share a
 * keystream (the salt differs); the only thing a reader learns is whether two stores hold the same key
 * under the same password. It is no password check without the secret key itself (JKS's integrity
 * digest already is one: a single SHA-1 per guess).
 */
function protectKey(pkcs8: Uint8Array, password: string): Uint8Array {
  const pw = passwordBytes(password);
  const salt = createHmac('sha256', pw).update('anchorage/jks-key-salt/v1').update(pkcs8).digest().subarray(0, 20);
  const ks = keystream(pw, salt, pkcs8.length);
  const body = Buffer.alloc(pkcs8.length);
  for (let i = 0; i < body.length; i++) body[i] = (pkcs8[i] as number) ^ (ks[i] as number);
  const check = createHash('sha1').update(pw).update(pkcs8).digest();
  return seq(seq(oid(KEY_PROTECTOR_OID), NULL), octetString(Buffer.concat([salt, body, check])));
}

// ---------- writing ----------

export interface JksWriteKey {
  alias: string;
  key: KeyObject;
  /** Leaf first. */
  chain: Uint8Array[];
  /** Entry date; default: the leaf's notBefore. */
  created?: Date;
}

export interface JksWriteTrusted {
  alias: string;
  der: Uint8Array;
  /** Entry date; default: the certificate's notBefore. */
  created?: Date;
}

export interface JksWriteOptions {
  keys?: JksWriteKey[];
  trusted?: JksWriteTrusted[];
  password: string;
  /** Defaults to the store password (keytool's behaviour, and what most Java servers assume). */
  keyPassword?: string;
  /** One date for every entry (default: each entry's own certificate notBefore). */
  now?: Date;
}

/**
 * Write a version-2 JKS keystore. Deterministic: the same entries and passwords give the same bytes
 * (entry dates come from the certificates, key salts from the keys), so a store kept in Git only
 * changes when its content does.
 */
export function writeJks(o: JksWriteOptions): Uint8Array {
  const parts: Buffer[] = [];
  const u32 = (n: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    parts.push(b);
  };
  const utf = (s: string): void => {
    const e = encodeModifiedUtf8(s);
    if (e.length > 0xffff) throw new InputError(`JKS alias or type too long: '${s.slice(0, 40)}...'`);
    const b = Buffer.alloc(2);
    b.writeUInt16BE(e.length);
    parts.push(b, e);
  };
  const cert = (der: Uint8Array): void => {
    utf('X.509');
    u32(der.length);
    parts.push(Buffer.from(der));
  };
  const entryHeader = (tag: number, alias: string, created: Date): void => {
    const t = Math.max(0, created.getTime());
    u32(tag);
    utf(alias);
    u32(Math.floor(t / 2 ** 32));
    u32(t % 2 ** 32);
  };
  const keys = o.keys ?? [];
  const trusted = o.trusted ?? [];
  checkAliases([...keys, ...trusted].map((e) => e.alias));
  u32(MAGIC);
  u32(2);
  u32(keys.length + trusted.length);
  for (const k of keys) {
    if (k.chain.length === 0) throw new InputError(`JKS key entry '${k.alias}' needs its certificate chain`);
    entryHeader(TAG_KEY, k.alias.toLowerCase(), o.now ?? k.created ?? notBefore(k.chain[0] as Uint8Array));
    const protectedKey = protectKey(k.key.export({ type: 'pkcs8', format: 'der' }), o.keyPassword ?? o.password);
    u32(protectedKey.length);
    parts.push(Buffer.from(protectedKey));
    u32(k.chain.length);
    for (const c of k.chain) cert(c);
  }
  for (const e of trusted) {
    entryHeader(TAG_TRUSTED, e.alias.toLowerCase(), o.now ?? e.created ?? notBefore(e.der));
    cert(e.der);
  }
  const body = Buffer.concat(parts);
  const digest = createHash('sha1').update(passwordBytes(o.password)).update(WHITENER).update(body).digest();
  return Buffer.concat([body, digest]);
}

function notBefore(der: Uint8Array): Date {
  try {
    return new Certificate(der).notBefore;
  } catch (e) {
    throw new InputError(`cannot write a JKS entry: not a certificate (${(e as Error).message})`);
  }
}

/** A truststore of trusted certificate entries. */
export function writeJksTruststore(entries: JksWriteTrusted[], password: string): Uint8Array {
  return writeJks({ trusted: entries, password });
}

/** A keystore with one private key entry (and optional trusted certificates). */
export function writeJksKeystore(
  entry: JksWriteKey,
  password: string,
  opts: { keyPassword?: string; trusted?: JksWriteTrusted[] } = {},
): Uint8Array {
  return writeJks({ keys: [entry], password, ...opts });
}

// JKS aliases are case-insensitive: Java lowercases them on store, so two that differ only in case collide.
function checkAliases(aliases: string[]): void {
  const seen = new Set<string>();
  for (const a of aliases) {
    if (a === '') throw new InputError('JKS aliases must not be empty');
    const l = a.toLowerCase();
    if (seen.has(l)) throw new InputError(`duplicate JKS alias '${a}' (aliases are case-insensitive)`);
    seen.add(l);
  }
}

// ---------- Java modified UTF-8 (DataOutput.writeUTF) ----------

function encodeModifiedUtf8(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0 && c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Buffer.from(out);
}

function decodeModifiedUtf8(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    if (c < 0x80) {
      s += String.fromCharCode(c);
      i += 1;
    } else if ((c & 0xe0) === 0xc0 && i + 1 < b.length) {
      s += String.fromCharCode(((c & 0x1f) << 6) | ((b[i + 1] as number) & 0x3f));
      i += 2;
    } else if ((c & 0xf0) === 0xe0 && i + 2 < b.length) {
      s += String.fromCharCode(((c & 0x0f) << 12) | (((b[i + 1] as number) & 0x3f) << 6) | ((b[i + 2] as number) & 0x3f));
      i += 3;
    } else throw new InputError('not a valid JKS keystore (bad alias encoding)');
  }
  return s;
}
