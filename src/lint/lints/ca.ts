// CA-ness and key usage: basicConstraints, keyUsage, pathLen, key identifiers, name constraints.
import { OID } from '../../x509/oids.ts';
import { defineLint } from '../types.ts';
import { caEvidence, ekus, list } from './util.ts';

const RFC = 'RFC 5280';

export const bcMissing = defineLint({
  id: 'x509.ca.basic-constraints-missing',
  severity: 'error',
  description: 'A certificate used as a CA has no basicConstraints extension.',
  remediation: 'Reissue the CA with a critical basicConstraints cA=TRUE; verifiers will not accept what it signs.',
  source: `${RFC} 4.2.1.9`,
  appliesTo: (_cert, ctx) => caEvidence(ctx) !== undefined,
  check: (cert, ctx) => (cert.hasExtension(OID.basicConstraints) ? [] : [`no basicConstraints, yet ${caEvidence(ctx)}`]),
});

export const bcNotCritical = defineLint({
  id: 'x509.ca.basic-constraints-not-critical',
  severity: 'error',
  description: 'A CA certificate has basicConstraints marked non-critical.',
  remediation: 'Reissue the CA with basicConstraints marked critical.',
  source: `${RFC} 4.2.1.9, CA/B BR 7.1.2`,
  appliesTo: (cert) => cert.isCA,
  check: (cert) => (cert.isCritical(OID.basicConstraints) ? [] : ['basicConstraints cA=TRUE is not marked critical']),
});

export const caFalse = defineLint({
  id: 'x509.ca.ca-false',
  severity: 'error',
  description: 'A certificate used as a CA has basicConstraints cA=FALSE.',
  remediation: 'Reissue it with cA=TRUE if it is meant to sign certificates; otherwise stop using it as an issuer.',
  source: `${RFC} 4.2.1.9`,
  appliesTo: (cert, ctx) => caEvidence(ctx) !== undefined && cert.hasExtension(OID.basicConstraints),
  check: (cert, ctx) => (cert.isCA ? [] : [`basicConstraints says cA=FALSE, yet ${caEvidence(ctx)}`]),
});

export const keyCertSignWithoutCa = defineLint({
  id: 'x509.ca.keycertsign-without-ca',
  severity: 'error',
  description: 'keyUsage asserts keyCertSign but basicConstraints does not say cA=TRUE.',
  remediation: 'Either make it a CA (critical basicConstraints cA=TRUE) or drop keyCertSign from a leaf.',
  source: `${RFC} 4.2.1.3`,
  check: (cert) =>
    cert.keyUsage?.includes('keyCertSign') && !cert.isCA
      ? [`keyCertSign is set but ${cert.hasExtension(OID.basicConstraints) ? 'cA is FALSE' : 'basicConstraints is absent'}`]
      : [],
});

export const leafCaTrue = defineLint({
  id: 'x509.leaf.ca-true',
  severity: 'error',
  description: 'A certificate whose role is a leaf (server or client) is marked cA=TRUE.',
  remediation: 'Reissue the leaf with cA=FALSE: its key must not be able to sign certificates.',
  source: `${RFC} 4.2.1.9, CA/B BR 7.1.2.3`,
  appliesTo: (_cert, ctx) => ctx.role !== undefined && !ctx.role.ca,
  check: (cert, ctx) => (cert.isCA ? [`the ${ctx.role?.name} certificate is a leaf but carries cA=TRUE`] : []),
});

export const caKeyUsageMissing = defineLint({
  id: 'x509.ca.key-usage-missing',
  severity: 'error',
  description: 'A CA certificate has no keyUsage extension.',
  remediation: 'Reissue the CA with a critical keyUsage of keyCertSign (and cRLSign, digitalSignature as needed).',
  source: `${RFC} 4.2.1.3`,
  appliesTo: (cert) => cert.isCA,
  check: (cert) => (cert.hasExtension(OID.keyUsage) ? [] : ['CA certificate has no keyUsage']),
});

export const caKeyUsageNotCritical = defineLint({
  id: 'x509.ca.key-usage-not-critical',
  severity: 'error',
  description: 'A CA certificate has keyUsage marked non-critical.',
  remediation: 'Reissue the CA with keyUsage marked critical.',
  source: `${RFC} 4.2.1.3, CA/B BR 7.1.2.1`,
  appliesTo: (cert) => cert.isCA && cert.hasExtension(OID.keyUsage),
  check: (cert) => (cert.isCritical(OID.keyUsage) ? [] : ['keyUsage of a CA certificate is not marked critical']),
});

export const caKeyUsageNoCertSign = defineLint({
  id: 'x509.ca.key-usage-no-keycertsign',
  severity: 'error',
  description: 'A CA certificate has keyUsage without keyCertSign, so it cannot sign certificates.',
  remediation: 'Reissue the CA with keyCertSign in its keyUsage.',
  source: `${RFC} 4.2.1.3`,
  appliesTo: (cert) => cert.isCA && cert.keyUsage !== undefined,
  check: (cert) => (cert.keyUsage?.includes('keyCertSign') ? [] : [`CA keyUsage is ${list(cert.keyUsage ?? [])}: keyCertSign is missing`]),
});

export const pathLenOnNonCa = defineLint({
  id: 'x509.ca.pathlen-on-non-ca',
  severity: 'error',
  description: 'basicConstraints carries pathLenConstraint although cA is FALSE.',
  remediation: 'Reissue without pathLenConstraint (it is only meaningful for CAs).',
  source: `${RFC} 4.2.1.9`,
  check: (cert) => {
    const bc = cert.basicConstraints;
    return bc && !bc.ca && bc.pathLen !== undefined ? [`pathLenConstraint ${bc.pathLen} on a certificate with cA=FALSE`] : [];
  },
});

export const pathLenWithoutCertSign = defineLint({
  id: 'x509.ca.pathlen-without-keycertsign',
  severity: 'error',
  description: 'pathLenConstraint is present but keyUsage does not assert keyCertSign.',
  remediation: 'Add keyCertSign to the CA keyUsage, or drop pathLenConstraint.',
  source: `${RFC} 4.2.1.9`,
  appliesTo: (cert) => cert.isCA && cert.basicConstraints?.pathLen !== undefined && cert.keyUsage !== undefined,
  check: (cert) =>
    cert.keyUsage?.includes('keyCertSign')
      ? []
      : [`pathLenConstraint ${cert.basicConstraints?.pathLen} with keyUsage ${list(cert.keyUsage ?? [])}`],
});

export const pathLenOnRoot = defineLint({
  id: 'x509.ca.pathlen-on-root',
  severity: 'notice',
  description: 'A self-signed root carries pathLenConstraint, which limits every future intermediate.',
  remediation: 'Usually leave pathLenConstraint off roots and set it on intermediates instead.',
  source: 'CA/B BR 7.1.2.1',
  appliesTo: (cert) => cert.isCA && cert.selfIssued,
  check: (cert) => {
    const p = cert.basicConstraints?.pathLen;
    return p === undefined ? [] : [`root CA limits chains below it to pathLenConstraint ${p}`];
  },
});

export const caSkiMissing = defineLint({
  id: 'x509.ca.ski-missing',
  severity: 'error',
  description: 'A CA certificate has no subjectKeyIdentifier.',
  remediation: 'Reissue the CA with a subjectKeyIdentifier (SHA-1 of the public key); chain building relies on it.',
  source: `${RFC} 4.2.1.2`,
  appliesTo: (cert) => cert.isCA,
  check: (cert) => (cert.hasExtension(OID.subjectKeyIdentifier) ? [] : ['CA certificate has no subjectKeyIdentifier']),
});

export const leafSkiMissing = defineLint({
  id: 'x509.leaf.ski-missing',
  // kubeadm (Go's x509) never sets a leaf SKI: a notice by default, a warning under the strict profile.
  severity: 'notice',
  strictSeverity: 'warning',
  description: 'A leaf certificate has no subjectKeyIdentifier (kubeadm never sets one: a notice unless the profile is strict).',
  remediation: 'Issue leaves with a subjectKeyIdentifier; it makes rotations and key matching traceable.',
  source: `${RFC} 4.2.1.2`,
  appliesTo: (cert) => !cert.isCA,
  check: (cert) => (cert.hasExtension(OID.subjectKeyIdentifier) ? [] : ['leaf certificate has no subjectKeyIdentifier']),
});

export const akiMissingKeyId = defineLint({
  id: 'x509.aki.missing-key-id',
  severity: 'warning',
  description: 'A certificate not self-issued has no authorityKeyIdentifier keyIdentifier.',
  remediation:
    'Issue with authorityKeyIdentifier set to the issuer subjectKeyIdentifier, so verifiers can pick the right CA during rotation.',
  source: `${RFC} 4.2.1.1`,
  appliesTo: (cert) => !cert.selfIssued,
  check: (cert) => {
    if (!cert.hasExtension(OID.authorityKeyIdentifier)) return ['no authorityKeyIdentifier extension'];
    return cert.authorityKeyId === undefined ? ['authorityKeyIdentifier has no keyIdentifier field'] : [];
  },
});

export const akiCritical = defineLint({
  id: 'x509.aki.critical',
  severity: 'error',
  description: 'authorityKeyIdentifier is marked critical.',
  remediation: 'Reissue with authorityKeyIdentifier non-critical.',
  source: `${RFC} 4.2.1.1`,
  check: (cert) => (cert.isCritical(OID.authorityKeyIdentifier) ? ['authorityKeyIdentifier is marked critical'] : []),
});

export const keyUsageEmpty = defineLint({
  id: 'x509.key-usage.empty',
  severity: 'error',
  description: 'keyUsage is present with no bits set.',
  remediation: 'Reissue with the key usages the certificate needs, or without the extension.',
  source: `${RFC} 4.2.1.3`,
  appliesTo: (cert) => cert.hasExtension(OID.keyUsage),
  check: (cert) => (cert.keyUsage?.length === 0 ? ['keyUsage is present but asserts no bit'] : []),
});

/** RFC 5280 4.2.1.12: key usage bits consistent with each extended key usage (any one suffices). */
const EKU_NEEDS: Record<string, readonly string[]> = {
  serverAuth: ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
  clientAuth: ['digitalSignature', 'keyAgreement'],
  codeSigning: ['digitalSignature'],
  emailProtection: ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'keyAgreement'],
  timeStamping: ['digitalSignature', 'nonRepudiation'],
  OCSPSigning: ['digitalSignature', 'nonRepudiation'],
};

export const kuEkuInconsistent = defineLint({
  id: 'x509.key-usage.eku-inconsistent',
  severity: 'warning',
  description: 'keyUsage does not permit what extendedKeyUsage claims (e.g. serverAuth without digitalSignature).',
  remediation: 'Add the key usage the EKU needs (digitalSignature for TLS) or drop the EKU.',
  source: `${RFC} 4.2.1.12`,
  appliesTo: (cert) => (cert.keyUsage?.length ?? 0) > 0 && ekus(cert).length > 0,
  check: (cert) => {
    const ku = new Set<string>(cert.keyUsage ?? []);
    const out: string[] = [];
    for (const e of ekus(cert)) {
      const need = EKU_NEEDS[e];
      if (need && !need.some((b) => ku.has(b)))
        out.push(`extendedKeyUsage ${e} needs one of ${need.join(', ')}; keyUsage is ${list([...ku])}`);
    }
    return out;
  },
});

const SIGN_ONLY_KEYS = new Set(['EC', 'Ed25519', 'Ed448', 'DSA']);

export const keyEnciphermentNonRsa = defineLint({
  id: 'x509.key-usage.key-encipherment-non-rsa',
  // kubeadm sets keyEncipherment on every certificate whatever the key type; Go ignores it: a notice by
  // default, a warning under the strict profile.
  severity: 'notice',
  strictSeverity: 'warning',
  description:
    'keyEncipherment or dataEncipherment is set on a key that cannot encrypt (ECDSA, EdDSA); kubeadm does this on every certificate.',
  remediation:
    'Issue ECDSA/EdDSA certificates with digitalSignature only. Go-based Kubernetes components ignore the extra bit; strict TLS stacks may refuse.',
  source: 'RFC 8813 3, RFC 8410 5, RFC 5480 3',
  appliesTo: (cert) => SIGN_ONLY_KEYS.has(cert.keyInfo.algorithm),
  check: (cert) => {
    const bad = (cert.keyUsage ?? []).filter((u) => u === 'keyEncipherment' || u === 'dataEncipherment');
    if (!bad.length) return [];
    const key = `${cert.keyInfo.algorithm}${cert.keyInfo.curve ? ` ${cert.keyInfo.curve}` : ''}`;
    return [
      `keyUsage allows ${bad.join(' and ')}, but an ${key} key can only sign, never encrypt (RFC 8813 forbids it; kubeadm sets it anyway, Go ignores it)`,
    ];
  },
});

export const notSignedByIssuer = defineLint({
  id: 'x509.signature.not-by-issuer',
  severity: 'error',
  description: "The certificate's issuer name matches a CA in the set, but that CA's key did not sign it.",
  remediation:
    'Reissue it from the CA it names (its key was replaced, or a second CA with the same name signed it); every verifier will refuse the chain.',
  source: `${RFC} 6.1.3 (a)(1)`,
  appliesTo: (_cert, ctx) => ctx.claimedIssuer !== undefined,
  check: (cert, ctx) => {
    const i = ctx.claimedIssuer as NonNullable<typeof ctx.claimedIssuer>;
    const ski = i.subjectKeyId;
    const aki = cert.authorityKeyId;
    const ids = aki && ski && aki !== ski ? ` (it names key id ${aki}; the CA's is ${ski})` : '';
    return [
      `its issuer ${i.subject || '(empty subject)'} is in the set, but that CA's key did not sign it${ids}: it was signed by another key with the same name`,
    ];
  },
});

export const nameConstraintsOnLeaf = defineLint({
  id: 'x509.name-constraints.on-non-ca',
  severity: 'error',
  description: 'nameConstraints appears on a certificate that is not a CA.',
  remediation: 'Put name constraints on the issuing CA; on a leaf they mean nothing.',
  source: `${RFC} 4.2.1.10`,
  appliesTo: (cert) => !cert.isCA,
  check: (cert) => (cert.hasExtension(OID.nameConstraints) ? ['nameConstraints on a certificate with cA not TRUE'] : []),
});

export const CA_LINTS = [
  bcMissing,
  bcNotCritical,
  caFalse,
  keyCertSignWithoutCa,
  leafCaTrue,
  caKeyUsageMissing,
  caKeyUsageNotCritical,
  caKeyUsageNoCertSign,
  pathLenOnNonCa,
  pathLenWithoutCertSign,
  pathLenOnRoot,
  caSkiMissing,
  leafSkiMissing,
  akiMissingKeyId,
  akiCritical,
  keyUsageEmpty,
  kuEkuInconsistent,
  keyEnciphermentNonRsa,
  nameConstraintsOnLeaf,
  notSignedByIssuer,
];
