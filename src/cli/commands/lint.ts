// `anchorage lint <files|dirs>`: run the lint catalog (docs/findings.md) under a policy (docs/policy.md).
// Exit 0 clean, 1 findings at or above --fail-on, 2 bad input (InputError, mapped by main.ts).
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { activeLints, failsAt, LintIndex, type LintReport, type LintTarget, lintTarget } from '../../lint/engine.ts';
import { showString } from '../../lint/lints/util.ts';
import { loadPolicy, type Policy } from '../../lint/policy.ts';
import { toSarif } from '../../lint/sarif.ts';
import { type Finding, SEVERITIES, SEVERITY_RANK, type Severity } from '../../lint/types.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { DerError } from '../../x509/der.ts';
import { parseAt } from '../args.ts';
import { constantMemory, stdinOnce } from '../files.ts';
import { eachInput, type SourceRead } from '../inputs.ts';
import { bufferedWriter, checkFormat, printOutput, renderTable, writeStdoutSync } from '../output.ts';

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

/** Most certificates a lint run holds at once: those named as another's issuer and those sharing a key. */
export const MAX_LINT_POOL = 100_000;

/** The lint targets of one source, and why it was (partly) skipped. */
function targetsOf(r: SourceRead, skipped: LintOutput['skipped'] | undefined): LintTarget[] {
  if (!r.result) {
    skipped?.push({ source: r.source, reason: r.error ?? 'unreadable' });
    return [];
  }
  const certs = r.result.objects.filter((o) => o.kind === 'certificate');
  if (skipped) {
    for (const w of r.result.warnings) skipped.push({ source: r.source, reason: w });
    if (certs.length === 0) skipped.push({ source: r.source, reason: 'no certificate in this file' });
  }
  return certs.map((o) => {
    const t: LintTarget = { cert: o.cert, source: r.source };
    // Name the position only when it tells certificates apart (bundles, kubeconfigs).
    if (certs.length > 1 || r.result?.format === 'kubeconfig') t.location = o.location;
    return t;
  });
}

/** A 53-bit hash of some bytes (cyrb53): sets of hashes stand for sets of names and keys in the first pass. */
function h53(b: Uint8Array): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const tryDer = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
};

/**
 * Lint every certificate under the paths, streaming: what lintCertificates reports over every
 * certificate of the inputs at once, without holding them. Each file is read and parsed once per pass and dropped:
 *  1. hashes of every issuer name, and of every key and subject (16 bytes a certificate);
 *  2. the pool: the certificates whose subject is some certificate's issuer name, or whose key a
 *     certificate with another subject has (those are the only answers the set's lookups can give);
 *     at most MAX_LINT_POOL, kept parsed, in the walk's order;
 *  3. which of the pool issue others (every certificate's issuer, looked up in the pool);
 *  4. every certificate linted with its set facts, its findings handed to `emit`.
 * Memory: the pool, the key hashes, the findings and the skipped list; not the certificates.
 */
export function streamLint(
  paths: readonly string[],
  opts: { policy: Policy; now: Date; begin?: (certificates: number) => void },
  emit: (f: Finding) => void,
): { certificates: number; skipped: LintOutput['skipped']; pooled: number } {
  const stdin = stdinOnce();
  // Files are read into the walk's reused buffers, except in the pass that keeps the pool's certificates
  // (a certificate read from DER is a view of the file's bytes).
  const inputs = eachInput(paths, { stdin, reuse: true });
  const keeping = eachInput(paths, { stdin });
  // Sources named twice (a file given twice, or inside a directory given too) count their certificates
  // together, as the collected targets did; any other path is met once.
  const named = new Set(paths);
  const namedCounts = new Map<string, number>();
  const issuerNames = new Set<number>();
  let spkis = new Float64Array(1024);
  let subjects = new Float64Array(1024);
  let n = 0;
  for (const r of inputs) {
    const targets = targetsOf(r, undefined);
    if (named.has(r.source)) namedCounts.set(r.source, (namedCounts.get(r.source) ?? 0) + targets.length);
    for (const { cert } of targets) {
      if (n === spkis.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(spkis);
        spkis = bigger;
        const more = new Float64Array(n * 2);
        more.set(subjects);
        subjects = more;
      }
      subjects[n] = tryDer(() => h53(cert.subjectRaw)) ?? -1;
      spkis[n++] = tryDer(() => h53(cert.spki)) ?? -1;
      const issuer = tryDer(() => (cert.selfIssued ? undefined : h53(cert.issuerRaw)));
      if (issuer !== undefined) issuerNames.add(issuer);
    }
  }
  const total = n;
  // A key is shared when certificates with different subjects hold it (what LintIndex.sharersOf reports):
  // copies of one certificate, or renewals under the same name and key, hold it alone.
  const sorted = spkis.slice(0, n).sort();
  const repeated = new Set<number>();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1] && (sorted[i] as number) >= 0) repeated.add(sorted[i] as number);
  const firstSubject = new Map<number, number>();
  const shared = new Set<number>();
  for (let i = 0; i < n && repeated.size; i++) {
    const k = spkis[i] as number;
    if (!repeated.has(k) || shared.has(k)) continue;
    const subject = subjects[i] as number;
    const first = firstSubject.get(k);
    if (first === undefined) firstSubject.set(k, subject);
    else if (first !== subject || subject < 0) shared.add(k);
  }
  repeated.clear();
  firstSubject.clear();
  spkis = new Float64Array(0);
  subjects = new Float64Array(0);

  if (total === 0) return { certificates: 0, skipped: [], pooled: 0 };

  // Passes 2-4 walk again; a certificate of the pool stands for itself (its object), and a file that
  // changed since the first pass fails the run rather than mixing two versions.
  const pool = new Map<number, Certificate>();
  const index = new LintIndex();
  const changed = (source: string): InputError => new InputError(`${source}: changed while being linted (read again in a later pass)`);
  const pass = (
    each: (t: LintTarget, at: number, source: string, count: number) => void,
    skipped?: LintOutput['skipped'],
    walk: Iterable<SourceRead> = inputs,
  ): void => {
    let at = 0;
    for (const r of walk) {
      const targets = targetsOf(r, skipped);
      for (const t of targets) {
        if (at >= total) throw changed(r.source);
        const kept = pool.get(at);
        if (kept) {
          const d = t.cert.der;
          if (!Buffer.from(d.buffer, d.byteOffset, d.length).equals(kept.der)) throw changed(r.source);
          t.cert = kept;
        }
        each(t, at++, r.source, targets.length);
      }
    }
    if (at !== total) throw changed(paths.join(', '));
  };
  // 2. The pool, in the walk's order.
  pass(
    ({ cert }, at) => {
      const subject = tryDer(() => h53(cert.subjectRaw));
      const spki = tryDer(() => h53(cert.spki));
      if ((subject !== undefined && issuerNames.has(subject)) || (spki !== undefined && shared.has(spki))) {
        if (pool.size >= MAX_LINT_POOL)
          throw new InputError(
            `${paths.join(', ')}: too large: more than ${MAX_LINT_POOL} certificates issue others or share a key (lint holds those at once)`,
          );
        pool.set(at, cert);
        index.add(cert);
      }
    },
    undefined,
    keeping,
  );
  issuerNames.clear();
  shared.clear();
  // 3. Which of the pool issue others.
  const issuers = new Set<Certificate>();
  pass(({ cert }) => {
    const i = index.issuerOf(cert).issuer;
    if (i) issuers.add(i);
  });
  // 4. Lint, in the walk's order.
  const lints = activeLints(opts.policy);
  opts.begin?.(total);
  const skipped: LintOutput['skipped'] = [];
  pass((t, _at, source, count) => {
    const { issuer, claimed } = index.issuerOf(t.cert);
    const sourceCount = namedCounts.get(source) ?? count;
    const facts = { issuer, claimed, issuesOthers: issuers.has(t.cert), sharers: index.sharersOf(t.cert), sourceCount };
    for (const f of lintTarget(t, facts, opts, lints)) emit(f);
  }, skipped);
  return { certificates: total, skipped, pooled: pool.size };
}

function parseFailOn(s: string | undefined): Severity {
  const v = s ?? 'error';
  if (!(SEVERITIES as readonly string[]).includes(v))
    throw new InputError(`--fail-on: '${v}' is not a severity (expected ${SEVERITIES.join(', ')})`);
  return v as Severity;
}

function lintSettings(o: LintCliOptions, now: Date): { policy: Policy; now: Date } {
  const loaded = loadPolicy(o.policy);
  if (o.profile !== undefined && o.profile !== 'default' && o.profile !== 'strict')
    throw new InputError(`--profile: '${o.profile}' is not a lint profile (expected default or strict)`);
  const policy = o.profile !== undefined ? { ...loaded, profile: o.profile as 'default' | 'strict' } : loaded;
  return { policy, now: o.at !== undefined ? parseAt(o.at) : now };
}

/** Read, lint and summarise; pure apart from reading the input and policy files. */
export function lintPaths(paths: string[], o: LintCliOptions = {}, now: Date = new Date()): LintOutput {
  const findings: Finding[] = [];
  const { certificates, skipped } = streamLint(paths, lintSettings(o, now), (f) => findings.push(f));
  if (certificates === 0) throw new InputError(`no certificates found in ${paths.join(', ')}`);
  const summary: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  for (const f of findings) summary[f.severity]++;
  return { certificates, summary, findings, skipped };
}

/**
 * `-o json` written as it goes: each finding as the last walk meets it, nothing held. The document is
 * what JSON.stringify(report, null, 2) prints for {certificates, findings, summary, skipped}: the
 * summary and the skipped files, known only at the end, come after the findings (docs/findings.md).
 * Returns the summary for --fail-on.
 */
export function streamLintJson(
  paths: string[],
  o: LintCliOptions,
  write: (chunk: string) => void,
  now: Date = new Date(),
): { certificates: number; summary: Record<Severity, number> } {
  const summary: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  const out = bufferedWriter(write);
  let n = 0;
  const { certificates, skipped } = streamLint(
    paths,
    { ...lintSettings(o, now), begin: (count) => out.write(`{\n  "certificates": ${count},\n  "findings": [`) },
    (f) => {
      summary[f.severity]++;
      out.write(`${n++ ? ',' : ''}\n    ${JSON.stringify(f, null, 2).replaceAll('\n', '\n    ')}`);
    },
  );
  if (certificates === 0) throw new InputError(`no certificates found in ${paths.join(', ')}`);
  out.write(`${n ? '\n  ' : ''}],\n${JSON.stringify({ summary, skipped }, null, 2).slice(2)}\n`);
  out.flush();
  return { certificates, summary };
}

/** failsAt over the counts: a finding at or above `threshold` was reported. */
function summaryFailsAt(summary: Record<Severity, number>, threshold: Severity): boolean {
  return SEVERITIES.some((s) => SEVERITY_RANK[s] >= SEVERITY_RANK[threshold] && summary[s] > 0);
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

/** The whole command: print in the chosen format and return the exit code. `-o json` goes to `write`
 * as it is made; the other formats print at the end (the table is sorted by severity and aligned). */
export function lintCommand(
  paths: string[],
  o: LintCliOptions = {},
  write: (chunk: string) => void = (c) => process.stdout.write(c),
): number {
  const format = checkFormat(o.output ?? 'table', FORMATS);
  const failOn = parseFailOn(o.failOn);
  if (format === 'json') return summaryFailsAt(streamLintJson(paths, o, write).summary, failOn) ? 1 : 0;
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
      constantMemory();
      process.exitCode = lintCommand(paths, o, writeStdoutSync);
    });
}
