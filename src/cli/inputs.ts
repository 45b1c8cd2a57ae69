// The one way inspect, lint and verify read what the user names: files, directories (walked by
// walkInputs) and '-' for stdin, each parsed by the format-detecting reader.
import { InputError } from '../common/errors.ts';
import { type ReadResult, readObjects } from '../inventory/read.ts';
import { MAX_ENTRIES, MAX_TOTAL, stdinOnce, walkInputs } from './files.ts';

export interface SourceRead {
  /** The path as found ('-' for stdin). */
  source: string;
  result?: ReadResult;
  /** Why this source could not be read. */
  error?: string;
}

export interface ReadInputsOptions {
  password?: string;
  /**
   * strict: any unreadable source fails the command with one line (verify's roots and CRLs must all read).
   * Otherwise a file named on its own must be readable, and inside a directory an unreadable file is
   * reported in its SourceRead, not fatal.
   */
  strict?: boolean;
  /**
   * eachInput only: skip, unparsed, the files for which this says no (a pass that looks for keys needs
   * not parse files that cannot hold one). Errors of the walk are still yielded.
   */
  filter?: (data: Uint8Array) => boolean;
  /** eachInput only: where standard input's bytes come from (files.ts stdinOnce), to share them between walks. */
  stdin?: () => Uint8Array;
  /**
   * eachInput only: read the files into the walk's reused buffers (walkInputs `reuse`). The caller then
   * keeps nothing of a source past the next one but what it copied: the objects read may be views of the
   * file's bytes (DER, PKCS#7, JKS), which a later file overwrites.
   */
  reuse?: boolean;
}

const display = (p: string): string => (p === '-' ? 'stdin' : p);

function readOne(path: string, data: Uint8Array, fatal: boolean, opts: ReadInputsOptions): SourceRead {
  try {
    return { source: path, result: readObjects(data, opts.password === undefined ? {} : { password: opts.password }) };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (fatal) throw new InputError(`${display(path)}: ${e.message}`);
    return { source: path, error: e.message };
  }
}

/**
 * Every source, read and parsed, within collectInputs' budgets (MAX_ENTRIES directory entries, MAX_TOTAL
 * bytes read): the parsed results are held, the files' bytes are not (one file at a time, as walkInputs
 * reads them). For the commands that need every object at once: verify's roots, intermediates and CRLs.
 * With `strict`, the first unreadable file of the walk fails the command, else the first that does not parse.
 */
export function readInputs(paths: readonly string[], opts: ReadInputsOptions = {}): SourceRead[] {
  const out: SourceRead[] = [];
  let fatal: InputError | undefined;
  let total = 0;
  const walk = walkInputs(paths, { maxEntries: MAX_ENTRIES });
  let cur = walk.next();
  let first = true;
  while (!cur.done) {
    const f = cur.value;
    const next = walk.next();
    // A lone file named on its own must parse (so must every file with `strict`).
    const single = first && next.done === true && paths.length === 1;
    first = false;
    cur = next;
    if (!f.data) {
      // The walk's errors come after all its files, and come first with `strict`.
      if (opts.strict) throw new InputError(`${display(f.path)}: ${f.error}`);
      out.push({ source: f.path, error: f.error });
      continue;
    }
    total += f.data.length;
    if (total > MAX_TOTAL) throw new InputError(`${f.path}: too large: the inputs hold more than ${MAX_TOTAL / 1024 / 1024} MiB in all`);
    if (fatal) continue;
    try {
      out.push(readOne(f.path, f.data, single || opts.strict === true, opts));
    } catch (e) {
      if (!(e instanceof InputError) || !opts.strict) throw e;
      fatal = e;
    }
  }
  if (fatal) throw fatal;
  return out;
}

/**
 * The same sources as readInputs, in the same order, streamed: the walk (walkInputs) reads one file
 * when the caller asks for the next, and each is parsed then, so a caller that renders and drops each
 * one holds one file at a time, whatever the number of files. Iterating again walks and parses again.
 * With `strict`, every source is read first (readInputs), so that an unreadable one fails before any.
 */
export function eachInput(paths: readonly string[], opts: ReadInputsOptions = {}): Iterable<SourceRead> {
  if (opts.strict) return readInputs(paths, opts);
  // Standard input can be read once: every walk of this iterable (and of any sharing opts.stdin) shares its bytes.
  const stdin = opts.stdin ?? stdinOnce();
  return {
    *[Symbol.iterator](): Generator<SourceRead> {
      const walk = walkInputs(paths, { stdin, reuse: opts.reuse === true });
      let cur = walk.next();
      let first = true;
      while (!cur.done) {
        const f = cur.value;
        // Read one ahead: a lone file named on its own must parse (readInputs' `single`).
        const next = walk.next();
        const single = first && next.done === true && paths.length === 1;
        first = false;
        if (!f.data) yield { source: f.path, error: f.error };
        else if (!opts.filter || opts.filter(f.data)) yield readOne(f.path, f.data, single, opts);
        cur = next;
      }
    },
  };
}
