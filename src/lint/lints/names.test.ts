// The DNS-name lints do not apply to a certificate whose names are all plain (one pattern per name): a plain name
// must be one their full checks have nothing to say about. Checked on seeded hostile names, each beside a non-plain
// companion name (the certificate's names are then not plain, as a real one's would be), and on chosen names.
import { describe, expect, it } from 'vitest';
import { rng } from '../../../test/support/mutations.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { loadPolicy } from '../policy.ts';
import { bareWildcard, dnsInvalid, dnsNul, dnsTooLong, plainDnsNames, wildcardNotLeftmost } from './names.ts';

const LINTS = [dnsTooLong, dnsNul, wildcardNotLeftmost, bareWildcard, dnsInvalid];
const COMPANION = 'bad..companion';
const ctx = { policy: loadPolicy(undefined), now: new Date('2026-12-04T00:00:00Z') } as never;

/** What the full checks say about `d` (the companion makes the certificate's names not plain). */
function fullFindings(d: string): string[] {
  const cert = { sans: { dns: [d, COMPANION], ip: [], email: [], uri: [] }, sha256: '00', subject: 'CN=fake' } as unknown as Certificate;
  return LINTS.flatMap((l) => l.check(cert, ctx))
    .map((f) => `${f.lintId}: ${f.message}`)
    .filter((m) => !m.includes(COMPANION));
}

/** A seeded name: labels of letters, digits, '_', '-', '*', a NUL or a space now and then, 1-70 characters, 1-6 of them. */
function hostile(next: () => number): string {
  const pick = (s: string): string => s[Math.floor(next() * s.length)] as string;
  const common = 'abcxyzABZ0189_-';
  const rare = '*\0 .é';
  const labels: string[] = [];
  const n = 1 + Math.floor(next() * 6);
  for (let i = 0; i < n; i++) {
    const len = next() < 0.1 ? 60 + Math.floor(next() * 10) : Math.floor(next() * 8);
    let l = '';
    for (let j = 0; j < len; j++) l += next() < 0.03 ? pick(rare) : pick(common);
    labels.push(l);
  }
  const name = labels.join('.');
  const r = next();
  return r < 0.15 ? `*.${name}` : r < 0.2 ? `${name}.` : r < 0.22 ? name.repeat(8) : name;
}

describe('plain DNS names', () => {
  it('are names the DNS-name lints have nothing to say about (seeded hostile names)', () => {
    const next = rng(20261204);
    let plain = 0;
    let flagged = 0;
    for (let i = 0; i < 20_000; i++) {
      const d = hostile(next);
      const findings = fullFindings(d);
      if (plainDnsNames([d])) {
        plain++;
        expect(findings, JSON.stringify(d)).toEqual([]);
      } else if (findings.length) flagged++;
    }
    // Both kinds were met often.
    expect(plain).toBeGreaterThan(2_000);
    expect(flagged).toBeGreaterThan(2_000);
  });

  it('take in ordinary names and wildcards over two labels or more, and nothing the lints flag', () => {
    for (const d of ['example.com', 'a', '*.apps.example.com', 'kubernetes.default.svc', 'etcd_1.local', `${'x'.repeat(63)}.io`])
      expect(plainDnsNames([d]), d).toBe(true);
    for (const d of [
      '*',
      '*.com',
      '*.local.',
      'a..b',
      '-a.example',
      'a-.example',
      'ex ample.com',
      'a\0.b',
      'w*.example.com',
      `${'x'.repeat(64)}.io`,
      'example.com.',
    ])
      expect(plainDnsNames([d]), JSON.stringify(d)).toBe(false);
    // 253 characters at most.
    const long = Array.from({ length: 64 }, () => 'abc').join('.');
    expect(long.length).toBe(255);
    expect(plainDnsNames([long])).toBe(false);
    expect(fullFindings(long)).not.toEqual([]);
  });
});
