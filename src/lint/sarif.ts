// SARIF 2.1.0 for code-scanning UIs: one rule per catalog lint, one result per finding, located at the
// file the certificate came from and fingerprinted by certificate and lint so re-runs deduplicate.
import { CATALOG } from './catalog.ts';
import type { LintReport } from './engine.ts';
import type { Lint, Severity } from './types.ts';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', notice: 'note' };

export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: unknown[];
}

/** Rule name in SARIF's PascalCase style, from the id's last two parts. */
function ruleName(id: string): string {
  return id
    .split('.')
    .slice(1)
    .join('-')
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** A relative path as a URI reference (forward slashes, percent-encoded segments). */
function toUri(path: string): string {
  const p = path.replaceAll('\\', '/');
  const abs = p.startsWith('/');
  const enc = p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return abs ? `file://${enc}` : enc;
}

export function toSarif(report: LintReport, opts: { version?: string; lints?: readonly Lint[] } = {}): SarifLog {
  const lints = opts.lints ?? CATALOG;
  const index = new Map(lints.map((l, i) => [l.id, i]));
  const rules = lints.map((l) => ({
    id: l.id,
    name: ruleName(l.id),
    shortDescription: { text: l.description },
    fullDescription: { text: `${l.description} Source: ${l.source}.` },
    help: { text: l.remediation, markdown: `**Fix:** ${l.remediation}\n\nSource: ${l.source}` },
    defaultConfiguration: { level: LEVEL[l.severity] },
    properties: { tags: [l.id.split('.')[0] === 'k8s' ? 'kubernetes' : 'x509', 'pki'] },
  }));
  const results = report.findings.map((f) => {
    const r: Record<string, unknown> = {
      ruleId: f.lintId,
      level: LEVEL[f.severity],
      message: { text: `${f.message} (certificate ${f.subject || '(empty subject)'}, SHA-256 ${f.sha256})` },
      partialFingerprints: { 'certificateSha256/v1': f.sha256, 'findingKey/v1': `${f.lintId}:${f.sha256}:${f.message}` },
      properties: { subject: f.subject, sha256: f.sha256, severity: f.severity },
    };
    const i = index.get(f.lintId);
    if (i !== undefined) r.ruleIndex = i;
    if (f.source !== undefined) {
      const loc: Record<string, unknown> = { physicalLocation: { artifactLocation: { uri: toUri(f.source) } } };
      if (f.location !== undefined) loc.logicalLocations = [{ name: f.location, kind: 'element' }];
      r.locations = [loc];
    }
    return r;
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'anchorage',
            version: opts.version ?? '0.1.0',
            rules,
          },
        },
        results,
        properties: { certificates: report.certificates, summary: report.summary },
      },
    ],
  };
}
