// SARIF 2.1.0 for code-scanning UIs: one rule per catalog lint, one result per finding, located at the
// file the certificate came from and fingerprinted by certificate and lint so re-runs deduplicate.
import { CATALOG } from './catalog.ts';
import type { LintReport } from './engine.ts';
import type { Finding, Lint, Severity } from './types.ts';

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

/** The catalog's rules, and each lint's index among them. */
function sarifRules(lints: readonly Lint[]): { rules: unknown[]; index: Map<string, number> } {
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
  return { rules, index };
}

/** One finding as a SARIF result. */
function sarifResult(f: Finding, index: Map<string, number>): Record<string, unknown> {
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
}

function sarifLog(rules: unknown[], results: unknown[], properties: unknown, version: string | undefined): SarifLog {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'anchorage',
            version: version ?? '0.1.0',
            rules,
          },
        },
        results,
        properties,
      },
    ],
  };
}

export function toSarif(report: LintReport, opts: { version?: string; lints?: readonly Lint[] } = {}): SarifLog {
  const { rules, index } = sarifRules(opts.lints ?? CATALOG);
  const results = report.findings.map((f) => sarifResult(f, index));
  return sarifLog(rules, results, { certificates: report.certificates, summary: report.summary }, opts.version);
}

/**
 * toSarif's document printed as JSON.stringify(log, null, 2) would print it, a result at a time: `result` for
 * each finding as it comes, `end` with what is known only at the end (the count and the summary).
 */
export function sarifWriter(
  write: (chunk: string) => void,
  opts: { version?: string; lints?: readonly Lint[] } = {},
): { result(f: Finding): void; end(certificates: number, summary: LintReport['summary']): void } {
  const { rules, index } = sarifRules(opts.lints ?? CATALOG);
  // The document around one result and its properties, cut at two markers: the text before the result, its
  // indentation, and the text between the results and the properties.
  const R = '\u0000result';
  const P = '\u0000properties';
  const text = JSON.stringify(sarifLog(rules, [R], P, opts.version), null, 2);
  const r = text.indexOf(JSON.stringify(R));
  const lineStart = text.lastIndexOf('\n', r) + 1;
  const indent = text.slice(lineStart, r);
  const head = text.slice(0, lineStart - 1); // up to and with `"results": [`
  const afterResult = text.indexOf('\n', r);
  const p = text.indexOf(JSON.stringify(P));
  const close = text.slice(afterResult, text.lastIndexOf('\n', p) + 1); // `\n<outer>],\n` up to the properties' line
  const propsLine = text.slice(text.lastIndexOf('\n', p) + 1, p); // `<indent>"properties": `
  const propsIndent = propsLine.slice(0, propsLine.length - propsLine.trimStart().length);
  const tail = text.slice(p + JSON.stringify(P).length);
  let n = 0;
  let started = false;
  return {
    result(f) {
      if (!started) {
        write(head);
        started = true;
      }
      write(`${n++ ? ',' : ''}\n${indent}${JSON.stringify(sarifResult(f, index), null, 2).replaceAll('\n', `\n${indent}`)}`);
    },
    end(certificates, summary) {
      if (!started) write(head);
      // No result: JSON.stringify prints the empty array as `[]` on the line that opens it.
      const closing = n ? close : `]${close.slice(close.indexOf(']') + 1)}`;
      const properties = JSON.stringify({ certificates, summary }, null, 2).replaceAll('\n', `\n${propsIndent}`);
      write(`${closing}${propsLine}${properties}${tail}\n`);
    },
  };
}
