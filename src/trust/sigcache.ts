// Signature checks are the only expensive step of validation. A scan of a cluster meets the same
// (issuer key, certificate) pair again and again, so each pair is verified once and remembered.
import type { KeyObject } from 'node:crypto';

/** Anything with a signature over some bytes that a key can check: a Certificate, a CRL. */
export interface Signed {
  readonly sha256: string;
  verifiedBy(key: KeyObject): boolean;
}

export class SignatureCache {
  private readonly results = new Map<string, boolean>();
  private readonly maxEntries: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 200_000) {
    this.maxEntries = maxEntries;
  }

  /** Did the key whose SPKI hashes to `keySha256` sign `item`? */
  verify(item: Signed, key: KeyObject, keySha256: string): boolean {
    const k = `${keySha256}:${item.sha256}`;
    const hit = this.results.get(k);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const ok = item.verifiedBy(key);
    // Crude bound: dropping everything is rare and only costs re-verification.
    if (this.results.size >= this.maxEntries) this.results.clear();
    this.results.set(k, ok);
    return ok;
  }

  get size(): number {
    return this.results.size;
  }
}
