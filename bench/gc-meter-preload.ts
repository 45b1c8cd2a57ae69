// `node --import ./bench/gc-meter-preload.ts …` with GC_METER_OUT=<file>: meters the whole process (bench/gc-meter.ts);
// each SIGUSR2 appends one JSON line with the figures since the last one to that file.
import { appendFileSync } from 'node:fs';
import { startMeter } from './gc-meter.ts';

const out = process.env.GC_METER_OUT;
if (out) {
  const m = startMeter();
  process.on('SIGUSR2', () => {
    // A turn later, so the observer's entries of the last collections have arrived.
    setImmediate(() => appendFileSync(out, `${JSON.stringify(m.read())}\n`));
  });
}
