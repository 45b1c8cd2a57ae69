// A small DER reader and writer over Uint8Array.
// Hand-written because the ASN.1 libraries are 30-1000x too slow for scan and issuance hot paths
// (see docs/architecture.md). The reader is lazy: it only decodes what a caller walks into.

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const;

export class DerError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'DerError';
    this.offset = offset;
  }
}

/** One TLV. `start` is the tag byte, `valueStart`..`end` the contents. */
export class Node {
  readonly buf: Uint8Array;
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;

  constructor(buf: Uint8Array, tag: number, start: number, valueStart: number, end: number) {
    this.buf = buf;
    this.tag = tag;
    this.start = start;
    this.valueStart = valueStart;
    this.end = end;
  }

  get constructed(): boolean {
    return (this.tag & 0x20) !== 0;
  }
  /** Context-specific tag number, or -1 if not context-specific. */
  get contextNumber(): number {
    return (this.tag & 0xc0) === 0x80 ? this.tag & 0x1f : -1;
  }
  get length(): number {
    return this.end - this.valueStart;
  }
  /** The contents octets (a view, not a copy). */
  get value(): Uint8Array {
    return this.buf.subarray(this.valueStart, this.end);
  }
  /** The whole TLV (a view). */
  get raw(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  children(): Node[] {
    const out: Node[] = [];
    let pos = this.valueStart;
    while (pos < this.end) {
      const n = readNode(this.buf, pos, this.end);
      out.push(n);
      pos = n.end;
    }
    return out;
  }

  /** Child at index i, walking siblings without allocating the whole list. */
  child(i: number): Node {
    let pos = this.valueStart;
    for (let k = 0; ; k++) {
      if (pos >= this.end) throw new DerError(`expected child ${i} of tag 0x${hex2(this.tag)}`, pos);
      if (k === i) return readNode(this.buf, pos, this.end);
      pos = tlvEnd(this.buf, pos, this.end);
    }
  }

  /** The sibling after `prev`, a child of this node (walks without re-reading earlier children). */
  after(prev: Node): Node {
    if (prev.end >= this.end) throw new DerError(`expected another field after byte ${prev.end}`, prev.end);
    return readNode(this.buf, prev.end, this.end);
  }

  /** The single TLV inside an explicit [n] wrapper or an OCTET STRING that wraps DER. */
  inner(): Node {
    const n = readNode(this.buf, this.valueStart, this.end);
    if (n.end !== this.end) throw new DerError('trailing data inside wrapper', n.end);
    return n;
  }

  expect(tag: number, what: string): this {
    if (this.tag !== tag) throw new DerError(`${what}: expected tag 0x${hex2(tag)}, got 0x${hex2(this.tag)}`, this.start);
    return this;
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Read one TLV at `pos`, bounded by `limit`. */
export function readNode(buf: Uint8Array, pos: number, limit: number = buf.length): Node {
  const end = tlvEnd(buf, pos, limit);
  return new Node(buf, buf[pos] as number, pos, tlvValueStart, end);
}

/** Where the contents of the TLV tlvEnd last read start (tlvEnd's second answer, kept here to allocate nothing). */
let tlvValueStart = 0;

/**
 * The end of the TLV at `pos`, bounded by `limit`, with readNode's checks and errors, and no Node made: how
 * `child` steps over the siblings before the one it returns.
 */
function tlvEnd(buf: Uint8Array, pos: number, limit: number): number {
  if (pos + 2 > limit) throw new DerError('truncated TLV header', pos);
  const tag = buf[pos] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported', pos);
  let len = buf[pos + 1] as number;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER', pos);
    if (n > 4) throw new DerError('length too large', pos);
    if (p + n > limit) throw new DerError('truncated length', pos);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] as number);
    p += n;
  }
  const end = p + len;
  if (end > limit) throw new DerError(`truncated value (needs ${len} bytes, has ${limit - p})`, pos);
  tlvValueStart = p;
  return end;
}

/** Parse a buffer that must hold exactly one TLV. */
export function parse(buf: Uint8Array): Node {
  const n = readNode(buf, 0, buf.length);
  if (n.end !== buf.length) throw new DerError(`${buf.length - n.end} bytes of trailing data`, n.end);
  return n;
}

// ---------- value decoders ----------

// OIDs are cached by a hash of their bytes: a scan meets the same few dozen OIDs millions of times,
// and building a string key per lookup costs more than decoding.
const oidCache = new Map<number, { bytes: Uint8Array; dotted: string }[]>();
let oidCacheSize = 0;

export function decodeOid(n: Node): string {
  const buf = n.buf;
  const s = n.valueStart;
  const e = n.end;
  if (e === s) throw new DerError('empty OID', n.start);
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ (buf[i] as number), 16777619);
  const bucket = oidCache.get(h);
  if (bucket) {
    outer: for (const c of bucket) {
      if (c.bytes.length !== e - s) continue;
      for (let i = 0; i < c.bytes.length; i++) if (c.bytes[i] !== buf[s + i]) continue outer;
      return c.dotted;
    }
  }
  const v = buf.subarray(s, e);
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i] as number;
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = acc < 80 ? Math.floor(acc / 40) : 2;
        parts.push(first, acc - first * 40);
      } else parts.push(acc);
      acc = 0;
    }
  }
  const dotted = parts.join('.');
  if (oidCacheSize < 10000) {
    oidCacheSize++;
    const entry = { bytes: v.slice(), dotted };
    if (bucket) bucket.push(entry);
    else oidCache.set(h, [entry]);
  }
  return dotted;
}

// Buffer's own slice-to-string methods take any Uint8Array as `this`: no Buffer view (or copy) is made
// per string. They are what Buffer#toString calls; the fallback covers a runtime without them.
type Slice = (this: Uint8Array, start: number, end: number) => string;
const bufferProto = Buffer.prototype as unknown as { latin1Slice?: Slice; hexSlice?: Slice };
const latin1Slice = bufferProto.latin1Slice;
const hexSlice = bufferProto.hexSlice;

/** Bytes as a latin1 string (one character per byte). */
export function latin1(v: Uint8Array): string {
  return latin1Range(v, 0, v.length);
}

/** Bytes `start`..`end` of `buf` as a latin1 string, without a view or copy of them. */
export function latin1Range(buf: Uint8Array, start: number, end: number): string {
  if (latin1Slice) return latin1Slice.call(buf, start, end);
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/** Bytes as lowercase hex, without copying them into a Buffer. */
export function hexOf(v: Uint8Array): string {
  if (hexSlice) return hexSlice.call(v, 0, v.length);
  return Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
}

/** Byte-wise equality of two views. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Largest INTEGER decoded as a bigint: serials and CRL numbers are at most 20 octets (RFC 5280). */
export const MAX_BIGINT_OCTETS = 1024;

/** INTEGER as bigint (two's complement). Linear in the length; refuses more than MAX_BIGINT_OCTETS. */
export function decodeBigInt(n: Node): bigint {
  const v = n.value;
  if (v.length === 0) throw new DerError('empty INTEGER', n.start);
  if (v.length > MAX_BIGINT_OCTETS)
    throw new DerError(`INTEGER too large (${v.length} octets, the limit is ${MAX_BIGINT_OCTETS})`, n.start);
  let x = BigInt(`0x${Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')}`);
  if ((v[0] as number) & 0x80) x -= 1n << BigInt(v.length * 8);
  return x;
}

export function decodeSmallInt(n: Node): number {
  const v = n.value;
  if (v.length === 0 || v.length > 6) throw new DerError('INTEGER out of range', n.start);
  let x = 0;
  for (let i = 0; i < v.length; i++) x = x * 256 + (v[i] as number);
  if ((v[0] as number) & 0x80) x -= 2 ** (v.length * 8);
  return x;
}

export function decodeBool(n: Node): boolean {
  if (n.length !== 1) throw new DerError('BOOLEAN must be one byte', n.start);
  return n.buf[n.valueStart] !== 0;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** Any of the string types as a JS string. */
export function decodeString(n: Node): string {
  const buf = n.buf;
  const s = n.valueStart;
  const e = n.end;
  switch (n.tag) {
    case TAG.UTF8_STRING: {
      // ASCII is the same in UTF-8 and latin1, and latin1 needs no decoder.
      for (let i = s; i < e; i++) if ((buf[i] as number) > 0x7f) return utf8Decoder.decode(buf.subarray(s, e));
      return latin1Range(buf, s, e);
    }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.VISIBLE_STRING:
    case TAG.T61_STRING:
    case 0x82: // dNSName, rfc822Name and URI in GeneralNames: IA5String contents
    case 0x81:
    case 0x86: {
      for (let i = s; i < e; i++) if ((buf[i] as number) > 0x7e) return utf8Decoder.decode(buf.subarray(s, e));
      return latin1Range(buf, s, e);
    }
  }
  const v = n.value;
  switch (n.tag) {
    case TAG.BMP_STRING: {
      // UCS-2 (UTF-16BE in practice): pairs of surrogates combine, a lone surrogate is shown as \u{...}
      // like an invalid UniversalString value; an odd trailing byte is dropped.
      const parts: string[] = [];
      for (let i = 0; i + 1 < v.length; i += 2) {
        const u = ((v[i] as number) << 8) | (v[i + 1] as number);
        const next = i + 3 < v.length ? ((v[i + 2] as number) << 8) | (v[i + 3] as number) : -1;
        if (u >= 0xd800 && u <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          parts.push(String.fromCharCode(u, next));
          i += 2;
        } else if (u >= 0xd800 && u <= 0xdfff) parts.push(`\\u{${u.toString(16)}}`);
        else parts.push(String.fromCharCode(u));
      }
      return parts.join('');
    }
    case TAG.UNIVERSAL_STRING: {
      // UCS-4BE. Values that are not Unicode scalar values (above U+10FFFF, surrogates) are shown as
      // \u{...} escapes instead of throwing: a crafted name must not stop a scan.
      const parts: string[] = [];
      for (let i = 0; i + 3 < v.length; i += 4) {
        const cp = (((v[i] as number) << 24) | ((v[i + 1] as number) << 16) | ((v[i + 2] as number) << 8) | (v[i + 3] as number)) >>> 0;
        parts.push(cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? `\\u{${cp.toString(16)}}` : String.fromCodePoint(cp));
      }
      return parts.join('');
    }
    default: {
      // PrintableString, IA5String, VisibleString, T61String: ASCII fast path.
      let ascii = true;
      for (let i = 0; i < v.length; i++) if ((v[i] as number) > 0x7e) ascii = false;
      return ascii ? latin1(v) : utf8Decoder.decode(v);
    }
  }
}

/** Two ASCII digits at i, or NaN. */
function d2(b: Uint8Array, i: number): number {
  const a = (b[i] as number) - 48;
  const c = (b[i + 1] as number) - 48;
  return a >= 0 && a <= 9 && c >= 0 && c <= 9 ? a * 10 + c : Number.NaN;
}

/** UTCTime or GeneralizedTime to a Date. Fast path for the RFC 5280 forms (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ). */
export function decodeTime(n: Node): Date {
  const v = n.value;
  if (n.tag === TAG.UTC_TIME && v.length === 13 && v[12] === 0x5a) {
    const yy = d2(v, 0);
    const t = Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, d2(v, 2) - 1, d2(v, 4), d2(v, 6), d2(v, 8), d2(v, 10));
    if (Number.isFinite(t) && validParts(d2(v, 2), d2(v, 4), d2(v, 6), d2(v, 8), d2(v, 10))) return new Date(t);
  } else if (n.tag === TAG.GENERALIZED_TIME && v.length === 15 && v[14] === 0x5a) {
    const t = Date.UTC(d2(v, 0) * 100 + d2(v, 2), d2(v, 4) - 1, d2(v, 6), d2(v, 8), d2(v, 10), d2(v, 12));
    if (Number.isFinite(t) && validParts(d2(v, 4), d2(v, 6), d2(v, 8), d2(v, 10), d2(v, 12))) return new Date(t);
  }
  return decodeTimeSlow(n);
}

function validParts(mo: number, d: number, h: number, mi: number, sec: number): boolean {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
}

/** A decoded value safe to put in a one-line message. */
function shown(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Non-canonical forms (no seconds, fractions, offsets): accepted, as openssl does, for reading. */
function decodeTimeSlow(n: Node): Date {
  const s = latin1(n.value);
  let year: number;
  let rest: string;
  if (n.tag === TAG.UTC_TIME) {
    if (s.length < 11) throw new DerError(`bad UTCTime ${shown(s)}`, n.start);
    const yy = Number(s.slice(0, 2));
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = s.slice(2);
  } else if (n.tag === TAG.GENERALIZED_TIME) {
    if (s.length < 13) throw new DerError(`bad GeneralizedTime ${shown(s)}`, n.start);
    year = Number(s.slice(0, 4));
    rest = s.slice(4);
  } else throw new DerError(`expected a time, got tag 0x${hex2(n.tag)}`, n.start);
  const mo = Number(rest.slice(0, 2));
  const d = Number(rest.slice(2, 4));
  const h = Number(rest.slice(4, 6));
  const mi = Number(rest.slice(6, 8));
  let i = 8;
  let sec = 0;
  if (/^\d\d/.test(rest.slice(8, 10))) {
    sec = Number(rest.slice(8, 10));
    i = 10;
  }
  let ms = 0;
  if (rest[i] === '.') {
    const m = /^\.(\d+)/.exec(rest.slice(i));
    if (m?.[1]) {
      ms = Math.round(Number(`0.${m[1]}`) * 1000);
      i += m[0].length;
    }
  }
  let offset = 0;
  const tz = rest.slice(i);
  if (tz !== 'Z') {
    const m = /^([+-])(\d\d)(\d\d)$/.exec(tz);
    if (!m) throw new DerError(`bad time zone in ${shown(s)}`, n.start);
    offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  }
  const t = Date.UTC(year, mo - 1, d, h, mi, sec, ms) - offset * 60000;
  if (!Number.isFinite(t) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    throw new DerError(`bad time ${shown(s)}`, n.start);
  return new Date(t);
}

/** BIT STRING contents without the unused-bits byte. More than 7 unused bits is not a BIT STRING. */
export function bitStringBytes(n: Node): Uint8Array {
  if (n.tag !== TAG.BIT_STRING || n.length < 1) throw new DerError('expected BIT STRING', n.start);
  const unused = n.buf[n.valueStart] as number;
  if (unused > 7 || (unused > 0 && n.length === 1)) throw new DerError(`BIT STRING with ${unused} unused bits`, n.start);
  return n.buf.subarray(n.valueStart + 1, n.end);
}

/** The unused-bits count of a BIT STRING (0 for every signature and key). */
export function bitStringUnused(n: Node): number {
  if (n.tag !== TAG.BIT_STRING || n.length < 1) throw new DerError('expected BIT STRING', n.start);
  return n.buf[n.valueStart] as number;
}

// ---------- writer ----------
// Each helper returns the full TLV bytes. Lengths are computed once; concatenation is one copy per level.

function header(tag: number, len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(tag, len);
  if (len < 0x100) return Uint8Array.of(tag, 0x81, len);
  if (len < 0x10000) return Uint8Array.of(tag, 0x82, len >> 8, len & 0xff);
  if (len < 0x1000000) return Uint8Array.of(tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff);
  return Uint8Array.of(tag, 0x84, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
}

export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  return tlvList(tag, parts);
}

/** tlv over an array: no argument spreading, so 200k children cannot overflow the call stack. */
export function tlvList(tag: number, parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = withHeader(tag, len);
  let o = out.length - len;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Small TLVs are views into a shared zero-filled slab, as Node's Buffer pool does: a Uint8Array of its own
// costs a backing store (allocated, tracked and swept by the GC), a view only a small object. A slab's bytes
// are handed out once and never reused, so every view starts zeroed like `new Uint8Array(n)`.
const SLAB_SIZE = 8192;
const SLAB_MAX = 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;
function allocZeroed(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return out;
}

/** A TLV buffer of `len` content bytes with its header written: one allocation, contents left to fill. */
function withHeader(tag: number, len: number): Uint8Array {
  if (len < 0x80) {
    const out = allocZeroed(2 + len);
    out[0] = tag;
    out[1] = len;
    return out;
  }
  const h = header(tag, len);
  const out = allocZeroed(h.length + len);
  out.set(h, 0);
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlvList(TAG.SEQUENCE, parts);
export const seqList = (parts: readonly Uint8Array[]): Uint8Array => tlvList(TAG.SEQUENCE, parts);

/** SET OF: DER requires the elements sorted by their encodings. */
export function setOf(...parts: Uint8Array[]): Uint8Array {
  const sorted = parts.length > 1 ? [...parts].sort(compareBytes) : parts;
  return tlvList(TAG.SET, sorted);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** [n] EXPLICIT wrapper (constructed context tag). */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT primitive value. */
export const implicit = (n: number, value: Uint8Array): Uint8Array => tlv(0x80 | n, value);
/** [n] IMPLICIT constructed value (e.g. a SEQUENCE retagged). */
export const implicitConstructed = (n: number, ...parts: Uint8Array[]): Uint8Array => tlv(0xa0 | n, ...parts);

export function integer(v: bigint | number | Uint8Array): Uint8Array {
  if (v instanceof Uint8Array) return tlv(TAG.INTEGER, minimalUnsigned(v));
  let x = BigInt(v);
  if (x < 0n) {
    // two's complement, minimal
    const bytes: number[] = [];
    while (x < -128n || x >= 128n || bytes.length === 0) {
      bytes.unshift(Number(x & 0xffn));
      x >>= 8n;
      if (x === -1n && ((bytes[0] as number) & 0x80) !== 0) break;
    }
    return tlv(TAG.INTEGER, Uint8Array.from(bytes));
  }
  if (x < 128n) return Uint8Array.of(TAG.INTEGER, 1, Number(x));
  let h = x.toString(16);
  if (h.length % 2) h = `0${h}`;
  return tlv(TAG.INTEGER, minimalUnsigned(Buffer.from(h, 'hex')));
}

/** Unsigned big-endian bytes as minimal positive INTEGER contents. */
function minimalUnsigned(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && ((b[i + 1] as number) & 0x80) === 0) i++;
  const v = b.subarray(i);
  if (v.length === 0) return Uint8Array.of(0);
  if ((v[0] as number) & 0x80) {
    const o = new Uint8Array(v.length + 1);
    o.set(v, 1);
    return o;
  }
  return v;
}

const oidEncCache = new Map<string, Uint8Array>();

export function oid(dotted: string): Uint8Array {
  const hit = oidEncCache.get(dotted);
  if (hit) return hit;
  const parts = dotted.split('.').map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`bad OID '${dotted}'`);
    return Number(p);
  });
  if (parts.length < 2) throw new Error(`bad OID '${dotted}'`);
  const bytes: number[] = [];
  const push = (x: number): void => {
    const tmp: number[] = [x & 0x7f];
    x = Math.floor(x / 128);
    while (x > 0) {
      tmp.unshift((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    bytes.push(...tmp);
  };
  push((parts[0] as number) * 40 + (parts[1] as number));
  for (let i = 2; i < parts.length; i++) push(parts[i] as number);
  const enc = tlv(TAG.OID, Uint8Array.from(bytes));
  oidEncCache.set(dotted, enc);
  return enc;
}

export const octetString = (b: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, b);
export const NULL = Uint8Array.of(TAG.NULL, 0);
export const bool = (b: boolean): Uint8Array => Uint8Array.of(TAG.BOOLEAN, 1, b ? 0xff : 0);
export function bitString(b: Uint8Array, unused = 0): Uint8Array {
  const out = withHeader(TAG.BIT_STRING, b.length + 1);
  out[out.length - b.length - 1] = unused;
  out.set(b, out.length - b.length);
  return out;
}
export const utf8 = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const ia5 = (s: string): Uint8Array => tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
export const printable = (s: string): Uint8Array => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const bmp = (s: string): Uint8Array => tlv(TAG.BMP_STRING, Buffer.from(s, 'utf16le').swap16());

const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
export const isPrintable = (s: string): boolean => PRINTABLE_RE.test(s);

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. Seconds precision, Z. */
export function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const body = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${p2(y % 100)}${body}`, 'latin1'));
  return generalizedTime(d);
}

/** GeneralizedTime whatever the year (CRL invalidityDate, OCSP times): YYYYMMDDHHMMSSZ, seconds precision. */
export function generalizedTime(d: Date): Uint8Array {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const s = `${String(d.getUTCFullYear()).padStart(4, '0')}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(s, 'latin1'));
}

/** BIT STRING for named-bit lists (KeyUsage): trailing zero bits trimmed per DER. */
export function namedBits(bits: number[]): Uint8Array {
  if (bits.length === 0) return Uint8Array.of(TAG.BIT_STRING, 1, 0);
  const max = Math.max(...bits);
  const nbytes = Math.floor(max / 8) + 1;
  const b = new Uint8Array(nbytes);
  for (const bit of bits) b[bit >> 3] = (b[bit >> 3] as number) | (0x80 >> (bit & 7));
  const unused = 7 - (max & 7);
  return bitString(b, unused);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return tlvBody(parts);
}

function tlvBody(parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------- DER strictness ----------
// The reader above is lenient where BER and DER differ but the value is still clear (long-form or
// padded lengths, padded INTEGERs, BOOLEANs other than 0xff). Go's crypto/x509 (cryptobyte) is not:
// it refuses such certificates as malformed, so Kubernetes would refuse them. derIssues finds them.

/** At most this many issues are reported per object: the first few say enough. */
const MAX_DER_ISSUES = 16;
const MAX_DER_DEPTH = 64;

/**
 * Where `buf` (one or more TLVs from `pos` to `limit`) is valid BER but not DER: non-minimal lengths,
 * non-minimal INTEGERs, BOOLEANs other than 0x00/0xff, BIT STRINGs with bad padding. Walks every
 * constructed node; primitive contents (OCTET STRING payloads) are not entered. Structural damage
 * is not reported here: the reader throws on it.
 */
export function derIssues(buf: Uint8Array, pos = 0, limit: number = buf.length, out: string[] = []): string[] {
  walkDer(buf, pos, limit, out, 0);
  return out;
}

function walkDer(buf: Uint8Array, pos: number, limit: number, out: string[], depth: number): void {
  while (pos < limit && out.length < MAX_DER_ISSUES) {
    if (pos + 2 > limit) return;
    const tag = buf[pos] as number;
    const first = buf[pos + 1] as number;
    let len = first;
    let p = pos + 2;
    if (first === 0x80) {
      out.push(`indefinite length at byte ${pos} (BER, not DER)`);
      return;
    }
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n > 4 || p + n > limit) return;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] as number);
      if (buf[p] === 0 || len < 0x80 || (n > 1 && len < 256 ** (n - 1)))
        out.push(`non-minimal length encoding at byte ${pos} (${n + 1} length bytes for ${len})`);
      p += n;
    }
    const end = p + len;
    if (end > limit) return;
    if (tag & 0x20) {
      if (depth < MAX_DER_DEPTH) walkDer(buf, p, end, out, depth + 1);
    } else if (tag === TAG.INTEGER || tag === TAG.ENUMERATED) {
      if (
        len > 1 &&
        ((buf[p] === 0 && ((buf[p + 1] as number) & 0x80) === 0) || (buf[p] === 0xff && ((buf[p + 1] as number) & 0x80) !== 0))
      )
        out.push(`non-minimal INTEGER at byte ${pos}`);
    } else if (tag === TAG.BOOLEAN) {
      if (len === 1 && buf[p] !== 0 && buf[p] !== 0xff) out.push(`BOOLEAN at byte ${pos} is 0x${hex2(buf[p] as number)}, not 0xff`);
    } else if (tag === TAG.BIT_STRING && len >= 1) {
      const unused = buf[p] as number;
      if (unused > 7 || (len === 1 && unused !== 0)) out.push(`BIT STRING at byte ${pos} has ${unused} unused bits`);
      else if (unused && ((buf[end - 1] as number) & ((1 << unused) - 1)) !== 0)
        out.push(`BIT STRING at byte ${pos} has non-zero padding bits`);
    }
    pos = end;
  }
}

/** Most extensions one certificate, CRL, CRL entry or CSR may carry (real ones: under 20). */
export const MAX_EXTENSIONS = 1024;

// ---------- warnings ----------

/** Warnings kept per object: a crafted object of a million duplicate parts must not make a million messages. */
export const MAX_OBJECT_WARNINGS = 100;

/** Add a warning once; past MAX_OBJECT_WARNINGS, one closing note and nothing more. */
export function pushWarning(list: string[], w: string): void {
  if (list.length < MAX_OBJECT_WARNINGS) {
    if (!list.includes(w)) list.push(w);
  } else if (list.length === MAX_OBJECT_WARNINGS) list.push('further warnings omitted');
}
