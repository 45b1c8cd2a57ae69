// `anchorage lint <files|dirs>`: run the lint catalog (docs/findings.md) under a policy (docs/policy.md).
// Exit 0 clean, 1 findings at or above --fail-on, 2 bad input (InputError, mapped by main.ts).
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { failsAt, type LintReport, type LintTarget, lintCertificates } from '../../lint/engine.ts';
import { showString } from '../../lint/lints/util.ts';
import { loadPolicy } from '../../lint/policy.ts';
import { toSarif } from '../../lint/sarif.ts';
import { SEVERITIES, SEVERITY_RANK, type Severity } from '../../lint/types.ts';
import { parseAt } from '../args.ts';
import { readInputs } from '../inputs.ts';
import { checkFormat, printOutput, renderTable } from '../output.ts';

export interface LintCliOptions {
  policy?: string;
  output?: string;
  failOn?: string;
  /** Evaluate expiry at this time (ISO 8601 or Unix seconds) instead of now. */
  at?: string;
  /** default|strict: strict also warns about what kubeadm does by design (docs/policy.md). */
  profile?: string;
  /** List the files that held no certificate in the table output. */
  verbose?: boolean;
}

export interface LintOutput extends LintReport {
  /** Files (or parts of files) that held nothing lintable, with the reason. Informational: they do not fail the run. */
  skipped: { source: string; reason: string }[];
}

const FORMATS = ['table', 'json', 'yaml', 'sarif'] as const;

/** Read every certificate under the paths. Non-PKI files inside directories are skipped, not fatal. */
export function readTargets(paths: string[]): { targets: LintTarget[]; skipped: LintOutput['skipped'] } {
  const targets: LintTarget[] = [];
  const skipped: LintOutput['skipped'] = [];
  for (const r of readInputs(paths)) {
    if (!r.result) {
      skipped.push({ source: r.source, reason: r.error ?? 'unreadable' });
      continue;
    }
    const certs = r.result.objects.filter((o) => o.kind === 'certificate');
    for (const w of r.result.warnings) skipped.push({ source: r.source, reason: w });
    if (certs.length === 0) skipped.push({ source: r.source, reason: 'no certificate in this file' });
    for (const o of certs) {
      const t: LintTarget = { cert: o.cert, source: r.source };
      // Name the position only when it tells certificates apart (bundles, kubeconfigs).
      if (certs.length > 1 || r.result.format === 'kubeconfig') t.location = o.location;
      targets.push(t);
    }
  }
  return { targets, skipped };
}

function parseFailOn(s: string | undefined): Severity {
  const v = s ?? 'error';
  if (!(SEVERITIES as readonly string[]).includes(v))
    throw new InputError(`--fail-on: '${v}' is not a severity (expected ${SEVERITIES.join(', ')})`);
  return v as Severity;
}

/** Read, lint and summarise; pure apart from reading the input and policy files. */
export function lintPaths(paths: string[], o: LintCliOptions = {}, now: Date = new Date()): LintOutput {
  const loaded = loadPolicy(o.policy);
  if (o.profile !== undefined && o.profile !== 'default' && o.profile !== 'strict')
    throw new InputError(`--profile: '${o.profile}' is not a lint profile (expected default or strict)`);
  const policy = o.profile !== undefined ? { ...loaded, profile: o.profile as 'default' | 'strict' } : loaded;
  const { targets, skipped } = readTargets(paths);
  if (targets.length === 0) throw new InputError(`no certificates found in ${paths.join(', ')}`);
  const report = lintCertificates(targets, { policy, now: o.at !== undefined ? parseAt(o.at) : now });
  return { ...report, skipped };
}

export function renderLint(out: LintOutput, o: { verbose?: boolean } = {}): string {
  const rows = [...out.findings]
    .sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity])
    .map((f) => [
      f.severity,
      f.lintId,
      showString(f.subject) || '(empty subject)',
      f.source ? `${f.source}${f.location ? ` [${f.location}]` : ''}` : '-',
      f.message,
    ]);
  const s = out.summary;
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const summary = `${plural(out.certificates, 'certificate')}: ${plural(s.error, 'error')}, ${plural(s.warning, 'warning')}, ${plural(s.notice, 'notice')}`;
  // Keys, manifests and READMEs beside the certificates are expected: counted, listed only with --verbose.
  const skipped = !out.skipped.length
    ? ''
    : o.verbose
      ? `\nskipped ${out.skipped.length}: ${out.skipped.map((k) => `${k.source} (${k.reason})`).join('; ')}`
      : `; ${out.skipped.length} file${out.skipped.length === 1 ? '' : 's'} without certificates skipped (--verbose lists them)`;
  return `${rows.length ? renderTable(['SEVERITY', 'LINT', 'SUBJECT', 'FILE', 'MESSAGE'], rows) : ''}${summary}${skipped}\n`;
}

/** The whole command: print in the chosen format and return the exit code. */
export function lintCommand(paths: string[], o: LintCliOptions = {}): number {
  const format = checkFormat(o.output ?? 'table', FORMATS);
  const failOn = parseFailOn(o.failOn);
  const out = lintPaths(paths, o);
  if (format === 'sarif') process.stdout.write(`${JSON.stringify(toSarif(out), null, 2)}\n`);
  else printOutput(out, format, () => renderLint(out, { verbose: o.verbose === true }));
  return failsAt(out, failOn) ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('lint')
    .description('check certificates against RFC 5280, CA/B and Kubernetes role rules (docs/findings.md); exit 1 on findings at --fail-on')
    .argument('<paths...>', 'files or directories (PEM, DER, PKCS#7, kubeconfig, ...) or - for stdin')
    .option('--policy <file>', 'policy file with thresholds (YAML or JSON, docs/policy.md); default: built-in defaults')
    .option('-o, --output <format>', 'table|json|yaml|sarif', 'table')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: error|warning|notice', 'error')
    .option('--at <time>', 'evaluate expiry at this time (ISO 8601 or Unix seconds) instead of now')
    .option(
      '--profile <profile>',
      'default|strict: strict also warns about what kubeadm does by design (leaf SKI, keyEncipherment on ECDSA)',
    )
    .option('-v, --verbose', 'list the files that held no certificate')
    .action((paths: string[], o: LintCliOptions) => {
      process.exitCode = lintCommand(paths, o);
    });
}
