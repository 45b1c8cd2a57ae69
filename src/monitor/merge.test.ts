// mergeReports with its cache (the monitor's): a certificate several parts hold gets every part's places in
// the order of their text (`source NUL at`, the canonical order), whether its places come from the last merge's
// list (parts kept, parts gone, parts new) or from a sort of all of them. The expectation is a plain sort of the
// places' texts, with the first of equal places kept.
import { describe, expect, it } from 'vitest';
import type { Location } from '../inventory/inventory.ts';
import type { ScanCertificate, ScanReport } from '../scan/scan.ts';
import { type MergeCache, mergeReports } from './incremental.ts';

const NOW = new Date('2026-12-03T00:00:00Z');
const HUB = 'a'.repeat(64);

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const text = (l: Location): string => `${l.source}\u0000${l.at ?? ''}`;

/** One part: the hub certificate at these places (in canonical order, as a judged part's report has them). */
function part(places: Location[]): ScanReport {
  const sortedPlaces = [...places].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
  const cert: ScanCertificate = {
    sha256: HUB,
    subject: 'CN=hub',
    issuer: 'CN=hub',
    notAfter: '2027-01-01T00:00:00.000Z',
    isCA: true,
    selfSigned: true,
    role: null,
    spkiSha256: 'b'.repeat(64),
    issuedBy: [],
    keyLocations: [],
    locations: sortedPlaces,
  };
  return {
    schema: 'anchorage.scan/v1',
    generatedAt: NOW.toISOString(),
    at: NOW.toISOString(),
    summary: { certificates: 1, keys: 0, sources: places.length, unreadable: 0, error: 0, warning: 0, notice: 0 },
    findings: [],
    certificates: [cert],
    skipped: [],
    endpoints: [],
    relations: [],
  };
}

/** Places of objects named so that their texts interleave across parts and one source can prefix another. */
function place(r: () => number, n: number): Location {
  const source = `ns${Math.floor(r() * 3)}/Secret/tls-${n}${r() < 0.2 ? '0' : ''}[tls.crt]`;
  return r() < 0.5 ? { source, at: `block ${1 + Math.floor(r() * 2)} (line ${1 + Math.floor(r() * 30)})` } : { source };
}

function expected(parts: readonly ScanReport[]): string[] {
  const all = parts.flatMap((p) => (p.certificates[0] as ScanCertificate).locations.map(text));
  const out: string[] = [];
  for (const t of all.sort()) if (out[out.length - 1] !== t) out.push(t);
  return out;
}

describe('mergeReports: the places of a certificate several parts hold', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`are in canonical order pass after pass, parts kept, gone and new (seed ${seed})`, () => {
      const r = rng(seed);
      let next = 0;
      const fresh = (k: number): ScanReport => part(Array.from({ length: k }, () => place(r, next++)));
      let parts = Array.from({ length: 12 }, () => fresh(1 + Math.floor(r() * 30)));
      const cache: MergeCache = new Map();
      for (let pass = 0; pass < 40; pass++) {
        const merged = mergeReports(parts, NOW, cache);
        const hub = merged.certificates.find((c) => c.sha256 === HUB) as ScanCertificate;
        expect(hub.locations.map(text)).toEqual(expected(parts));
        // Without the cache: the same list.
        expect(
          mergeReports(parts, NOW)
            .certificates.find((c) => c.sha256 === HUB)
            ?.locations.map(text),
        ).toEqual(expected(parts));
        // The next pass: most parts kept (the same report objects), some gone, some new; now and then a part whose
        // places another part has too (an object judged again in a new batch before its old batch is gone).
        const kept = parts.filter(() => r() > 0.15);
        const added = Array.from({ length: Math.floor(r() * 3) }, () => fresh(1 + Math.floor(r() * 4)));
        if (r() < 0.2 && kept.length) {
          const from = (kept[Math.floor(r() * kept.length)] as ScanReport).certificates[0] as ScanCertificate;
          added.push(part(from.locations.slice(0, 2).map((l) => ({ ...l }))));
        }
        parts = [...kept, ...added];
        if (parts.length < 2) parts.push(fresh(3), fresh(2));
      }
    });
  }
});
