// Reading what commands are given: files, directories and stdin. (Writing: src/cli/outputs.ts.)
import type { Stats } from 'node:fs';
import { InputError } from '../common/errors.ts';

const { closeSync, constants, fstatSync, lstatSync, opendirSync, openSync, readSync, realpathSync, statSync } =
  process.getBuiltinModule('node:fs');
const { basename, dirname, join } = process.getBuiltinModule('node:path');

export interface InputFile {
  path: string;
  data: Uint8Array;
}

/** Largest single input (a file or stdin). */
export const MAX_FILE = 64 * 1024 * 1024;
/** Most directory entries one command walks, over all its arguments. */
export const MAX_ENTRIES = 100_000;
/** Most bytes one command reads, over all its inputs. */
export const MAX_TOTAL = 1024 * 1024 * 1024;

const MIB = (n: number): string => `${n / 1024 / 1024} MiB`;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'ELOOP') return 'too many levels of symbolic links';
  return err.message;
}

/**
 * A walk with reused buffers (a streaming command) collects all garbage once per this many files: a full,
 * synchronous collection of a heap that holds one file (~15 MiB, tens of ms). Between V8's own full
 * collections the garbage outside its heap (the parsed files' buffers, Node's 8 KiB Buffer pool slabs) piles
 * up by tens of MiB, more on a loaded machine, where its concurrent marking waits for a core.
 */
const COLLECT_EVERY = 32_768;

let fullGc: (() => void) | undefined;
/** A full garbage collection now (V8's `gc`, exposed at run time: the flag is read when a context is made). */
function collectGarbage(): void {
  if (!fullGc) {
    process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
    fullGc = process.getBuiltinModule('node:vm').runInNewContext('gc') as () => void;
  }
  fullGc();
}

/** Files up to this size are read into a walk's reused buffers (walkInputs `reuse`); larger ones get their own. */
const REUSED_MAX = 1024 * 1024;

/**
 * Read from an open descriptor, at most `cap` bytes; more is an InputError (never a heap blow-up).
 * `sizeHint` (a regular file's size from fstat) sizes the first read: one small allocation per file,
 * not a 1 MiB buffer; a file that grew meanwhile is read on in larger chunks.
 */
function readCapped(fd: number, what: string, cap: number, sizeHint = -1, reuse?: Buffer): Uint8Array {
  const chunks: Buffer[] = [];
  let total = 0;
  // The buffer being filled and how much of it is; a full one joins `chunks` and a larger one follows.
  // `reuse` (larger than sizeHint) is filled instead of a new buffer: the bytes are then a view of it.
  let buf =
    reuse && reuse.length > sizeHint && sizeHint >= 0
      ? reuse
      : Buffer.allocUnsafe(Math.min(sizeHint >= 0 ? sizeHint + 1 : 64 * 1024, cap + 1));
  let fill = 0;
  for (;;) {
    if (fill === buf.length) {
      chunks.push(buf);
      buf = Buffer.allocUnsafe(Math.min(Math.max(64 * 1024, total), 1024 * 1024, cap + 1 - total));
      fill = 0;
    }
    let n: number;
    try {
      n = readSync(fd, buf, fill, buf.length - fill, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // A non-blocking stdin with nothing yet: wait briefly instead of spinning.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    total += n;
    fill += n;
    if (total > cap) throw new InputError(`${what}: too large (more than ${MIB(cap)})`);
  }
  if (!chunks.length) return buf.subarray(0, fill);
  chunks.push(buf.subarray(0, fill));
  return Buffer.concat(chunks, total);
}

/**
 * Expand files, directories and '-' (stdin) into file contents, within budgets: each input at most
 * MAX_FILE bytes, MAX_ENTRIES directory entries and MAX_TOTAL bytes in all. Named on the command line,
 * anything unreadable (missing, a FIFO, a device, too large) is an InputError; met inside a directory
 * it is listed in `errors` and the walk goes on. The walk is walkInputs' (one walker, its rules below);
 * this form holds every file at once, for the commands that need them all (scan, demo).
 *
 * Directory walks follow symbolic links to files and to directories (Kubernetes mounts Secret and
 * ConfigMap volumes as `tls.crt -> ..data/tls.crt`, `..data -> ..2024_01_01_...`), guard against
 * cycles, and skip names starting with a dot at every level: so the `..data` and timestamped copies
 * are not read a second time, each logical file of a volume is read once, by its plain name.
 */
export function collectInputs(paths: string[]): { files: InputFile[]; errors: { path: string; error: string }[] } {
  const files: InputFile[] = [];
  const errors: { path: string; error: string }[] = [];
  let total = 0;
  for (const f of walkInputs(paths, { maxEntries: MAX_ENTRIES })) {
    if (!f.data) {
      errors.push({ path: f.path, error: f.error });
      continue;
    }
    total += f.data.length;
    if (total > MAX_TOTAL) throw new InputError(`${f.path}: too large: the inputs hold more than ${MIB(MAX_TOTAL)} in all`);
    files.push({ path: f.path, data: f.data });
  }
  return { files, errors };
}

/**
 * Most directory entries one streaming walk (walkInputs) visits, over all its arguments. The walk holds
 * one file at a time, so this bounds only what it must remember: 16 bytes per hard-linked, symlinked or
 * named file (FileIds) and the names of the directories it is inside (NameList, ~30 bytes a name).
 */
export const MAX_STREAM_ENTRIES = 2_000_000;

/**
 * Keep V8's heap near what a streaming walk really holds (~11 MiB live at 100,000 files). V8 doubles its
 * young generation each time the bytes that survived its scavenges since the last growth exceed its size,
 * which in a long walk always happens, up to 3 x 16 MiB, and lets the old generation grow by up to 2x its
 * live size before collecting it: `inspect` over 100,000 files peaked at ~180 MiB RSS. With the old one
 * collected at 1.2x its live size and the young generation held small, the same walk peaks near 100 MiB
 * (docs/benchmarks.md). The same as starting node with these flags; V8 reads both each time it sizes the
 * heap, so setting them at run time works.
 *
 * `walk`: the young generation may grow to WALK_NEW_SPACE and is then held there (walkInputs checks its size
 * every WALK_YOUNG_CHECK files or WALK_YOUNG_CHECK_BYTES read and stops the growth): a walk makes ~50 KiB of
 * short-lived garbage a file, and with the starting 1 MiB semi-spaces V8 scavenged every ~20 files (1,096
 * scavenges, 189 ms of pauses over 20,000 certificates, and as much again on its helper threads) where 4 MiB semi-spaces take 267 (66 ms), at
 * the same peak RSS (docs/benchmarks.md, 2026-12-04). V8 reads the starting size only at start-up, hence the
 * growth stopped by hand. Without `walk` (serve, agent: no walk loop to check it) the young generation is held
 * at its starting size from the start.
 */
export function constantMemory(growingPercent = 20, walk = false): void {
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  setFlagsFromString(`--heap-growing-percent=${growingPercent}`);
  if (walk) {
    setFlagsFromString('--semi-space-growth-factor=2');
    youngGrowing = true;
  } else smallYoungGeneration();
}

/**
 * Only the young generation held at its starting size (as constantMemory without `walk`), the old generation
 * left to V8: `scan` holds a large live inventory (~100 MiB at 20,000 Secrets), which collections at 1.2x its
 * size would mark again and again, and makes mostly garbage besides. It ran in a worker thread with a 4 MiB
 * young generation for this until 2026-12-04; in the main thread the peak RSS is ~20 MiB lower and the
 * worker's start-up and second module loading are gone (docs/benchmarks.md).
 */
export function smallYoungGeneration(): void {
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
  youngGrowing = false;
}

/**
 * V8's mid-tier compiler (Maglev) off: functions go from the baseline tier straight to TurboFan. Its concurrent
 * compile jobs left 10-15 MiB more resident by the end of a long `lint` (malloc'd on the compiler threads);
 * without it `lint` over 100,000 files peaks at 97-100 MiB instead of 103-106 at ~2 % more time, and the table
 * at 1,000,000 files at 115 instead of 128 MiB (docs/benchmarks.md, sixteenth round). Read at run time by V8.
 */
export function noMidTierCompiler(): void {
  process.getBuiltinModule('node:v8').setFlagsFromString('--no-maglev');
}

/** New space (both semi-spaces) a walk lets the young generation grow to before it is held (constantMemory). */
const WALK_NEW_SPACE = 8 * 1024 * 1024;
/** Files, or bytes read, between two looks at the young generation's size (walkInputs): ~3-6 MiB of garbage. */
const WALK_YOUNG_CHECK = 64;
const WALK_YOUNG_CHECK_BYTES = 256 * 1024;
/** constantMemory(_, true) was called and the young generation is not yet held. */
let youngGrowing = false;

/** Once the young generation has reached WALK_NEW_SPACE, stop its growth (constantMemory's `walk`). */
function holdYoungGeneration(): void {
  const space = process
    .getBuiltinModule('node:v8')
    .getHeapSpaceStatistics()
    .find((x) => x.space_name === 'new_space');
  if (space === undefined || space.space_size >= WALK_NEW_SPACE) smallYoungGeneration();
}

/**
 * What `serve` and `agent` run with: constantMemory() with the old generation collected at 1.1x its live size.
 * A server holds a large live heap (~100 MiB at 100,000 Secrets) and makes garbage of its size class each
 * pass (merged reports, views): at 1.2x the garbage between collections was ~20 MiB of peak RSS more, at
 * ~10% more CPU a pass for 1.1x (docs/benchmarks.md, serve at 100,000 Secrets).
 */
export function serverMemory(): void {
  constantMemory(10);
  // V8's memory-over-speed mode (as on low-memory devices): its heap growing and compile choices read the flag as
  // they go. At 100,000 Secrets the peak RSS went 229-240 -> 212-222 MiB at the same steady-state CPU and ~5 s more
  // CPU to the first inventory (docs/benchmarks.md).
  process.getBuiltinModule('node:v8').setFlagsFromString('--optimize-for-size');
}

/**
 * constantMemory(), unless the input is one regular file of at most 1 MiB: there is no walk whose heap
 * could grow, and loading node:v8 costs a one-file `inspect` ~10 ms of start-up (docs/benchmarks.md).
 * The young generation may grow (constantMemory's `walk`) unless the input is one file (a large bundle, stdin):
 * a walk stops its growth between files, where one file is parsed in one go and would let it grow to V8's limit.
 */
export function constantMemoryUnlessSmall(paths: readonly string[]): void {
  const only = paths.length === 1 ? paths[0] : undefined;
  let oneFile = only === '-';
  if (only !== undefined && only !== '-') {
    try {
      const st = statSync(only);
      if (st.isFile() && st.size <= 1024 * 1024) return;
      oneFile = !st.isDirectory();
    } catch {
      // The walk reports it.
    }
  }
  constantMemory(20, !oneFile);
}

/** Standard input, read once (at most MAX_FILE bytes) however many times it is asked for. */
export function stdinOnce(): () => Uint8Array {
  let data: Uint8Array | undefined;
  return () => {
    data ??= readCapped(0, 'stdin', MAX_FILE);
    return data;
  };
}

/**
 * The inode numbers of files a walk has read that it could meet again, per device, in an open-addressing
 * table of doubles (8-16 bytes a file where a Set of "dev:ino" strings took ~100). walkInputs keeps only
 * the files that have more than one name (hard links), were reached through a symbolic link, or were named
 * on the command line: a file with one name is otherwise met once, in its one directory's listing.
 */
class FileIds {
  private readonly byDev = new Map<number, { slots: Float64Array; used: number }>();
  has(dev: number, ino: number): boolean {
    const t = this.byDev.get(dev);
    if (!t) return false;
    const mask = t.slots.length - 1;
    let i = FileIds.slot(ino, mask);
    for (;;) {
      const v = t.slots[i] as number;
      if (v === ino) return true;
      if (v < 0) return false;
      i = (i + 1) & mask;
    }
  }
  /** Adds the file; false when it was there already. */
  add(dev: number, ino: number): boolean {
    let t = this.byDev.get(dev);
    if (!t) {
      t = { slots: new Float64Array(1024).fill(-1), used: 0 };
      this.byDev.set(dev, t);
    }
    if (!FileIds.insert(t.slots, ino)) return false;
    if (++t.used * 2 > t.slots.length) {
      const bigger = new Float64Array(t.slots.length * 2).fill(-1);
      for (const v of t.slots) if (v >= 0) FileIds.insert(bigger, v);
      t.slots = bigger;
    }
    return true;
  }
  /** Inode numbers are dense integers: a multiplicative hash of both 32-bit halves spreads them. */
  private static slot(ino: number, mask: number): number {
    return (Math.imul(ino >>> 0, 0x9e3779b1) ^ Math.imul(Math.floor(ino / 4294967296) >>> 0, 0x85ebca6b)) & mask;
  }
  private static insert(slots: Float64Array, ino: number): boolean {
    const mask = slots.length - 1;
    let i = FileIds.slot(ino, mask);
    for (;;) {
      const v = slots[i] as number;
      if (v === ino) return false;
      if (v < 0) {
        slots[i] = ino;
        return true;
      }
      i = (i + 1) & mask;
    }
  }
}

/** An entry the listing says is a regular file, a directory, or anything else (a link, unknown). */
const ENTRY_FILE = 1;
const ENTRY_DIR = 2;
const ENTRY_OTHER = 0;

/**
 * One directory's entry names, sorted as `readdirSync(p).sort()` sorts them (UTF-16 code units), packed
 * into one UTF-8 buffer with offsets (~30 bytes a name where an array of strings takes ~75), read from
 * the directory a batch at a time: a folder of a million certificates lists in ~30 MiB.
 */
class NameList {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private size = 0;
  private starts = new Uint32Array(256);
  /** Each entry's type as the listing gave it (DT_REG, DT_DIR, …): ENTRY_FILE, ENTRY_DIR or ENTRY_OTHER. */
  private types = new Uint8Array(256);
  order: Uint32Array = new Uint32Array(0);
  count = 0;
  constructor(path: string, max: number) {
    const dir = opendirSync(path, { bufferSize: 256 });
    try {
      for (let d = dir.readSync(); d; d = dir.readSync()) {
        if (d.name.startsWith('.')) continue;
        this.push(d.name, d.isFile() ? ENTRY_FILE : d.isDirectory() ? ENTRY_DIR : ENTRY_OTHER);
        if (this.count > max) throw new InputError(`${path}: too large: more than ${max} directory entries to walk`);
      }
    } finally {
      dir.closeSync();
    }
    this.order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) this.order[i] = i;
    this.order.sort((a, b) => this.compare(a, b));
  }
  private push(name: string, type: number): void {
    const n = Buffer.byteLength(name);
    if (this.size + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.size + n));
      this.buf.copy(bigger, 0, 0, this.size);
      this.buf = bigger;
    }
    if (this.count + 1 >= this.starts.length) {
      const bigger = new Uint32Array(this.starts.length * 2);
      bigger.set(this.starts);
      this.starts = bigger;
      const more = new Uint8Array(this.starts.length);
      more.set(this.types);
      this.types = more;
    }
    this.types[this.count] = type;
    this.starts[this.count] = this.size;
    this.size += this.buf.write(name, this.size);
    this.starts[++this.count] = this.size;
  }
  name(i: number): string {
    return this.buf.toString('utf8', this.starts[i], this.starts[i + 1]);
  }
  type(i: number): number {
    return this.types[i] as number;
  }
  private compare(a: number, b: number): number {
    const a0 = this.starts[a] as number;
    const b0 = this.starts[b] as number;
    const la = (this.starts[a + 1] as number) - a0;
    const lb = (this.starts[b + 1] as number) - b0;
    const n = Math.min(la, lb);
    for (let i = 0; i < n; i++) {
      const x = this.buf[a0 + i] as number;
      const y = this.buf[b0 + i] as number;
      if (x === y) continue;
      // Bytes order ASCII as UTF-16 does; past ASCII, UTF-8 and UTF-16 orders can differ: compare strings.
      if (x >= 0x80 || y >= 0x80) {
        const s = this.name(a);
        const t = this.name(b);
        return s < t ? -1 : s > t ? 1 : 0;
      }
      return x - y;
    }
    return la - lb;
  }
}

/** A file a walk reached: its bytes, or why it could not be read (only inside a directory). */
export type WalkedFile = { path: string; data: Uint8Array; error?: undefined } | { path: string; data?: undefined; error: string };

/**
 * The streaming form of collectInputs: the same files in the same order with the same rules (symbolic
 * links followed, cycles guarded, dot names skipped, each file read once, named inputs that cannot be read
 * are an InputError), read one at a time when the caller asks for the next. Memory does not hold the
 * files: one file's bytes, the sorted names of the directories the walk is inside and 16 bytes per file
 * it could meet again (FileIds: hard links, symbolic links, named files; not the common file with one
 * name). Budgets: MAX_FILE per file and `maxEntries` (MAX_STREAM_ENTRIES) entries; no total, since nothing accumulates.
 * Unreadable files met inside directories are yielded after all the files, as collectInputs lists them.
 * `stdin` supplies standard input's bytes (a caller that walks more than once reads stdin once).
 * A file its directory lists as a regular file is opened straight away (fstat, not lstat first).
 *
 * `reuse`: files are read into two buffers that the walk reuses in turn, so reading makes no garbage
 * outside V8's heap (which V8 counts towards a collection late); a file's bytes are then valid until
 * the walk has yielded two more files, so a caller may look one file ahead but must copy whatever it
 * keeps. `dry`: no file met in a directory is read and nothing is yielded; the walk only throws what the
 * full walk would throw (named inputs that cannot be read, the entries budget), so a caller can learn it
 * before writing anything.
 */
export function* walkInputs(
  paths: readonly string[],
  opts: { stdin?: () => Uint8Array; maxEntries?: number; reuse?: boolean; dry?: boolean } = {},
): Generator<WalkedFile> {
  const maxEntries = opts.maxEntries ?? MAX_STREAM_ENTRIES;
  const dry = opts.dry === true;
  const errors: { path: string; error: string }[] = [];
  let entries = 0;
  const seenDirs = new Set<string>();
  /** The directories being listed (the walk's stack): the name each is at. */
  const listing = new Map<string, string>();
  const seenFiles = new FileIds();
  // opts.reuse: files are read into two buffers used in turn, so a file's bytes stay valid while the
  // caller looks one file ahead; a file larger than REUSED_MAX gets its own buffer.
  const reused: Buffer[] | undefined = opts.reuse ? [Buffer.allocUnsafe(0), Buffer.allocUnsafe(0)] : undefined;
  let turn = 0;
  let sinceCollection = 0;
  let filesSinceYoungCheck = 0;
  let bytesSinceYoungCheck = 0;
  const bufferFor = (size: number): Buffer | undefined => {
    if (!reused) return undefined;
    // The garbage a file makes follows its size (~25 bytes a byte of PEM): a look at the young generation every
    // WALK_YOUNG_CHECK files or WALK_YOUNG_CHECK_BYTES read, whichever comes first, lets it grow once at most
    // between looks.
    if (youngGrowing) {
      bytesSinceYoungCheck += size;
      if (++filesSinceYoungCheck >= WALK_YOUNG_CHECK || bytesSinceYoungCheck >= WALK_YOUNG_CHECK_BYTES) {
        filesSinceYoungCheck = 0;
        bytesSinceYoungCheck = 0;
        holdYoungGeneration();
      }
    }
    if (size >= REUSED_MAX) return undefined;
    if (++sinceCollection >= COLLECT_EVERY) {
      sinceCollection = 0;
      collectGarbage();
    }
    turn ^= 1;
    let b = reused[turn] as Buffer;
    if (b.length <= size) {
      let n = 16 * 1024;
      while (n <= size) n *= 2;
      b = Buffer.allocUnsafe(n);
      reused[turn] = b;
    }
    return b;
  };
  /**
   * Whether the directory walk reads, or has read, this file through its one name: its real directory
   * was listed already, or is being listed and is past the name (or at it). A dot name is never read so.
   */
  const readByName = (p: string): boolean => {
    let real: string;
    let parent: Stats;
    try {
      real = realpathSync(p);
      parent = statSync(dirname(real));
    } catch {
      return false;
    }
    const name = basename(real);
    if (name.startsWith('.')) return false;
    const id = `${parent.dev}:${parent.ino}`;
    if (!seenDirs.has(id)) return false;
    const at = listing.get(id);
    return at === undefined || name <= at;
  };
  /** An open regular file's bytes, or undefined after `problem` was told why not. Closes fd. */
  const readOpen = (fd: number, p: string, size: number, problem: (msg: string) => void): Uint8Array | undefined => {
    try {
      return readCapped(fd, p, MAX_FILE, size, bufferFor(size));
    } catch (e) {
      problem(e instanceof InputError ? `too large (more than ${MIB(MAX_FILE)})` : errText(e));
      return undefined;
    } finally {
      closeSync(fd);
    }
  };
  /**
   * A file its directory's listing says is a regular file (not a link), not named on the command line:
   * opened at once, fstat standing for lstat (the same file's size, links and inode). Anything unusual
   * (it cannot be opened, it is no longer a regular file) goes the general way (visit), which says why as
   * before. Returns the file, undefined when it is not read, or `true` to go the general way.
   */
  const listedFile = (p: string): WalkedFile | undefined | true => {
    let fd: number;
    try {
      fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return true;
    }
    let fst: Stats;
    try {
      fst = fstatSync(fd);
    } catch {
      closeSync(fd);
      return true;
    }
    if (!fst.isFile()) {
      closeSync(fd);
      return true;
    }
    const skip = (): undefined => {
      closeSync(fd);
      return undefined;
    };
    if (fst.size > MAX_FILE) {
      errors.push({ path: p, error: `too large (more than ${MIB(MAX_FILE)})` });
      return skip();
    }
    // Each file once (as in visit): a file with more links is remembered, one with a single name is read
    // unless a symbolic link reached it first.
    if (fst.nlink > 1) {
      if (!seenFiles.add(fst.dev, fst.ino)) return skip();
    } else if (seenFiles.has(fst.dev, fst.ino)) return skip();
    const data = readOpen(fd, p, fst.size, (error) => errors.push({ path: p, error }));
    return data ? { path: p, data } : undefined;
  };
  function* visit(p: string, explicit: boolean): Generator<WalkedFile> {
    const problem = (msg: string): void => {
      if (explicit) throw new InputError(`${p}: ${msg}`);
      errors.push({ path: p, error: msg });
    };
    if (p === '-') {
      let data: Uint8Array;
      try {
        data = opts.stdin ? opts.stdin() : readCapped(0, 'stdin', MAX_FILE);
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError(`stdin: ${errText(e)}`);
      }
      if (!dry) yield { path: '-', data };
      return;
    }
    let st: Stats;
    let viaLink = false;
    try {
      st = lstatSync(p);
      if (st.isSymbolicLink()) {
        viaLink = true;
        st = statSync(p);
      }
    } catch (e) {
      problem(errText(e));
      return;
    }
    if (st.isDirectory()) {
      const id = `${st.dev}:${st.ino}`;
      if (seenDirs.has(id)) return;
      seenDirs.add(id);
      let names: NameList;
      try {
        names = new NameList(p, maxEntries);
      } catch (e) {
        if (e instanceof InputError) throw e;
        problem(errText(e));
        return;
      }
      try {
        for (const i of names.order) {
          entries++;
          if (entries > maxEntries) throw new InputError(`${p}: too large: more than ${maxEntries} directory entries to walk`);
          if (names.type(i) === ENTRY_FILE) {
            // A dry walk reads no file met in a directory: what it checks cannot fail there.
            if (dry) continue;
            const f = listedFile(join(p, names.name(i)));
            if (f === undefined) continue;
            if (f !== true) {
              yield f;
              continue;
            }
          }
          const name = names.name(i);
          listing.set(id, name);
          yield* visit(join(p, name), false);
        }
      } finally {
        listing.delete(id);
      }
      return;
    }
    if (dry && !explicit) return;
    if (!st.isFile()) {
      problem(`${kindOf(st)}, not a regular file: not read`);
      return;
    }
    if (st.size > MAX_FILE) {
      problem(`too large (more than ${MIB(MAX_FILE)})`);
      return;
    }
    // Each file once. One with a single name met in its directory's listing is remembered only if a
    // symbolic link reached it first; through a link, it is left to its listing when that reads it.
    if (explicit || st.nlink > 1) {
      if (!seenFiles.add(st.dev, st.ino) && !explicit) return;
    } else if (viaLink) {
      if (readByName(p) || !seenFiles.add(st.dev, st.ino)) return;
    } else if (seenFiles.has(st.dev, st.ino)) return;
    let fd: number;
    try {
      fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      problem(errText(e));
      return;
    }
    let fst: Stats;
    try {
      fst = fstatSync(fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (!fst.isFile()) {
      closeSync(fd);
      problem(`${kindOf(fst)}, not a regular file: not read`);
      return;
    }
    const data = readOpen(fd, p, fst.size, problem);
    if (data && !dry) yield { path: p, data };
  }
  for (const p of paths) yield* visit(p, true);
  if (!dry) for (const e of errors) yield e;
}

/**
 * Throws what walkInputs over these paths would throw (a named input that cannot be read, more than
 * `maxEntries` entries), reading no file met in a directory: a streaming command calls it before it
 * writes anything, so that bad input fails with one line and no partial output.
 */
export function checkInputs(paths: readonly string[], stdin: () => Uint8Array, maxEntries = MAX_STREAM_ENTRIES): void {
  const walk = walkInputs(paths, { stdin, maxEntries, dry: true });
  while (!walk.next().done);
}

export function readInputFile(path: string): Uint8Array {
  const { files } = collectInputs([path]);
  const f = files[0];
  if (!f || files.length !== 1) throw new InputError(`${path}: expected one file`);
  return f.data;
}
