// Strict DER versus lenient BER in certificates, CSRs and CRLs: the reader still reads what it can
// (inspect shows it, with "not DER" warnings), `encodingIssues`/`isDer` expose the facts, and Go's
// parsers (test/go-oracle: ParseCertificate, ParseCertificateRequest, ParseRevocationList) are the
// oracle for which of them Kubernetes refuses.
import { beforeAll, describe, expect, it } from 'vitest';
import { cons, decodeTree, encodeTree, prim, signTbs, type Tlv, tbsOf } from '../../test/support/der-tree.ts';
import { askGo, type GoAnswer, goOracleBinary } from '../../test/support/go-oracle.ts';
import { findExt } from '../../test/support/mutations.ts';
import { ca, leaf } from '../../test/support/trust-fixtures.ts';
import { goParseProblem } from '../trust/profiles.ts';
import { Certificate } from './certificate.ts';
import { Crl, createCrl } from './crl.ts';
import { Csr, createCsr } from './csr.ts';
import { derIssues } from './der.ts';
import { generateKey } from './keys.ts';

const root = ca('CN=DER Root');
const base = leaf('CN=der.example.com', root, { extKeyUsage: ['serverAuth'], sans: { dns: ['der.example.com'] } });
const kids = (t: Tlv): Tlv[] => t.kids as Tlv[];

function mutate(f: (t: Tlv) => void, key = root.key, alg: Parameters<typeof signTbs>[1] = 'ecdsa-sha256'): Uint8Array {
  const t = tbsOf(base.cert.der);
  f(t);
  return signTbs(t, alg, key);
}

// Each case: what changes, whether it is DER, whether Go's ParseCertificate accepts it.
const CASES: { name: string; der: () => Uint8Array; isDer: boolean; issue?: RegExp }[] = [
  { name: 'baseline', der: () => base.cert.der, isDer: true },
  {
    name: 'non-minimal length inside the TBS (the issuer name)',
    der: () =>
      mutate((t) => {
        (kids(t)[3] as Tlv).padLength = 1;
      }),
    isDer: false,
    issue: /non-minimal length encoding/,
  },
  {
    name: 'non-minimal length (a leading zero byte)',
    der: () =>
      mutate((t) => {
        t.padLength = 1;
      }),
    isDer: false,
    issue: /non-minimal length encoding at byte 4/,
  },
  { name: 'indefinite length', der: () => mutate((t) => Object.assign(t, { indefinite: true })), isDer: false, issue: /indefinite length/ },
  {
    name: 'non-minimal INTEGER serial',
    der: () => mutate((t) => (kids(t)[1] = prim(2, [0, 0x7f]))),
    isDer: false,
    issue: /non-minimal INTEGER/,
  },
  {
    name: 'BOOLEAN critical 0x01',
    der: () => mutate((t) => (kids(findExt(t, '2.5.29.19') as Tlv)[1] = prim(1, [1]))),
    isDer: false,
    issue: /BOOLEAN at byte \d+ is 0x01/,
  },
  {
    name: 'explicit critical=FALSE (a DEFAULT value)',
    der: () => mutate((t) => kids(findExt(t, '2.5.29.37') as Tlv).splice(1, 0, prim(1, [0]))),
    isDer: false,
    issue: /critical=FALSE explicitly/,
  },
  {
    name: 'explicit version v1 (a DEFAULT value)',
    der: () =>
      mutate((t) => {
        kids(t)[0] = cons(0xa0, prim(2, [0]));
        kids(t).pop();
      }),
    isDer: false,
    issue: /version v1 is encoded explicitly/,
  },
  {
    name: 'non-minimal length inside an extension value',
    der: () =>
      mutate((t) => {
        const os = kids(findExt(t, '2.5.29.37') as Tlv).at(-1) as Tlv;
        const inner = decodeTree(os.value as Uint8Array);
        inner.padLength = 1;
        os.value = encodeTree(inner);
      }),
    isDer: false,
    issue: /extension extKeyUsage: non-minimal length/,
  },
  {
    name: 'keyUsage BIT STRING with non-zero padding bits',
    der: () =>
      mutate((t) => {
        const os = kids(findExt(t, '2.5.29.15') as Tlv).at(-1) as Tlv;
        os.value = Uint8Array.from([3, 2, 5, 0xa1]);
      }),
    isDer: false,
    issue: /non-zero padding bits/,
  },
  {
    name: 'UTCTime without seconds',
    der: () => mutate((t) => (kids(kids(t)[4] as Tlv)[0] = prim(0x17, [...Buffer.from('2501010000Z')]))),
    isDer: false,
    issue: /not in DER form/,
  },
  {
    name: 'unsorted SET OF in a multi-valued RDN',
    der: () =>
      mutate((t) => {
        const two = cons(
          0x31,
          cons(0x30, prim(6, [0x55, 4, 3]), prim(0x0c, [...Buffer.from('zz')])),
          cons(0x30, prim(6, [0x55, 4, 0x0a]), prim(0x0c, [...Buffer.from('aa')])),
        );
        kids(kids(t)[5] as Tlv).push(two);
      }),
    // DER sorts SET OF, but no DER reader we know checks it, Go included: not reported (docs/trust.md).
    isDer: true,
  },
];

describe('DER strictness', () => {
  let answers: GoAnswer[];
  const ders = CASES.map((c) => c.der());
  beforeAll(() => {
    goOracleBinary();
    answers = askGo(CASES.map((c, i) => ({ id: c.name, parse: 'certificate' as const, der: ders[i] as Uint8Array })));
  });

  CASES.forEach((c, i) => {
    it(`certificate: ${c.name}`, () => {
      const cert = new Certificate(ders[i] as Uint8Array);
      // Still readable: inspect shows it and says it is not DER.
      const json = cert.toJSON();
      expect(json.subject).toMatch(/CN=der\.example\.com/);
      expect(cert.isDer).toBe(c.isDer);
      if (c.issue) {
        expect(cert.encodingIssues.some((x) => c.issue?.test(x))).toBe(true);
        expect(json.warnings.some((w) => /not DER|explicitly \(not DER\)/.test(w))).toBe(true);
      } else expect(cert.encodingIssues).toEqual([]);
      // The kubernetes profile refuses exactly what Go's parser refuses.
      const go = answers[i] as GoAnswer;
      expect(goParseProblem(cert) === undefined, `Go: ${go.parse?.error ?? 'ok'}; Anchorage: ${goParseProblem(cert) ?? 'ok'}`).toBe(
        go.parse?.ok,
      );
    });
  });

  it('CSR: a non-minimal outer length', () => {
    const csr = createCsr({ subject: 'CN=csr', privateKey: generateKey('ecdsa-p256').privateKey });
    expect(csr.isDer).toBe(true);
    const t = decodeTree(csr.der);
    t.padLength = 1;
    const ber = encodeTree(t);
    const read = new Csr(ber);
    expect(read.subject).toBe('CN=csr');
    expect(read.isDer).toBe(false);
    expect(read.toJSON().warnings.join('\n')).toMatch(/not DER: non-minimal length encoding at byte 0/);
    const [good, bad] = askGo([
      { id: 'der', parse: 'csr', der: csr.der },
      { id: 'ber', parse: 'csr', der: ber },
    ]);
    expect(good?.parse?.ok).toBe(true);
    expect(bad?.parse?.ok).toBe(false);
  });

  it('CRL: a non-minimal INTEGER and an indefinite length', () => {
    const crl = createCrl({
      issuer: root,
      entries: [],
      thisUpdate: new Date('2025-01-01T00:00:00Z'),
      nextUpdate: new Date('2025-02-01T00:00:00Z'),
      crlNumber: 1,
    });
    expect(crl.isDer).toBe(true);
    const t = decodeTree(crl.der);
    t.indefinite = true;
    const ber = encodeTree(t);
    const read = new Crl(ber);
    expect(read.isDer).toBe(false);
    expect(read.encodingIssues[0]).toMatch(/^indefinite length at byte 0/);
    expect(read.toJSON().warnings.join('\n')).toMatch(/not DER: indefinite length/);
    const [good, bad] = askGo([
      { id: 'der', parse: 'crl', der: crl.der },
      { id: 'ber', parse: 'crl', der: ber },
    ]);
    expect(good?.parse?.ok).toBe(true);
    expect(bad?.parse?.ok).toBe(false);
  });

  it('derIssues on hand-made encodings', () => {
    expect(derIssues(Uint8Array.of(0x02, 0x02, 0x00, 0x01))).toEqual(['non-minimal INTEGER at byte 0']);
    expect(derIssues(Uint8Array.of(0x02, 0x02, 0xff, 0x80))).toEqual(['non-minimal INTEGER at byte 0']);
    expect(derIssues(Uint8Array.of(0x02, 0x02, 0x00, 0x80))).toEqual([]);
    expect(derIssues(Uint8Array.of(0x04, 0x81, 0x01, 0x00))).toEqual(['non-minimal length encoding at byte 0 (2 length bytes for 1)']);
    expect(derIssues(Uint8Array.of(0x30, 0x82, 0x00, 0x81, ...new Uint8Array(0x81)))[0]).toMatch(/non-minimal length/);
    expect(derIssues(Uint8Array.of(0x01, 0x01, 0x00))).toEqual([]);
    expect(derIssues(Uint8Array.of(0x03, 0x01, 0x01))).toEqual(['BIT STRING at byte 0 has 1 unused bits']);
  });
});
