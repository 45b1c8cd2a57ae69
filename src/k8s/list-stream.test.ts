import { describe, expect, it } from 'vitest';
import { ListStream } from './list-stream.ts';

// The oracle is JSON.parse of the whole answer: split anywhere, the stream must hand on the same items and
// the same skeleton (with `items` empty).
function feed(text: string, cuts: number[]): { items: unknown[]; head: unknown; rest: unknown } {
  const items: unknown[] = [];
  let head: unknown;
  const s = new ListStream<unknown>((i) => items.push(i));
  s.onHead = (h) => {
    head = h;
  };
  const b = Buffer.from(text);
  let at = 0;
  for (const c of [...cuts, b.length]) {
    s.write(b.subarray(at, c));
    at = c;
  }
  return { items, head, rest: s.end() };
}

const tricky = {
  kind: 'SecretList',
  apiVersion: 'v1',
  metadata: { resourceVersion: '42', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDJ9' },
  items: [
    { metadata: { name: 'a', namespace: 'n' }, data: { 'tls.crt': 'QUJD', 'x"y': 'a\\"b' } },
    { metadata: { name: 'b]}', annotations: { 'items[': '{"items":[1,2]}\\\\', esc: '\\\\\\"' } }, data: {} },
    { metadata: { name: 'ü 日本' }, data: { big: 'x'.repeat(5_000) } },
  ],
  tail: ['after', { items: [] }],
};

describe('ListStream', () => {
  const text = JSON.stringify(tricky);
  const whole = JSON.parse(text) as typeof tricky;
  const expected = { ...whole, items: [] };

  it('hands on each item and keeps the rest, whatever the chunk boundaries', () => {
    // Every single cut point in the first 400 bytes (quotes, backslashes, brackets, multi-byte characters).
    for (let c = 1; c < 400; c++) {
      const r = feed(text, [c]);
      expect(r.items).toEqual(whole.items);
      expect(r.rest).toEqual(expected);
    }
    // One byte at a time.
    const bytes = Buffer.byteLength(text);
    const r = feed(
      text,
      Array.from({ length: Math.min(bytes - 1, 2000) }, (_, i) => i + 1),
    );
    expect(r.items).toEqual(whole.items);
    expect(r.rest).toEqual(expected);
  });

  it('gives the metadata (the continue token) as soon as the items begin', () => {
    const r = feed(text, [100, 5000]);
    expect(r.head).toEqual({ kind: 'SecretList', apiVersion: 'v1', metadata: whole.metadata, items: [] });
  });

  it('refuses a truncated answer', () => {
    const s = new ListStream<unknown>(() => {});
    s.write(Buffer.from(text.slice(0, 300)));
    expect(() => s.end()).toThrow(/ended early/);
  });
});
