// Stable, machine-readable reason codes. Scripts match on these; the words beside them may change.
// docs/trust.md documents each one: add a code there when adding it here.

export const REASON_CODES = {
  ISSUER_NOT_FOUND: 'no trust anchor or intermediate has the name this certificate gives as its issuer',
  NAME_MISMATCH_KEY: 'a CA with the issuer name exists, but with another key (rotated or rogue CA)',
  SIGNATURE_INVALID: "the issuer's key (named by key identifier) does not verify the signature",
  UNTRUSTED_ROOT: 'the path ends at a self-signed certificate that is not a trust anchor',
  LOOP: 'the issuer is already on the path (cross-signatures form a cycle)',
  DEPTH_EXCEEDED: 'the path needs more intermediates than maxDepth allows',
  EXPIRED: 'a certificate is past its notAfter at the check time',
  NOT_YET_VALID: 'a certificate is before its notBefore at the check time',
  NOT_A_CA: 'an issuer lacks basicConstraints cA=TRUE',
  PATH_LEN_EXCEEDED: 'more intermediates sit below a CA than its pathLen allows',
  MISSING_KEY_CERT_SIGN: 'an issuer has keyUsage without keyCertSign',
  EKU_MISMATCH: 'the leaf or a CA does not allow the requested purpose (extended key usage)',
  KEY_USAGE_MISMATCH: "the leaf's keyUsage does not allow TLS for the requested purpose",
  NAME_CONSTRAINT_VIOLATION: 'a name falls outside the permitted or inside the excluded subtrees of a CA',
  HOST_MISMATCH: 'the leaf does not name the requested host, IP or URI',
  UNKNOWN_CRITICAL_EXTENSION: 'a certificate carries a critical extension Anchorage does not process',
  MALFORMED_CERTIFICATE: "the certificate does not parse under the profile's rules (kubernetes: Go's x509.ParseCertificate refuses it)",
  INSECURE_SIGNATURE_ALGORITHM: 'a signature the profile relies on uses SHA-1 or MD5 (refused by Go, hence Kubernetes)',
  UNSUPPORTED_SIGNATURE_ALGORITHM: 'a signature algorithm or RSA-PSS parameter combination the profile cannot verify',
  PROFILE_VIOLATION: 'a certificate breaks a rule of the strict profile (RFC 5280 and CA/Browser Forum rules)',
  REVOKED: "a certificate is listed on its issuer's CRL",
  CRL_EXPIRED: "the issuer's newest CRL is past its nextUpdate",
  CRL_NOT_YET_VALID: "the issuer's CRL is before its thisUpdate",
  CRL_SIGNATURE_INVALID: "a CRL names the issuer, but the issuer's key did not sign it",
  CRL_MISSING_CRL_SIGN: 'the CRL issuer has keyUsage without cRLSign',
  CRL_UNKNOWN_CRITICAL_EXTENSION: 'a CRL carries a critical extension Anchorage does not process',
  CRL_MISSING: 'no CRL from the issuer was supplied and the revocation policy requires one',
} as const;

export type ReasonCode = keyof typeof REASON_CODES;
