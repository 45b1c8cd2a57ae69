// RSA-PSS: parameters parsed exactly (hash, MGF1 hash, salt length, trailer field), every combination
// judged by both oracles: openssl verify for the openssl profile, Go's crypto/x509 for kubernetes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SigAlg, signTbs, tbsOf } from '../../test/support/der-tree.ts';
import { askGo, type GoAnswer, goOracleBinary } from '../../test/support/go-oracle.ts';
import { AT, ca, leaf } from '../../test/support/trust-fixtures.ts';
import { Certificate } from '../x509/certificate.ts';
import { parse } from '../x509/der.ts';
import { generateKey, parsePssParams } from '../x509/keys.ts';
import { verifyChain } from './verify.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-pss-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const root = ca('CN=PSS Root', undefined, { pair: generateKey('rsa-2048') });
const rootPem = join(dir, 'root.pem');
writeFileSync(rootPem, root.cert.toPem());

type Pss = {
  hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  mgf1Hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  saltLength: number;
  trailer?: number;
};
const COMBOS: { pss: Pss; go: boolean; why?: RegExp }[] = [
  { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 32 }, go: true },
  { pss: { hash: 'sha384', mgf1Hash: 'sha384', saltLength: 48 }, go: true },
  { pss: { hash: 'sha512', mgf1Hash: 'sha512', saltLength: 64 }, go: true },
  { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 20 }, go: false, why: /omit the salt length/ },
  { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 0 }, go: false, why: /salt length 0/ },
  { pss: { hash: 'sha256', mgf1Hash: 'sha1', saltLength: 32 }, go: false, why: /omit the mask generation function/ },
  { pss: { hash: 'sha512', mgf1Hash: 'sha256', saltLength: 64 }, go: false, why: /MGF1-sha256 differing/ },
  {
    pss: { hash: 'sha1', mgf1Hash: 'sha1', saltLength: 20 },
    go: false,
    why: /omit the hash, the mask generation function, the salt length/,
  },
  { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 32, trailer: 1 }, go: true },
];

const certs = COMBOS.map((c, i) => {
  const l = leaf(`CN=pss${i}.example.com`, root, { extKeyUsage: ['serverAuth'], sans: { dns: [`pss${i}.example.com`] } });
  return new Certificate(signTbs(tbsOf(l.cert.der), { pss: c.pss } as SigAlg, root.key));
});

describe('RSA-PSS', () => {
  let go: GoAnswer[];
  beforeAll(() => {
    goOracleBinary();
    go = askGo(certs.map((c, i) => ({ id: String(i), leaf: c.der, roots: [root.cert.der], intermediates: [], time: AT, eku: ['server'] })));
  });

  COMBOS.forEach((c, i) => {
    const label = `${c.pss.hash}, MGF1-${c.pss.mgf1Hash}, salt ${c.pss.saltLength}${c.pss.trailer ? `, trailer ${c.pss.trailer} explicit` : ''}`;
    it(label, () => {
      const cert = certs[i] as Certificate;
      // Parsed exactly.
      const p = parsePssParams(parse(cert.der).child(1).children()[1]);
      expect({ hash: p.hash, mgf1Hash: p.mgf1Hash, saltLength: p.saltLength, trailerField: p.trailerField }).toEqual({
        hash: c.pss.hash,
        mgf1Hash: c.pss.mgf1Hash,
        saltLength: c.pss.saltLength,
        trailerField: 1,
      });
      // openssl verifies every one of these; so does the openssl profile.
      const pem = join(dir, `leaf${i}.pem`);
      writeFileSync(pem, cert.toPem());
      const out = execFileSync('openssl', ['verify', '-attime', String(AT.getTime() / 1000), '-CAfile', rootPem, pem], {
        encoding: 'utf8',
      });
      expect(out.trim()).toBe(`${pem}: OK`);
      const o = verifyChain({ leaf: cert, anchors: [root.cert], at: AT, purpose: 'server', profile: 'openssl' });
      expect(o.reasons).toEqual([]);
      // Go accepts only its three buckets; the kubernetes profile says why not.
      expect(go[i]?.verify?.ok).toBe(c.go);
      const k = verifyChain({ leaf: cert, anchors: [root.cert], at: AT, purpose: 'server', profile: 'kubernetes' });
      expect(k.trusted).toBe(c.go);
      if (!c.go) {
        expect(k.code).toBe('UNSUPPORTED_SIGNATURE_ALGORITHM');
        expect(k.reasons.join('\n')).toMatch(c.why as RegExp);
      }
    });
  });

  it('a trailer field other than 1 is refused with that reason by every profile', () => {
    const l = leaf('CN=trailer.example.com', root, { extKeyUsage: ['serverAuth'], sans: { dns: ['trailer.example.com'] } });
    const cert = new Certificate(
      signTbs(tbsOf(l.cert.der), { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 32, trailer: 2 } }, root.key),
    );
    for (const profile of ['openssl', 'kubernetes', 'strict']) {
      const r = verifyChain({ leaf: cert, anchors: [root.cert], at: AT, profile });
      expect(r.code).toBe('UNSUPPORTED_SIGNATURE_ALGORITHM');
      expect(r.reasons.join('\n')).toMatch(/trailer field 2/);
    }
    const pem = join(dir, 'trailer.pem');
    writeFileSync(pem, cert.toPem());
    expect(() =>
      execFileSync('openssl', ['verify', '-attime', String(AT.getTime() / 1000), '-CAfile', rootPem, pem], { stdio: 'pipe' }),
    ).toThrow();
  });
});
