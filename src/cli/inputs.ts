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
  const { files, errors } = collectInputs([...paths]);
  const single = paths.length === 1 && files.length === 1 && errors.length === 0;
  if (opts.strict && errors[0]) throw new InputError(`${display(errors[0].path)}: ${errors[0].error}`);
  const out: SourceRead[] = [];
  for (const f of files) {
    try {
      out.push({ source: f.path, result: readObjects(f.data, opts.password === undefined ? {} : { password: opts.password }) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      if (single || opts.strict) throw new InputError(`${display(f.path)}: ${e.message}`);
      out.push({ source: f.path, error: e.message });
    }
  }
  for (const e of errors) out.push({ source: e.path, error: e.error });
  return out;
}
