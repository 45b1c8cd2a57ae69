// Distinguished names: decode to attributes and an RFC 4514 string; encode from either.

import { InputError } from '../common/errors.ts';
import {
  decodeOid,
  decodeString,
  ia5,
  isPrintable,
  latin1Range,
  type Node,
  oid,
  printable,
  readNode,
  seq,
  seqList,
  setOf,
  TAG,
  utf8,
} from './der.ts';
import { attrOid, attrShortName, OID } from './oids.ts';

export interface NameAttribute {
  /** Dotted OID. */
  type: string;
  /** Short name (CN, O, ...) or the dotted OID when unknown. */
  name: string;
  value: string;
}

/** RDNs in encoded order (most general first, e.g. C, O, CN). Each RDN is usually one attribute. */
export type Rdns = NameAttribute[][];

export function decodeName(n: Node): Rdns {
  // Walks siblings in place: names are decoded for every certificate a scan touches.
  const rdns: Rdns = [];
  const buf = n.buf;
  const base = n.valueStart;
  // The name's contents as one latin1 string, made on the first ASCII value: such a value (what
  // decodeString returns as latin1) is a slice of it, one call into Buffer per name instead of one per value.
  let text: string | undefined;
  for (let p = base; p < n.end; ) {
    const set = readNode(buf, p, n.end);
    p = set.end;
    const rdn: NameAttribute[] = [];
    for (let q = set.valueStart; q < set.end; ) {
      const atv = readNode(buf, q, set.end);
      q = atv.end;
      const t = readNode(buf, atv.valueStart, atv.end);
      const type = decodeOid(t);
      const v = readNode(buf, t.end, atv.end);
      // decodeString's latin1 cases: ASCII UTF8String (up to 0x7f), the IA5-like types up to 0x7e.
      const max = v.tag === TAG.UTF8_STRING ? 0x7f : LATIN1_TAGS.has(v.tag) ? 0x7e : -1;
      let i = v.valueStart;
      if (max >= 0) while (i < v.end && (buf[i] as number) <= max) i++;
      let value: string;
      if (max >= 0 && i === v.end) {
        text ??= latin1Range(buf, base, n.end);
        value = text.slice(v.valueStart - base, v.end - base);
      } else value = decodeString(v);
      rdn.push({ type, name: attrShortName(type) ?? type, value });
    }
    rdns.push(rdn);
  }
  return rdns;
}

const LATIN1_TAGS: ReadonlySet<number> = new Set([TAG.PRINTABLE_STRING, TAG.IA5_STRING, TAG.VISIBLE_STRING, TAG.T61_STRING]);

const NEEDS_ESCAPE = /[\\",+;<>=\x00-\x1f]|^[ #]| $/;

function escapeValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  let s = v.replace(/[\\",+;<>=]/g, (c) => `\\${c}`);
  s = s.replace(/[\x00-\x1f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (s.startsWith(' ') || s.startsWith('#')) s = `\\${s}`;
  if (s.endsWith(' ') && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/** RFC 4514: last RDN first, comma separated. Inside a multi-valued RDN, reversed too, as openssl prints. */
export function rdnsToString(rdns: Rdns): string {
  let out = '';
  for (let i = rdns.length - 1; i >= 0; i--) {
    const rdn = rdns[i] as NameAttribute[];
    if (i !== rdns.length - 1) out += ',';
    for (let j = rdn.length - 1; j >= 0; j--) {
      const a = rdn[j] as NameAttribute;
      if (j !== rdn.length - 1) out += '+';
      out += `${a.name}=${escapeValue(a.value)}`;
    }
  }
  return out;
}

/** First value of an attribute, or undefined. */
export function nameGet(rdns: Rdns, type: string): string | undefined {
  for (const rdn of rdns) for (const a of rdn) if (a.type === type) return a.value;
  return undefined;
}
export function nameGetAll(rdns: Rdns, type: string): string[] {
  const out: string[] = [];
  for (const rdn of rdns) for (const a of rdn) if (a.type === type) out.push(a.value);
  return out;
}

/** Parse an RFC 4514 string ("CN=x,O=y") into RDNs in encoded order. Throws on bad syntax. */
export function parseDn(dn: string): Rdns {
  const rdnStrs = splitUnescaped(dn.trim(), ',');
  if (dn.trim() === '') return [];
  const rdns: Rdns = [];
  for (const rs of rdnStrs) {
    const rdn: NameAttribute[] = [];
    for (const part of splitUnescaped(rs, '+')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new InputError(`bad distinguished name component '${part.trim()}' (expected TYPE=value)`);
      const key = part.slice(0, eq).trim();
      const type = attrOid(key);
      if (!type) throw new InputError(`unknown attribute type '${key}' in distinguished name`);
      rdn.push({ type, name: attrShortName(type) ?? type, value: unescapeValue(part.slice(eq + 1).trim()) });
    }
    rdns.unshift(rdn);
  }
  return rdns;
}

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + (s[i + 1] as string);
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unescapeValue(v: string): string {
  return v.replace(/\\([0-9a-fA-F]{2}|.)/g, (_, x: string) => (x.length === 2 ? String.fromCharCode(Number.parseInt(x, 16)) : x));
}

/** Build RDNs from simple fields, in the conventional order C, ST, L, O, OU, CN. */
export function rdnsFromFields(f: {
  C?: string;
  ST?: string;
  L?: string;
  O?: string | string[];
  OU?: string | string[];
  CN?: string;
}): Rdns {
  const rdns: Rdns = [];
  const add = (type: string, v: string | string[] | undefined): void => {
    if (v === undefined) return;
    for (const value of Array.isArray(v) ? v : [v]) rdns.push([{ type, name: attrShortName(type) ?? type, value }]);
  };
  add(OID.C, f.C);
  add(OID.ST, f.ST);
  add(OID.L, f.L);
  add(OID.O, f.O);
  add(OID.OU, f.OU);
  add(OID.CN, f.CN);
  return rdns;
}

/** Go's and openssl's rule: PrintableString when the value allows it, else UTF8String; email as IA5String. */
function encodeValue(type: string, value: string): Uint8Array {
  if (type === OID.EMAIL || type === OID.DC) return ia5(value);
  if (type === OID.C) return printable(value);
  return isPrintable(value) ? printable(value) : utf8(value);
}

export function encodeName(rdns: Rdns): Uint8Array {
  return seqList(rdns.map((rdn) => setOf(...rdn.map((a) => seq(oid(a.type), encodeValue(a.type, a.value))))));
}
