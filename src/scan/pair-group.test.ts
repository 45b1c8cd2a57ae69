// pairGroup answers `ns/Kind/name[key]` without its pattern in the common shape (the key-mismatch check asks it
// at every place): the answer must be the pattern's for any source, common shape or not.
import { describe, expect, it } from 'vitest';
import { pairGroup } from './scan.ts';

/** pairGroup as it was, with the pattern for every object key: the reference. */
function reference(source: string, at?: string): string | undefined {
  if (at?.startsWith('clusters[')) return undefined;
  const user = at ? /^users\[(.*)\]\.client-(?:certificate|key)-data/.exec(at) : null;
  if (user) return `${source}\u0000user ${user[1]}`;
  const obj = /^(.+\/[^/]+\/[^/[]+)\[[^\]]+\]$/.exec(source);
  if (obj) return obj[1];
  const file = /^(.*?)(?:-key)?\.(crt|key|pem|cer)$/.exec(source);
  if (file) return file[1];
  return source;
}

describe('pairGroup', () => {
  it('gives what its pattern gives, for real shapes and for seeded random sources', () => {
    const real = [
      'ns/Secret/tls-1[tls.crt]',
      'ns/Secret/tls-1[tls.key]',
      '/Secret/x[tls.crt]',
      'a/b/c[x/y/z[w]',
      'CertificateSigningRequest/x[status.certificate]',
      'ns/ConfigMap/kube-root-ca.crt[ca.crt]',
      'ns/Secret/a[]',
      'ns/Secret/[k]',
      'ns//a[k]',
      'x\n/Secret/a[k]',
      'ns/Secret/a[k]]',
      'ns/Secret/a[k/v]',
      '/etc/kubernetes/pki/apiserver.crt',
    ];
    for (const s of real) expect(pairGroup({ source: s }), s).toBe(reference(s));
    let seed = 13;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = ['a', 'b', '/', '/', '[', ']', '.', 'k', '\n', '\u2028', '-'];
    for (let i = 0; i < 50_000; i++) {
      let s = '';
      const n = 1 + rnd(14);
      for (let j = 0; j < n; j++) s += alphabet[rnd(alphabet.length)];
      if (rnd(2)) s += ']';
      expect(pairGroup({ source: s }), JSON.stringify(s)).toBe(reference(s));
    }
  });
});
