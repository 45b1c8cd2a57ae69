// The transparency log's tree against an independent implementation: Go's golang.org/x/mod/sumdb/tlog
// (RFC 6962 hashing). Roots, inclusion proofs and consistency proofs for every size up to 70 and
// some larger trees must equal tlog's, and tlog must accept ours; tampered proofs fail our verifier.
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyProof, inclusionProof, leafHash, rootOf, verifyConsistency, verifyInclusion } from '../src/ca/merkle.ts';
import { askTlog, merkleOracleBinary } from './support/merkle-oracle.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const records = Array.from({ length: 300 }, (_, i) => Buffer.from(JSON.stringify({ i, note: 'x'.repeat(i % 7) })));
const leaves = records.map(leafHash);

beforeAll(() => {
  merkleOracleBinary();
}, 300_000);

describe('RFC 6962 tree vs Go tlog', () => {
  it('leaf hashes and roots of sizes 0..70, 127, 128, 129, 255, 256, 300', () => {
    const sizes = [...Array.from({ length: 71 }, (_, i) => i), 127, 128, 129, 255, 256, 300];
    const a = askTlog({ records, sizes, inclusion: [], consistency: [] });
    expect(leaves.map(hex)).toEqual(a.leafHashes);
    expect(sizes.map((n) => hex(rootOf(leaves.slice(0, n))))).toEqual(a.roots);
    // The empty tree is SHA-256 of nothing (RFC 6962 2.1).
    expect(hex(rootOf([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('inclusion proofs equal tlog proofs and tlog accepts them', () => {
    const cases: { index: number; size: number; proof: string[] }[] = [];
    for (const size of [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 70, 129, 300])
      for (const index of new Set([0, 1, size >> 1, size - 2, size - 1].filter((i) => i >= 0 && i < size)))
        cases.push({ index, size, proof: inclusionProof(leaves, index, size).map(hex) });
    const a = askTlog({ records, sizes: [], inclusion: cases, consistency: [] });
    a.inclusion.forEach((ans, i) => {
      const c = cases[i] as (typeof cases)[number];
      expect({ ...c, ok: ans.ok, error: ans.error }).toEqual({ ...c, ok: true, error: undefined });
      expect(c.proof).toEqual(ans.proof);
      const root = rootOf(leaves.slice(0, c.size));
      expect(verifyInclusion(leaves[c.index] as Uint8Array, c.index, c.size, inclusionProof(leaves, c.index, c.size), root)).toBe(true);
    });
  });

  it('consistency proofs equal tlog proofs and tlog accepts them', () => {
    const cases: { old: number; new: number; proof: string[] }[] = [];
    for (const n of [2, 3, 4, 5, 8, 9, 15, 16, 17, 70, 129, 300])
      for (const m of new Set([1, 2, 3, n >> 1, n - 1].filter((m) => m >= 1 && m < n)))
        cases.push({ old: m, new: n, proof: consistencyProof(leaves, m, n).map(hex) });
    const a = askTlog({ records, sizes: [], inclusion: [], consistency: cases });
    a.consistency.forEach((ans, i) => {
      const c = cases[i] as (typeof cases)[number];
      expect({ ...c, ok: ans.ok }).toEqual({ ...c, ok: true });
      expect(c.proof).toEqual(ans.proof);
      expect(
        verifyConsistency(
          c.old,
          c.new,
          consistencyProof(leaves, c.old, c.new),
          rootOf(leaves.slice(0, c.old)),
          rootOf(leaves.slice(0, c.new)),
        ),
      ).toBe(true);
    });
  });

  it('our verifiers refuse tlog-made proofs that were tampered with, and proofs for the wrong position or size', () => {
    const a = askTlog({
      records,
      sizes: [],
      inclusion: [{ index: 5, size: 70, proof: [] }],
      consistency: [{ old: 20, new: 70, proof: [] }],
    });
    const inc = (a.inclusion[0]?.proof ?? []).map((h) => Buffer.from(h, 'hex'));
    const con = (a.consistency[0]?.proof ?? []).map((h) => Buffer.from(h, 'hex'));
    const r70 = rootOf(leaves.slice(0, 70));
    const r20 = rootOf(leaves.slice(0, 20));
    expect(verifyInclusion(leaves[5] as Uint8Array, 5, 70, inc, r70)).toBe(true);
    expect(verifyConsistency(20, 70, con, r20, r70)).toBe(true);
    const flipped = inc.map((h, i) => (i === 2 ? Buffer.from(h.map((b, j) => (j === 0 ? b ^ 1 : b))) : h));
    expect(verifyInclusion(leaves[5] as Uint8Array, 5, 70, flipped, r70)).toBe(false);
    expect(verifyInclusion(leaves[5] as Uint8Array, 6, 70, inc, r70)).toBe(false);
    expect(verifyInclusion(leaves[5] as Uint8Array, 5, 129, inc, r70)).toBe(false);
    expect(verifyInclusion(leaves[6] as Uint8Array, 5, 70, inc, r70)).toBe(false);
    expect(verifyInclusion(leaves[5] as Uint8Array, 5, 70, inc.slice(1), r70)).toBe(false);
    expect(verifyConsistency(21, 70, con, r20, r70)).toBe(false);
    expect(verifyConsistency(20, 70, con.slice(0, -1), r20, r70)).toBe(false);
    expect(verifyConsistency(20, 70, con, rootOf(leaves.slice(0, 19)), r70)).toBe(false);
  });
});
