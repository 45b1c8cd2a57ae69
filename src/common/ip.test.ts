import { isIP as netIsIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isIP } from './ip.ts';

describe('isIP', () => {
  it("answers as node:net's isIP", () => {
    const cases = [
      '',
      '10.0.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '256.0.0.1',
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      ' 1.2.3.4',
      '1.2.3.4\n',
      '::',
      '::1',
      'fe80::1%eth0',
      'fe80::1%',
      'fe80::1%eth0:1',
      '2001:db8::8a2e:370:7334',
      '2001:DB8:0:0:0:0:0:1',
      '::ffff:192.0.2.1',
      '::ffff:192.0.2.256',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      'g::1',
      'cp.example.com',
      'cp.example.com:6443',
      '10.0.0.1:6443',
      '[::1]:6443',
      '[::1]',
      'localhost',
      'abc',
      'dead:beef',
      'dead::beef',
      'a.b',
      '1.2.3.4%eth0',
    ];
    // Seeded random strings over the characters that matter.
    let seed = 12;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const alphabet = '0123456789abcdefABCDEFgx:.%[] -';
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const n = next() % 24;
      for (let j = 0; j < n; j++) s += alphabet[next() % alphabet.length];
      cases.push(s);
    }
    for (let i = 0; i < 2000; i++) {
      const groups = Array.from({ length: 1 + (next() % 8) }, () => (next() % 0x10000).toString(16));
      const s = groups.join(next() % 5 === 0 ? '::' : ':');
      cases.push(
        s,
        `${s}%eth${next() % 3}`,
        `::ffff:${next() % 300}.${next() % 256}.1.${next() % 256}`,
        `${next() % 300}.1.${next() % 256}.0`,
      );
    }
    // Addresses with a gap anywhere, an IPv4 tail, zones, and near misses.
    for (let i = 0; i < 6000; i++) {
      const n = next() % 10;
      const groups = Array.from({ length: n }, () => (next() % 0x20000).toString(16).slice(0, 1 + (next() % 5)));
      const at = next() % (n + 1);
      let s = next() % 3 === 0 ? groups.join(':') : `${groups.slice(0, at).join(':')}::${groups.slice(at).join(':')}`;
      if (next() % 4 === 0) s += `${s.endsWith(':') || s === '' ? '' : ':'}${next() % 260}.${next() % 256}.0.${next() % 256}`;
      if (next() % 6 === 0) s = `${s}%${['eth0', 'a-b.c:1', '', '%', 'x y'][next() % 5]}`;
      if (next() % 10 === 0) s = next() % 2 ? `:${s}` : `${s}:`;
      cases.push(s);
    }
    for (const s of cases) expect([s, isIP(s)]).toEqual([s, netIsIP(s)]);
  });
});
