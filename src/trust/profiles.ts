// Verification profiles: which client's rules a verdict predicts.
//   kubernetes  what Go's crypto/x509 accepts (kube-apiserver, kubelet, etcd, controllers, kubectl, most
//               webhooks): ParseCertificate's refusals, no SHA-1/MD5 signatures, Go's EKU, name-constraint
//               and path rules. Checked against Go itself (test/go-oracle) on every scenario and on
//               thousands of mutations.
//   openssl     the RFC 5280 algorithm as `openssl verify -x509_strict` applies it (OpenSSL-based clients).
//   strict      openssl's rules plus RFC 5280 profile rules and the CA/Browser Forum rules a well-run
//               private PKI also meets (docs/trust.md lists them).
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import { bytesEqual, DerError, decodeOid, latin1, parse, readNode, TAG } from '../x509/der.ts';
import { parsePssParams, pssUnsupported } from '../x509/keys.ts';
import { extName, OID } from '../x509/oids.ts';

export const PROFILES = ['kubernetes', 'openssl', 'strict'] as const;
export type Profile = (typeof PROFILES)[number];

/** Who each profile speaks for, in the words `verify` prints. */
export const PROFILE_CLIENTS: Record<Profile, string> = {
  kubernetes: 'Go-based clients such as kubelet',
  openssl: 'OpenSSL-based clients',
  strict: 'RFC 5280 + CA/B strict profile',
};

export function parseProfile(p: string | undefined): Profile {
  if (p === undefined) return 'kubernetes';
  if ((PROFILES as readonly string[]).includes(p)) return p as Profile;
  throw new InputError(`unknown profile '${p}' (expected ${PROFILES.join(', ')})`);
}

// ---------- what Go's ParseCertificate refuses ----------

const HAS_GO_TOLERATED = [
  // Go reads explicitly encoded DEFAULT values (version v1, critical=FALSE, cA=FALSE), UTCTime without
  // seconds, and UTCTime or GeneralizedTime with a non-zero offset (its round-trip check only refuses
  // "+0000", which formats as "Z").
  /^version v1 is encoded explicitly/,
  /encodes critical=FALSE explicitly/,
  /^basicConstraints encodes cA=FALSE explicitly/,
  /^time "\d{10}(\d\d)?(Z|[+-](?!0000)\d{4})" is not in DER form/,
  /^time "\d{14}[+-](?!0000)\d{4}" is not in DER form/,
];

// Go's isPrintable: PrintableString plus '*' and '&', which it tolerates.
const GO_PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?*&]*$/;
const isAscii = (b: Uint8Array): boolean => b.every((x) => x < 0x80);
// One decoder for every check: a fatal decoder keeps no state between whole (non-streaming) decodes.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function goStringProblem(tag: number, v: Uint8Array): string | undefined {
  switch (tag) {
    case TAG.T61_STRING:
      return undefined;
    case TAG.PRINTABLE_STRING:
      return GO_PRINTABLE.test(latin1(v)) ? undefined : 'invalid PrintableString';
    case TAG.UTF8_STRING:
      try {
        STRICT_UTF8.decode(v);
        return undefined;
      } catch {
        return 'invalid UTF-8 string';
      }
    case TAG.BMP_STRING: {
      if (v.length % 2) return 'invalid BMPString';
      const n = v.length >= 2 && v[v.length - 1] === 0 && v[v.length - 2] === 0 ? v.length - 2 : v.length;
      for (let i = 0; i < n; i += 2) {
        const p = ((v[i] as number) << 8) | (v[i + 1] as number);
        if (p === 0xfffe || p === 0xffff || (p >= 0xfdd0 && p <= 0xfdef) || (p >= 0xd800 && p <= 0xdfff)) return 'invalid BMPString';
      }
      return undefined;
    }
    case TAG.IA5_STRING:
      return isAscii(v) ? undefined : 'invalid IA5String';
    case 0x12: // NumericString
      return v.every((b) => (b >= 0x30 && b <= 0x39) || b === 0x20) ? undefined : 'invalid NumericString';
    default:
      return `unsupported string type 0x${tag.toString(16)}`;
  }
}

function goNameProblem(raw: Uint8Array): string | undefined {
  const name = parse(raw);
  for (const set of name.children()) {
    if (set.tag !== TAG.SET) return 'invalid RDNSequence';
    for (const atv of set.children()) {
      const t = readNode(raw, atv.valueStart, atv.end);
      const v = readNode(raw, t.end, atv.end);
      const p = goStringProblem(v.tag, v.value);
      if (p) return `invalid attribute value: ${p}`;
    }
  }
  return undefined;
}

/** Go's domainNameValid(host, false) for URI hosts, roughly: LDH-and-underscore labels, no empty label. */
function goUriHostValid(host: string): boolean {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) return true;
  const colon = h.lastIndexOf(':');
  if (colon >= 0 && /^\d*$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  if (h.length === 0 || h.length > 253) return false;
  return h.split('.').every((l, i, all) => (l.length > 0 || i === all.length - 1) && l.length <= 63 && /^[A-Za-z0-9_-]*$/.test(l));
}

const GO_CURVES = new Set(['1.3.132.0.33', OID.prime256v1, OID.secp384r1, OID.secp521r1]);
const GO_KEY_ALGS = new Set([OID.rsaEncryption, OID.ecPublicKey, OID.ed25519, '1.3.101.110', OID.dsa]);

// Extensions whose value Go parses (a malformed one fails ParseCertificate) and that it refuses as critical.
const GO_PARSED = [
  OID.keyUsage,
  OID.extKeyUsage,
  OID.basicConstraints,
  OID.subjectAltName,
  OID.nameConstraints,
  OID.authorityKeyIdentifier,
  OID.subjectKeyIdentifier,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  OID.certificatePolicies,
];
const GO_NOT_CRITICAL: readonly string[] = [OID.authorityKeyIdentifier, OID.subjectKeyIdentifier, OID.authorityInfoAccess];

/**
 * Why Go's x509.ParseCertificate refuses `c`, or undefined when it parses. Every Kubernetes component
 * loads certificates through it, so such a certificate is unusable there whatever its chain.
 */
export function goParseProblem(c: Certificate): string | undefined {
  const hit = parseProblems.get(c);
  if (hit !== undefined) return hit === '' ? undefined : hit;
  const p = goParseProblemOnce(c);
  parseProblems.set(c, p ?? '');
  return p;
}

// Verdicts are per certificate: a scan meets the same intermediates on every path.
const parseProblems = new WeakMap<Certificate, string>();

function goParseProblemOnce(c: Certificate): string | undefined {
  const enc = c.encodingIssues.filter((i) => !HAS_GO_TOLERATED.some((re) => re.test(i)));
  if (enc.length) return `not DER: ${enc[0]}`;
  try {
    return goParseProblemUnchecked(c);
  } catch (e) {
    if (e instanceof DerError || e instanceof InputError) return `malformed: ${(e as Error).message}`;
    throw e;
  }
}

function goParseProblemUnchecked(c: Certificate): string | undefined {
  if (c.version > 3) return `invalid version ${c.version}`;
  if (c.serialNegative) return 'negative serial number';
  const tbs = parse(c.tbs);
  const first = tbs.child(0);
  const innerAlg = first.tag === 0xa0 ? tbs.after(tbs.after(first)) : tbs.after(first);
  const outerAlg = parse(c.der).child(1);
  if (!bytesEqual(innerAlg.raw, outerAlg.raw)) return "inner and outer signature algorithm identifiers don't match";
  for (const [what, raw] of [
    ['issuer', c.issuerRaw],
    ['subject', c.subjectRaw],
  ] as const) {
    const p = goNameProblem(raw);
    if (p) return `${what}: ${p}`;
  }
  // The public key: Go parses it eagerly.
  const spki = parse(c.spki);
  const alg = spki.child(0);
  const algOid = decodeOid(alg.child(0));
  if (!GO_KEY_ALGS.has(algOid)) return `unknown public key algorithm ${algOid}`;
  const params = alg.children()[1];
  if (algOid === OID.rsaEncryption && params?.tag !== TAG.NULL) return 'RSA key missing NULL parameters';
  if (algOid === OID.ecPublicKey && (params?.tag !== TAG.OID || !GO_CURVES.has(decodeOid(params))))
    return `unsupported elliptic curve ${params?.tag === TAG.OID ? decodeOid(params) : '(explicit parameters)'}`;
  const ki = c.keyInfo;
  if (ki.algorithm === 'unreadable') return 'invalid public key';
  // Extensions.
  const seen = new Set<string>();
  for (const e of c.extensions) {
    if (seen.has(e.oid)) return `certificate contains duplicate extension with OID "${e.oid}"`;
    seen.add(e.oid);
    if (e.critical && GO_NOT_CRITICAL.includes(e.oid)) return `${extName(e.oid)} incorrectly marked critical`;
  }
  void c.sans;
  void c.keyUsage;
  void c.extKeyUsage;
  void c.basicConstraints;
  void c.subjectKeyId;
  void c.authorityKeyId;
  void c.nameConstraints;
  void c.crlDistributionPoints;
  void c.authorityInfoAccess;
  void c.policies;
  const malformed = c.warnings.find((w) => w.startsWith('malformed ') && GO_PARSED.some((o) => w.startsWith(`malformed ${extName(o)} `)));
  if (malformed) return malformed;
  const nc = c.nameConstraints;
  if (nc && !Object.values(nc.permitted).some((l) => l.length) && !Object.values(nc.excluded).some((l) => l.length))
    return 'empty name constraints extension';
  const s = c.sans;
  if (![...s.dns, ...s.email, ...s.uri].every((x) => /^[\x00-\x7f]*$/.test(x))) return 'SAN entry is not an IA5String';
  const badIp = s.ip.find((x) => x.startsWith('invalid('));
  if (badIp) return `cannot parse IP address of length ${(badIp.length - 9) / 2}`;
  for (const u of s.uri) {
    // Go's url.Parse: bad percent-escapes, control characters, an empty scheme.
    if (/%(?![0-9a-fA-F]{2})/.test(u) || /[\x00-\x1f\x7f]/.test(u) || u.startsWith(':')) return `cannot parse URI "${u}"`;
    const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^/?#]*)/i.exec(u);
    if (m?.[1] && !goUriHostValid(m[1])) return `cannot parse URI "${u}": invalid domain`;
  }
  return undefined;
}

// ---------- signature algorithms ----------

/** Why Go will not accept `c`'s signature algorithm (checked on every certificate but the anchor). */
export function goSignatureProblem(
  c: Certificate,
): { code: 'INSECURE_SIGNATURE_ALGORITHM' | 'UNSUPPORTED_SIGNATURE_ALGORITHM'; why: string } | undefined {
  const o = c.signatureAlgorithmOid;
  if (o === OID.md5WithRSA) return { code: 'INSECURE_SIGNATURE_ALGORITHM', why: 'MD5 signature' };
  if (o === OID.sha1WithRSA || o === OID.ecdsaWithSHA1 || o === '1.2.840.10040.4.3')
    return { code: 'INSECURE_SIGNATURE_ALGORITHM', why: 'SHA-1 signature' };
  if (o === OID.rsassaPss) {
    const why = goPssProblem(c);
    return why ? { code: 'UNSUPPORTED_SIGNATURE_ALGORITHM', why } : undefined;
  }
  const known: readonly string[] = [
    OID.sha256WithRSA,
    OID.sha384WithRSA,
    OID.sha512WithRSA,
    OID.ecdsaWithSHA256,
    OID.ecdsaWithSHA384,
    OID.ecdsaWithSHA512,
    OID.ed25519,
  ];
  if (!known.includes(o))
    return { code: 'UNSUPPORTED_SIGNATURE_ALGORITHM', why: `signature algorithm ${c.signatureAlgorithm} is not supported by Go` };
  if (o === OID.ed25519 && parse(c.der).child(1).children().length > 1)
    return { code: 'UNSUPPORTED_SIGNATURE_ALGORITHM', why: 'Ed25519 signature algorithm with parameters' };
  return undefined;
}

function pssOf(c: Certificate) {
  return parsePssParams(parse(c.der).child(1).children()[1]);
}

/** Go accepts RSA-PSS only as SHA-256/384/512 with MGF1 of the same hash, salt = hash length, trailer 1, all explicit. */
function goPssProblem(c: Certificate): string | undefined {
  let p: ReturnType<typeof parsePssParams>;
  try {
    p = pssOf(c);
  } catch (e) {
    return `malformed RSA-PSS parameters (${(e as Error).message})`;
  }
  const salt: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };
  const omitted = [
    !p.explicit.hash && 'the hash',
    !p.explicit.mgf && 'the mask generation function',
    !p.explicit.salt && 'the salt length',
  ].filter((x): x is string => typeof x === 'string');
  if (omitted.length) return `RSA-PSS parameters omit ${omitted.join(', ')} (DEFAULTs SHA-1, MGF1-SHA-1, 20), which Go requires explicitly`;
  if (p.oddHashParams) return 'RSA-PSS hash parameters other than NULL';
  const base = pssUnsupported(p);
  if (base) return base;
  if (p.mgf1Hash !== p.hash) return `RSA-PSS with MGF1-${p.mgf1Hash} differing from the message hash ${p.hash}, which Go does not accept`;
  const want = salt[p.hash];
  if (want === undefined) return `RSA-PSS with ${p.hash}, which Go does not accept (SHA-256, SHA-384, SHA-512 only)`;
  if (p.saltLength !== want) return `RSA-PSS with salt length ${p.saltLength}, which Go does not accept (${p.hash} needs ${want})`;
  return undefined;
}

/** For openssl and strict: an RSA-PSS combination OpenSSL cannot verify, with the reason. */
export function pssProblem(c: Certificate): string | undefined {
  if (c.signatureAlgorithmOid !== OID.rsassaPss) return undefined;
  try {
    return pssUnsupported(pssOf(c));
  } catch (e) {
    return `malformed RSA-PSS parameters (${(e as Error).message})`;
  }
}

/** Go (1.24+) refuses RSA keys under 1024 bits for any signature check. */
export function goSignerKeyProblem(issuer: Certificate): string | undefined {
  const k = issuer.keyInfo;
  if (k.algorithm === 'RSA' && (k.size ?? 0) < 1024) return `${k.size}-bit RSA key (Go refuses RSA keys under 1024 bits)`;
  return undefined;
}

// ---------- critical extensions Go processes ----------

const GO_HANDLED = new Set(['15', '19', '17', '30', '31', '35', '37', '14', '32', '36', '33', '54'].map((n) => `2.5.29.${n}`));

/** Critical extensions Go's verifier does not process (UnhandledCriticalExtensions): they fail the chain. */
export function goUnhandledCritical(c: Certificate): string[] {
  const out: string[] = [];
  for (const e of c.extensions) {
    if (!e.critical) continue;
    if (e.oid === OID.authorityInfoAccess) continue; // refused at parse time instead
    if (!GO_HANDLED.has(e.oid)) out.push(e.oid);
    else if (e.oid === OID.subjectAltName) {
      const s = c.sans;
      if (s.dns.length + s.email.length + s.ip.length + s.uri.length === 0) out.push(e.oid);
    } else if (e.oid === OID.nameConstraints) {
      const nc = c.nameConstraints;
      if (nc && (nc.permitted.directory.length || nc.excluded.directory.length || ncOtherTypes(c))) out.push(e.oid);
    }
  }
  return out;
}

/** The name constraints carry types other than DNS, IP, email, URI and directoryName (x400, EDI, otherName...). */
function ncOtherTypes(c: Certificate): boolean {
  const e = c.extensions.find((x) => x.oid === OID.nameConstraints);
  if (!e) return false;
  const nc = parse(e.value);
  for (const part of nc.children())
    for (const sub of part.children()) {
      const base = sub.child(0);
      if (![0x81, 0x82, 0x86, 0x87].includes(base.tag)) return true;
    }
  return false;
}

// ---------- Go's view of a certificate ----------

const NO_EXTENSIONS: Partial<Record<keyof Certificate, unknown>> = {
  extensions: [],
  basicConstraints: undefined,
  keyUsage: undefined,
  extKeyUsage: undefined,
  nameConstraints: undefined,
  subjectKeyId: undefined,
  authorityKeyId: undefined,
  unknownCriticalExtensions: [],
  sans: { dns: [], ip: [], uri: [], email: [], other: [] },
  crlDistributionPoints: [],
  policies: [],
};

const views = new WeakMap<Certificate, Certificate>();

/**
 * The certificate as Go's verifier sees it: a version 1 or 2 certificate's extensions are ignored
 * entirely, and an empty extendedKeyUsage or keyUsage reads as absent. Identity (DER, names, key)
 * is the certificate's own.
 */
export function goView(c: Certificate): Certificate {
  const ignoreAll = c.version < 3 && c.extensions.length > 0;
  const emptyEku = c.extKeyUsage?.length === 0;
  if (!ignoreAll && !emptyEku) return c;
  let v = views.get(c);
  if (!v) {
    v = new Proxy(c, {
      get(target, prop) {
        if (ignoreAll) {
          if (prop === 'hasExtension' || prop === 'isCritical') return () => false;
          if (prop in NO_EXTENSIONS) return NO_EXTENSIONS[prop as keyof Certificate];
        } else if (prop === 'extKeyUsage') return undefined;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    views.set(c, v);
  }
  return v;
}
