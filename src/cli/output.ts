// Rendering of command results: -o table|json|yaml (and wide/sarif where a command adds them).

import { InputError } from '../common/errors.ts';
import { stringifyYaml as stringify } from '../common/yaml.ts';

const { writeSync } = process.getBuiltinModule('node:fs');

export type OutputFormat = 'table' | 'json' | 'yaml' | (string & {});

export function checkFormat(format: string, allowed: readonly string[]): OutputFormat {
  if (!allowed.includes(format)) throw new InputError(`unknown output format '${format}' (expected one of ${allowed.join(', ')})`);
  return format;
}

/** Print data as JSON/YAML, or call `table` for the human view. */
export function printOutput(data: unknown, format: OutputFormat, table: () => string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(stringify(data, { lineWidth: 0 }));
  else process.stdout.write(table());
}

/** Fixed-width table with a header row, kubectl style. */
export function renderTable(headers: string[], rows: string[][]): string {
  // A loop, not Math.max(...rows): a spread argument list throws past ~150,000 rows.
  const widths = headers.map((h) => h.length);
  for (const r of rows)
    for (let i = 0; i < widths.length; i++) {
      const n = (r[i] ?? '').length;
      if (n > (widths[i] as number)) widths[i] = n;
    }
  const line = (cells: readonly string[]): string => tableLine(cells, widths);
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** One line of renderTable's table: each cell but the last padded to its column's width. */
export function tableLine(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
    .join('   ')
    .trimEnd();
}

/**
 * Writes to standard output and waits until the chunk is written, whatever stdout is. process.stdout
 * queues in memory what a pipe cannot take yet (`anchorage inspect big-dir -o json | slow-reader` held
 * ~450 MiB); a streaming command must instead wait for the reader, as a C or Go program blocks in
 * write(2). A reader that went away (EPIPE: `| head`) ends the process quietly, as bin/anchorage.js does.
 */
let scratch = Buffer.alloc(0);
export function writeStdoutSync(chunk: string): void {
  // One buffer, reused: a fresh 64 KiB Buffer per chunk piles up outside the heap until a GC frees it.
  const len = Buffer.byteLength(chunk, 'utf8');
  if (scratch.length < len) scratch = Buffer.allocUnsafe(Math.max(len, 256 * 1024));
  let buf = scratch.subarray(0, scratch.write(chunk, 0, 'utf8'));
  while (buf.length) {
    let n: number;
    try {
      n = writeSync(1, buf);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // A non-blocking pipe that is full: wait for the reader without spinning.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
        continue;
      }
      if (code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw e;
    }
    buf = buf.subarray(n);
  }
}

/** Collects small chunks into writes of about 64 KiB. */
export function bufferedWriter(write: (chunk: string) => void): { write(s: string): void; flush(): void } {
  let parts: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (parts.length) write(parts.join(''));
    parts = [];
    size = 0;
  };
  return {
    write(s: string): void {
      parts.push(s);
      size += s.length;
      if (size >= 65536) flush();
    },
    flush,
  };
}
