// Name matching: the leaf against a requested host, and certificates against a CA's name constraints
// (RFC 5280 4.2.1.10, with openssl's reading of the leading-dot forms).
import { isIP } from 'node:net';
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import { type NameConstraintSet, type NameConstraints, parseCidr, parseIp } from '../x509/extensions.ts';
import { nameGet, nameGetAll, parseDn, type Rdns } from '../x509/name.ts';
import { OID } from '../x509/oids.ts';

export type HostTarget = { type: 'dns'; value: string } | { type: 'ip'; value: string; bytes: Uint8Array } | { type: 'uri'; value: string };

export function parseHost(h: string): HostTarget {
  const s = h.trim();
  if (s === '') throw new InputError('empty host');
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (isIP(bare)) return { type: 'ip', value: bare, bytes: parseIp(bare) };
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return { type: 'uri', value: s };
  const dns = s.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9_*-]+(\.[a-z0-9_-]+)*$/.test(dns)) throw new InputError(`'${h}' is not a DNS name, IP address or URI`);
  return { type: 'dns', value: dns };
}

/** Go's rule: a wildcard is a whole left-most label and matches exactly one label. */
export function dnsMatchesPattern(host: string, pattern: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p === host) return true;
  if (!p.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot) === p.slice(1) && !p.slice(2).includes('*');
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Does the leaf name this host? No fallback to the subject CN (Go's behaviour since 1.15). */
export function matchesHost(leaf: Certificate, host: HostTarget): boolean {
  const sans = leaf.sans;
  if (host.type === 'dns') return sans.dns.some((d) => dnsMatchesPattern(host.value, d));
  if (host.type === 'uri') return sans.uri.includes(host.value);
  return sans.ip.some((ip) => {
    try {
      return sameBytes(parseIp(ip), host.bytes);
    } catch {
      return false;
    }
  });
}

export function describeNames(c: Certificate): string {
  const s = c.sans;
  const parts = [
    ...s.dns.map((d) => `DNS:${d}`),
    ...s.ip.map((i) => `IP:${i}`),
    ...s.uri.map((u) => `URI:${u}`),
    ...s.email.map((e) => `email:${e}`),
  ];
  return parts.length ? parts.join(', ') : 'none';
}

// ---------- name constraints ----------

type NameType = 'dns' | 'ip' | 'uri' | 'email' | 'directory';

export interface ConstraintViolation {
  type: NameType;
  name: string;
  /** 'permitted': outside every permitted subtree; 'excluded': inside an excluded one. */
  kind: 'permitted' | 'excluded';
  subtrees: string[];
}

function dnsWithin(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const b = base.toLowerCase();
  if (b === '') return true;
  if (b.startsWith('.')) return n.length > b.length && n.endsWith(b);
  return n === b || n.endsWith(`.${b}`);
}

function ipWithin(ip: string, cidr: string): boolean {
  try {
    const a = parseIp(ip);
    const c = parseCidr(cidr);
    if (c.length !== a.length * 2) return false;
    for (let i = 0; i < a.length; i++) if (((a[i] as number) & (c[a.length + i] as number)) !== c[i]) return false;
    return true;
  } catch {
    return false;
  }
}

function hostWithin(host: string, base: string): boolean {
  const h = host.toLowerCase();
  const b = base.toLowerCase();
  if (b.startsWith('.')) return h.length > b.length && h.endsWith(b);
  return h === b;
}

function emailWithin(email: string, base: string): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  if (base.includes('@')) {
    const bat = base.lastIndexOf('@');
    return email.slice(0, at) === base.slice(0, bat) && email.slice(at + 1).toLowerCase() === base.slice(bat + 1).toLowerCase();
  }
  return hostWithin(email.slice(at + 1), base);
}

/** The host of a URI, or undefined when it has none (openssl then rejects: we do the same). */
function uriHost(uri: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(uri);
  const h = m?.[1];
  return h ? h : undefined;
}

function uriWithin(uri: string, base: string): boolean {
  const h = uriHost(uri);
  return h !== undefined && hostWithin(h, base);
}

const normValue = (v: string): string => v.trim().replace(/\s+/g, ' ').toLowerCase();

function dnWithin(name: Rdns, base: Rdns | undefined): boolean {
  if (base === undefined) return false;
  const b = base;
  if (b.length > name.length) return false;
  return b.every((rdn, i) => {
    const other = name[i] as Rdns[number];
    return (
      rdn.length === other.length &&
      rdn.every((a, j) => a.type === other[j]?.type && normValue(a.value) === normValue(other[j]?.value ?? ''))
    );
  });
}

function parseDnOrUndefined(base: string): Rdns | undefined {
  try {
    return parseDn(base);
  } catch {
    return undefined;
  }
}

const WITHIN: Record<Exclude<NameType, 'directory'>, (n: string, b: string) => boolean> = {
  dns: dnsWithin,
  ip: ipWithin,
  uri: uriWithin,
  email: emailWithin,
};

/** openssl's test for a CN that should be treated as a DNS name: LDH labels, at least one inner dot. */
export function cnLooksLikeDns(cn: string): boolean {
  return /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)+$/.test(cn);
}

/** The names of `c` that name constraints apply to. */
function constrainedNames(c: Certificate, isLeaf: boolean): { type: NameType; name: string }[] {
  const s = c.sans;
  const out: { type: NameType; name: string }[] = [];
  for (const d of s.dns) out.push({ type: 'dns', name: d });
  for (const i of s.ip) out.push({ type: 'ip', name: i });
  for (const u of s.uri) out.push({ type: 'uri', name: u });
  for (const e of s.email) out.push({ type: 'email', name: e });
  for (const e of nameGetAll(c.subjectRdns, OID.EMAIL)) out.push({ type: 'email', name: e });
  // Like openssl: a leaf without DNS SANs has its CN checked when the CN looks like a host name.
  const cn = isLeaf && s.dns.length === 0 ? nameGet(c.subjectRdns, OID.CN) : undefined;
  if (cn !== undefined && cnLooksLikeDns(cn)) out.push({ type: 'dns', name: cn });
  return out;
}

/**
 * Most name-against-subtree comparisons one check may make: Go's budget (maxConstraintComparisons).
 * 3000 names under 3000 subtrees is 9 million comparisons and hundreds of MB of messages: refused.
 */
export const MAX_CONSTRAINT_COMPARISONS = 250_000;
/** Violations reported per certificate and CA, and subtrees quoted per violation: bounded output. */
export const MAX_VIOLATIONS = 50;
export const MAX_SUBTREES_SHOWN = 10;

function shownSubtrees(list: readonly string[]): string[] {
  if (list.length <= MAX_SUBTREES_SHOWN) return [...list];
  return [...list.slice(0, MAX_SUBTREES_SHOWN), `and ${list.length - MAX_SUBTREES_SHOWN} more`];
}

export function checkNameConstraints(c: Certificate, nc: NameConstraints, isLeaf: boolean): ConstraintViolation[] {
  const names = constrainedNames(c, isLeaf);
  const subtrees = (type: NameType): number =>
    nc.permitted[type as keyof NameConstraintSet].length + nc.excluded[type as keyof NameConstraintSet].length;
  let comparisons = c.subjectRdns.length > 0 ? subtrees('directory') : 0;
  for (const n of names) comparisons += subtrees(n.type);
  if (comparisons > MAX_CONSTRAINT_COMPARISONS)
    throw new InputError(
      `too large: checking the ${names.length} names of ${c.subject === '' ? '(empty name)' : c.subject} against the name constraints above it needs ${comparisons} comparisons, over the budget of ${MAX_CONSTRAINT_COMPARISONS}`,
    );
  const out: ConstraintViolation[] = [];
  let more = 0;
  const test = (type: NameType, name: string, within: (b: string) => boolean): void => {
    const permitted = nc.permitted[type as keyof NameConstraintSet];
    const excluded = nc.excluded[type as keyof NameConstraintSet];
    const found: ConstraintViolation[] = [];
    if (permitted.length > 0 && !permitted.some(within)) found.push({ type, name, kind: 'permitted', subtrees: shownSubtrees(permitted) });
    const hit = excluded.filter(within);
    if (hit.length > 0) found.push({ type, name, kind: 'excluded', subtrees: shownSubtrees(hit) });
    for (const v of found) {
      if (out.length < MAX_VIOLATIONS) out.push(v);
      else more++;
    }
  };
  if (c.subjectRdns.length > 0) {
    const parsed = new Map<string, Rdns | undefined>();
    const base = (b: string): Rdns | undefined => {
      if (!parsed.has(b)) parsed.set(b, parseDnOrUndefined(b));
      return parsed.get(b);
    };
    test('directory', c.subject, (b) => dnWithin(c.subjectRdns, base(b)));
  }
  for (const { type, name } of names) {
    if (type === 'directory') continue;
    const f = WITHIN[type];
    test(type, name, (b) => f(name, b));
  }
  if (more > 0) {
    // Reported as one more violation so every consumer shows that the list was cut.
    const last = out[out.length - 1] as ConstraintViolation;
    out.push({ ...last, name: `(and ${more} more names)`, subtrees: last.subtrees });
  }
  return out;
}
