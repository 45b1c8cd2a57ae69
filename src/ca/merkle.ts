// The transparency log's tree: RFC 6962 section 2.1 (and RFC 9162 section 2.1), SHA-256.
// Leaves hash as SHA-256(0x00 || entry), interior nodes as SHA-256(0x01 || left || right); a tree of n
// leaves splits at the largest power of two below n. Proofs are the audit path (PATH) and the
// consistency proof (PROOF) of RFC 6962; verification follows RFC 9162 2.1.3.2 and 2.1.4.2.
// Signed tree heads sign RFC 6962's TreeHeadSignature structure.
import { createHash, type KeyObject, sign, verify } from 'node:crypto';

export type Hash = Uint8Array;

export const leafHash = (entry: Uint8Array): Hash => createHash('sha256').update(Uint8Array.of(0)).update(entry).digest();
export const nodeHash = (l: Hash, r: Hash): Hash => createHash('sha256').update(Uint8Array.of(1)).update(l).update(r).digest();
const EMPTY_ROOT: Hash = createHash('sha256').digest();

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over leaf hashes [lo, hi). */
export function rootOf(leaves: readonly Hash[], lo = 0, hi = leaves.length): Hash {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo] as Hash;
  const k = split(n);
  return nodeHash(rootOf(leaves, lo, lo + k), rootOf(leaves, lo + k, hi));
}

/** PATH(m, D[0:size]): the audit path of leaf m in the tree of the first `size` leaves. */
export function inclusionProof(leaves: readonly Hash[], m: number, size: number): Hash[] {
  if (!(Number.isInteger(m) && Number.isInteger(size) && m >= 0 && m < size && size <= leaves.length))
    throw new RangeError(`no leaf ${m} in a tree of ${size}`);
  const path = (m: number, lo: number, hi: number): Hash[] => {
    const n = hi - lo;
    if (n === 1) return [];
    const k = split(n);
    return m < k ? [...path(m, lo, lo + k), rootOf(leaves, lo + k, hi)] : [...path(m - k, lo + k, hi), rootOf(leaves, lo, lo + k)];
  };
  return path(m, 0, size);
}

/** PROOF(m, D[0:n]): that the tree of m leaves is a prefix of the tree of n. */
export function consistencyProof(leaves: readonly Hash[], m: number, n: number): Hash[] {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m >= 0 && m <= n && n <= leaves.length))
    throw new RangeError(`no consistency proof from ${m} to ${n}`);
  if (m === 0 || m === n) return [];
  const sub = (m: number, lo: number, hi: number, b: boolean): Hash[] => {
    const n = hi - lo;
    if (m === n) return b ? [] : [rootOf(leaves, lo, hi)];
    const k = split(n);
    return m <= k ? [...sub(m, lo, lo + k, b), rootOf(leaves, lo + k, hi)] : [...sub(m - k, lo + k, hi, false), rootOf(leaves, lo, lo + k)];
  };
  return sub(m, 0, n, true);
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** RFC 9162 2.1.3.2. */
export function verifyInclusion(leaf: Hash, index: number, size: number, proof: readonly Hash[], root: Hash): boolean {
  if (index < 0 || index >= size) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n)
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
    } else r = nodeHash(r, p);
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && eq(r, root);
}

/** RFC 9162 2.1.4.2 (with its trivial cases: equal sizes need an empty proof and equal roots; size 0 is consistent with anything). */
export function verifyConsistency(first: number, second: number, proof: readonly Hash[], firstRoot: Hash, secondRoot: Hash): boolean {
  if (first < 0 || first > second) return false;
  if (first === second) return proof.length === 0 && eq(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = [...proof];
  if ((first & (first - 1)) === 0) path.unshift(firstRoot);
  let fn = BigInt(first - 1);
  let sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0] as Hash;
  let sr = path[0] as Hash;
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n)
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
    } else sr = nodeHash(sr, c);
    fn >>= 1n;
    sn >>= 1n;
  }
  return eq(fr, firstRoot) && eq(sr, secondRoot) && sn === 0n;
}

export interface TreeHead {
  treeSize: number;
  /** Milliseconds since the epoch, as RFC 6962 counts. */
  timestamp: number;
  rootHash: string;
  /** Base64 signature over treeHeadSignatureInput() by the log key. */
  signature: string;
}

/** RFC 6962 3.5: version v1 (0), signature_type tree_hash (1), uint64 timestamp, uint64 tree_size, 32-byte root. */
export function treeHeadSignatureInput(treeSize: number, timestamp: number, root: Hash): Uint8Array {
  const b = Buffer.alloc(2 + 8 + 8 + 32);
  b[0] = 0;
  b[1] = 1;
  b.writeBigUInt64BE(BigInt(timestamp), 2);
  b.writeBigUInt64BE(BigInt(treeSize), 10);
  Buffer.from(root).copy(b, 18);
  return b;
}

export function signTreeHead(key: KeyObject, treeSize: number, root: Hash, timestamp = Date.now()): TreeHead {
  const sig = sign('sha256', treeHeadSignatureInput(treeSize, timestamp, root), key);
  return { treeSize, timestamp, rootHash: Buffer.from(root).toString('hex'), signature: sig.toString('base64') };
}

export function verifyTreeHead(key: KeyObject, h: TreeHead): boolean {
  try {
    const root = Buffer.from(h.rootHash, 'hex');
    if (root.length !== 32) return false;
    return verify('sha256', treeHeadSignatureInput(h.treeSize, h.timestamp, root), key, Buffer.from(h.signature, 'base64'));
  } catch {
    return false;
  }
}
