// Object identifiers Anchorage names. One table each; lookups both ways.

export const OID = {
  // attribute types (RFC 4519 short names where they exist)
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  TITLE: '2.5.4.12',
  GIVENNAME: '2.5.4.42',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  EMAIL: '1.2.840.113549.1.9.1',

  // public key algorithms
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  dsa: '1.2.840.10040.4.1',
  // curves
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  secp521r1: '1.3.132.0.35',
  secp256k1: '1.3.132.0.10',

  // signature algorithms
  md5WithRSA: '1.2.840.113549.1.1.4',
  sha1WithRSA: '1.2.840.113549.1.1.5',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  ecdsaWithSHA1: '1.2.840.10045.4.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',

  // digests
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  mgf1: '1.2.840.113549.1.1.8',

  // extensions
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  certificateIssuer: '2.5.29.29',
  holdInstructionCode: '2.5.29.23',
  freshestCrl: '2.5.29.46',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  subjectInfoAccess: '1.3.6.1.5.5.7.1.11',
  ctPrecertPoison: '1.3.6.1.4.1.11129.2.4.3',
  ctSct: '1.3.6.1.4.1.11129.2.4.2',
  netscapeComment: '2.16.840.1.113730.1.13',

  // AIA methods
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',

  // extended key usages
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
  anyPolicy: '2.5.29.32.0',

  // PKCS#9 / CSR
  extensionRequest: '1.2.840.113549.1.9.14',
  challengePassword: '1.2.840.113549.1.9.7',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',

  // PKCS#7 / CMS
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  encryptedData: '1.2.840.113549.1.7.6',
} as const;

const ATTR_SHORT: Record<string, string> = {
  [OID.CN]: 'CN',
  [OID.SN]: 'SN',
  [OID.SERIALNUMBER]: 'serialNumber',
  [OID.C]: 'C',
  [OID.L]: 'L',
  [OID.ST]: 'ST',
  [OID.STREET]: 'STREET',
  [OID.O]: 'O',
  [OID.OU]: 'OU',
  [OID.TITLE]: 'title',
  [OID.GIVENNAME]: 'GN',
  [OID.DC]: 'DC',
  [OID.UID]: 'UID',
  [OID.EMAIL]: 'emailAddress',
};
const ATTR_BY_SHORT: Record<string, string> = Object.fromEntries(Object.entries(ATTR_SHORT).map(([o, s]) => [s.toUpperCase(), o]));
ATTR_BY_SHORT.E = OID.EMAIL;
ATTR_BY_SHORT.EMAIL = OID.EMAIL;
ATTR_BY_SHORT.S = OID.ST;

export function attrShortName(oid: string): string | undefined {
  return ATTR_SHORT[oid];
}
export function attrOid(short: string): string | undefined {
  if (/^\d+(\.\d+)+$/.test(short)) return short;
  return ATTR_BY_SHORT[short.toUpperCase()];
}

const EKU_NAME: Record<string, string> = {
  [OID.serverAuth]: 'serverAuth',
  [OID.clientAuth]: 'clientAuth',
  [OID.codeSigning]: 'codeSigning',
  [OID.emailProtection]: 'emailProtection',
  [OID.timeStamping]: 'timeStamping',
  [OID.ocspSigning]: 'OCSPSigning',
  [OID.anyExtendedKeyUsage]: 'anyExtendedKeyUsage',
};
const EKU_BY_NAME: Record<string, string> = Object.fromEntries(Object.entries(EKU_NAME).map(([o, n]) => [n.toLowerCase(), o]));
EKU_BY_NAME.server = OID.serverAuth;
EKU_BY_NAME.client = OID.clientAuth;
EKU_BY_NAME.any = OID.anyExtendedKeyUsage;

export function ekuName(oid: string): string {
  return EKU_NAME[oid] ?? oid;
}
export function ekuOid(name: string): string | undefined {
  if (/^\d+(\.\d+)+$/.test(name)) return name;
  return EKU_BY_NAME[name.toLowerCase()];
}

const SIG_NAME: Record<string, string> = {
  [OID.md5WithRSA]: 'md5WithRSAEncryption',
  [OID.sha1WithRSA]: 'sha1WithRSAEncryption',
  [OID.sha256WithRSA]: 'sha256WithRSAEncryption',
  [OID.sha384WithRSA]: 'sha384WithRSAEncryption',
  [OID.sha512WithRSA]: 'sha512WithRSAEncryption',
  [OID.rsassaPss]: 'rsassaPss',
  [OID.ecdsaWithSHA1]: 'ecdsa-with-SHA1',
  [OID.ecdsaWithSHA256]: 'ecdsa-with-SHA256',
  [OID.ecdsaWithSHA384]: 'ecdsa-with-SHA384',
  [OID.ecdsaWithSHA512]: 'ecdsa-with-SHA512',
  [OID.ed25519]: 'ED25519',
  [OID.ed448]: 'ED448',
};
export function sigAlgName(oid: string): string {
  return SIG_NAME[oid] ?? oid;
}

/** Node crypto digest name for a signature algorithm, null for EdDSA, undefined if unknown. */
export function sigAlgDigest(oid: string): string | null | undefined {
  switch (oid) {
    case OID.md5WithRSA:
      return 'md5';
    case OID.sha1WithRSA:
    case OID.ecdsaWithSHA1:
      return 'sha1';
    case OID.sha256WithRSA:
    case OID.ecdsaWithSHA256:
      return 'sha256';
    case OID.sha384WithRSA:
    case OID.ecdsaWithSHA384:
      return 'sha384';
    case OID.sha512WithRSA:
    case OID.ecdsaWithSHA512:
      return 'sha512';
    case OID.ed25519:
    case OID.ed448:
      return null;
    default:
      return undefined;
  }
}

export const CURVE_NAME: Record<string, string> = {
  [OID.prime256v1]: 'P-256',
  [OID.secp384r1]: 'P-384',
  [OID.secp521r1]: 'P-521',
  [OID.secp256k1]: 'secp256k1',
};

const EXT_NAME: Record<string, string> = Object.fromEntries(
  (
    [
      'subjectKeyIdentifier',
      'keyUsage',
      'subjectAltName',
      'issuerAltName',
      'basicConstraints',
      'nameConstraints',
      'crlDistributionPoints',
      'certificatePolicies',
      'policyMappings',
      'authorityKeyIdentifier',
      'policyConstraints',
      'extKeyUsage',
      'inhibitAnyPolicy',
      'authorityInfoAccess',
      'subjectInfoAccess',
      'ctPrecertPoison',
      'ctSct',
      'netscapeComment',
      'crlNumber',
      'crlReason',
      'invalidityDate',
      'deltaCrlIndicator',
      'issuingDistributionPoint',
    ] as const
  ).map((k) => [OID[k], k]),
);
export function extName(oid: string): string {
  return EXT_NAME[oid] ?? oid;
}

export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

export const CRL_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused7',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type CrlReason = (typeof CRL_REASONS)[number];
