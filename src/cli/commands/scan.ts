// `anchorage scan PATH...`: inventory every certificate and key under the paths, build the trust graph and
// report what is wrong (docs/scan-schema.md). Exit 0 clean, 1 findings at or above --fail-on, 2 bad input.
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { showString } from '../../lint/lints/util.ts';
import { loadPolicy } from '../../lint/policy.ts';
import { SEVERITIES, SEVERITY_RANK, type Severity } from '../../lint/types.ts';
import { type ScanInput, type ScanReport, scan } from '../../scan/scan.ts';
import { parseAt } from '../args.ts';
import { collectInputs } from '../files.ts';
import { checkFormat, printOutput } from '../output.ts';

export interface ScanCliOptions {
  output?: string;
  failOn?: string;
  policy?: string;
  at?: string;
  password?: string;
  verbose?: boolean;
  kubeconfig?: string;
  context?: string;
  /** Objects per LIST page. */
  pageSize?: string;
}

const FORMATS = ['table', 'json', 'yaml'] as const;

function parseFailOn(s: string | undefined): Severity {
  const v = s ?? 'error';
  if (!(SEVERITIES as readonly string[]).includes(v))
    throw new InputError(`--fail-on: '${v}' is not a severity (expected ${SEVERITIES.join(', ')})`);
  return v as Severity;
}

export async function scanSources(paths: string[], o: ScanCliOptions = {}, now: Date = new Date()): Promise<ScanReport> {
  const live = o.kubeconfig !== undefined || o.context !== undefined;
  if (paths.length === 0 && !live)
    throw new InputError('nothing to scan: name files or directories, or --kubeconfig/--context for a cluster');
  const policy = loadPolicy(o.policy);
  const at = o.at !== undefined ? parseAt(o.at) : now;
  let pageSize: number | undefined;
  if (o.pageSize !== undefined) {
    pageSize = Number(o.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)
      throw new InputError(`--page-size: '${o.pageSize}' is not a number from 1 to 10000`);
  }
  const { files, errors } = paths.length ? collectInputs(paths) : { files: [], errors: [] };
  const inputs: ScanInput[] = files.map((f) => ({ source: f.path === '-' ? 'stdin' : f.path, data: f.data }));
  const failures = errors.map((e) => ({ source: e.path, reason: e.error }));
  if (live) {
    // Loaded only for a cluster scan: the client library costs every other command ~1.5 s and 60 MB at start.
    const { loadKubeConfig, readCluster } = await import('../../k8s/client.ts');
    const kc = loadKubeConfig({
      ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
      ...(o.context !== undefined && { context: o.context }),
    });
    const r = await readCluster(kc, pageSize !== undefined ? { pageSize } : {});
    for (const f of r.failures) process.stderr.write(`warning: ${f.source}: ${f.reason}\n`);
    inputs.push(...r.values);
    failures.push(...r.failures);
  }
  return scan(inputs, { now: at, generatedAt: now, policy, ...(o.password !== undefined && { password: o.password }), failures });
}

const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;

/** Findings grouped by severity, worst first; each with its places, why and fix. */
export function renderScan(r: ScanReport, o: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  for (const sev of [...SEVERITIES].sort((a, b) => SEVERITY_RANK[b] - SEVERITY_RANK[a])) {
    const list = r.findings.filter((f) => f.severity === sev);
    if (!list.length) continue;
    lines.push(`${sev.toUpperCase()} (${list.length})`);
    if (sev === 'notice' && !o.verbose) {
      // Notices are many and alike (kubeadm's design choices): one line per id unless -v.
      const byId = new Map<string, number>();
      for (const f of list) byId.set(f.id, (byId.get(f.id) ?? 0) + 1);
      for (const [id, n] of byId) lines.push(`  ${id}  ${plural(n, 'certificate')} (-v lists them)`);
      lines.push('');
      continue;
    }
    for (const f of list) {
      lines.push(`  ${f.id}${f.subject !== undefined ? `  ${showString(f.subject) || '(empty subject)'}` : ''}`);
      lines.push(`    why:  ${showString(f.why)}`);
      lines.push(`    fix:  ${f.fix}`);
      for (const l of f.locations.slice(0, o.verbose ? undefined : 5)) lines.push(`    at:   ${showString(l)}`);
      if (!o.verbose && f.locations.length > 5) lines.push(`    ...and ${f.locations.length - 5} more places (-v lists them)`);
    }
    lines.push('');
  }
  const s = r.summary;
  lines.push(
    `${plural(s.certificates, 'certificate')}, ${plural(s.keys, 'private key')} in ${plural(s.sources, 'source')}: ${plural(s.error, 'error')}, ${plural(s.warning, 'warning')}, ${plural(s.notice, 'notice')}`,
  );
  if (r.skipped.length) {
    if (o.verbose) for (const k of r.skipped) lines.push(`skipped ${showString(k.source)}: ${showString(k.reason)}`);
    else lines.push(`${plural(r.skipped.length, 'source')} skipped or partly read (-v lists them)`);
  }
  return `${lines.join('\n')}\n`;
}

export async function scanCommand(paths: string[], o: ScanCliOptions = {}): Promise<number> {
  const format = checkFormat(o.output ?? 'table', FORMATS);
  const failOn = parseFailOn(o.failOn);
  const r = await scanSources(paths, o);
  printOutput(r, format, () => renderScan(r, { verbose: o.verbose === true }));
  return r.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]) ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('scan')
    .description(
      'inventory every certificate and key under the paths, check who trusts whom and report what is wrong (docs/scan-schema.md)',
    )
    .argument('[paths...]', 'files or directories (PEM, DER, PKCS#7/#12, JKS, kubeconfigs, pki init node trees)')
    .option('--kubeconfig <files>', "read the cluster too: Secrets, ConfigMaps with PEM, webhook caBundles (several files joined by ':')")
    .option('--context <name>', 'kubeconfig context to use (reads the cluster; default kubeconfig when --kubeconfig is not given)')
    .option('--page-size <n>', 'objects per LIST page when reading the cluster', '500')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: error|warning|notice', 'error')
    .option('--policy <file>', 'lint policy file (docs/policy.md): thresholds, disabled ids, severities')
    .option('--at <time>', 'judge expiry at this time (ISO 8601 or Unix seconds) instead of now')
    .option('--password <password>', 'password for PKCS#12/JKS/encrypted keys')
    .option('-v, --verbose', 'list every place and every skipped source')
    .action(async (paths: string[], o: ScanCliOptions) => {
      process.exitCode = await scanCommand(paths, o);
    });
}
