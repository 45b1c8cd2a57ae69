// The lint engine's vocabulary: a lint is data (id, severity, words) plus two pure functions.

import type { Severity } from '../common/severity.ts';
import type { K8sRole } from '../k8s/roles.ts';
import type { Certificate } from '../x509/certificate.ts';
import type { Policy } from './policy.ts';

export { SEVERITIES, SEVERITY_RANK, type Severity } from '../common/severity.ts';

export interface Finding {
  lintId: string;
  severity: Severity;
  /** Plain words that name the actual values found. */
  message: string;
  subject: string;
  /** SHA-256 of the certificate DER, lowercase hex. */
  sha256: string;
  /** File the certificate came from. */
  source?: string;
  /** Where inside the file (PEM block, kubeconfig field), when the file holds several objects. */
  location?: string;
}

/** What a lint may know besides the certificate. Built by the engine; lints never read the clock or disk. */
export interface LintContext {
  now: Date;
  policy: Policy;
  source?: string;
  location?: string;
  /** Kubernetes role inferred from the path or the subject, if any. */
  role?: K8sRole;
  /** The certificate that issued this one, when it is among the linted set (matched by name and key id). */
  issuer?: Certificate;
  /** Another certificate in the set names this one as its issuer: it acts as a CA. */
  issuesOthers: boolean;
  /** The certificate whose name and key identifier match the issuer's, when its key did not sign this one. */
  claimedIssuer?: Certificate;
  /** Other certificates in the set with the same public key but a different subject. */
  sharedKeyWith: readonly Certificate[];
  /** How many subjects share the key in all; `sharedKeyWith` lists at most 10 of them. */
  sharedKeyTotal?: number;
  /** Number of certificates read from the same source. */
  sourceCount: number;
}

export interface Lint {
  /** Stable id: never renamed once released (policies and SARIF consumers key on it). */
  id: string;
  severity: Severity;
  /**
   * Severity under the `strict` profile, for lints whose default is lowered because the finding is how
   * kubeadm (and so most clusters) issues by design: reported, but not a warning a user cannot act on.
   */
  strictSeverity?: Severity;
  /** One line: what is wrong. */
  description: string;
  /** One line: how to fix it. */
  remediation: string;
  /** Where the rule comes from (RFC 5280, CABF, Kubernetes...). */
  source: string;
  appliesTo(cert: Certificate, ctx: LintContext): boolean;
  check(cert: Certificate, ctx: LintContext): Finding[];
}

/** What lint authors write: `check` returns one message per problem; defineLint stamps the rest. */
export interface LintSpec extends Omit<Lint, 'check' | 'appliesTo'> {
  appliesTo?(cert: Certificate, ctx: LintContext): boolean;
  check(cert: Certificate, ctx: LintContext): string[];
}

export function defineLint(spec: LintSpec): Lint {
  const { check, appliesTo, ...meta } = spec;
  return {
    ...meta,
    appliesTo: appliesTo ?? (() => true),
    check: (cert, ctx) => {
      const messages = check(cert, ctx);
      // Most checks find nothing: skip the allocation (this runs lints x certificates times).
      if (messages.length === 0) return NONE;
      return messages.map((message) => {
        const f: Finding = { lintId: meta.id, severity: meta.severity, message, subject: safeSubject(cert), sha256: cert.sha256 };
        if (ctx.source !== undefined) f.source = ctx.source;
        if (ctx.location !== undefined) f.location = ctx.location;
        return f;
      });
    },
  };
}

const NONE: Finding[] = [];
Object.freeze(NONE);

/** The subject string, or a placeholder when the name does not decode (x509.der.malformed reports why). */
export function safeSubject(cert: Certificate): string {
  try {
    return cert.subject;
  } catch {
    return '(undecodable subject)';
  }
}
