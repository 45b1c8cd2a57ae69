// The strict profile: one test per rule of issue #11's list (RFC 5280 4.1/4.2 and the CA/Browser Forum
// Baseline Requirements 7.1), each on an otherwise clean chain that the strict profile trusts.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prim, signTbs, type Tlv, tbsOf } from '../../test/support/der-tree.ts';
import { findExt, setExt } from '../../test/support/mutations.ts';
import { AT, ca, type Issued, leaf, type Opts } from '../../test/support/trust-fixtures.ts';
import { Certificate } from '../x509/certificate.ts';
import type { KeyPair } from '../x509/keys.ts';
import { STRICT_RULES, type StrictRule } from './strict.ts';
import { verifyChain } from './verify.ts';

const root = ca('CN=Strict Root,O=Acme');
const int = ca('CN=Strict Issuing CA,O=Acme', root);
const server = (o: Opts = {}): Opts => ({ extKeyUsage: ['serverAuth'], sans: { dns: ['s.example.com'] }, ...o });

function run(l: Certificate, o: { anchors?: Certificate[]; intermediates?: Certificate[]; purpose?: string; profile?: string } = {}) {
  return verifyChain({
    leaf: l,
    anchors: o.anchors ?? [root.cert],
    intermediates: o.intermediates ?? [int.cert],
    at: AT,
    purpose: o.purpose ?? 'server',
    profile: o.profile ?? 'strict',
  });
}

/** The strict rules the best candidate breaks. */
const rules = (r: ReturnType<typeof run>): string[] =>
  (r.candidates[0]?.failures ?? []).filter((f) => f.code === 'PROFILE_VIOLATION').map((f) => f.rule as string);

/** Refused by strict for exactly `rule` (and nothing else), while the openssl profile trusts it. */
function refusedFor(rule: StrictRule, l: Certificate, o: Parameters<typeof run>[1] = {}, opensslTrusts = true): void {
  const r = run(l, o);
  expect(r.trusted).toBe(false);
  expect(r.code).toBe('PROFILE_VIOLATION');
  expect(new Set(rules(r))).toEqual(new Set([`strict.${rule}`]));
  if (opensslTrusts) expect(run(l, { ...o, profile: 'openssl' }).trusted).toBe(true);
}

/** Re-sign a certificate after editing its TBS. */
function edit(c: Certificate, by: Issued, f: (t: Tlv) => void): Certificate {
  const t = tbsOf(c.der);
  f(t);
  return new Certificate(signTbs(t, 'ecdsa-sha256', by.key));
}

describe('strict profile', () => {
  it('trusts a clean chain', () => {
    const r = run(leaf('CN=s.example.com', int, server()).cert);
    expect(r.reasons).toEqual([]);
    expect(r.trusted).toBe(true);
  });

  it('lists every rule', () => {
    expect(Object.keys(STRICT_RULES).length).toBe(16);
  });

  it('not-der: a non-minimal length', () => {
    const c = edit(leaf('CN=s.example.com', int, server()).cert, int, (t) => {
      t.padLength = 1;
    });
    refusedFor('not-der', c);
  });

  it('duplicate-extension', () => {
    const c = edit(leaf('CN=s.example.com', int, server()).cert, int, (t) => {
      const e = findExt(t, '2.5.29.37') as Tlv;
      const wrapper = (t.kids as Tlv[]).find((k) => k.tag === 0xa3) as Tlv;
      const exts = ((wrapper.kids as Tlv[])[0] as Tlv).kids as Tlv[];
      exts.push(structuredClone(e));
    });
    refusedFor('duplicate-extension', c);
  });

  it('serial: negative, zero, or over 20 octets', () => {
    refusedFor('serial', leaf('CN=s.example.com', int, server({ serial: 0n })).cert);
    refusedFor('serial', leaf('CN=s.example.com', int, server({ serial: Uint8Array.from([0x11, ...Array(20).fill(1)]) })).cert);
    const neg = edit(leaf('CN=s.example.com', int, server()).cert, int, (t) => {
      (t.kids as Tlv[])[1] = prim(2, [0x85, 1]);
    });
    refusedFor('serial', neg);
    // 20 octets is the limit, not over it.
    expect(run(leaf('CN=s.example.com', int, server({ serial: Uint8Array.from([0x11, ...Array(19).fill(1)]) })).cert).trusted).toBe(true);
  });

  it('aki-missing: on everything but a self-signed root', () => {
    // openssl -x509_strict refuses a missing AKI too.
    refusedFor('aki-missing', leaf('CN=s.example.com', int, server({ authorityKeyId: false })).cert, {}, false);
  });

  it('ski-missing: on a CA', () => {
    const noSki = ca('CN=No SKI CA,O=Acme', root, { subjectKeyId: false });
    const l = leaf('CN=s.example.com', noSki, server({ authorityKeyId: false }));
    // Without an SKI the leaf cannot carry an AKI either: both rules fire, openssl refuses the missing AKI.
    const r = run(l.cert, { intermediates: [noSki.cert] });
    expect(rules(r)).toContain('strict.ski-missing');
    expect(r.candidates[0]?.failures.find((f) => f.rule === 'strict.ski-missing')?.step).toBe(1);
  });

  it('empty-issuer', () => {
    const anon = ca('', root);
    const l = leaf('CN=s.example.com', anon, server());
    const r = run(l.cert, { intermediates: [anon.cert] });
    expect(r.trusted).toBe(false);
    const f = r.candidates[0]?.failures.find((x) => x.rule === 'strict.empty-issuer');
    expect(f?.step).toBe(0);
  });

  it('empty-subject: only with a critical subjectAltName', () => {
    const critical = leaf('', int, server());
    expect(critical.cert.isCritical('2.5.29.17')).toBe(true);
    expect(run(critical.cert).trusted).toBe(true);
    const c = edit(critical.cert, int, (t) => {
      const san = findExt(t, '2.5.29.17') as Tlv;
      (san.kids as Tlv[]).splice(1, 1);
    });
    refusedFor('empty-subject', c);
  });

  it('name-constraints: CA only, critical, at least one subtree', () => {
    const onLeaf = leaf('CN=s.example.com', int, server({ nameConstraints: { permitted: { dns: ['example.com'] } } }));
    refusedFor('name-constraints', onLeaf.cert);
    const nonCritical = ca('CN=NC CA,O=Acme', root, { nameConstraints: { permitted: { dns: ['example.com'] }, critical: false } });
    refusedFor('name-constraints', leaf('CN=s.example.com', nonCritical, server()).cert, { intermediates: [nonCritical.cert] });
    // An empty NameConstraints SEQUENCE on a CA (the CA's key signs the leaf, the root re-signs the CA).
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) as unknown as KeyPair;
    const base = ca('CN=Empty NC CA 2,O=Acme', root, { pair });
    const edited = edit(base.cert, root, (t) => setExt(t, '2.5.29.30', { tag: 0x30, kids: [] }, true));
    const under = leaf('CN=s.example.com', { cert: edited, key: pair.privateKey, pair }, server());
    const r2 = run(under.cert, { intermediates: [edited] });
    expect(rules(r2)).toEqual(['strict.name-constraints']);
  });

  it('key-cert-sign-without-ca', () => {
    refusedFor('key-cert-sign-without-ca', leaf('CN=s.example.com', int, server({ keyUsage: ['digitalSignature', 'keyCertSign'] })).cert);
  });

  it('basic-constraints-not-critical: on a CA', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) as unknown as KeyPair;
    const base = ca('CN=Soft BC CA,O=Acme', root, { pair });
    const soft = edit(base.cert, root, (t) => {
      const bc = findExt(t, '2.5.29.19') as Tlv;
      (bc.kids as Tlv[]).splice(1, 1);
    });
    const l = leaf('CN=s.example.com', { cert: soft, key: pair.privateKey, pair }, server());
    refusedFor('basic-constraints-not-critical', l.cert, { intermediates: [soft] });
  });

  it('aia-critical', () => {
    const c = edit(leaf('CN=s.example.com', int, server()).cert, int, (t) =>
      setExt(
        t,
        '1.3.6.1.5.5.7.1.1',
        {
          tag: 0x30,
          kids: [
            {
              tag: 0x30,
              kids: [
                { tag: 0x06, value: Uint8Array.from([0x2b, 6, 1, 5, 5, 7, 0x30, 2]) },
                prim(0x86, [...Buffer.from('http://ca.example.com/ca.crt')]),
              ],
            },
          ],
        },
        true,
      ),
    );
    // Only the strict rule is asserted here; other profiles judge a critical AIA by their own rules.
    refusedFor('aia-critical', c, {}, false);
  });

  it('aia-malformed: locations must be absolute URIs', () => {
    refusedFor('aia-malformed', leaf('CN=s.example.com', int, server({ authorityInfoAccess: { caIssuers: ['ca.crt'] } })).cert);
    expect(
      run(leaf('CN=s.example.com', int, server({ authorityInfoAccess: { caIssuers: ['http://ca.example.com/ca.crt'] } })).cert).trusted,
    ).toBe(true);
  });

  it('server-eku: a server leaf needs an EKU, and not anyExtendedKeyUsage', () => {
    refusedFor('server-eku', leaf('CN=s.example.com', int, { sans: { dns: ['s.example.com'] } }).cert);
    refusedFor('server-eku', leaf('CN=s.example.com', int, server({ extKeyUsage: ['anyExtendedKeyUsage'] })).cert);
  });

  it('root-eku: no EKU on a root', () => {
    const ekuRoot = ca('CN=EKU Root', undefined, { extKeyUsage: ['serverAuth'] });
    const l = leaf('CN=s.example.com', ekuRoot, server());
    refusedFor('root-eku', l.cert, { anchors: [ekuRoot.cert], intermediates: [] });
  });

  it('weak-key: DSA and P-192', () => {
    const p192 = generateKeyPairSync('ec', { namedCurve: 'prime192v1' }) as unknown as KeyPair;
    refusedFor('weak-key', leaf('CN=s.example.com', int, server({ pair: p192 })).cert);
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }) as unknown as KeyPair;
    refusedFor('weak-key', leaf('CN=s.example.com', int, server({ pair: dsa })).cert);
  });

  it('weak-signature: SHA-1', () => {
    const c = tbsOf(leaf('CN=s.example.com', int, server()).cert.der);
    refusedFor('weak-signature', new Certificate(signTbs(c, 'ecdsa-sha1', int.key)));
  });
});
