// The one way inspect, lint and verify read what the user names: files, directories (walked by
// collectInputs) and '-' for stdin, each parsed by the format-detecting reader.
import { InputError } from '../common/errors.ts';
import { type ReadResult, readObjects } from '../inventory/read.ts';
import { collectInputs } from './files.ts';

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
}

const display = (p: string): string => (p === '-' ? 'stdin' : p);

export function readInputs(paths: readonly string[], opts: ReadInputsOptions = {}): SourceRead[] {
  return [...eachInput(paths, opts)];
}

/**
 * The same sources as readInputs, one at a time: each file is parsed when the caller asks for it, so a
 * caller that renders and drops each one holds only the files' bytes, never every parsed result.
 * Iterating again parses again.
 */
export function eachInput(paths: readonly string[], opts: ReadInputsOptions = {}): Iterable<SourceRead> {
  const { files, errors } = collectInputs([...paths]);
  const single = paths.length === 1 && files.length === 1 && errors.length === 0;
  if (opts.strict && errors[0]) throw new InputError(`${display(errors[0].path)}: ${errors[0].error}`);
  return {
    *[Symbol.iterator](): Generator<SourceRead> {
      for (const f of files) {
        let result: ReadResult;
        try {
          result = readObjects(f.data, opts.password === undefined ? {} : { password: opts.password });
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          if (single || opts.strict) throw new InputError(`${display(f.path)}: ${e.message}`);
          yield { source: f.path, error: e.message };
          continue;
        }
        yield { source: f.path, result };
      }
      for (const e of errors) yield { source: e.path, error: e.error };
    },
  };
}
