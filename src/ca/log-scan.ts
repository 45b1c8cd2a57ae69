// `scan` flags a certificate from an Anchorage CA that is missing from the CA's transparency log. Pure: over
// the certificates a scan found (with the issuers that verifiably signed them) and an exported log that
// `verifyLog` accepted. An issuer is an Anchorage CA when the log records its certificate (a `ca` entry:
// creation, or a rotation's new generation); everything such an issuer signed must then be in the log, as an
// issuance, a renewal, or a CA under it. Anything else was signed with the CA's key outside the service, or
// the log lost entries: either way the CA can no longer prove what it issued.
import type { LogEntry, LogExport } from './service.ts';

export const CA_LOG_FINDINGS = {
  'scan.ca.not-in-log': {
    severity: 'error',
    description:
      "A certificate signed by an Anchorage CA (its issuer's certificate is recorded in the CA's transparency log) is not in that log: the CA's key signed something outside the service, or the log lost entries.",
    remediation:
      "Treat the CA's key as exposed until it is explained: revoke the certificate, rotate the CA (anchorage ca rotate), and check the log against its last published tree head (anchorage ca log verify --since).",
  },
} as const;

export interface CaLogIndex {
  /** SHA-256 of every CA certificate the log records → the CA's name. */
  cas: Map<string, string>;
  /** SHA-256 of every certificate the log records (issued, renewed, CA). */
  recorded: Set<string>;
  entries: number;
}

/** Index exported logs (already checked with `verifyLog`). */
export function indexCaLogs(logs: readonly LogExport[]): CaLogIndex {
  const idx: CaLogIndex = { cas: new Map(), recorded: new Set(), entries: 0 };
  for (const log of logs)
    for (const text of log.entries) {
      const e = JSON.parse(text) as LogEntry;
      idx.entries++;
      if (!e.sha256) continue;
      if (e.type === 'ca') {
        idx.cas.set(e.sha256, e.ca ?? '?');
        idx.recorded.add(e.sha256);
      } else if (e.type === 'issue' || e.type === 'renew') idx.recorded.add(e.sha256);
    }
  return idx;
}

export interface ScannedCertificate {
  sha256: string;
  subject: string;
  /** SHA-256 of the certificates in the scan that signed this one (verified by signature). */
  issuedBy: readonly string[];
}

export interface MissingFromLog {
  sha256: string;
  subject: string;
  /** The CA (by name in the log) whose certificate signed it. */
  ca: string;
  issuerSha256: string;
}

export function certificatesMissingFromLog(certs: readonly ScannedCertificate[], idx: CaLogIndex): MissingFromLog[] {
  const out: MissingFromLog[] = [];
  for (const c of certs) {
    if (idx.recorded.has(c.sha256)) continue;
    // A self-signed certificate "issued by" itself is not an issuance by the CA.
    const issuer = c.issuedBy.find((i) => i !== c.sha256 && idx.cas.has(i));
    if (issuer === undefined) continue;
    out.push({ sha256: c.sha256, subject: c.subject, ca: idx.cas.get(issuer) as string, issuerSha256: issuer });
  }
  return out;
}
