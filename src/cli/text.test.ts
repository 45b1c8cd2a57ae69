// colonHex prints fingerprints as openssl does, and treats any other input as the pairs regex /../g would.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { colonHex } from './text.ts';

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
