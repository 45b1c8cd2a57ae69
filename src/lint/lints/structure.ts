// Encoding and structure: serial, version, times, extensions list, signature algorithm fields.
import { DerError } from '../../x509/der.ts';
import { extName, OID, sigAlgName } from '../../x509/oids.ts';
import { derFacts, type TimeFact } from '../der-facts.ts';
import { signatureOids } from '../signature-names.ts';
import { defineLint } from '../types.ts';

const RFC = 'RFC 5280';

/** Decode every lazily parsed part; the engine skips other lints' DER errors because this one reports them. */
export const derMalformed = defineLint({
  id: 'x509.der.malformed',
  severity: 'error',
  description: 'Part of the certificate (a name, the key, the extension list) does not decode as DER.',
  remediation: 'Reissue the certificate with a conforming encoder; verifiers will reject it.',
  source: 'X.690, RFC 5280 4.1',
  check: (cert) => {
    const parts: [string, () => unknown][] = [
      ['subject', () => cert.subjectRdns],
      ['issuer', () => cert.issuerRdns],
      ['extensions', () => cert.extensions],
      ['validity and algorithm fields', () => derFacts(cert)],
    ];
    const out: string[] = [];
    for (const [what, f] of parts) {
      try {
        f();
      } catch (e) {
        if (!(e instanceof DerError)) throw e;
        out.push(`${what} does not decode: ${e.message}`);
      }
    }
    // The model turns a damaged key into algorithm 'unreadable' plus a warning instead of throwing.
    if (cert.keyInfo.algorithm === 'unreadable')
      out.push(
        ...cert.warnings
          .filter((w) => w.startsWith('unreadable public key'))
          .map((w) => `subjectPublicKeyInfo does not decode: ${w.replace(/^unreadable public key: /, '')}`),
      );
    return out;
  },
});

export const serialNotPositive = defineLint({
  id: 'x509.serial.not-positive',
  severity: 'error',
  description: 'The serial number is zero or negative.',
  remediation: 'Reissue with a positive random serial (at least 64 random bits, at most 20 octets).',
  source: `${RFC} 4.1.2.2`,
  check: (cert) => {
    if (cert.serialNegative) return [`serial number is negative (DER ${Buffer.from(cert.serialBytes).toString('hex')})`];
    if (cert.serialBytes.every((b) => b === 0)) return ['serial number is zero'];
    return [];
  },
});

export const serialTooLong = defineLint({
  id: 'x509.serial.too-long',
  severity: 'error',
  description: 'The serial number is longer than 20 octets.',
  remediation: 'Reissue with a serial of at most 20 octets; many verifiers reject longer ones.',
  source: `${RFC} 4.1.2.2`,
  check: (cert) => (cert.serialBytes.length > 20 ? [`serial number is ${cert.serialBytes.length} octets long (limit 20)`] : []),
});

export const validityNotPositive = defineLint({
  id: 'x509.validity.not-positive',
  severity: 'error',
  description: 'notAfter is not later than notBefore: the certificate is never valid.',
  remediation: 'Reissue with notAfter after notBefore.',
  source: `${RFC} 4.1.2.5`,
  check: (cert) =>
    cert.notAfter <= cert.notBefore
      ? [`notAfter ${cert.notAfter.toISOString()} is not after notBefore ${cert.notBefore.toISOString()}`]
      : [],
});

function timeProblems(which: string, date: Date, t: TimeFact): { type?: string; format?: string } {
  const y = date.getUTCFullYear();
  const want = y >= 1950 && y < 2050 ? 'UTCTime' : 'GeneralizedTime';
  const out: { type?: string; format?: string } = {};
  if (t.type !== want)
    out.type = `${which} (${y}) is encoded as ${t.type}; dates before 2050 must be UTCTime and from 2050 GeneralizedTime`;
  const re = t.type === 'UTCTime' ? /^\d{12}Z$/ : /^\d{14}Z$/;
  if (!re.test(t.text))
    out.format = `${which} is '${t.text}'; it must be ${t.type === 'UTCTime' ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ'} (seconds, no fraction, Z)`;
  return out;
}

export const wrongTimeType = defineLint({
  id: 'x509.validity.wrong-time-type',
  severity: 'error',
  description: 'A validity date uses GeneralizedTime before 2050 or UTCTime from 2050.',
  remediation: 'Reissue with an RFC 5280 conforming encoder (Go, OpenSSL and Anchorage choose the type by year).',
  source: `${RFC} 4.1.2.5`,
  check: (cert) => {
    const f = derFacts(cert);
    return [timeProblems('notBefore', cert.notBefore, f.notBefore).type, timeProblems('notAfter', cert.notAfter, f.notAfter).type].filter(
      (x): x is string => x !== undefined,
    );
  },
});

export const malformedTime = defineLint({
  id: 'x509.validity.malformed-time',
  severity: 'error',
  description: 'A validity date lacks seconds, carries fractions or is not in UTC (Z).',
  remediation: 'Reissue with times written as YYMMDDHHMMSSZ (UTCTime) or YYYYMMDDHHMMSSZ (GeneralizedTime).',
  source: `${RFC} 4.1.2.5.1-2`,
  check: (cert) => {
    const f = derFacts(cert);
    return [
      timeProblems('notBefore', cert.notBefore, f.notBefore).format,
      timeProblems('notAfter', cert.notAfter, f.notAfter).format,
    ].filter((x): x is string => x !== undefined);
  },
});

export const extensionsNotV3 = defineLint({
  id: 'x509.version.extensions-not-v3',
  severity: 'error',
  description: 'A version 1 or 2 certificate carries extensions.',
  remediation: 'Reissue as version 3 (extensions are only defined for v3).',
  source: `${RFC} 4.1.2.1`,
  check: (cert) =>
    cert.version < 3 && cert.extensions.length > 0
      ? [`version ${cert.version} certificate carries ${cert.extensions.length} extension(s)`]
      : [],
});

export const duplicateExtension = defineLint({
  id: 'x509.extension.duplicate',
  severity: 'error',
  description: 'The same extension appears more than once.',
  remediation: 'Reissue with each extension once; verifiers reject or pick one arbitrarily.',
  source: `${RFC} 4.2`,
  check: (cert) => {
    const exts = cert.extensions;
    if (exts.length <= 32 && !repeatsOid(exts)) return [];
    const n = new Map<string, number>();
    for (const e of exts) n.set(e.oid, (n.get(e.oid) ?? 0) + 1);
    return [...n].filter(([, c]) => c > 1).map(([o, c]) => `extension ${extName(o)} appears ${c} times`);
  },
});

export const explicitCriticalFalse = defineLint({
  id: 'x509.extension.explicit-critical-false',
  severity: 'warning',
  description: 'An extension encodes critical=FALSE explicitly, which DER forbids (FALSE is the default).',
  remediation: 'Reissue omitting the critical field of non-critical extensions; strict DER parsers reject the certificate.',
  source: 'X.690 11.5 (DER defaults)',
  check: (cert) => derFacts(cert).explicitNonCritical.map((o) => `extension ${extName(o)} spells out critical=FALSE`),
});

export const malformedExtension = defineLint({
  id: 'x509.extension.malformed',
  severity: 'error',
  description: 'An extension value does not decode.',
  remediation: 'Reissue the certificate; a verifier will reject it or ignore the extension.',
  source: `${RFC} 4.2`,
  check: (cert) => {
    // Touch every decoder: the model records a warning for each extension that fails.
    void cert.keyUsage;
    void cert.extKeyUsage;
    void cert.basicConstraints;
    void cert.sans;
    void cert.subjectKeyId;
    void cert.authorityKeyId;
    void cert.nameConstraints;
    void cert.crlDistributionPoints;
    void cert.authorityInfoAccess;
    void cert.policies;
    return cert.warnings.filter((w) => w.startsWith('malformed '));
  },
});

export const unknownCritical = defineLint({
  id: 'x509.extension.unknown-critical',
  severity: 'warning',
  description: 'A critical extension this toolkit (and most TLS stacks) does not understand.',
  remediation: 'Verifiers must reject certificates with unknown critical extensions: mark it non-critical or drop it.',
  source: `${RFC} 4.2`,
  check: (cert) => cert.unknownCriticalExtensions.map((o) => `critical extension ${extName(o)} is not understood by common verifiers`),
});

const WEAK_SIG = new Set([
  OID.md5WithRSA,
  OID.sha1WithRSA,
  OID.ecdsaWithSHA1,
  '1.2.840.113549.1.1.2', // md2WithRSAEncryption
  '1.3.14.3.2.29', // sha1WithRSASignature (OIW)
  '1.2.840.10040.4.3', // dsa-with-sha1
]);

export const weakHash = defineLint({
  id: 'x509.signature.weak-hash',
  severity: 'error',
  description: 'Signed with MD2, MD5 or SHA-1, for which collisions are practical.',
  remediation: 'Reissue with SHA-256 or stronger (sha256WithRSAEncryption, ecdsa-with-SHA256, Ed25519).',
  source: 'CA/Browser Forum BR 7.1.3',
  check: (cert) => (WEAK_SIG.has(cert.signatureAlgorithmOid) ? [`signature algorithm is ${cert.signatureAlgorithm}`] : []),
});

export const signatureNotAllowed = defineLint({
  id: 'x509.signature.algorithm-not-allowed',
  severity: 'error',
  description: 'The signature algorithm is not in the policy allow-list.',
  remediation: 'Reissue with an algorithm from signatures.allowed, or extend the policy if this one is acceptable.',
  source: 'policy signatures.allowed',
  appliesTo: (cert) => !WEAK_SIG.has(cert.signatureAlgorithmOid),
  check: (cert, ctx) =>
    signatureOids(ctx.policy.signatures.allowed).has(cert.signatureAlgorithmOid)
      ? []
      : [`signature algorithm ${cert.signatureAlgorithm} is not allowed by the policy`],
});

export const signatureMismatch = defineLint({
  id: 'x509.signature.algorithm-mismatch',
  severity: 'error',
  description: 'The signature algorithm inside the signed part differs from the one outside it.',
  remediation: 'Reissue: the two AlgorithmIdentifier fields must be identical, or verifiers reject the certificate.',
  source: `${RFC} 4.1.1.2`,
  check: (cert) => {
    if (cert.signatureAlgorithmOid !== cert.tbsSignatureAlgorithmOid)
      return [
        `outer signatureAlgorithm is ${sigAlgName(cert.signatureAlgorithmOid)} but the TBS says ${sigAlgName(cert.tbsSignatureAlgorithmOid)}`,
      ];
    const f = derFacts(cert);
    if (!Buffer.from(f.tbsSigAlg).equals(Buffer.from(f.outerSigAlg)))
      return [`outer and TBS ${cert.signatureAlgorithm} identifiers differ in their parameters`];
    return [];
  },
});

export const STRUCTURE_LINTS = [
  derMalformed,
  serialNotPositive,
  serialTooLong,
  validityNotPositive,
  wrongTimeType,
  malformedTime,
  extensionsNotV3,
  duplicateExtension,
  explicitCriticalFalse,
  malformedExtension,
  unknownCritical,
  weakHash,
  signatureNotAllowed,
  signatureMismatch,
];

/** Whether two extensions of a short list share an OID, compared pairwise (no map made for the usual ten). */
function repeatsOid(exts: readonly { oid: string }[]): boolean {
  for (let i = 1; i < exts.length; i++) {
    const oid = exts[i]?.oid;
    for (let j = 0; j < i; j++) if (exts[j]?.oid === oid) return true;
  }
  return false;
}
