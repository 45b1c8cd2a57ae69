// Policy per CA, after cert-manager approver-policy's model: which names may be requested (DNS with
// wildcards, IP ranges, URIs such as SPIFFE IDs, email), which profiles, how long, which keys, and who
// may ask. Nothing is allowed that a policy does not list: a new CA issues nothing until names are allowed.
import { z } from 'zod';
import { InputError } from '../common/errors.ts';
import { parseCidr, parseIp } from '../x509/extensions.ts';
import type { PublicKeyInfo } from '../x509/keys.ts';
import { KEY_TYPES, keyTypeFromInfo } from '../x509/keys.ts';
import { CelError, type CelProgram, compileCel, MAX_CEL_LENGTH, toCel } from './cel.ts';

export const PROFILES = ['server', 'client', 'peer'] as const;
export type Profile = (typeof PROFILES)[number];

export const policySchema = z
  .object({
    /** DNS names; a `*` label matches exactly one label, a leading `**` one or more. */
    dns: z.array(z.string().min(1).max(253)).max(1000).default([]),
    /** CIDRs or single addresses. */
    ips: z.array(z.string().min(1)).max(1000).default([]),
    /** URIs; `*` matches any characters except `/`, e.g. spiffe://cluster.local/ns/web/sa/*. */
    uris: z.array(z.string().min(1).max(2048)).max(1000).default([]),
    emails: z.array(z.string().min(1).max(320)).max(1000).default([]),
    profiles: z.array(z.enum(PROFILES)).default([...PROFILES]),
    maxDays: z.number().positive().max(3650).default(90),
    defaultDays: z.number().positive().max(3650).default(30),
    keyTypes: z.array(z.enum(KEY_TYPES)).default(['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096']),
    /** Requester identities allowed to ask (globs over cli:<user>, token:<id>, cert:<serial>, ...). */
    requesters: z.array(z.string().min(1)).max(1000).default(['*']),
    /** CEL rules over `request` (src/ca/cel.ts); each must be true. */
    cel: z
      .array(z.object({ rule: z.string().min(1).max(MAX_CEL_LENGTH), message: z.string().min(1).max(500).optional() }).strict())
      .max(32)
      .default([]),
  })
  .strict();

export type CaPolicy = z.infer<typeof policySchema>;

export function parsePolicy(input: unknown, where = 'policy'): CaPolicy {
  const r = policySchema.safeParse(input ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError(`${where}: ${i?.path.join('.') || '(top)'}: ${i?.message}`);
  }
  const p = r.data;
  for (const c of p.ips) {
    try {
      c.includes('/') ? parseCidr(c) : parseIp(c);
    } catch {
      throw new InputError(`${where}: ips: '${c}' is not an IP address or CIDR`);
    }
  }
  if (p.defaultDays > p.maxDays) p.defaultDays = p.maxDays;
  for (const c of p.cel) {
    try {
      celProgram(c.rule);
    } catch (e) {
      throw new InputError(`${where}: cel: ${(e as Error).message}`);
    }
  }
  return p;
}

export function globMatch(pattern: string, value: string, sep: string): boolean {
  const re = pattern
    .split('*')
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join(`[^${sep === '/' ? '/' : '\\.'}]*`);
  return new RegExp(`^${re}$`).test(value);
}

/** `*` one label, leading `**` one or more labels; a requested wildcard name needs the same wildcard in the policy. */
export function dnsAllowed(patterns: readonly string[], name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  for (const raw of patterns) {
    const p = raw.toLowerCase().replace(/\.$/, '');
    if (p === n) return true;
    if (n.includes('*')) continue;
    if (p.startsWith('**.')) {
      const suffix = p.slice(2);
      if (n.endsWith(suffix) && n.length > suffix.length) return true;
      continue;
    }
    const pl = p.split('.');
    const nl = n.split('.');
    if (pl.length === nl.length && pl.every((l, i) => l === '*' || l === nl[i])) return true;
  }
  return false;
}

function ipBytes(s: string): Uint8Array {
  return parseIp(s);
}

export function ipAllowed(cidrs: readonly string[], ip: string): boolean {
  const a = ipBytes(ip);
  for (const c of cidrs) {
    const [addr, bitsText] = c.split('/');
    const net = ipBytes(addr as string);
    if (net.length !== a.length) continue;
    const bits = bitsText === undefined ? net.length * 8 : Number(bitsText);
    let ok = true;
    for (let i = 0; i < net.length && ok; i++) {
      const take = Math.max(0, Math.min(8, bits - i * 8));
      const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
      if (((a[i] as number) & mask) !== ((net[i] as number) & mask)) ok = false;
    }
    if (ok) return true;
  }
  return false;
}

export interface RequestFacts {
  names: { dns: string[]; ip: string[]; uri: string[]; email: string[] };
  commonName: string | undefined;
  profile: Profile;
  days: number;
  key: PublicKeyInfo;
  requester: string;
}

const programs = new Map<string, CelProgram>();
function celProgram(rule: string): CelProgram {
  let p = programs.get(rule);
  if (!p) {
    p = compileCel(rule);
    if (programs.size > 1000) programs.clear();
    programs.set(rule, p);
  }
  return p;
}

/** What a CEL rule sees as `request`. */
export function celRequest(r: RequestFacts): Record<string, unknown> {
  return {
    names: [
      ...r.names.dns.map((d) => `DNS:${d.toLowerCase()}`),
      ...r.names.ip.map((i) => `IP:${i}`),
      ...r.names.uri.map((u) => `URI:${u}`),
      ...r.names.email.map((e) => `EMAIL:${e.toLowerCase()}`),
    ],
    dns: r.names.dns.map((d) => d.toLowerCase()),
    ips: r.names.ip,
    uris: r.names.uri,
    emails: r.names.email,
    commonName: r.commonName ?? '',
    profile: r.profile,
    days: r.days,
    keyType: keyTypeFromInfo(r.key) ?? '',
    requester: r.requester,
  };
}

/** The reasons a request breaks the policy (empty: allowed). */
export function policyViolations(p: CaPolicy, r: RequestFacts): string[] {
  const out: string[] = [];
  if (!p.requesters.some((g) => globMatch(g, r.requester, '/'))) out.push(`requester ${r.requester} may not request from this CA`);
  if (!p.profiles.includes(r.profile)) out.push(`profile ${r.profile} is not allowed (allowed: ${p.profiles.join(', ') || 'none'})`);
  if (r.days > p.maxDays) out.push(`${r.days} days is over the maximum of ${p.maxDays}`);
  const kt = r.key.algorithm === 'RSA' && (r.key.size ?? 0) < 2048 ? undefined : keyTypeFromInfo(r.key);
  if (!kt || !p.keyTypes.includes(kt))
    out.push(`key ${kt ?? `${r.key.algorithm}${r.key.size ? `-${r.key.size}` : ''}`} is not allowed (allowed: ${p.keyTypes.join(', ')})`);
  const total = r.names.dns.length + r.names.ip.length + r.names.uri.length + r.names.email.length;
  if (total === 0) out.push('the request names no identity (DNS, IP, URI or email subjectAltName)');
  for (const d of r.names.dns) if (!dnsAllowed(p.dns, d)) out.push(`DNS name ${d} is outside the policy`);
  for (const ip of r.names.ip) if (!ipAllowed(p.ips, ip)) out.push(`IP address ${ip} is outside the policy`);
  for (const u of r.names.uri) if (!p.uris.some((g) => globMatch(g, u, '/'))) out.push(`URI ${u} is outside the policy`);
  for (const e of r.names.email)
    if (!p.emails.some((g) => globMatch(g.toLowerCase(), e.toLowerCase(), '.'))) out.push(`email ${e} is outside the policy`);
  const cn = r.commonName;
  if (cn !== undefined && ![...r.names.dns, ...r.names.ip, ...r.names.uri, ...r.names.email].includes(cn))
    out.push(`common name ${cn} is not one of the requested subjectAltNames`);
  if (p.cel.length) {
    const request = toCel(celRequest(r));
    for (const c of p.cel) {
      const what = `CEL rule ${JSON.stringify(c.rule)}`;
      try {
        const v = celProgram(c.rule).eval({ request });
        if (v === false) out.push(c.message ?? `${what} is false`);
        else if (v !== true) out.push(`${what} gave a ${typeof v}, not a bool`);
      } catch (e) {
        if (!(e instanceof CelError)) throw e;
        out.push(`${what} failed: ${e.message}`);
      }
    }
  }
  return out;
}
