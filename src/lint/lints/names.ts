// Names: issuer/subject presence and subjectAltName hygiene.

import { isPureTemplate } from '../../k8s/roles.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { OID } from '../../x509/oids.ts';
import { canonicalIp } from '../net.ts';
import { defineLint, type LintContext } from '../types.ts';
import { ekus, showString } from './util.ts';

const RFC = 'RFC 5280';

export const issuerEmpty = defineLint({
  id: 'x509.issuer.empty',
  severity: 'error',
  description: 'The issuer name is empty.',
  remediation: 'Reissue from a CA whose subject is a non-empty distinguished name.',
  source: `${RFC} 4.1.2.4`,
  check: (cert) => (cert.issuerRdns.length === 0 ? ['issuer distinguished name is empty'] : []),
});

export const caSubjectEmpty = defineLint({
  id: 'x509.ca.subject-empty',
  severity: 'error',
  description: 'A CA certificate has an empty subject.',
  remediation: 'Give the CA a distinguished name (at least a CN): certificates it issues name it as their issuer.',
  source: `${RFC} 4.1.2.6`,
  appliesTo: (cert) => cert.isCA,
  check: (cert) => (cert.subjectRdns.length === 0 ? ['CA subject distinguished name is empty'] : []),
});

/** A server certificate: serverAuth in EKU, or a Kubernetes role that serves. */
function isServer(cert: Certificate, ctx: LintContext): boolean {
  if (cert.isCA) return false;
  return ekus(cert).includes('serverAuth') || (ctx.role?.eku.includes('serverAuth') ?? false);
}

export const sanMissingOnServer = defineLint({
  id: 'x509.san.missing-on-server',
  severity: 'error',
  description: 'A server certificate has no DNS or IP subjectAltName.',
  remediation: 'Reissue with every host name and IP clients connect to as SANs; TLS clients ignore the CN.',
  source: `${RFC} 4.2.1.6, CA/B BR 7.1.2.7.12`,
  appliesTo: isServer,
  check: (cert) => {
    const s = cert.sans;
    if (s.dns.length + s.ip.length > 0) return [];
    return [
      cert.hasExtension(OID.subjectAltName)
        ? 'serverAuth certificate has no DNS or IP SAN'
        : 'serverAuth certificate has no subjectAltName extension',
    ];
  },
});

export const sanEmpty = defineLint({
  id: 'x509.san.empty',
  severity: 'error',
  description: 'subjectAltName is present but holds no names.',
  remediation: 'Reissue with the names the certificate is for, or without the extension.',
  source: `${RFC} 4.2.1.6`,
  appliesTo: (cert) => cert.hasExtension(OID.subjectAltName),
  check: (cert) => {
    const s = cert.sans;
    return s.dns.length + s.ip.length + s.uri.length + s.email.length + s.other.length === 0
      ? ['subjectAltName extension contains no names']
      : [];
  },
});

export const sanEmptyEntry = defineLint({
  id: 'x509.san.empty-entry',
  severity: 'error',
  description: 'A subjectAltName entry is empty or malformed (empty DNS/URI/email, IP of the wrong length).',
  remediation: 'Reissue without the empty entry.',
  source: `${RFC} 4.2.1.6`,
  check: (cert) => {
    const s = cert.sans;
    const out: string[] = [];
    for (const [k, vs] of [
      ['DNS', s.dns],
      ['URI', s.uri],
      ['email', s.email],
    ] as const)
      for (const v of vs) if (v.trim() === '') out.push(`empty ${k} SAN entry`);
    for (const ip of s.ip) if (ip.startsWith('invalid(')) out.push(`IP SAN of ${(ip.length - 9) / 2} bytes (must be 4 or 16)`);
    return out;
  },
});

/** One DNS label as dnsInvalid accepts it, at most 63 characters long (dnsTooLong's limit). */
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
/** A host name, or a wildcard over one of two labels or more, that none of the DNS-name lints below has a word about. */
const PLAIN_DNS = new RegExp(`^(?:\\*\\.${LABEL}\\.)?(?:${LABEL}\\.)*${LABEL}$`);
const plainChecked = new WeakMap<readonly string[], boolean>();

/**
 * Whether every DNS SAN is plain (PLAIN_DNS, at most 253 characters): then dnsTooLong, dnsNul, wildcardNotLeftmost,
 * bareWildcard and dnsInvalid have nothing to say, found with one pattern per name instead of five passes that
 * split names into labels. Asked once per certificate (its decoded SAN list is kept on it).
 */
export function plainDnsNames(dns: readonly string[]): boolean {
  let plain = plainChecked.get(dns);
  if (plain === undefined) {
    plain = dns.every((d) => d.length <= 253 && PLAIN_DNS.test(d));
    plainChecked.set(dns, plain);
  }
  return plain;
}

/** The DNS-name lints apply only where some name is not plain. */
const notPlainDns = (cert: Certificate): boolean => !plainDnsNames(cert.sans.dns);

export const dnsTooLong = defineLint({
  id: 'x509.san.dns-too-long',
  severity: 'error',
  description: 'A DNS SAN is longer than 253 characters or has a label longer than 63.',
  remediation: 'Use a DNS name within the DNS limits; resolvers and verifiers reject longer ones.',
  source: 'RFC 1035 2.3.4',
  appliesTo: notPlainDns,
  check: (cert) =>
    cert.sans.dns.flatMap((d) => {
      if (d.length > 253) return [`DNS SAN is ${d.length} characters long (limit 253): ${d.slice(0, 60)}...`];
      const long = d.split('.').find((l) => l.length > 63);
      return long ? [`DNS SAN ${d} has a ${long.length}-character label (limit 63)`] : [];
    }),
});

export const dnsNul = defineLint({
  id: 'x509.san.dns-nul',
  severity: 'error',
  description: 'A DNS SAN contains a NUL byte (the classic name-truncation attack).',
  remediation: 'Revoke and reissue; a NUL in a name is never legitimate.',
  source: 'CA/B BR 7.1.4.2',
  appliesTo: notPlainDns,
  check: (cert) => cert.sans.dns.filter((d) => d.includes('\0')).map((d) => `DNS SAN ${JSON.stringify(d)} contains a NUL byte`),
});

export const wildcardNotLeftmost = defineLint({
  id: 'x509.san.wildcard-not-leftmost',
  severity: 'error',
  description: 'A DNS SAN has a wildcard that is not the whole leftmost label.',
  remediation: "Use '*.' only as the complete first label (e.g. *.example.com), or list the names explicitly.",
  source: 'RFC 6125 6.4.3, CA/B BR 7.1.2.7.12',
  appliesTo: notPlainDns,
  check: (cert) =>
    cert.sans.dns
      .filter((d) => d.includes('*') && !/^\*\.[^*]+$/.test(d) && d !== '*')
      .map((d) => `DNS SAN ${d} puts the wildcard somewhere other than a whole leftmost label`),
});

export const bareWildcard = defineLint({
  id: 'x509.san.bare-wildcard',
  severity: 'error',
  description: "A DNS SAN is '*' or a wildcard directly under a top-level label (*.com, *.local).",
  remediation: 'Restrict wildcards to a registered domain (*.apps.example.com) or list the names.',
  source: 'CA/B BR 7.1.2.7.12',
  appliesTo: notPlainDns,
  check: (cert) =>
    cert.sans.dns
      .filter((d) => d === '*' || /^\*\.[^.*]+\.?$/.test(d))
      .map((d) => `DNS SAN ${d} matches every name under a top-level label`),
});

export const sanDuplicate = defineLint({
  id: 'x509.san.duplicate',
  severity: 'warning',
  description: 'The same name appears twice in subjectAltName.',
  remediation: 'Reissue listing each name once; duplicates usually come from a templating bug.',
  source: 'CA/B practice (zlint n_san_dns_name_duplicate)',
  check: (cert) => {
    const s = cert.sans;
    const out: string[] = [];
    // One set per kind: a name is a duplicate of a name of its own kind only.
    const dupes = (kind: string, names: readonly string[], keyOf: (n: string) => string): void => {
      if (names.length < 2) return;
      const seen = new Set<string>();
      for (const n of names) {
        const k = keyOf(n);
        if (seen.has(k)) out.push(`${kind} SAN ${n} appears more than once`);
        else seen.add(k);
      }
    };
    dupes('DNS', s.dns, (d) => d.toLowerCase());
    dupes('IP', s.ip, canonicalIp);
    dupes('email', s.email, (e) => e);
    dupes('URI', s.uri, (u) => u);
    return out.length ? [...new Set(out)] : out;
  },
});

export const dnsInvalid = defineLint({
  id: 'x509.san.dns-invalid',
  severity: 'warning',
  description: 'A DNS SAN is not a valid host name (bad characters, empty label, label starting or ending with a hyphen).',
  remediation: 'Use letters, digits and hyphens in dot-separated labels; put IP addresses in IP SANs.',
  source: 'RFC 5280 4.2.1.6, RFC 1123 2.1',
  appliesTo: notPlainDns,
  check: (cert) =>
    cert.sans.dns
      .filter((d) => d.trim() !== '' && !d.includes('\0'))
      .filter((d) => {
        const host = d.startsWith('*.') ? d.slice(2) : d;
        if (host.includes('*')) return false; // a misplaced wildcard is x509.san.wildcard-not-leftmost's finding
        const labels = host.split('.');
        return labels.some((l) => !/^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(l));
      })
      .map((d) => `DNS SAN ${JSON.stringify(d)} is not a valid host name`),
});

export const cnNotInSan = defineLint({
  id: 'x509.server.cn-not-in-san',
  severity: 'warning',
  description: 'A server certificate has a CN that is not among its SANs.',
  remediation:
    'Add the CN as a DNS or IP SAN (clients match SANs only), or drop it. Client certificates are exempt: Kubernetes uses their CN as the user name.',
  source: 'CA/B BR 7.1.4.3',
  appliesTo: (cert, ctx) => {
    if (!isServer(cert, ctx) || cert.commonName === undefined) return false;
    // Kubernetes client identities live in the CN; dual-use certificates are judged as clients.
    const e = ekus(cert);
    if (e.includes('clientAuth') || ctx.role?.eku.includes('clientAuth')) return false;
    // A role with a fixed CN (kube-apiserver) uses it as an identity, not a host name.
    if (ctx.role && !isPureTemplate(ctx.role.cn)) return false;
    return cert.sans.dns.length + cert.sans.ip.length > 0;
  },
  check: (cert) => {
    const cn = cert.commonName ?? '';
    const s = cert.sans;
    const lower = cn.toLowerCase();
    if (s.dns.some((d) => d.toLowerCase() === lower)) return [];
    // The IP SANs are formatIp's text of their bytes, canonical already (as k8s.role.missing-san takes them).
    if (s.ip.includes(canonicalIp(cn))) return [];
    return [`CN ${showString(cn)} is not among the SANs (${[...s.dns, ...s.ip].map(showString).join(', ')})`];
  },
});

export const NAME_LINTS = [
  issuerEmpty,
  caSubjectEmpty,
  sanMissingOnServer,
  sanEmpty,
  sanEmptyEntry,
  dnsTooLong,
  dnsNul,
  wildcardNotLeftmost,
  bareWildcard,
  sanDuplicate,
  dnsInvalid,
  cnNotInSan,
];
