// colonHex prints fingerprints as openssl does, and treats any other input as the pairs regex /../g would.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { colonHex, formatDate } from './text.ts';

const crt = 'test/fixtures/broken-pki/front-proxy-client-wrong-ca/ca.crt';

describe('colonHex', () => {
  it("is openssl's fingerprint style", () => {
    const der = Buffer.from(
      readFileSync(crt, 'latin1')
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s/g, ''),
      'base64',
    );
    for (const alg of ['sha256', 'sha1']) {
      const out = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-fingerprint', `-${alg}`], { encoding: 'utf8' });
      expect(colonHex(createHash(alg).update(der).digest('hex'))).toBe(out.split('=')[1]?.trim());
    }
  });

  it('pairs any string as /../g does: an odd last character dropped, line breaks stepped over', () => {
    const regex = (s: string): string => (s.toUpperCase().match(/../g) ?? []).join(':');
    const alphabet = ['a', 'B', '0', '9', 'f', '\n', '\r', '\u2028', '\u2029', 'ß', 'z'];
    let seed = 7;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (let i = 0; i < 3000; i++) {
      let s = '';
      for (let n = next() % 13; n > 0; n--) s += alphabet[next() % alphabet.length];
      expect(colonHex(s)).toBe(regex(s));
    }
    expect(colonHex('')).toBe('');
    expect(colonHex('abc')).toBe('AB');
  });
});

describe('formatDate', () => {
  // The rule it had before it cut strings instead of parsing them: Date's own reading of the string.
  const byDate = (iso: string): string => `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

  it('prints what Date reads, for toISOString strings and for days a month does not have', () => {
    let seed = 11;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const two = (n: number): string => String(n).padStart(2, '0');
    for (let i = 0; i < 5000; i++) {
      const iso = `${String(next(10000)).padStart(4, '0')}-${two(1 + next(12))}-${two(1 + next(31))}T${two(next(24))}:${two(next(60))}:${two(next(60))}.${String(next(1000)).padStart(3, '0')}Z`;
      expect(formatDate(iso), iso).toBe(byDate(iso));
    }
    for (const iso of ['2026-02-30T00:00:00.000Z', '2026-04-31T23:59:59.999Z', '2024-02-29T12:00:00.000Z', '9999-12-31T23:59:59.999Z'])
      expect(formatDate(iso), iso).toBe(byDate(iso));
    expect(formatDate('2026-02-30T00:00:00.000Z')).toBe('2026-03-02 00:00 UTC');
    const d = new Date(Date.UTC(2031, 6, 9, 8, 7, 6));
    expect(formatDate(d)).toBe('2031-07-09 08:07 UTC');
    expect(formatDate(d.toISOString())).toBe('2031-07-09 08:07 UTC');
  });
});
