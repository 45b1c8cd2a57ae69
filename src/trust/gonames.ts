// Go's name-constraint semantics (crypto/x509 checkChainConstraints), for the kubernetes profile.
// Where they differ from openssl's (names.ts): only certificates with a SAN extension are checked (no
// subject CN or subject email fallback), self-issued intermediates are not exempt, email and URI
// constraints without a leading dot match subdomains too (DNS rules), a wildcard SAN is excluded when
// an excluded subtree names one of the hosts it covers, a URI whose host is an IP address (or empty),
// and names Go cannot parse, fail whenever any constraint applies.
import { isIP } from 'node:net';
import type { Certificate } from '../x509/certificate.ts';
import type { NameConstraints } from '../x509/extensions.ts';
import { parseCidr, parseIp } from '../x509/extensions.ts';
import { OID } from '../x509/oids.ts';

export interface GoConstraintFailure {
  /** Index in the path of the certificate whose name fails. */
  step: number;
  message: string;
  /** The CA whose constraints it fails (undefined: the name itself cannot be checked). */
  ca?: Certificate;
}

const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Go's dnsHasSuffix(constraint, name). */
function dnsHasSuffix(constraint: string, name: string): boolean {
  const a = lowerAscii(constraint);
  const b = lowerAscii(name);
  if (a.length > b.length || !b.endsWith(a)) return false;
  if (a[0] !== '.' && b.length > a.length && b[b.length - a.length - 1] !== '.') return false;
  return true;
}

function dnsQuery(list: readonly string[], name: string, permitted: boolean): string | undefined {
  if (list.some((c) => c.length === 0)) return '';
  const hit = list.find((c) => dnsHasSuffix(c, name));
  if (hit !== undefined) return hit;
  if (!permitted && name.startsWith('*')) {
    const trimmed = trimFirstLabel(lowerAscii(name));
    const parent = list.find((c) => trimmed !== '' && trimFirstLabel(lowerAscii(c)) === trimmed);
    if (parent !== undefined) return parent;
  }
  return undefined;
}

function trimFirstLabel(s: string): string {
  const i = s.indexOf('.');
  return i < 0 ? '' : s.slice(i + 1);
}

/** Go's domainNameValid(s, false): printable ASCII, no empty label, no trailing dot. */
export function goDomainValid(s: string): boolean {
  if (s.length === 0) return true;
  if (s.endsWith('.')) return false;
  return s.split('.').every((l) => l.length > 0 && [...l].every((ch) => ch.charCodeAt(0) >= 33 && ch.charCodeAt(0) <= 126));
}

/** Go's parseRFC2821Mailbox, simplified to what matters for matching: local part and domain. */
function mailbox(s: string): { local: string; domain: string } | undefined {
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return undefined;
  const local = s.slice(0, at);
  if (local.startsWith('"')) return undefined;
  if (!/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return undefined;
  return { local, domain: s.slice(at + 1) };
}

function emailQuery(list: readonly string[], m: { local: string; domain: string }, permitted: boolean): string | undefined {
  for (const c of list) {
    if (!c.includes('@')) continue;
    const p = mailbox(c);
    if (p && p.local === m.local && lowerAscii(p.domain) === m.domain) return c;
  }
  const domains = list.filter((c) => !c.includes('@'));
  return domains.length ? dnsQuery(domains, m.domain, permitted) : undefined;
}

function ipQuery(list: readonly string[], ip: Uint8Array): string | undefined {
  return list.find((cidr) => {
    try {
      const c = parseCidr(cidr);
      if (c.length !== ip.length * 2) return false;
      for (let i = 0; i < ip.length; i++) if (((ip[i] as number) & (c[ip.length + i] as number)) !== c[i]) return false;
      return true;
    } catch {
      return false;
    }
  });
}

/** The host of a URI as Go's url.Parse sees it: lower-cased, port removed. */
function uriHost(uri: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^/?#]*)/i.exec(uri);
  let h = (m?.[1] ?? '').toLowerCase();
  if (h.includes(':') && !h.endsWith(']')) h = h.slice(0, h.lastIndexOf(':'));
  return h;
}

function check(
  nc: NameConstraints,
  type: 'dns' | 'ip' | 'uri' | 'email',
  label: string,
  shown: string,
  query: (list: readonly string[], permitted: boolean) => string | undefined,
): string | undefined {
  const permitted = nc.permitted[type];
  const excluded = nc.excluded[type];
  if (permitted.length && query(permitted, true) === undefined) return `${label} "${shown}" is not permitted by any constraint`;
  if (excluded.length) {
    const hit = query(excluded, false);
    if (hit !== undefined) return `${label} "${shown}" is excluded by constraint "${hit}"`;
  }
  return undefined;
}

/** The first failure of `c`'s SANs against one CA's constraints, Go's way. */
function checkOne(c: Certificate, nc: NameConstraints): { message: string; unparsable?: boolean } | undefined {
  const s = c.sans;
  for (const ip of s.ip) {
    let bytes: Uint8Array;
    try {
      bytes = parseIp(ip);
    } catch {
      continue;
    }
    const f = check(nc, 'ip', 'IP address', ip, (l) => ipQuery(l, bytes));
    if (f) return { message: f };
  }
  for (const d of s.dns) {
    if (!goDomainValid(d)) return { message: `cannot parse dnsName "${d}"`, unparsable: true };
    const f = check(nc, 'dns', 'DNS name', d, (l, p) => dnsQuery(l, d, p));
    if (f) return { message: f };
  }
  for (const u of s.uri) {
    const host = uriHost(u);
    if (host === '') return { message: `URI with empty host ("${u}") cannot be matched against constraints`, unparsable: true };
    if (isIP(host) || (host.startsWith('[') && host.endsWith(']')))
      return { message: `URI with IP ("${u}") cannot be matched against constraints`, unparsable: true };
    const f = check(nc, 'uri', 'URI', u, (l, p) => dnsQuery(l, host, p));
    if (f) return { message: f };
  }
  for (const e of s.email) {
    const m = mailbox(e);
    if (!m || !goDomainValid(m.domain)) return { message: `cannot parse rfc822Name "${e}"`, unparsable: true };
    const mm = { local: m.local, domain: lowerAscii(m.domain) };
    const f = check(nc, 'email', 'email address', e, (l, p) => emailQuery(l, mm, p));
    if (f) return { message: f };
  }
  return undefined;
}

/** Name-constraint failures along a path (leaf first, anchor certificate last), Go's rules. */
export function goNameConstraintFailures(all: readonly Certificate[]): GoConstraintFailure[] {
  const out: GoConstraintFailure[] = [];
  const constrained = all.map((c) => c.nameConstraints);
  for (let i = 0; i < all.length; i++) {
    const c = all[i] as Certificate;
    if (!c.hasExtension(OID.subjectAltName)) continue;
    for (let k = i + 1; k < all.length; k++) {
      const nc = constrained[k];
      if (!nc) continue;
      const f = checkOne(c, nc);
      if (f) {
        out.push({ step: i, message: f.message, ...(f.unparsable ? {} : { ca: all[k] as Certificate }) });
        break;
      }
    }
  }
  return out;
}
