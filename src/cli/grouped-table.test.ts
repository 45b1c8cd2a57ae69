import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rng } from '../../test/support/mutations.ts';
import { GroupedTable } from './grouped-table.ts';
import { renderTable } from './output.ts';

const HEADERS = ['SEVERITY', 'LINT', 'SUBJECT', 'FILE', 'MESSAGE'];
const ALPHABET = ['a', 'Z', ' ', '"', '\\', '\n', 'é', '日', '😀', '\u0000', ',', '[', 'x'];

function rows(n: number, seed: number): { group: number; cells: string[] }[] {
  const r = rng(seed);
  const cell = (): string => {
    let s = '';
    const len = Math.floor(r() * 40);
    for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    // Trailing spaces in the last column are trimmed by renderTable; keep some.
    return r() < 0.1 ? `${s}   ` : s;
  };
  return Array.from({ length: n }, () => ({ group: Math.floor(r() * 3), cells: HEADERS.map(cell) }));
}

/** renderTable over the rows grouped, each group in arrival order (what `anchorage lint` printed). */
function expected(input: { group: number; cells: string[] }[]): string {
  const sorted = [0, 1, 2].flatMap((g) => input.filter((x) => x.group === g).map((x) => x.cells));
  return sorted.length ? renderTable(HEADERS, sorted) : '';
}

function render(input: { group: number; cells: string[] }[], budget?: number): { text: string; spilled: boolean } {
  const t = new GroupedTable(HEADERS, 3, budget);
  let text = '';
  try {
    for (const { group, cells } of input) t.add(group, cells);
    t.finish((c) => {
      text += c;
    });
    return { text, spilled: t.spilled };
  } finally {
    t.dispose();
  }
}

describe('GroupedTable', () => {
  it('prints what renderTable prints over the rows grouped, held in memory or spilled to files', () => {
    for (const [n, seed] of [
      [0, 1],
      [1, 2],
      [7, 3],
      [500, 4],
      [3000, 5],
      [20000, 7],
    ] as const) {
      const input = rows(n, seed);
      const want = expected(input);
      const held = render(input, Number.POSITIVE_INFINITY);
      expect(held, `${n} rows held`).toEqual({ text: want, spilled: false });
      // A budget of a few rows: the rest of them go through the temporary files (at 20,000 rows each group's
      // file is over 1 MiB, so its reads cut rows in two).
      const spilled = render(input, 200);
      expect(spilled.text, `${n} rows spilled`).toBe(want);
      if (n >= 500 || n <= 1) expect(spilled.spilled).toBe(n >= 500);
    }
  });

  it('keeps the rows in memory when there is no temporary folder to write in', () => {
    const input = rows(300, 8);
    const was = process.env.TMPDIR;
    process.env.TMPDIR = '/nonexistent/anchorage-no-tmp';
    try {
      expect(render(input, 200)).toEqual({ text: expected(input), spilled: false });
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
    }
  });

  it('leaves no file behind, even while it holds rows in its temporary files (a kill -9 leaves nothing)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'grouped-table-test-'));
    const was = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const input = rows(500, 6);
      const t = new GroupedTable(HEADERS, 3, 10);
      for (const { group, cells } of input) t.add(group, cells);
      expect(t.spilled).toBe(true);
      // Spilled, and nothing in the temporary folder: the files were unlinked once open.
      expect(readdirSync(tmp)).toEqual([]);
      let text = '';
      t.finish((c) => {
        text += c;
      });
      t.dispose();
      expect(text).toBe(expected(input));
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('aligns 300,000 rows, more than a spread argument list takes', () => {
    const n = 300_000;
    const t = new GroupedTable(['A', 'B'], 2, 1024 * 1024);
    for (let i = 0; i < n; i++) t.add(i % 2, [`row-${i}`, 'x']);
    const lines: string[] = [];
    let tail = '';
    t.finish((c) => {
      const parts = (tail + c).split('\n');
      tail = parts.pop() as string;
      lines.push(...parts);
    });
    t.dispose();
    expect(tail).toBe('');
    expect(lines).toHaveLength(n + 1);
    // The widest first cell is 'row-299999' (10 characters): every line pads to it, evens first.
    expect(lines[0]).toBe(`${'A'.padEnd(10)}   B`);
    expect(lines[1]).toBe(`${'row-0'.padEnd(10)}   x`);
    expect(lines[n / 2]).toBe('row-299998   x');
    expect(lines[n / 2 + 1]).toBe(`${'row-1'.padEnd(10)}   x`);
    expect(lines[n]).toBe('row-299999   x');
    // renderTable itself takes as many rows (its widths are a loop, not a spread argument list).
    const grouped = [0, 1].flatMap((g) => Array.from({ length: n / 2 }, (_, k) => [`row-${2 * k + g}`, 'x']));
    expect(renderTable(['A', 'B'], grouped)).toBe(`${lines.join('\n')}\n`);
  });
});
