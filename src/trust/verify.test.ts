import { describe, expect, it } from 'vitest';
import { AT, ca, chain3, leaf } from '../../test/support/trust-fixtures.ts';
import { InputError } from '../common/errors.ts';
import { createCrl } from '../x509/crl.ts';
import { implicit, seq } from '../x509/der.ts';
import { OID } from '../x509/oids.ts';
import { TrustIndex } from './pool.ts';
import { SignatureCache } from './sigcache.ts';
import { verifyChain } from './verify.ts';

const DAY = 86400000;
const tls = (h: string) => ({ extKeyUsage: ['serverAuth'], sans: { dns: [h] } });

describe('verifyChain', () => {
  const root = ca('CN=Root');
  const int = ca('CN=Int', root);
  const web = leaf('CN=web', int, tls('web.example.com'));

  it('summarizes the trusted path with roles and fingerprints', () => {
    const r = verifyChain({
      leaf: web.cert,
      anchors: [root.cert],
      intermediates: [int.cert],
      at: AT,
      purpose: 'server',
      host: 'web.example.com',
    });
    expect(r.trusted).toBe(true);
    expect(r.code).toBeNull();
    expect(r.reasons).toEqual([]);
    expect(r.bestPath.map((c) => [c.role, c.subject, c.sha256])).toEqual([
      ['leaf', 'CN=web', web.cert.sha256],
      ['intermediate', 'CN=Int', int.cert.sha256],
      ['anchor', 'CN=Root', root.cert.sha256],
    ]);
    expect(r).toMatchObject({ purpose: 'serverAuth', host: 'web.example.com', at: AT.toISOString() });
  });

  it('explains a rotated CA in the words of the issue', () => {
    const old = ca('CN=kubernetes');
    const rotated = ca('CN=kubernetes');
    const api = leaf('CN=kube-apiserver', rotated, { ...tls('kubernetes'), authorityKeyId: false });
    const r = verifyChain({ leaf: api.cert, anchors: [old.cert], at: AT });
    expect(r.trusted).toBe(false);
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0]?.failures).toEqual([
      {
        code: 'NAME_MISMATCH_KEY',
        step: 0,
        subject: 'CN=kube-apiserver',
        message:
          'issuer `CN=kubernetes` found, but its key did not sign this certificate: another CA uses the same name (a rotated or rogue CA)',
      },
    ]);
    // With both CAs trusted the path is found, and the rejected twin is still reported.
    const both = verifyChain({ leaf: api.cert, anchors: [old.cert, rotated.cert], at: AT });
    expect(both.trusted).toBe(true);
    expect(both.bestPath.at(-1)?.sha256).toBe(rotated.cert.sha256);
    expect(both.candidates.map((c) => c.failures[0]?.code ?? 'OK')).toEqual(['OK', 'NAME_MISMATCH_KEY']);
  });

  it('reports every rejected candidate beside the path that works', () => {
    const oldRoot = ca('CN=Old Root');
    const newRoot = ca('CN=New Root');
    const mid = ca('CN=Mid', oldRoot, { notAfter: new Date(AT.getTime() - DAY) });
    const midCross = ca('CN=Mid', newRoot, { pair: mid.pair });
    const l = leaf('CN=l', mid, tls('l.example.com'));
    const r = verifyChain({ leaf: l.cert, anchors: [oldRoot.cert, newRoot.cert], intermediates: [mid.cert, midCross.cert], at: AT });
    expect(r.trusted).toBe(true);
    expect(r.bestPath.map((c) => c.subject)).toEqual(['CN=l', 'CN=Mid', 'CN=New Root']);
    const rejected = r.candidates.filter((c) => !c.ok);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.failures.map((f) => [f.code, f.step, f.subject])).toEqual([['EXPIRED', 1, 'CN=Mid']]);
  });

  it('lists every problem of a path, ordered by step', () => {
    const bad = leaf('CN=bad', int, { extKeyUsage: ['clientAuth'], notAfter: new Date(AT.getTime() - DAY) });
    const r = verifyChain({
      leaf: bad.cert,
      anchors: [root.cert],
      intermediates: [int.cert],
      at: AT,
      purpose: 'server',
      host: 'x.example.com',
    });
    expect(r.code).toBe('EXPIRED');
    expect(r.candidates[0]?.failures.map((f) => f.code).sort()).toEqual(['EKU_MISMATCH', 'EXPIRED', 'HOST_MISMATCH']);
    expect(r.reasons).toHaveLength(3);
  });

  it('checks each (issuer key, certificate) signature once with a shared cache and index', () => {
    const { root: r0, int: i0, leaves } = chain3(5);
    const index = new TrustIndex([r0.cert], [i0.cert]);
    const sigCache = new SignatureCache();
    for (const l of leaves) expect(verifyChain({ leaf: l.cert, index, sigCache, at: AT, purpose: 'server' }).trusted).toBe(true);
    expect(sigCache.misses).toBe(6); // five leaves and the intermediate, once each
    expect(sigCache.hits).toBe(4);
    for (const l of leaves) verifyChain({ leaf: l.cert, index, sigCache, at: AT });
    expect(sigCache.misses).toBe(6);
  });

  it('bounds the number of candidate paths', () => {
    // Three same-name copies of each of two levels: nine paths, capped at four.
    const r1 = ca('CN=R');
    const mids = [0, 1, 2].map(() => ca('CN=M', r1, { pair: int.pair }));
    const subs = [0, 1, 2].map(() => ca('CN=S', mids[0], { pair: root.pair }));
    const l = leaf('CN=leaf', subs[0], tls('a.example.com'));
    const all = verifyChain({ leaf: l.cert, anchors: [r1.cert], intermediates: [...mids, ...subs].map((x) => x.cert), at: AT });
    expect(all.candidates).toHaveLength(9);
    expect(all.candidates.every((c) => c.ok)).toBe(true);
    const capped = verifyChain({
      leaf: l.cert,
      anchors: [r1.cert],
      intermediates: [...mids, ...subs].map((x) => x.cert),
      at: AT,
      maxPaths: 4,
    });
    expect(capped.candidates).toHaveLength(4);
  });

  it('accepts a bare public key anchor and reports it as such', () => {
    const r = verifyChain({
      leaf: web.cert,
      anchors: [{ publicKey: root.pair.publicKey, name: 'CN=Root' }],
      intermediates: [int.cert],
      at: AT,
    });
    expect(r.trusted).toBe(true);
    expect(r.bestPath.at(-1)).toMatchObject({ role: 'anchor', subject: 'CN=Root', sha256: null, spkiSha256: root.cert.spkiSha256 });
  });

  it('rejects bad input with InputError', () => {
    expect(() => verifyChain({ leaf: web.cert, anchors: [root.cert], purpose: 'serverz' })).toThrow(InputError);
    expect(() => verifyChain({ leaf: web.cert, anchors: [root.cert], host: 'not a host' })).toThrow(InputError);
  });

  it('applies the revocation policy', () => {
    const crl = createCrl({
      issuer: int,
      entries: [{ serial: web.cert.serialNumber, revokedAt: new Date(AT.getTime() - DAY), reason: 'keyCompromise' }],
      thisUpdate: new Date(AT.getTime() - DAY),
      nextUpdate: new Date(AT.getTime() + DAY),
      crlNumber: 7,
    });
    const base = { leaf: web.cert, anchors: [root.cert], intermediates: [int.cert], at: AT, crls: [crl] };
    const revoked = verifyChain(base);
    expect(revoked.code).toBe('REVOKED');
    expect(revoked.reasons[0]).toMatch(
      /^`CN=web` \(serial [0-9a-f]+\) was revoked by `CN=Int` on 2025-05-31T00:00:00Z \(reason: keyCompromise\)$/,
    );
    expect(verifyChain({ ...base, revocation: 'none' }).trusted).toBe(true);
    // 'require' also wants the root's CRL for the intermediate.
    const { crls: _none, ...noCrls } = base;
    expect(verifyChain({ ...noCrls, revocation: 'require' }).candidates[0]?.failures.map((f) => [f.code, f.step])).toEqual([
      ['CRL_MISSING', 0],
      ['CRL_MISSING', 1],
    ]);
    // With no CRL from the issuer, 'if-present' has nothing to check.
    expect(verifyChain({ ...base, crls: [] }).trusted).toBe(true);
    // A CRL whose issuingDistributionPoint covers only CA certificates says nothing about the leaf.
    const caOnly = createCrl({
      issuer: int,
      entries: [{ serial: web.cert.serialNumber, revokedAt: new Date(AT.getTime() - DAY) }],
      thisUpdate: new Date(AT.getTime() - DAY),
      nextUpdate: new Date(AT.getTime() + DAY),
      crlNumber: 8,
      extraExtensions: [{ oid: OID.issuingDistributionPoint, critical: true, value: seq(implicit(2, Uint8Array.of(0xff))) }],
    });
    expect(verifyChain({ ...base, crls: [caOnly] }).trusted).toBe(true);
    expect(verifyChain({ ...base, crls: [caOnly], revocation: 'require' }).candidates[0]?.failures[0]?.code).toBe('CRL_MISSING');
  });

  it('reports a loop and the depth limit as building failures', () => {
    const r = verifyChain({ leaf: web.cert, anchors: [root.cert], intermediates: [int.cert], at: AT, maxDepth: 0 });
    expect(r.code).toBe('DEPTH_EXCEEDED');
    expect(r.bestPath.map((c) => c.role)).toEqual(['leaf']);
  });
});
