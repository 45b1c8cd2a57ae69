// The rotation state machine on in-memory material: which CA is current, which extra CA each bundle
// carries, what gets re-issued, and what each rollback restores.
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { parseClusterConfig } from './config.ts';
import { type Material, type MaterialMap, materialize } from './materialize.ts';
import { buildPlan } from './plan.ts';
import {
  applyPhase,
  checkRotatable,
  nextId,
  PHASES,
  type Phase,
  previousId,
  type RotationState,
  rollback,
  signedBy,
  trustOverrides,
} from './rotate.ts';

const config = parseClusterConfig(
  [
    'apiVersion: anchorage.dev/v1alpha1',
    'kind: ClusterPKI',
    'controlPlaneEndpoint: cp.example.com',
    'keyAlgorithm: ecdsa-p256',
    'controlPlane: [{name: cp-1, ips: [10.0.0.10]}]',
    'workers: [{name: w-1, ips: [10.0.1.1]}]',
    'externalCA: {frontProxyCA: fp.crt}',
  ].join('\n'),
);
const plan = buildPlan({ ...config, externalCA: undefined });

async function fresh(): Promise<MaterialMap> {
  return (await materialize(plan, new Map())).material;
}
/** A second, independent CA with the same profile: what phase new-ca makes. */
async function otherCa(): Promise<Material> {
  return (await fresh()).get('ca') as Material;
}
const state = (phase: Phase): RotationState => ({ ca: 'ca', phase, startedAt: '2026-01-01T00:00:00Z', history: [] });
const subjects = (m: MaterialMap, id: string): string[] | undefined =>
  trustOverrides(state('bundle'), m)
    .get(id)
    ?.map((c) => c.sha256);

describe('rotation phases', () => {
  it('new-ca adds the next CA, bundle publishes old+new, reissue swaps and re-issues its leaves, done drops the old', async () => {
    const m = await fresh();
    const old = m.get('ca') as Material;
    const next = await otherCa();
    const leaves = signedBy(plan, 'ca');
    expect(leaves.sort()).toEqual(
      [
        'admin.conf',
        'apiserver',
        'apiserver-kubelet-client',
        'controller-manager.conf',
        'kubelet.conf',
        'kubelet-serving',
        'scheduler.conf',
        'super-admin.conf',
      ]
        .flatMap((r) => (r === 'kubelet.conf' || r === 'kubelet-serving' ? [`${r}@cp-1`, `${r}@w-1`] : [`${r}@cp-1`]))
        .sort(),
    );

    expect(applyPhase(state('new-ca'), 'new-ca', m, plan, () => next)).toEqual([]);
    expect(m.get(nextId('ca'))).toBe(next);
    expect(m.get('ca')).toBe(old);
    expect(trustOverrides(state('new-ca'), m).size).toBe(0);

    expect(applyPhase(state('new-ca'), 'bundle', m, plan, () => next)).toEqual([]);
    expect(
      trustOverrides(state('bundle'), m)
        .get('ca')
        ?.map((c) => c.sha256),
    ).toEqual([old.cert.sha256, next.cert.sha256]);

    expect(applyPhase(state('bundle'), 'reissue', m, plan, () => next).sort()).toEqual(leaves.sort());
    expect(m.get('ca')).toBe(next);
    expect(m.get(previousId('ca'))).toBe(old);
    expect(m.has(nextId('ca'))).toBe(false);
    expect(
      trustOverrides(state('reissue'), m)
        .get('ca')
        ?.map((c) => c.sha256),
    ).toEqual([next.cert.sha256, old.cert.sha256]);

    expect(applyPhase(state('reissue'), 'done', m, plan, () => next)).toEqual([]);
    expect(m.has(previousId('ca'))).toBe(false);
    expect(trustOverrides(state('done'), m).size).toBe(0);
    expect(trustOverrides(undefined, m).size).toBe(0);
  });

  it('bundle refuses to run when the new CA is gone', async () => {
    const m = await fresh();
    expect(() => applyPhase(state('new-ca'), 'bundle', m, plan, () => m.get('ca') as Material)).toThrow(/new CA is missing/);
  });
});

describe('rollback', () => {
  it('from new-ca forgets the new CA', async () => {
    const m = await fresh();
    m.set(nextId('ca'), await otherCa());
    expect(rollback(state('new-ca'), m, plan)).toEqual([]);
    expect(m.has(nextId('ca'))).toBe(false);
  });

  it('from bundle returns to the state after new-ca: the new CA stays, bundles hold the old CA only', async () => {
    const m = await fresh();
    const old = m.get('ca') as Material;
    const next = await otherCa();
    m.set(nextId('ca'), next);
    expect(rollback(state('bundle'), m, plan)).toEqual([]);
    expect(m.get('ca')).toBe(old);
    expect(m.get(nextId('ca'))).toBe(next);
    expect(trustOverrides(state('new-ca'), m).size).toBe(0);
    // ... so the bundle phase can be applied again.
    expect(() => applyPhase(state('new-ca'), 'bundle', m, plan, () => next)).not.toThrow();
    expect(subjects(m, 'ca')).toEqual([old.cert.sha256, next.cert.sha256]);
  });

  it('from reissue makes the old CA current again, keeps the new one as next, and re-issues the leaves', async () => {
    const m = await fresh();
    const old = m.get('ca') as Material;
    const next = await otherCa();
    m.set('ca', next);
    m.set(previousId('ca'), old);
    expect(rollback(state('reissue'), m, plan).sort()).toEqual(signedBy(plan, 'ca').sort());
    expect(m.get('ca')).toBe(old);
    expect(m.get(nextId('ca'))).toBe(next);
    expect(m.has(previousId('ca'))).toBe(false);
    expect(subjects(m, 'ca')).toEqual([old.cert.sha256, next.cert.sha256]);
  });

  it('after done is refused', async () => {
    const m = await fresh();
    expect(() => rollback(state('done'), m, plan)).toThrow(InputError);
    expect(() => rollback(state('done'), m, plan)).toThrow(/finished/);
  });

  it('covers every phase', () => {
    expect(PHASES).toEqual(['new-ca', 'bundle', 'reissue', 'done']);
  });
});

describe('checkRotatable', () => {
  it('accepts the three cluster CAs, refuses the offline root, external CAs and non-CAs', () => {
    for (const ca of ['ca', 'front-proxy-ca', 'etcd-ca']) expect(() => checkRotatable(plan, ca)).not.toThrow();
    const withRoot = buildPlan({ ...config, externalCA: undefined, rootCA: { enabled: true, commonName: 'Root' } });
    expect(() => checkRotatable(withRoot, 'root-ca')).toThrow(/offline root/);
    expect(() => checkRotatable(buildPlan(config), 'front-proxy-ca')).toThrow(/externally managed/);
    expect(() => checkRotatable(plan, 'apiserver@cp-1')).toThrow(/not a CA of this cluster \(CAs: ca, front-proxy-ca, etcd-ca\)/);
  });
});
