// Path building and name constraints under crafted pools (issue 9, items 7, 9 and 11).
import { describe, expect, it } from 'vitest';
import { decoys, makeCa, makeLeaf } from '../../test/support/hostile.ts';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from '../x509/build.ts';
import { generateKey } from '../x509/keys.ts';
import { checkNameConstraints, MAX_CONSTRAINT_COMPARISONS, MAX_SUBTREES_SHOWN, MAX_VIOLATIONS } from './names.ts';
import { MAX_ISSUER_CANDIDATES } from './paths.ts';
import { SignatureCache } from './sigcache.ts';
import { verifyChain } from './verify.ts';

const root = makeCa('CN=Unit Root');
const inter = makeCa('CN=Unit Intermediate', root);
const leaf = makeLeaf(inter, 'CN=svc', { dns: ['svc.example'] });

describe('path building ranks by signature before spending the path budget', () => {
  it('64 same-name, same-SKI decoys ahead of the real intermediate: still trusted, decoys still explained', () => {
    const pool = [...decoys(root, inter.cert, 64), inter.cert];
    const r = verifyChain({ leaf, anchors: [root.cert], intermediates: pool, sigCache: new SignatureCache() });
    expect(r.trusted).toBe(true);
    expect(r.bestPath.map((c) => c.subject)).toEqual(['CN=svc', 'CN=Unit Intermediate', 'CN=Unit Root']);
    // The budget left after the valid path records the rejected candidates, as before.
    expect(r.candidates.filter((c) => c.failures[0]?.code === 'SIGNATURE_INVALID')).toHaveLength(63);
  });

  it('more same-name candidates than the budget is refused as too large', () => {
    const pool = [...decoys(root, inter.cert, MAX_ISSUER_CANDIDATES), inter.cert];
    expect(() => verifyChain({ leaf, anchors: [root.cert], intermediates: pool })).toThrow(InputError);
    expect(() => verifyChain({ leaf, anchors: [root.cert], intermediates: pool })).toThrow(/too large/);
  });
});

describe('name constraints budget', () => {
  const constrained = (dns: string[]) =>
    makeCa('CN=NC', root, { nameConstraints: { permitted: { dns } } }).cert.nameConstraints as NonNullable<
      ReturnType<typeof makeCa>['cert']['nameConstraints']
    >;
  const withNames = (n: number) => {
    const kp = generateKey('ecdsa-p256');
    return issueCertificate({
      profile: { subject: 'CN=many', sans: { dns: Array.from({ length: n }, (_, i) => `h${i}.other.test`) }, validity: { days: 1 } },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
  };

  it('violations are listed up to a bound, then counted; subtrees quoted up to a bound', () => {
    const v = checkNameConstraints(withNames(500), constrained(Array.from({ length: 20 }, (_, i) => `d${i}.example`)), true);
    expect(v).toHaveLength(MAX_VIOLATIONS + 1);
    expect(v[MAX_VIOLATIONS]?.name).toBe(`(and ${500 - MAX_VIOLATIONS} more names)`);
    expect(v[0]?.subtrees).toHaveLength(MAX_SUBTREES_SHOWN + 1);
    expect(v[0]?.subtrees.at(-1)).toBe('and 10 more');
  });

  it('names x subtrees above the budget is refused as too large', () => {
    const subtrees = Array.from({ length: 1000 }, (_, i) => `d${i}.example`);
    const names = Math.ceil(MAX_CONSTRAINT_COMPARISONS / 1000) + 1;
    expect(() => checkNameConstraints(withNames(names), constrained(subtrees), true)).toThrow(/too large/);
  });
});
