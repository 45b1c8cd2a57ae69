// Tiny benchmark harness: best rate of several rounds, or the median of repeated runs with its spread.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface BenchResult {
  name: string;
  unit: string;
  value: number;
  /** How much repeated runs varied, in words (e.g. "p25-p75 41-47 ms, 15 runs"). */
  spread?: string;
  baseline?: { name: string; value: number; spread?: string };
  /** Shown instead of value / baseline when a larger value is worse (times rather than rates). */
  lowerIsBetter?: boolean;
}

/** Run `round` (which returns how many operations it did) `rounds` times, `inner` calls per round; best ops/s. */
export function bestRate(round: () => number, rounds = 5, inner = 1): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    let ops = 0;
    for (let i = 0; i < inner; i++) ops += round();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, ops / s);
  }
  return best;
}

export async function bestRateAsync(round: () => Promise<number>, rounds = 5): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const ops = await round();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, ops / s);
  }
  return best;
}

export interface Stats {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  runs: number;
}

const quantile = (sorted: number[], q: number): number => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
};

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(s, 0.5),
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    min: s[0] as number,
    max: s[s.length - 1] as number,
    runs: s.length,
  };
}

export function spreadText(st: Stats, unit: string, digits = 0): string {
  const f = (n: number): string => n.toFixed(digits);
  return `p25-p75 ${f(st.p25)}-${f(st.p75)} ${unit}, min-max ${f(st.min)}-${f(st.max)}, ${st.runs} runs`;
}

export interface Process {
  label: string;
  cmd: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Exit statuses that mean it did its work (default 0 only; `anchorage lint` exits 1 when it finds errors). */
  ok?: readonly number[];
}

/**
 * Wall-clock milliseconds of each process, `runs` times, interleaved (a, b, c, a, b, c, ...) so that a
 * burst of load from elsewhere falls on all of them alike; a warm-up run of each is discarded. Like
 * hyperfine, without a shell in between. A process that fails stops the bench. With `rss`, each runs
 * under GNU time (/usr/bin/time) and the map also holds its peak resident set, in MiB, as `<label> rss`;
 * with `cpu`, its user + system CPU time in ms (GNU time's 10 ms resolution) as `<label> cpu`: steadier
 * than wall time on a shared, loaded machine.
 */
export function timeProcesses(procs: readonly Process[], runs: number, opts: { rss?: boolean; cpu?: boolean } = {}): Map<string, Stats> {
  const samples = new Map<string, number[]>();
  const add = (k: string, v: number): void => {
    samples.set(k, [...(samples.get(k) ?? []), v]);
  };
  const gnuTime = (opts.rss || opts.cpu) && existsSync('/usr/bin/time');
  for (let r = -1; r < runs; r++) {
    for (const p of procs) {
      const [cmd, args] = gnuTime ? ['/usr/bin/time', ['-f', '\nRSS %M CPU %U %S', p.cmd, ...p.args]] : [p.cmd, p.args];
      const t0 = process.hrtime.bigint();
      const res = spawnSync(cmd, args, { cwd: p.cwd, env: p.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!(p.ok ?? [0]).includes(res.status as number)) throw new Error(`${p.label}: exit ${res.status}: ${String(res.stderr)}`);
      if (r < 0) continue;
      add(p.label, ms);
      const m = /RSS (\d+) CPU ([\d.]+) ([\d.]+)\s*$/.exec(String(res.stderr));
      if (gnuTime && m && opts.rss) add(`${p.label} rss`, Number(m[1]) / 1024);
      if (gnuTime && m && opts.cpu) add(`${p.label} cpu`, (Number(m[2]) + Number(m[3])) * 1000);
    }
  }
  return new Map([...samples].map(([k, v]) => [k, stats(v)]));
}
