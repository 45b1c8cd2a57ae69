// Run zlint-batch (test/zlint/main.go, built once by build.sh) over many certificates in one process.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface ZlintRecord {
  file: string;
  parseError?: string;
  /** lint name -> status (info, warn, error, fatal), with details after a colon. */
  results?: Record<string, string>;
}

let zlintBin = '';
/** Build (or find in the cache) zlint-batch. */
export function zlintBinary(): string {
  zlintBin ||= execFileSync('bash', [join(import.meta.dirname, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop() as string;
  return zlintBin;
}

/** Run zlint once over many files. */
export function runZlint(files: string[]): Map<string, ZlintRecord> {
  const out = execFileSync(zlintBinary(), [], { input: `${files.join('\n')}\n`, encoding: 'utf8', maxBuffer: 256 << 20 });
  const m = new Map<string, ZlintRecord>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as ZlintRecord;
    m.set(r.file, r);
  }
  return m;
}

/** zlint's verdict: fired (info/warn/error), or undefined when it could not evaluate (fatal). */
export function zlintFired(r: ZlintRecord, name: string): boolean | undefined {
  const s = r.results?.[name];
  if (s === undefined) return false;
  return s.startsWith('fatal') ? undefined : true;
}
