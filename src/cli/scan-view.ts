// The terminal view of an `anchorage scan` report: findings grouped by severity, worst first; each with its
// places, why and fix; notices counted per id unless verbose. Shared by `scan` and `demo`.
import { showString } from '../lint/lints/util.ts';
import { SEVERITIES, SEVERITY_RANK } from '../lint/types.ts';
import type { ScanReport } from '../scan/scan.ts';

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
