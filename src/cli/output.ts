// Rendering of command results: -o table|json|yaml (and wide/sarif where a command adds them).

import { InputError } from '../common/errors.ts';
import { stringifyYaml as stringify } from '../common/yaml.ts';

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
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}
