// An aligned table (renderTable's text) whose rows print grouped, the groups in order and each group's rows
// in the order they came, in bounded memory: rows are held up to a budget, then every row goes to one
// temporary file per group. Column widths are kept as rows come, so nothing needs the rows twice. The files
// are unlinked as soon as they are open (as the lint spool's, src/cli/spool.ts): only the open descriptors
// reach them, so nothing is left behind however the process ends (kill -9, a crash, a signal).
// `anchorage lint` prints its findings so (errors, then warnings, then notices): 1,000,000 certificates
// give 1.5 million rows, which neither fit in memory nor in a spread argument list (Math.max(...) throws
// past ~150,000).
import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';
import { bufferedWriter, tableLine } from './output.ts';

/** Characters of cells held in memory before rows go to temporary files. */
export const HELD_TABLE_CHARS = 1024 * 1024;

/** Bytes read from a temporary file at once (a longer row grows the buffer). */
const READ_CHUNK = 1024 * 1024;

export class GroupedTable {
  private readonly widths: number[];
  private readonly held: string[][][];
  private heldChars = 0;
  private rows = 0;
  /** Rows went to the temporary files (whose paths no longer exist: they are named in errors only). */
  private spilledRows = false;
  private files: { path: string; fd: number; pending: string[]; chars: number }[] = [];

  private readonly headers: readonly string[];
  private budget: number;

  constructor(headers: readonly string[], groups: number, budget = HELD_TABLE_CHARS) {
    this.headers = headers;
    this.budget = budget;
    this.widths = headers.map((h) => h.length);
    this.held = Array.from({ length: groups }, () => []);
  }

  add(group: number, cells: string[]): void {
    this.rows++;
    let chars = 0;
    for (let i = 0; i < cells.length; i++) {
      const n = (cells[i] as string).length;
      chars += n;
      if (n > (this.widths[i] ?? 0)) this.widths[i] = n;
    }
    if (!this.spilledRows) {
      (this.held[group] as string[][]).push(cells);
      this.heldChars += chars;
      if (this.heldChars > this.budget) this.spill();
    } else this.append(group, cells);
  }

  /** Whether rows went to temporary files (for tests). */
  get spilled(): boolean {
    return this.spilledRows;
  }

  private spill(): void {
    let dir: string | undefined;
    const files: typeof this.files = [];
    try {
      dir = mkdtempSync(join(tmpdir(), 'anchorage-table-'));
      for (let g = 0; g < this.held.length; g++) {
        const path = join(dir, `group-${g}`);
        files.push({ path, fd: openSync(path, 'w+', 0o600), pending: [], chars: 0 });
        unlinkSync(path);
      }
      this.files = files;
    } catch {
      // No temporary folder to write in (a read-only system): the rows stay in memory, as before there was one.
      for (const f of files) closeSync(f.fd);
      this.budget = Number.POSITIVE_INFINITY;
      return;
    } finally {
      // The folder goes at once, with the files' names: the descriptors are all that reach them.
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
    this.spilledRows = true;
    this.held.forEach((rows, g) => {
      for (const cells of rows) this.append(g, cells);
      rows.length = 0;
    });
    this.heldChars = 0;
  }

  private append(group: number, cells: string[]): void {
    const f = this.files[group] as (typeof this.files)[number];
    const line = `${JSON.stringify(cells)}\n`;
    f.pending.push(line);
    f.chars += line.length;
    if (f.chars >= 65536) this.flushFile(f);
  }

  private flushFile(f: (typeof this.files)[number]): void {
    if (!f.pending.length) return;
    const buf = Buffer.from(f.pending.join(''), 'utf8');
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(f.fd, buf, off);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new InputError(`${f.path}: ${why} while keeping the table's rows (TMPDIR names where they go; -o json needs none)`);
    }
    f.pending = [];
    f.chars = 0;
  }

  private line(cells: readonly string[]): string {
    return tableLine(cells, this.widths);
  }

  /** Writes the table (nothing when it has no rows), as renderTable(headers, rows grouped) would print it. */
  finish(write: (chunk: string) => void): void {
    if (this.rows === 0) return;
    const out = bufferedWriter(write);
    out.write(`${this.line(this.headers)}\n`);
    if (!this.spilledRows) {
      for (const rows of this.held) for (const cells of rows) out.write(`${this.line(cells)}\n`);
    } else {
      // One buffer: what a read leaves after its last line feed moves to the front, the next read goes after it.
      let buf = Buffer.allocUnsafe(READ_CHUNK);
      for (const f of this.files) {
        this.flushFile(f);
        let kept = 0;
        for (let pos = 0; ; ) {
          if (kept === buf.length) {
            // A row longer than the buffer: a larger one.
            const bigger = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(bigger, 0, 0, kept);
            buf = bigger;
          }
          const n = readSync(f.fd, buf, kept, buf.length - kept, pos);
          if (n === 0) break;
          pos += n;
          const end = kept + n;
          let start = 0;
          for (let nl = buf.indexOf(10, start); nl >= 0 && nl < end; nl = buf.indexOf(10, start)) {
            out.write(`${this.line(JSON.parse(buf.toString('utf8', start, nl)) as string[])}\n`);
            start = nl + 1;
          }
          kept = end - start;
          buf.copy(buf, 0, start, end);
        }
      }
    }
    out.flush();
  }

  /** Closes the temporary files, if any (unlinked already: closing frees their space). */
  dispose(): void {
    for (const f of this.files) {
      try {
        closeSync(f.fd);
      } catch {
        // already closed
      }
    }
    this.files = [];
  }
}
