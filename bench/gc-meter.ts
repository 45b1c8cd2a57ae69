// In-process cost of a stretch of work, for the webhook's per-admission figures (bench/webhook.bench.ts):
// CPU time (process.cpuUsage), bytes allocated on V8's heap (from v8.GCProfiler: what each collection found
// used, less what the one before left, plus the growth since the last one), and the collections with their
// main-thread pauses (the profiler's cost of each), young generation (scavenges, minor mark-sweeps) apart from
// the rest. (PerformanceObserver 'gc' entries arrive tasks later, too late to attribute them to a stretch.) `startMeter()` starts one; `read()` returns the figures since the start (or the last `read`) and restarts.
// bench/gc-meter-preload.ts meters a whole process (the webhook under load) the same way.
import { GCProfiler, getHeapStatistics } from 'node:v8';

export interface MeterReading {
  /** User + system CPU, microseconds. */
  cpuUs: number;
  /** Bytes allocated on the V8 heap. */
  allocated: number;
  /** Young-generation collections, their total and largest main-thread pause (ms). */
  young: number;
  youngMs: number;
  youngMaxMs: number;
  /** Other collections (mark-compact, incremental marking steps, weak callbacks). */
  other: number;
  otherMs: number;
  otherMaxMs: number;
  /** Young-generation pauses (ms), each. */
  youngPauses: number[];
}

const YOUNG = new Set(['Scavenge', 'MinorMarkSweep', 'MinorMarkCompact']);

export function startMeter(): { read(): MeterReading } {
  let profiler = new GCProfiler();
  profiler.start();
  let cpu0 = process.cpuUsage();
  let used0 = getHeapStatistics().used_heap_size;
  return {
    read(): MeterReading {
      const stats = profiler.stop()?.statistics ?? [];
      const used1 = getHeapStatistics().used_heap_size;
      const cpu = process.cpuUsage(cpu0);
      let allocated = 0;
      let prev = used0;
      const pauses = stats.map((s) => ({ young: YOUNG.has(s.gcType), ms: s.cost / 1000 }));
      for (const s of stats) {
        allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prev);
        prev = s.afterGC.heapStatistics.usedHeapSize;
      }
      allocated += Math.max(0, used1 - prev);
      const young = pauses.filter((p) => p.young).map((p) => p.ms);
      const other = pauses.filter((p) => !p.young).map((p) => p.ms);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const r: MeterReading = {
        cpuUs: cpu.user + cpu.system,
        allocated,
        young: young.length,
        youngMs: sum(young),
        youngMaxMs: Math.max(0, ...young),
        other: other.length,
        otherMs: sum(other),
        otherMaxMs: Math.max(0, ...other),
        youngPauses: young,
      };
      profiler = new GCProfiler();
      profiler.start();
      cpu0 = process.cpuUsage();
      used0 = getHeapStatistics().used_heap_size;
      return r;
    },
  };
}
