// The whole lint report in memory, for tests: what `anchorage lint` finds in the paths (streamLint's findings
// collected) and the table it prints (renderTable over them, sorted by severity), the reference the streamed
// table (streamLintTable, bounded memory) is compared with.

import {
  type LintCliOptions,
  type LintOutput,
  lintSettings,
  rowOf,
  streamLint,
  summaryText,
  TABLE_HEADERS,
} from '../../src/cli/commands/lint.ts';
import { renderTable } from '../../src/cli/output.ts';
import { InputError } from '../../src/common/errors.ts';
import { type Finding, SEVERITY_RANK, type Severity } from '../../src/lint/types.ts';

/** Read, lint and summarise, every finding held. */
export function lintPaths(paths: string[], o: LintCliOptions = {}, now: Date = new Date()): LintOutput {
  const findings: Finding[] = [];
  const { certificates, skipped } = streamLint(paths, lintSettings(o, now), (f) => findings.push(f));
  if (certificates === 0) throw new InputError(`no certificates found in ${paths.join(', ')}`);
  const summary: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  for (const f of findings) summary[f.severity]++;
  return { certificates, summary, findings, skipped };
}

/** The table of a whole report, as one renderTable call prints it. */
export function renderLint(out: LintOutput, o: { verbose?: boolean } = {}): string {
  const rows = [...out.findings].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]).map(rowOf);
  return `${rows.length ? renderTable(TABLE_HEADERS, rows) : ''}${summaryText(out.certificates, out.summary, out.skipped, o.verbose === true)}`;
}
