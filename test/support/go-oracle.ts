// Go's crypto/x509 as a test oracle: test/go-oracle/ is built once (cached by a hash of its sources
// and the Go version, with the Go that builds the control plane) and answers a whole batch of cases
// in one process. Resolve the binary lazily, in a beforeAll: the first build takes a few seconds.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const GO_BIN = '/usr/local/go/bin';

export interface GoVerifyCase {
  id: string;
  leaf: Uint8Array;
  roots: readonly Uint8Array[];
  intermediates: readonly Uint8Array[];
  /** Check time. */
  time: Date;
  /** server, client, any, codeSigning, ... (Go's ExtKeyUsage names); empty: Go's default, serverAuth. */
  eku?: readonly string[];
  host?: string;
}

export interface GoParseCase {
  id: string;
  parse: 'certificate' | 'csr' | 'crl';
  der: Uint8Array;
}

export interface GoResult {
  ok: boolean;
  error?: string;
}

export interface GoAnswer {
  id: string;
  parse?: GoResult;
  leaf?: GoResult;
  roots?: GoResult[];
  intermediates?: GoResult[];
  verify?: GoResult & { chains?: string[][] };
}

let binary: string | undefined;

/** Build (or find in the cache) the oracle and return its path. */
export function goOracleBinary(): string {
  if (binary) return binary;
  const env = { ...process.env, PATH: `${GO_BIN}:${process.env.PATH ?? ''}` };
  const out = execFileSync('bash', [join(here, '../go-oracle/build.sh')], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = out.trim().split('\n').pop() ?? '';
  if (!existsSync(path)) throw new Error(`go-oracle build printed no binary: ${out}`);
  binary = path;
  return path;
}

const b64 = (d: Uint8Array): string => Buffer.from(d).toString('base64');

/** Answers in request order. */
export function askGo(cases: readonly (GoVerifyCase | GoParseCase)[]): GoAnswer[] {
  const lines = cases.map((c) =>
    'parse' in c
      ? JSON.stringify({ id: c.id, parse: c.parse, der: b64(c.der) })
      : JSON.stringify({
          id: c.id,
          leaf: b64(c.leaf),
          roots: c.roots.map(b64),
          intermediates: c.intermediates.map(b64),
          time: c.time.toISOString(),
          eku: c.eku ?? [],
          ...(c.host !== undefined ? { host: c.host } : {}),
        }),
  );
  const r = spawnSync(goOracleBinary(), [], { input: `${lines.join('\n')}\n`, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`go-oracle failed (${r.status}): ${r.stderr}`);
  const answers = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as GoAnswer);
  if (answers.length !== cases.length) throw new Error(`go-oracle answered ${answers.length} of ${cases.length} cases`);
  answers.forEach((a, i) => {
    if (a.id !== cases[i]?.id) throw new Error(`go-oracle answer ${i} is for ${a.id}, not ${cases[i]?.id}`);
  });
  return answers;
}

export function goVersion(): string {
  const r = spawnSync(goOracleBinary(), [], { input: '{"id":"version"}\n', encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { goVersion: string }).goVersion;
}
