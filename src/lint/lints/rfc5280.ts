// RFC 5280 rules that zlint checks and a private Kubernetes PKI should meet too: name lengths and
// characters, encodings that DER or the RFC forbid (explicit defaults, superfluous bits, missing NULL
// parameters), constraints on nameConstraints, keyUsage and empty lists, and SAN syntax. Each names its
// zlint counterpart in docs/findings.md; test/zlint/ checks that both agree on a shared corpus.
import { decodeOid, type Node, parse, TAG } from '../../x509/der.ts';
import { extName, OID } from '../../x509/oids.ts';
import { derFacts, rawExtension } from '../der-facts.ts';
import { defineLint } from '../types.ts';
import { showString } from './util.ts';

const RFC = 'RFC 5280';

export const subjectEmptyWithoutCriticalSan = defineLint({
  id: 'x509.subject.empty-without-critical-san',
  severity: 'error',
  description: 'The subject is empty and subjectAltName is absent or not marked critical.',
  remediation: 'Give the certificate a subject (a CN), or mark its subjectAltName critical when the identity lives only there.',
  source: `${RFC} 4.1.2.6, 4.2.1.6`,
  appliesTo: (cert) => cert.subjectRdns.length === 0,
  check: (cert) => {
    if (!cert.hasExtension(OID.subjectAltName)) return ['subject is empty and there is no subjectAltName: the certificate names nobody'];
    return cert.isCritical(OID.subjectAltName) ? [] : ['subject is empty but subjectAltName is not marked critical'];
  },
});

/** Upper bounds from RFC 5280 Appendix A (ub-*), in characters. */
const NAME_LIMITS: ReadonlyArray<[string, string, number]> = [
  [OID.CN, 'CN', 64],
  [OID.O, 'O', 64],
  [OID.OU, 'OU', 64],
  [OID.L, 'L', 128],
  [OID.ST, 'ST', 128],
  [OID.STREET, 'street', 128],
  ['2.5.4.17', 'postalCode', 16],
  [OID.SERIALNUMBER, 'serialNumber', 64],
  [OID.EMAIL, 'emailAddress', 255],
  [OID.GIVENNAME, 'givenName', 32768],
  [OID.SN, 'surname', 32768],
];

export const subjectAttributeTooLong = defineLint({
  id: 'x509.subject.attribute-too-long',
  severity: 'error',
  description: 'A subject attribute is longer than RFC 5280 allows (CN, O and OU 64 characters, L and ST 128, ...).',
  remediation:
    'Shorten the attribute (a CN is an identity, not a description; put host names in DNS SANs); strict parsers refuse longer values.',
  source: `${RFC} Appendix A (ub-common-name and others)`,
  check: (cert) => {
    const out: string[] = [];
    for (const rdn of cert.subjectRdns)
      for (const a of rdn) {
        const lim = NAME_LIMITS.find(([o]) => o === a.type);
        const n = [...a.value].length;
        if (lim && n > lim[2]) out.push(`${lim[1]} is ${n} characters long (limit ${lim[2]}): ${showString(a.value.slice(0, 40))}...`);
      }
    return out;
  },
});

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export const subjectControlCharacter = defineLint({
  id: 'x509.subject.control-character',
  severity: 'error',
  description: 'A subject attribute contains a control character (NUL, tab, newline, DEL, C1 controls).',
  remediation: 'Reissue with printable names: control characters hide in logs and make two different names look the same.',
  source: `${RFC} 4.1.2.6, X.520`,
  check: (cert) => {
    const out: string[] = [];
    for (const rdn of cert.subjectRdns)
      for (const a of rdn) if (CONTROL.test(a.value)) out.push(`${a.name} ${showString(a.value)} contains a control character`);
    return out;
  },
});

/** GeneralSubtree list of a nameConstraints value: [0] permitted, [1] excluded. */
function subtrees(value: Uint8Array): { lists: Node[]; subtrees: Node[] } {
  const top = parse(value).expect(TAG.SEQUENCE, 'NameConstraints');
  const lists = top.children();
  return { lists, subtrees: lists.flatMap((l) => l.children()) };
}

export const nameConstraintsNotCritical = defineLint({
  id: 'x509.name-constraints.not-critical',
  severity: 'warning',
  description: 'nameConstraints is not marked critical.',
  remediation:
    "Reissue the CA with nameConstraints critical: a verifier that does not understand them must refuse, not ignore them (Go's x509 marks them critical only when asked).",
  source: `${RFC} 4.2.1.10`,
  appliesTo: (cert) => cert.hasExtension(OID.nameConstraints),
  check: (cert) => (cert.isCritical(OID.nameConstraints) ? [] : ['nameConstraints is not marked critical']),
});

export const nameConstraintsEmpty = defineLint({
  id: 'x509.name-constraints.empty',
  severity: 'error',
  description: 'nameConstraints has neither permittedSubtrees nor excludedSubtrees.',
  remediation: 'Reissue the CA with at least one permitted or excluded subtree, or without the extension.',
  source: `${RFC} 4.2.1.10`,
  appliesTo: (cert) => cert.hasExtension(OID.nameConstraints),
  check: (cert) => {
    const e = rawExtension(cert, OID.nameConstraints);
    return e && subtrees(e.value).lists.length === 0 ? ['nameConstraints is an empty sequence'] : [];
  },
});

export const nameConstraintsMinMax = defineLint({
  id: 'x509.name-constraints.min-max',
  severity: 'error',
  description: 'A name-constraint subtree carries a non-zero minimum or a maximum, which RFC 5280 forbids.',
  remediation: 'Reissue the CA with subtrees that hold only the base name (minimum 0, no maximum).',
  source: `${RFC} 4.2.1.10`,
  appliesTo: (cert) => cert.hasExtension(OID.nameConstraints),
  check: (cert) => {
    const e = rawExtension(cert, OID.nameConstraints);
    if (!e) return [];
    const out: string[] = [];
    for (const st of subtrees(e.value).subtrees)
      for (const f of st.children().slice(1)) {
        const v = f.value;
        if (f.tag === 0x80 && v.some((b) => b !== 0)) out.push(`a subtree has minimum ${Buffer.from(v).toString('hex')} (must be 0)`);
        if (f.tag === 0x81) out.push('a subtree has a maximum (must be absent)');
      }
    return [...new Set(out)];
  },
});

export const skiCritical = defineLint({
  id: 'x509.ski.critical',
  severity: 'error',
  description: 'subjectKeyIdentifier is marked critical.',
  remediation: 'Reissue with subjectKeyIdentifier non-critical.',
  source: `${RFC} 4.2.1.2`,
  check: (cert) => (cert.isCritical(OID.subjectKeyIdentifier) ? ['subjectKeyIdentifier is marked critical'] : []),
});

/** Extensions whose value is SEQUENCE SIZE (1..MAX) OF; an empty subjectAltName is x509.san.empty's finding. */
const NON_EMPTY_LISTS = [
  OID.extKeyUsage,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  OID.certificatePolicies,
  OID.policyMappings,
  OID.issuerAltName,
  OID.subjectInfoAccess,
  '2.5.29.9', // subjectDirectoryAttributes
  '2.5.29.46', // freshestCRL
];

export const emptyList = defineLint({
  id: 'x509.extension.empty-list',
  severity: 'error',
  description: 'An extension that must list at least one item is empty (extendedKeyUsage, CRL distribution points, AIA, policies).',
  remediation: 'Reissue with the items the extension is for, or without the extension (an empty extendedKeyUsage allows nothing).',
  source: `${RFC} 4.2.1.4, 4.2.1.12, 4.2.1.13, 4.2.2.1`,
  check: (cert) =>
    derFacts(cert)
      .extensions.filter((e) => NON_EMPTY_LISTS.includes(e.oid))
      .filter((e) => {
        const n = parse(e.value);
        return n.tag === TAG.SEQUENCE && n.length === 0;
      })
      .map((e) => `${extName(e.oid)} is present but lists nothing`),
});

export const keyUsageNotCritical = defineLint({
  id: 'x509.key-usage.not-critical',
  severity: 'warning',
  description: 'A leaf certificate has keyUsage marked non-critical.',
  remediation: 'Issue keyUsage as critical (Go, OpenSSL and Anchorage do), so verifiers must honour it.',
  source: `${RFC} 4.2.1.3`,
  // CAs: x509.ca.key-usage-not-critical (an error).
  appliesTo: (cert) => !cert.isCA && cert.hasExtension(OID.keyUsage),
  check: (cert) => (cert.isCritical(OID.keyUsage) ? [] : ['keyUsage is not marked critical']),
});

export const keyUsageNotDer = defineLint({
  id: 'x509.key-usage.not-der',
  severity: 'error',
  description:
    'The keyUsage BIT STRING is not minimally encoded (a trailing zero byte, a wrong unused-bits count) or sets bits beyond decipherOnly.',
  remediation: 'Reissue with a conforming encoder: DER drops trailing zero bits, and keyUsage has nine bits.',
  source: `${RFC} 4.2.1.3, X.690 11.2.2`,
  appliesTo: (cert) => cert.hasExtension(OID.keyUsage),
  check: (cert) => {
    const e = rawExtension(cert, OID.keyUsage);
    if (!e) return [];
    const v = e.value;
    const hex = Buffer.from(v).toString('hex');
    if (v[0] !== TAG.BIT_STRING || v.length < 4) return [];
    const unused = v[2] as number;
    const bits = v.subarray(3);
    const out: string[] = [];
    if (bits[bits.length - 1] === 0) out.push(`keyUsage ends in a superfluous zero byte (${hex})`);
    else {
      const last = bits[bits.length - 1] as number;
      let tz = 0;
      while (tz < 8 && !((last >> tz) & 1)) tz++;
      if (tz !== unused) out.push(`keyUsage declares ${unused} unused bits but ${tz} trailing bits are zero (${hex})`);
    }
    const set: number[] = [];
    bits.forEach((b, i) => {
      for (let k = 0; k < 8; k++) if ((b >> (7 - k)) & 1) set.push(i * 8 + k);
    });
    const beyond = set.filter((n) => n > 8);
    if (beyond.length) out.push(`keyUsage sets bit ${beyond.join(', ')}, beyond decipherOnly (bit 8)`);
    return out;
  },
});

export const explicitDefault = defineLint({
  id: 'x509.extension.explicit-default',
  severity: 'error',
  description: 'basicConstraints spells out cA=FALSE, a DEFAULT value that DER requires to be omitted.',
  remediation: 'Reissue omitting cA when it is FALSE (an empty basicConstraints sequence means "not a CA").',
  source: 'X.690 11.5, RFC 5280 4.2.1.9',
  appliesTo: (cert) => cert.hasExtension(OID.basicConstraints),
  check: (cert) => {
    const e = rawExtension(cert, OID.basicConstraints);
    if (!e) return [];
    const first = parse(e.value).children()[0];
    return first?.tag === TAG.BOOLEAN && first.value[0] === 0 ? ['basicConstraints encodes cA=FALSE explicitly'] : [];
  },
});

const RSA_PKCS1_SIGS = new Set([
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.2.840.113549.1.1.11',
  '1.2.840.113549.1.1.12',
  '1.2.840.113549.1.1.13',
  '1.2.840.113549.1.1.14',
]);

/** The AlgorithmIdentifier is exactly SEQUENCE { OID, NULL }. */
function hasNullParams(alg: Uint8Array): boolean {
  const n = parse(alg);
  const kids = n.children();
  return kids.length === 2 && kids[1]?.tag === TAG.NULL && kids[1].length === 0;
}

function algProblem(what: string, alg: Uint8Array): string | undefined {
  if (hasNullParams(alg)) return undefined;
  const kids = parse(alg).children();
  return `${what} ${decodeOid(kids[0] as Node)} has ${kids.length < 2 ? 'no parameters' : 'parameters other than NULL'}; RSA identifiers carry NULL`;
}

export const rsaParamsNotNull = defineLint({
  id: 'x509.algorithm.rsa-params-not-null',
  severity: 'error',
  description: 'An RSA AlgorithmIdentifier (public key or PKCS#1 v1.5 signature) lacks its NULL parameters.',
  remediation: "Reissue with a conforming encoder; Go's x509 refuses an RSA public key without NULL parameters.",
  source: 'RFC 3279 2.2.1, 2.3.1, RFC 4055 5',
  check: (cert) => {
    const f = derFacts(cert);
    const out: string[] = [];
    const spkiOid = decodeOid(parse(f.spkiAlg).child(0));
    if (spkiOid === OID.rsaEncryption) {
      const p = algProblem('public key algorithm', f.spkiAlg);
      if (p) out.push(p);
    }
    if (RSA_PKCS1_SIGS.has(cert.tbsSignatureAlgorithmOid)) {
      const p = algProblem('signature algorithm', f.tbsSigAlg);
      if (p) out.push(p);
    }
    return out;
  },
});

/** What Go's url.Parse and zlint demand of a URI SAN: a scheme and something after it. */
export function uriProblem(u: string): string | undefined {
  if (u === '') return undefined; // x509.san.empty-entry
  if (/[\u0000-\u0020\u007f]/.test(u)) return 'contains a space or control character';
  if (/%(?![0-9A-Fa-f]{2})/.test(u)) return "has a '%' that is not a percent-escape";
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(u);
  if (!m) return 'is relative (no scheme such as https: or spiffe:)';
  const rest = m[2] as string;
  if (rest.startsWith('//')) {
    const auth = rest.slice(2).split(/[/?#]/)[0] as string;
    const path = rest.slice(2 + auth.length).split(/[?#]/)[0] as string;
    if (!auth.includes('@') && auth.replace(/^\[|\]$/g, '') === '' && path === '') return 'has a scheme but no host or path';
  } else if (rest.split(/[?#]/)[0] === '') return 'has a scheme but nothing after it';
  return undefined;
}

export const uriInvalid = defineLint({
  id: 'x509.san.uri-invalid',
  severity: 'error',
  description: 'A URI SAN is relative or malformed (no scheme, nothing after the scheme, spaces or bad escapes).',
  remediation: 'Use absolute URIs (spiffe://cluster.local/ns/<ns>/sa/<sa>, https://host/path) in URI SANs.',
  source: `${RFC} 4.2.1.6, RFC 3986 4.3`,
  appliesTo: (cert) => cert.sans.uri.length > 0,
  check: (cert) =>
    cert.sans.uri.flatMap((u) => {
      const p = uriProblem(u);
      return p ? [`URI SAN ${showString(u)} ${p}`] : [];
    }),
});

/** An rfc822Name is a bare addr-spec: local@domain, no display name, comment or spaces. */
export function emailProblem(e: string): string | undefined {
  if (e === '') return undefined; // x509.san.empty-entry
  if (/\s/.test(e)) return 'contains white space';
  if (e.startsWith('<') || e.endsWith('>')) return 'is wrapped in <>; only the bare address belongs there';
  if (e.endsWith(')')) return 'ends in a comment';
  const at = e.lastIndexOf('@');
  if (at <= 0 || at === e.length - 1) return 'is not local-part@domain';
  return undefined;
}

export const emailInvalid = defineLint({
  id: 'x509.san.email-invalid',
  severity: 'error',
  description: 'An email SAN is not a bare address (display name, <>, comments, spaces, no @).',
  remediation: 'Put only local-part@domain in rfc822Name SANs.',
  source: `${RFC} 4.2.1.6, RFC 5322 3.4.1`,
  appliesTo: (cert) => cert.sans.email.length > 0,
  check: (cert) =>
    cert.sans.email.flatMap((e) => {
      const p = emailProblem(e);
      return p ? [`email SAN ${showString(e)} ${p}`] : [];
    }),
});

export const dnsUnderscore = defineLint({
  id: 'x509.san.dns-underscore',
  severity: 'warning',
  description: 'A DNS SAN of a leaf contains an underscore, which host names may not.',
  remediation: 'Use host names of letters, digits and hyphens (Go accepts underscores, but many other TLS stacks and public CAs do not).',
  source: `${RFC} 4.2.1.6, RFC 1123 2.1`,
  appliesTo: (cert) => !cert.isCA,
  check: (cert) => cert.sans.dns.filter((d) => d.includes('_')).map((d) => `DNS SAN ${showString(d)} contains an underscore`),
});

export const rsaCaKeyEncipherment = defineLint({
  id: 'x509.ca.rsa-key-encipherment',
  // kubeadm's CAs carry keyEncipherment (pki_helpers.go): a notice by default, a warning under the strict profile.
  severity: 'notice',
  strictSeverity: 'warning',
  description: 'An RSA CA certificate allows keyEncipherment or dataEncipherment besides signing certificates (kubeadm CAs do).',
  remediation: 'Issue CA keyUsage as keyCertSign, cRLSign (and digitalSignature): a CA key should never decrypt anything.',
  source: 'RFC 3279 2.3.1',
  appliesTo: (cert) => cert.isCA && cert.keyInfo.algorithm === 'RSA' && cert.keyUsage !== undefined,
  check: (cert) => {
    const ku = cert.keyUsage ?? [];
    if (!ku.includes('keyCertSign') && !ku.includes('cRLSign')) return [];
    const bad = ku.filter((u) => u === 'keyEncipherment' || u === 'dataEncipherment');
    return bad.length
      ? [`CA keyUsage also allows ${bad.join(' and ')} (it is ${ku.join(', ')}): a CA key should only sign; kubeadm sets it on its CAs`]
      : [];
  },
});

export const RFC5280_LINTS = [
  subjectEmptyWithoutCriticalSan,
  subjectAttributeTooLong,
  subjectControlCharacter,
  nameConstraintsNotCritical,
  nameConstraintsEmpty,
  nameConstraintsMinMax,
  skiCritical,
  emptyList,
  keyUsageNotCritical,
  keyUsageNotDer,
  explicitDefault,
  rsaParamsNotNull,
  uriInvalid,
  emailInvalid,
  dnsUnderscore,
  rsaCaKeyEncipherment,
];
