// `npm run bench`: runs every bench/*.bench.ts, prints each figure beside its same-run baseline,
// and with --write records them in docs/benchmarks.md (between the BENCH markers).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from './harness.ts';

const here = import.meta.dirname;
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rows: string[] = [];
const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
for (const f of files) {
  if (only.length && !only.some((o) => f.includes(o))) continue;
  const mod = (await import(join(here, f))) as { run: () => Promise<BenchResult[]> };
  for (const r of await mod.run()) {
    // The ratio is always Anchorage's speed over the baseline's: above 1, Anchorage is faster.
    const speed = r.baseline ? (r.lowerIsBetter ? r.baseline.value / r.value : r.value / r.baseline.value) : 0;
    const ratio = r.baseline ? `${speed.toFixed(speed < 1 ? 2 : 1)}x` : '';
    const ours = `${fmt(r.value)} ${r.unit}${r.spread ? ` (${r.spread})` : ''}`;
    const theirs = r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)}${r.baseline.spread ? ` (${r.baseline.spread})` : ''}` : '';
    const line = `| ${f} | ${r.name} | ${ours} | ${theirs} | ${ratio} |`;
    rows.push(line);
    process.stdout.write(`${line}\n`);
  }
}
if (process.argv.includes('--write')) {
  const openssl = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  const table = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${openssl}.`,
    '',
    '| bench | what | Anchorage | baseline (same run) | ratio |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  const path = join(here, '..', 'docs', 'benchmarks.md');
  const doc = readFileSync(path, 'utf8');
  writeFileSync(path, doc.replace(/<!-- BENCH:START -->[\s\S]*<!-- BENCH:END -->/, `<!-- BENCH:START -->\n${table}\n<!-- BENCH:END -->`));
}
