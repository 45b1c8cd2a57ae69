// Tiny benchmark harness: best rate of several rounds, wall clock, no statistics theatre.
export interface BenchResult {
  name: string;
  unit: string;
  value: number;
  baseline?: { name: string; value: number };
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
