// The certificates one walk of the inputs read, kept in a temporary file for the walks after it (`lint` walks its
// inputs two to four times): a later walk reads them back in large sequential reads instead of opening, reading
// and closing every file again and parsing its PEM, and sees exactly the bytes the first walk saw. Only what a
// certificate walk needs is written: each source's name, error, format and warnings, and its certificates' DER
// with their positions; never a private key or anything else a file held. The file is unlinked as soon as it is
// opened (mode 0600): nothing is left behind however the process ends. It is a cache: when it cannot be
// created or written (no space, past its budget), the later walks read the files as before.
import { closeSync, constants, openSync, readSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Format } from '../inventory/read.ts';
import { Certificate } from '../x509/certificate.ts';
import type { SourceRead } from './inputs.ts';

/** Most bytes a spool writes (past it the spool is dropped), and at most a quarter of the free space where it is. */
export const MAX_SPOOL_BYTES = 4 * 1024 ** 3;
/** Bytes gathered before one write, and read at once when replaying. */
const CHUNK = 1 << 20;
const NONE = 0xffffffff;

/** A walk's certificates, recorded as the walk goes (`record`) and read back any number of times (`replay`). */
export class CertificateSpool {
  private fd: number | undefined;
  private buf: Buffer | undefined = Buffer.allocUnsafe(CHUNK);
  /** Bytes of `buf` not yet written. */
  private fill = 0;
  /** Bytes written to the file. */
  private size = 0;
  private readonly budget: number;
  private state: 'recording' | 'complete' | 'dropped' = 'recording';

  constructor(dir: string = tmpdir(), maxBytes: number = MAX_SPOOL_BYTES) {
    let budget = 0;
    if (maxBytes <= 0) {
      this.drop();
      this.budget = 0;
      return;
    }
    try {
      const s = statfsSync(dir);
      budget = Math.min(maxBytes, Math.floor((s.bavail * s.bsize) / 4));
      const path = join(dir, `anchorage-spool-${process.pid}-${Math.random().toString(36).slice(2)}`);
      this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
      unlinkSync(path);
    } catch {
      this.drop();
    }
    this.budget = budget;
  }

  /** Whether a whole walk was recorded (replay gives it). */
  get complete(): boolean {
    return this.state === 'complete';
  }

  /** Bytes the spool holds (tests, benchmarks). */
  get bytes(): number {
    return this.size + this.fill;
  }

  /** The walk, each source recorded as it is yielded; complete once the walk has been iterated to its end. */
  *record(walk: Iterable<SourceRead>): Generator<SourceRead> {
    for (const r of walk) {
      if (this.state === 'recording') this.add(r);
      yield r;
    }
    if (this.state === 'recording' && this.flush()) {
      this.state = 'complete';
      this.buf = undefined;
    }
  }

  /**
   * The recorded walk again: each source with its certificates (and nothing else it held). `reuse`: the
   * certificates are views of a reused buffer, valid until the next source (as a walk's reused buffers are);
   * otherwise each has bytes of its own.
   */
  replay(reuse: boolean): Iterable<SourceRead> {
    if (this.state !== 'complete' || this.fd === undefined) throw new Error('replay of a spool that was not completed');
    const fd = this.fd;
    const size = this.size;
    return {
      *[Symbol.iterator](): Generator<SourceRead> {
        let rb = Buffer.allocUnsafe(CHUNK);
        let start = 0;
        let end = 0;
        let pos = 0;
        /** At least n unread bytes in rb[start, end). */
        const need = (n: number): void => {
          if (end - start >= n) return;
          if (n > rb.length) {
            const bigger = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(n)));
            rb.copy(bigger, 0, start, end);
            rb = bigger;
          } else rb.copy(rb, 0, start, end);
          end -= start;
          start = 0;
          while (end < n) {
            const got = readSync(fd, rb, end, rb.length - end, pos);
            if (got === 0) throw new Error('the certificate spool ended inside a record');
            pos += got;
            end += got;
          }
        };
        const u32 = (): number => {
          need(4);
          const v = rb.readUInt32LE(start);
          start += 4;
          return v;
        };
        const str = (): string | undefined => {
          const n = u32();
          if (n === NONE) return undefined;
          need(n);
          const s = rb.toString('utf8', start, start + n);
          start += n;
          return s;
        };
        while (pos < size || start < end) {
          // The whole record in the buffer at once: a source's certificates are views of it together.
          const length = u32();
          need(length);
          const source = str() as string;
          const error = str();
          if (error !== undefined) {
            yield { source, error };
            continue;
          }
          const format = str() as Format;
          const warnings: string[] = [];
          for (let i = u32(); i > 0; i--) warnings.push(str() as string);
          const count = u32();
          const objects: NonNullable<SourceRead['result']>['objects'] = [];
          for (let i = 0; i < count; i++) {
            const location = str() as string;
            const n = u32();
            need(n);
            const der = reuse ? rb.subarray(start, start + n) : Uint8Array.prototype.slice.call(rb, start, start + n);
            start += n;
            objects.push({ kind: 'certificate', cert: new Certificate(der), location });
          }
          yield { source, result: { format, objects, warnings } };
        }
      },
    };
  }

  /** Drop the spool: its file is closed (it was unlinked when opened) and nothing more is recorded. */
  close(): void {
    this.drop();
  }

  private add(r: SourceRead): void {
    // What the record may take at most (each string at most 3 bytes a UTF-16 unit, with its length), and how many
    // certificates it holds: one look at the objects, no list made (the walk's consumer filters them too).
    let max = 8 + 3 * r.source.length + 4 + (r.error === undefined ? 0 : 3 * r.error.length);
    let certs = 0;
    if (r.result) {
      max += 4 + 3 * r.result.format.length + 4 + 4;
      for (const w of r.result.warnings) max += 4 + 3 * w.length;
      for (const o of r.result.objects)
        if (o.kind === 'certificate') {
          certs++;
          max += 4 + 3 * o.location.length + 4 + o.cert.der.length;
        }
    }
    if (!this.reserve(max)) return;
    // The record's length first, filled in at its end.
    const at = this.fill;
    this.fill += 4;
    this.str(r.source);
    if (!r.result) this.str(r.error ?? 'unreadable');
    else {
      this.str(undefined);
      this.str(r.result.format);
      this.u32(r.result.warnings.length);
      for (const w of r.result.warnings) this.str(w);
      this.u32(certs);
      const b = this.buf as Buffer;
      for (const o of r.result.objects) {
        if (o.kind !== 'certificate') continue;
        this.str(o.location);
        const der = o.cert.der;
        this.u32(der.length);
        b.set(der, this.fill);
        this.fill += der.length;
      }
    }
    (this.buf as Buffer).writeUInt32LE(this.fill - at - 4, at);
  }

  /** A 32-bit length or count into the buffer (room reserved by the caller). */
  private u32(v: number): void {
    (this.buf as Buffer).writeUInt32LE(v, this.fill);
    this.fill += 4;
  }

  /** A string as its UTF-8 length and bytes, or NONE for none (room reserved by the caller). */
  private str(s: string | undefined): void {
    if (s === undefined) {
      this.u32(NONE);
      return;
    }
    const n = (this.buf as Buffer).write(s, this.fill + 4, 'utf8');
    this.u32(n);
    this.fill += n;
  }

  /** Room for n more bytes in the buffer (written out when full), within the budget; false when dropped. */
  private reserve(n: number): boolean {
    if (this.size + this.fill + n > this.budget) {
      this.drop();
      return false;
    }
    if (this.fill + n <= (this.buf as Buffer).length) return true;
    if (!this.flush()) return false;
    if (n > (this.buf as Buffer).length) this.buf = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(n)));
    return true;
  }

  /** Write the buffer out; false (and the spool dropped) when that fails. */
  private flush(): boolean {
    if (this.fd === undefined || this.buf === undefined) return false;
    try {
      let done = 0;
      while (done < this.fill) done += writeSync(this.fd, this.buf, done, this.fill - done, this.size + done);
    } catch {
      this.drop();
      return false;
    }
    this.size += this.fill;
    this.fill = 0;
    return true;
  }

  private drop(): void {
    this.state = 'dropped';
    this.buf = undefined;
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // Closing an unlinked temporary file: nothing to report.
      }
      this.fd = undefined;
    }
  }
}
