// Certificate profiles from the short text a person types (command-line flags, later config fields):
// SANs, key types, key usages, extended key usages, validity, path length, name constraints, and the
// CA and leaf presets built from them. Pure: no I/O. Bad text is an InputError naming the value.
import { isIP } from 'node:net';
import { InputError } from '../common/errors.ts';
import type { CertProfile } from './build.ts';
import { type NameConstraintSet, parseCidr, type SubjectAltNames } from './extensions.ts';
import { KEY_TYPES, type KeyType } from './keys.ts';
import { ekuOid, KEY_USAGE_BITS, type KeyUsage } from './oids.ts';

/** Split repeatable, comma-separated lists: ['a,b', ' c '] -> ['a', 'b', 'c']. */
export function splitList(list: readonly string[] | string | undefined): string[] {
  const items = typeof list === 'string' ? [list] : (list ?? []);
  return items
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

const TYPED = /^(DNS|IP|URI|email):(.*)$/i;

/** `DNS:x`, `IP:1.2.3.4`, `URI:spiffe://…`, `email:a@b`; an untyped item is an IP when it parses as one, else a DNS name. */
export function parseSans(list: readonly string[]): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], ip: [], uri: [], email: [], other: [] };
  for (const item of splitList(list)) {
    const m = TYPED.exec(item);
    const type = m ? (m[1] as string).toLowerCase() : isIP(item) ? 'ip' : 'dns';
    const value = m ? (m[2] as string).trim() : item;
    if (value === '') throw new InputError(`SAN '${item}' has no value`);
    if (type === 'ip' && !isIP(value)) throw new InputError(`SAN '${item}': not an IP address`);
    if (type === 'dns' && !/^[A-Za-z0-9*_.-]+$/.test(value)) throw new InputError(`SAN '${item}': not a DNS name`);
    if (type === 'email' && !value.includes('@')) throw new InputError(`SAN '${item}': not an email address`);
    if (type === 'uri' && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) throw new InputError(`SAN '${item}': not a URI (no scheme)`);
    (out[type as 'dns' | 'ip' | 'uri' | 'email'] as string[]).push(value);
  }
  return out;
}

export function parseKeyType(s: string): KeyType {
  if (!(KEY_TYPES as readonly string[]).includes(s)) throw new InputError(`key type '${s}' is not one of ${KEY_TYPES.join(', ')}`);
  return s as KeyType;
}

export function parseKeyUsages(s: string | undefined): KeyUsage[] | undefined {
  if (s === undefined) return undefined;
  const out = splitList(s).map((u) => {
    const k = KEY_USAGE_BITS.find((b) => b.toLowerCase() === u.toLowerCase());
    if (!k) throw new InputError(`key usage '${u}' is not one of ${KEY_USAGE_BITS.join(', ')}`);
    return k;
  });
  if (!out.length) throw new InputError('key usage list is empty');
  return out;
}

/** EKU names (serverAuth, clientAuth, …) or dotted OIDs; checked here so a typo is not found at signing time. */
export function parseExtKeyUsages(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  const out = splitList(s);
  for (const e of out) if (!ekuOid(e)) throw new InputError(`extended key usage '${e}' is not a known name or an OID`);
  if (!out.length) throw new InputError('extended key usage list is empty');
  return out;
}

const MAX_DAYS = 100 * 366;

export function parseDays(s: string | number | undefined, fallback: number): number {
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`days '${s}' must be a positive number`);
  if (n > MAX_DAYS) throw new InputError(`days '${s}' is more than 100 years`);
  return n;
}

export function parsePathLen(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,3}$/.test(s.trim())) throw new InputError(`path length '${s}' must be a whole number from 0 to 999`);
  return Number(s.trim());
}

/**
 * Name constraint subtrees: `DNS:example.com`, `IP:10.0.0.0/8`, `email:example.com`, `URI:.example.com`,
 * or untyped (a CIDR or IP is an IP range, anything with '@' an email constraint, the rest DNS).
 */
export function parseConstraintSet(list: string | readonly string[] | undefined): NameConstraintSet {
  const r: NameConstraintSet = { dns: [], ip: [], uri: [], email: [], directory: [] };
  for (const item of splitList(list)) {
    const m = TYPED.exec(item);
    const value = m ? (m[2] as string).trim() : item;
    const type = m ? (m[1] as string).toLowerCase() : value.includes('/') || isIP(value) ? 'ip' : value.includes('@') ? 'email' : 'dns';
    if (value === '') throw new InputError(`name constraint '${item}' has no value`);
    if (type === 'ip') {
      try {
        parseCidr(value);
      } catch {
        throw new InputError(`name constraint '${item}': not an IP address or CIDR range`);
      }
      r.ip.push(value);
    } else if (type === 'dns') {
      if (!/^\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(value)) throw new InputError(`name constraint '${item}': not a DNS name`);
      r.dns.push(value);
    } else if (type === 'email') r.email.push(value);
    else r.uri.push(value);
  }
  return r;
}

export function parseNameConstraints(permit: string | undefined, exclude: string | undefined): CertProfile['nameConstraints'] {
  if (permit === undefined && exclude === undefined) return undefined;
  const permitted = parseConstraintSet(permit);
  const excluded = parseConstraintSet(exclude);
  const count = (s: NameConstraintSet): number => s.dns.length + s.ip.length + s.uri.length + s.email.length + s.directory.length;
  if (count(permitted) + count(excluded) === 0) throw new InputError('name constraints need at least one permitted or excluded name');
  return { permitted, excluded };
}

/** The leaf presets: server, client, peer (both), as kubeadm uses them. */
export const LEAF_PROFILES: Readonly<Record<string, readonly string[]>> = {
  server: ['serverAuth'],
  client: ['clientAuth'],
  peer: ['serverAuth', 'clientAuth'],
};
const LEAF_KEY_USAGE: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment'];
const CA_KEY_USAGE: readonly KeyUsage[] = ['digitalSignature', 'keyCertSign', 'cRLSign'];

export function leafUsages(o: { profile?: string; usage?: string; eku?: string }): { keyUsage: KeyUsage[]; extKeyUsage: string[] } {
  const name = o.profile ?? 'server';
  const base = LEAF_PROFILES[name];
  if (!base) throw new InputError(`profile '${name}' is not one of ${Object.keys(LEAF_PROFILES).join(', ')}`);
  return { keyUsage: parseKeyUsages(o.usage) ?? [...LEAF_KEY_USAGE], extKeyUsage: parseExtKeyUsages(o.eku) ?? [...base] };
}

/** What every issued certificate is described by, as text. */
export interface ProfileSpec {
  subject: string;
  sans?: readonly string[];
  days?: string | number;
  usage?: string;
  eku?: string;
  crlUrls?: readonly string[];
  ocspUrls?: readonly string[];
  caIssuersUrls?: readonly string[];
}

export interface CaSpec extends ProfileSpec {
  pathLen?: string;
  permit?: string;
  exclude?: string;
}

export interface LeafSpec extends ProfileSpec {
  profile?: string;
}

function checkUrls(what: string, urls: readonly string[] | undefined): string[] {
  const out = [...(urls ?? [])];
  for (const u of out) {
    if (!URL.canParse(u)) throw new InputError(`${what} '${u}' is not a URL`);
  }
  return out;
}

function common(s: ProfileSpec, days: number): CertProfile {
  if (s.subject.trim() === '') throw new InputError('subject is empty');
  return {
    subject: s.subject,
    sans: parseSans(s.sans ?? []),
    validity: { days: parseDays(s.days, days) },
    crlDistributionPoints: checkUrls('CRL URL', s.crlUrls),
    authorityInfoAccess: { ocsp: checkUrls('OCSP URL', s.ocspUrls), caIssuers: checkUrls('CA issuers URL', s.caIssuersUrls) },
  };
}

/** A CA: 10 years by default, keyCertSign and cRLSign, optional path length and name constraints. */
export function caProfile(s: CaSpec): CertProfile {
  const p: CertProfile = { ...common(s, 3650), ca: true, keyUsage: parseKeyUsages(s.usage) ?? [...CA_KEY_USAGE] };
  const eku = parseExtKeyUsages(s.eku);
  if (eku) p.extKeyUsage = eku;
  const pathLen = parsePathLen(s.pathLen);
  if (pathLen !== undefined) p.pathLen = pathLen;
  const nc = parseNameConstraints(s.permit, s.exclude);
  if (nc) p.nameConstraints = nc;
  return p;
}

/** A leaf: one year by default, usages and EKUs from the preset unless given. */
export function leafProfile(s: LeafSpec): CertProfile {
  return { ...common(s, 365), ...leafUsages(s) };
}

/**
 * How a CSR's requested profile is completed when signing: explicit usages and SANs win, then what the
 * CSR asks for, then the preset.
 */
export function csrSigningPolicy(s: {
  profile?: string;
  usage?: string;
  eku?: string;
  sans?: readonly string[];
}): (requested: CertProfile) => CertProfile {
  const preset = leafUsages({ ...(s.profile !== undefined ? { profile: s.profile } : {}) });
  const usage = parseKeyUsages(s.usage);
  const eku = parseExtKeyUsages(s.eku);
  const sans = s.sans?.length ? parseSans(s.sans) : undefined;
  return (p) => ({
    ...p,
    keyUsage: usage ?? p.keyUsage ?? preset.keyUsage,
    extKeyUsage: eku ?? p.extKeyUsage ?? preset.extKeyUsage,
    ...(sans ? { sans } : {}),
  });
}
