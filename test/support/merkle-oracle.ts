// Go's golang.org/x/mod/sumdb/tlog (the checksum database's RFC 6962 tree) as the oracle for the CA's
// transparency log: test/merkle-oracle/ is built once into ~/.cache/anchorage (keyed by a hash of its
// sources and the Go version) and answers one batch per call.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface MerkleQuestion {
  records: Uint8Array[];
  sizes: number[];
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { old: number; new: number; proof: string[] }[];
}

export interface MerkleAnswer {
  leafHashes: string[];
  roots: string[];
  inclusion: { proof: string[]; ok: boolean; error?: string }[];
  consistency: { proof: string[]; ok: boolean; error?: string }[];
}

let binary: string | undefined;

export function merkleOracleBinary(): string {
  if (binary) return binary;
  const env = { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}` };
  const out = execFileSync('bash', [join(here, '../merkle-oracle/build.sh')], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const path = out.trim().split('\n').pop() ?? '';
  if (!existsSync(path)) throw new Error(`merkle-oracle build printed no binary: ${out}`);
  binary = path;
  return path;
}

export function askTlog(q: MerkleQuestion): MerkleAnswer {
  const input = JSON.stringify({ ...q, records: q.records.map((r) => Buffer.from(r).toString('hex')) });
  const r = spawnSync(merkleOracleBinary(), [], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`merkle-oracle failed (${r.status}): ${r.stderr}`);
  const a = JSON.parse(r.stdout) as MerkleAnswer;
  a.inclusion ??= [];
  a.consistency ??= [];
  return a;
}
