// The PEM body fast path: which bodies Buffer's decoder may take as they are (line feeds and all).
import { describe, expect, it } from 'vitest';
import { plainBase64Lines, scanPem } from './pem.ts';

/** The rule as first written (a loop over the characters), the reference for the regular expression now used. */
function byLoop(body: string): boolean {
  let n = 0;
  let pad = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 0x0a) continue;
    if (c === 0x3d) {
      if (++pad > 2) return false;
    } else if (pad > 0 || !((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f))
      return false;
    n++;
  }
  return n % 4 !== 1;
}

describe('plainBase64Lines', () => {
  it('answers as the character loop on seeded random bodies', () => {
    const alphabet = ['A', 'z', '0', '+', '/', '=', '=', '\n', '\n', '\r', ' ', '-', 'é', '\u2028'];
    let seed = 5;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let plain = 0;
    for (let i = 0; i < 20_000; i++) {
      // Mostly base64 with a tail drawn from the whole alphabet: both answers come up often.
      const head = 'QUJD\nREVG'.slice(0, next(10));
      let tail = '';
      for (let k = next(8); k > 0; k--) tail += alphabet[next(alphabet.length)];
      const body = head + tail;
      const want = byLoop(body);
      expect(plainBase64Lines(body), JSON.stringify(body)).toBe(want);
      if (want) plain++;
    }
    expect(plain).toBeGreaterThan(200);
    expect(20_000 - plain).toBeGreaterThan(200);
    for (const body of ['', '\n', 'QQ==\n', 'QQ=\n=\n', 'QQ=A', 'Q', 'QUJD\nR', 'QUJD=\n==', 'QUJD\r\n'])
      expect(plainBase64Lines(body), body).toBe(byLoop(body));
  });

  it('decodes a certificate body the same either way', () => {
    const der = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 255));
    const b64 = der.toString('base64');
    const lines = (b64.match(/.{1,64}/g) ?? []).join('\n');
    const [lf] = scanPem(`-----BEGIN X-----\n${lines}\n-----END X-----\n`);
    const [crlf] = scanPem(`-----BEGIN X-----\r\n${lines.replaceAll('\n', '\r\n')}\r\n-----END X-----\r\n`);
    expect(Buffer.from(lf?.der ?? []).equals(der)).toBe(true);
    expect(Buffer.from(crlf?.der ?? []).equals(der)).toBe(true);
    expect(() => scanPem('-----BEGIN X-----\nQUJDR\n-----END X-----\n')).toThrow(/invalid base64/);
  });
});
