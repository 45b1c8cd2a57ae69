// X.509 extensions: decoders to plain data and encoders from plain data, side by side.

import { InputError } from '../common/errors.ts';
import { isIP } from '../common/ip.ts';
import {
  bitStringBytes,
  bool,
  DerError,
  decodeBool,
  decodeOid,
  decodeSmallInt,
  decodeString,
  explicit,
  hexOf,
  ia5,
  implicit,
  implicitConstructed,
  integer,
  latin1Range,
  MAX_EXTENSIONS,
  type Node,
  namedBits,
  octetString,
  oid,
  parse,
  pushWarning,
  readNode,
  seq,
  seqList,
  TAG,
} from './der.ts';
import { decodeName, encodeName, parseDn, rdnsToString } from './name.ts';
import { ekuName, extName, KEY_USAGE_BITS, type KeyUsage, OID } from './oids.ts';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
  uri: string[];
  email: string[];
  /** directoryName and otherName entries, as strings. */
  other: string[];
}

export const emptySans = (): SubjectAltNames => ({ dns: [], ip: [], uri: [], email: [], other: [] });

export interface BasicConstraints {
  ca: boolean;
  pathLen?: number;
}

export interface NameConstraintSet {
  dns: string[];
  ip: string[]; // CIDR
  uri: string[];
  email: string[];
  directory: string[];
}
export interface NameConstraints {
  permitted: NameConstraintSet;
  excluded: NameConstraintSet;
}
export const emptyConstraintSet = (): NameConstraintSet => ({ dns: [], ip: [], uri: [], email: [], directory: [] });

export interface AuthorityInfoAccess {
  ocsp: string[];
  caIssuers: string[];
}

// ---------- IP helpers ----------

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return `invalid(${Buffer.from(b).toString('hex')})`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // longest run of zeros (length >= 2) becomes '::'
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] === 0) {
      let j = i;
      while (j < 8 && words[j] === 0) j++;
      if (j - i > bestLen && j - i >= 2) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    } else i++;
  }
  const hx = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hx(words);
  return `${hx(words.slice(0, bestStart))}::${hx(words.slice(bestStart + bestLen))}`;
}

export function parseIp(s: string): Uint8Array {
  // src/common/ip.ts: node:net's answers without its IPv6 pattern where a string cannot be IPv6 (start-up).
  const v = isIP(s);
  if (v === 4) return Uint8Array.from(s.split('.').map(Number));
  if (v === 6) {
    let str = s;
    // embedded IPv4 tail
    const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(str);
    let tail: number[] = [];
    if (m?.[1] && m[2]) {
      const v4 = m[2].split('.').map(Number);
      tail = [((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number)];
      str = `${m[1]}0:0`;
    }
    const [head, rest] = str.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
    const fill = rest !== undefined ? 8 - h.length - r.length : 0;
    const words = [...h, ...Array(fill).fill('0'), ...r].map((x) => Number.parseInt(x, 16));
    if (tail.length) words.splice(6, 2, ...tail);
    const out = new Uint8Array(16);
    words.forEach((w, i) => {
      out[i * 2] = w >> 8;
      out[i * 2 + 1] = w & 0xff;
    });
    return out;
  }
  throw new InputError(`'${s}' is not an IP address`);
}

function maskToPrefix(mask: Uint8Array): number {
  let n = 0;
  for (const b of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      if (b & (1 << bit)) n++;
      else return n;
    }
  }
  return n;
}

/** "10.0.0.0/8" -> address bytes followed by mask bytes (RFC 5280 name constraint form). */
export function parseCidr(s: string): Uint8Array {
  const [addr, pfx] = s.split('/');
  const a = parseIp(addr ?? '');
  const bits = pfx === undefined ? a.length * 8 : Number(pfx);
  if (!Number.isInteger(bits) || bits < 0 || bits > a.length * 8) throw new InputError(`bad CIDR '${s}'`);
  const mask = new Uint8Array(a.length);
  for (let i = 0; i < bits; i++) mask[i >> 3] = (mask[i >> 3] as number) | (0x80 >> (i & 7));
  const out = new Uint8Array(a.length * 2);
  out.set(
    a.map((x, i) => x & (mask[i] as number)),
    0,
  );
  out.set(mask, a.length);
  return out;
}

// ---------- GeneralName ----------

export type GeneralName =
  | { type: 'dns' | 'uri' | 'email'; value: string }
  | { type: 'ip'; value: string; bytes: Uint8Array }
  | { type: 'directory'; value: string }
  | { type: 'other'; value: string };

export function decodeGeneralName(n: Node): GeneralName {
  switch (n.tag) {
    case 0x81:
      return { type: 'email', value: decodeString(n) };
    case 0x82:
      return { type: 'dns', value: decodeString(n) };
    case 0x86:
      return { type: 'uri', value: decodeString(n) };
    case 0x87:
      return { type: 'ip', value: formatIp(n.value), bytes: n.value };
    case 0xa4:
      return { type: 'directory', value: rdnsToString(decodeName(n.inner())) };
    case 0xa0: {
      const typeOid = decodeOid(n.child(0));
      return { type: 'other', value: `othername:${typeOid}` };
    }
    case 0x88:
      return { type: 'other', value: `registeredID:${decodeOid(n)}` };
    default:
      return { type: 'other', value: `tag${n.tag & 0x1f}` };
  }
}

export function encodeGeneralName(g: { type: string; value: string }): Uint8Array {
  switch (g.type) {
    case 'email':
      return implicit(1, Buffer.from(g.value, 'latin1'));
    case 'dns':
      return implicit(2, Buffer.from(g.value, 'latin1'));
    case 'uri':
      return implicit(6, Buffer.from(g.value, 'latin1'));
    case 'ip':
      return implicit(7, g.value.includes('/') ? parseCidr(g.value) : parseIp(g.value));
    case 'directory':
      return explicit(4, encodeName(parseDn(g.value)));
    default:
      throw new InputError(`cannot encode general name of type ${g.type}`);
  }
}

// ---------- decoders ----------

export function decodeSans(value: Node): SubjectAltNames {
  const out = emptySans();
  const list = value.expect(TAG.SEQUENCE, 'subjectAltName');
  const buf = list.buf;
  const base = list.valueStart;
  // The whole list as one latin1 string, made on the first DNS name: each DNS name in printable ASCII
  // (what decodeString returns as latin1) is a slice of it, so a certificate with dozens of names makes one
  // call into Buffer's string code instead of one per name. Any other DNS name is decoded on its own.
  let text: string | undefined;
  // Walked in place; the common names skip the GeneralName record (a certificate may carry dozens).
  for (let pos = base; pos < list.end; ) {
    const gn = readNode(buf, pos, list.end);
    pos = gn.end;
    if (gn.tag === 0x82) {
      const s = gn.valueStart;
      const e = gn.end;
      let i = s;
      while (i < e && (buf[i] as number) <= 0x7e) i++;
      if (i === e) {
        text ??= latin1Range(buf, base, list.end);
        out.dns.push(text.slice(s - base, e - base));
      } else out.dns.push(decodeString(gn));
    } else if (gn.tag === 0x87) out.ip.push(formatIp(gn.value));
    else {
      const g = decodeGeneralName(gn);
      if (g.type === 'directory') out.other.push(`DirName:${g.value}`);
      else if (g.type === 'other') out.other.push(g.value);
      else out[g.type].push(g.value);
    }
  }
  return out;
}

export function decodeKeyUsage(value: Node): KeyUsage[] {
  const bits = bitStringBytes(value);
  const out: KeyUsage[] = [];
  for (let i = 0; i < KEY_USAGE_BITS.length; i++) {
    const byte = bits[i >> 3];
    if (byte !== undefined && byte & (0x80 >> (i & 7))) out.push(KEY_USAGE_BITS[i] as KeyUsage);
  }
  return out;
}

export function decodeExtKeyUsage(value: Node): string[] {
  return value
    .expect(TAG.SEQUENCE, 'extKeyUsage')
    .children()
    .map((c) => ekuName(decodeOid(c)));
}

export function decodeBasicConstraints(value: Node): BasicConstraints {
  const out: BasicConstraints = { ca: false };
  for (const c of value.expect(TAG.SEQUENCE, 'basicConstraints').children()) {
    if (c.tag === TAG.BOOLEAN) out.ca = decodeBool(c);
    else if (c.tag === TAG.INTEGER) out.pathLen = decodeSmallInt(c);
  }
  return out;
}

export function decodeAkiKeyId(value: Node): string | undefined {
  for (const c of value.expect(TAG.SEQUENCE, 'authorityKeyIdentifier').children()) {
    if (c.tag === 0x80) return hexOf(c.value);
  }
  return undefined;
}

export function decodeNameConstraints(value: Node): NameConstraints {
  const out: NameConstraints = { permitted: emptyConstraintSet(), excluded: emptyConstraintSet() };
  for (const part of value.expect(TAG.SEQUENCE, 'nameConstraints').children()) {
    const set = part.tag === 0xa0 ? out.permitted : part.tag === 0xa1 ? out.excluded : undefined;
    if (!set) continue;
    for (const subtree of part.children()) {
      const base = subtree.child(0);
      if (base.tag === 0x87) {
        const v = base.value;
        const half = v.length / 2;
        set.ip.push(`${formatIp(v.subarray(0, half))}/${maskToPrefix(v.subarray(half))}`);
      } else {
        const g = decodeGeneralName(base);
        if (g.type === 'dns' || g.type === 'uri' || g.type === 'email') set[g.type].push(g.value);
        else if (g.type === 'directory') set.directory.push(g.value);
      }
    }
  }
  return out;
}

export function decodeCrlDistributionPoints(value: Node): string[] {
  const out: string[] = [];
  for (const dp of value.expect(TAG.SEQUENCE, 'crlDistributionPoints').children()) {
    for (const f of dp.children()) {
      if (f.tag !== 0xa0) continue;
      const name = f.inner();
      if (name.tag !== 0xa0) continue; // nameRelativeToCRLIssuer: not a locator
      for (const gn of name.children()) {
        const g = decodeGeneralName(gn);
        out.push(g.value);
      }
    }
  }
  return out;
}

export function decodeAia(value: Node): AuthorityInfoAccess {
  const out: AuthorityInfoAccess = { ocsp: [], caIssuers: [] };
  for (const ad of value.expect(TAG.SEQUENCE, 'authorityInfoAccess').children()) {
    const method = decodeOid(ad.child(0));
    const loc = decodeGeneralName(ad.child(1)).value;
    if (method === OID.ocsp) out.ocsp.push(loc);
    else if (method === OID.caIssuers) out.caIssuers.push(loc);
  }
  return out;
}

export function decodePolicies(value: Node): string[] {
  return value
    .expect(TAG.SEQUENCE, 'certificatePolicies')
    .children()
    .map((pi) => decodeOid(pi.child(0)));
}

/** Parse an extension's OCTET STRING contents as exactly one DER value. */
export function extValue(octets: Uint8Array): Node {
  return parse(octets);
}

/**
 * Decode an Extensions SEQUENCE (CSR extensionRequest, CRL and CRL entry extensions).
 * Structural damage throws DerError; DER quirks become warnings, as Certificate does.
 */
export function decodeExtensionList(exts: Node, warnings: string[]): Extension[] {
  const out: Extension[] = [];
  const seen = new Set<string>();
  exts.expect(TAG.SEQUENCE, 'extensions');
  for (let pos = exts.valueStart; pos < exts.end; ) {
    const e = readNode(exts.buf, pos, exts.end);
    pos = e.end;
    if (out.length >= MAX_EXTENSIONS)
      throw new DerError(`too many extensions (more than ${MAX_EXTENSIONS}): too large to process`, e.start);
    e.expect(TAG.SEQUENCE, 'extension');
    const o = decodeOid(e.child(0).expect(TAG.OID, 'extension id'));
    let valueNode = e.child(1);
    let critical = false;
    if (valueNode.tag === TAG.BOOLEAN) {
      critical = decodeBool(valueNode);
      if (!critical) pushWarning(warnings, `extension ${extName(o)} encodes critical=FALSE explicitly (not DER)`);
      valueNode = e.child(2);
    }
    valueNode.expect(TAG.OCTET_STRING, `extension ${o} value`);
    if (valueNode.end !== e.end) throw new DerError(`trailing data in extension ${o}`, valueNode.end);
    if (seen.has(o)) pushWarning(warnings, `duplicate extension ${extName(o)}`);
    seen.add(o);
    out.push({ oid: o, critical, value: valueNode.value });
  }
  return out;
}

/** Decode one extension from a list; a malformed value becomes a warning and reads as absent. */
export function decodeExtensionValue<T>(exts: readonly Extension[], o: string, f: (n: Node) => T, warnings: string[]): T | undefined {
  const e = exts.find((x) => x.oid === o);
  if (!e) return undefined;
  try {
    return f(extValue(e.value));
  } catch (err) {
    const w = `malformed ${extName(o)} extension: ${(err as Error).message}`;
    if (!warnings.includes(w)) pushWarning(warnings, w);
    return undefined;
  }
}

// ---------- encoders ----------

export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array; // DER of the extension value (inside the OCTET STRING)
}

export function encodeExtension(e: Extension): Uint8Array {
  return e.critical ? seq(oid(e.oid), bool(true), octetString(e.value)) : seq(oid(e.oid), octetString(e.value));
}

export function encodeBasicConstraints(bc: BasicConstraints): Uint8Array {
  const parts: Uint8Array[] = [];
  if (bc.ca) parts.push(bool(true));
  if (bc.ca && bc.pathLen !== undefined) parts.push(integer(bc.pathLen));
  return seq(...parts);
}

export function encodeKeyUsage(ku: readonly KeyUsage[]): Uint8Array {
  return namedBits(
    ku.map((k) => {
      const i = KEY_USAGE_BITS.indexOf(k);
      if (i < 0) throw new InputError(`unknown key usage '${k}'`);
      return i;
    }),
  );
}

export function encodeExtKeyUsage(oids: readonly string[]): Uint8Array {
  return seqList(oids.map((o) => oid(o)));
}

export function encodeSans(s: Partial<SubjectAltNames>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const v of s.dns ?? []) parts.push(encodeGeneralName({ type: 'dns', value: v }));
  for (const v of s.ip ?? []) parts.push(encodeGeneralName({ type: 'ip', value: v }));
  for (const v of s.email ?? []) parts.push(encodeGeneralName({ type: 'email', value: v }));
  for (const v of s.uri ?? []) parts.push(encodeGeneralName({ type: 'uri', value: v }));
  return seqList(parts);
}

export function encodeAki(keyId: Uint8Array): Uint8Array {
  return seq(implicit(0, keyId));
}

export function encodeNameConstraints(nc: { permitted?: Partial<NameConstraintSet>; excluded?: Partial<NameConstraintSet> }): Uint8Array {
  const subtrees = (set: Partial<NameConstraintSet>): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (const v of set.dns ?? []) out.push(seq(encodeGeneralName({ type: 'dns', value: v })));
    for (const v of set.ip ?? []) out.push(seq(implicit(7, parseCidr(v))));
    for (const v of set.email ?? []) out.push(seq(encodeGeneralName({ type: 'email', value: v })));
    for (const v of set.uri ?? []) out.push(seq(encodeGeneralName({ type: 'uri', value: v })));
    for (const v of set.directory ?? []) out.push(seq(encodeGeneralName({ type: 'directory', value: v })));
    return out;
  };
  const parts: Uint8Array[] = [];
  const p = subtrees(nc.permitted ?? {});
  const e = subtrees(nc.excluded ?? {});
  if (p.length) parts.push(implicitConstructed(0, ...p));
  if (e.length) parts.push(implicitConstructed(1, ...e));
  if (!parts.length) throw new InputError('name constraints need at least one permitted or excluded subtree');
  return seq(...parts);
}

export function encodeCrlDistributionPoints(urls: readonly string[]): Uint8Array {
  return seq(...urls.map((u) => seq(explicit(0, implicitConstructed(0, implicit(6, Buffer.from(u, 'latin1')))))));
}

export function encodeAia(a: Partial<AuthorityInfoAccess>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const u of a.ocsp ?? []) parts.push(seq(oid(OID.ocsp), implicit(6, Buffer.from(u, 'latin1'))));
  for (const u of a.caIssuers ?? []) parts.push(seq(oid(OID.caIssuers), implicit(6, Buffer.from(u, 'latin1'))));
  return seq(...parts);
}

export function encodePolicies(oids: readonly string[]): Uint8Array {
  return seq(...oids.map((o) => seq(oid(o))));
}

export { DerError, ia5 };
