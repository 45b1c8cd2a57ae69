// Keep what fits the plan, issue what does not: misfit's reasons and materialize's decisions.
import { describe, expect, it } from 'vitest';
import { generateKey } from '../x509/keys.ts';
import { nameGetAll } from '../x509/name.ts';
import { OID } from '../x509/oids.ts';
import { type ClusterConfig, parseClusterConfig } from './config.ts';
import { type Material, type MaterialMap, materialize, misfit } from './materialize.ts';
import { buildPlan, type Plan, type PlannedCert } from './plan.ts';

const YAML = [
  'apiVersion: anchorage.dev/v1alpha1',
  'kind: ClusterPKI',
  'controlPlaneEndpoint: cp.example.com',
  'keyAlgorithm: ecdsa-p256',
  'controlPlane: [{name: cp-1, ips: [10.0.0.10]}]',
  'workers: [{name: w-1, ips: [10.0.1.1]}, {name: w-2, ips: [10.0.1.2]}]',
].join('\n');
const config = parseClusterConfig(YAML);
const plan = buildPlan(config);
const now = new Date('2026-03-01T12:00:00Z');
const entry = (p: Plan, id: string): PlannedCert => p.certs.find((c) => c.id === id) as PlannedCert;

async function issued(p: Plan = plan): Promise<MaterialMap> {
  return (await materialize(p, new Map(), { now })).material;
}

describe('misfit', () => {
  it('accepts what was just issued, for every certificate of the plan', async () => {
    const m = await issued();
    for (const p of plan.certs) expect(misfit(p, m.get(p.id) as Material, p.signer ? m.get(p.signer) : undefined, now)).toBeNull();
  });

  it('names what no longer fits', async () => {
    const m = await issued();
    const api = entry(plan, 'apiserver@cp-1');
    const have = m.get(api.id) as Material;
    const ca = m.get('ca') as Material;
    const check = (p: PlannedCert, mat: Material = have, signer: Material | undefined = ca, at = now): string | null =>
      misfit(p, mat, signer, at);
    expect(check(api, { cert: have.cert })).toBe('private key missing');
    expect(check(api, { cert: have.cert, key: generateKey('ecdsa-p256').privateKey })).toBe('private key does not match the certificate');
    expect(check(api, have, ca, new Date(have.cert.notAfter.getTime() + 1000))).toBe('expired');
    expect(check({ ...api, cn: 'kube-apiserver-2' })).toBe('CN is kube-apiserver, want kube-apiserver-2');
    expect(check({ ...api, o: ['x'] })).toBe('O is [], want [x]');
    expect(check({ ...api, ca: true })).toBe('not a CA certificate');
    expect(check({ ...api, sans: { ...api.sans, dns: [...api.sans.dns, 'new.example.com'] } })).toBe('SANs differ from the plan');
    expect(check({ ...api, sans: { ...api.sans, ip: api.sans.ip.slice(1) } })).toBe('SANs differ from the plan');
    expect(check({ ...api, extKeyUsage: ['serverAuth', 'clientAuth'] })).toBe('extended key usage differs from the plan');
    expect(check(api, have, m.get('etcd-ca'))).toBe('not signed by the current ca');
    expect(check(entry(plan, 'ca'), m.get('ca') as Material, undefined)).toBeNull();
  });
});

describe('materialize', () => {
  it('keeps everything on a second pass: the same certificates and keys', async () => {
    const first = await issued();
    const { material, decisions } = await materialize(plan, first, { now });
    expect(decisions.every((d) => d.action === 'kept')).toBe(true);
    expect(decisions).toHaveLength(plan.certs.length);
    for (const [id, m] of material) expect(m).toBe(first.get(id));
  });

  it('re-issues only the kubelet serving certificate of a worker whose IP changed', async () => {
    const first = await issued();
    const moved: ClusterConfig = { ...config, workers: config.workers.map((w) => (w.name === 'w-1' ? { ...w, ips: ['10.0.9.9'] } : w)) };
    const { material, decisions } = await materialize(buildPlan(moved), first, { now });
    expect(decisions.filter((d) => d.action !== 'kept')).toEqual([
      { id: 'kubelet-serving@w-1', action: 'reissued', reason: 'SANs differ from the plan' },
    ]);
    expect(material.get('kubelet-serving@w-1')?.cert.sans.ip).toEqual(['10.0.9.9']);
  });

  it('issues a missing leaf alone, and a re-issued CA drags every leaf it signs along', async () => {
    const first = await issued();
    first.delete('front-proxy-client@cp-1');
    let r = await materialize(plan, first, { now });
    expect(r.decisions.filter((d) => d.action !== 'kept')).toEqual([
      { id: 'front-proxy-client@cp-1', action: 'issued', reason: 'missing' },
    ]);
    const again = new Map(r.material);
    again.delete('etcd-ca');
    r = await materialize(plan, again, { now });
    expect(
      r.decisions
        .filter((d) => d.action !== 'kept')
        .map((d) => d.id)
        .sort(),
    ).toEqual(['apiserver-etcd-client@cp-1', 'etcd-ca', 'etcd-healthcheck-client@cp-1', 'etcd-peer@cp-1', 'etcd-server@cp-1']);
  });

  it('--force re-issues every certificate with new keys', async () => {
    const first = await issued();
    const { material, decisions } = await materialize(plan, first, { now, force: true });
    expect(decisions.every((d) => d.action === 'reissued' && d.reason === 'forced')).toBe(true);
    for (const [id, m] of material) expect(m.cert.spkiSha256).not.toBe(first.get(id)?.cert.spkiSha256);
  });

  it('renewal keeps the existing subject, SANs and EKU of the certificate, with a new key', async () => {
    const first = await issued();
    const { material, decisions } = await materialize(plan, first, {
      now,
      reissue: new Set(['apiserver@cp-1']),
      keepExistingProfile: true,
    });
    expect(decisions.filter((d) => d.action !== 'kept')).toEqual([{ id: 'apiserver@cp-1', action: 'reissued', reason: 'renewal' }]);
    const a = first.get('apiserver@cp-1')?.cert;
    const b = material.get('apiserver@cp-1')?.cert;
    expect(Buffer.from(b?.subjectRaw ?? []).equals(Buffer.from(a?.subjectRaw ?? [1]))).toBe(true);
    expect(b?.sans).toEqual(a?.sans);
    expect(b?.extKeyUsage).toEqual(a?.extKeyUsage);
    expect(b?.serialNumber).not.toBe(a?.serialNumber);
    expect(b?.spkiSha256).not.toBe(a?.spkiSha256);
  });

  it('writes every O as one multi-valued RDN before CN, as Go does', async () => {
    const m = await issued();
    const admin = m.get('kubelet.conf@w-1')?.cert;
    expect(admin?.subjectRdns.map((rdn) => rdn.map((a) => a.type))).toEqual([[OID.O], [OID.CN]]);
    expect(nameGetAll(admin?.subjectRdns ?? [], OID.O)).toEqual(['system:nodes']);
  });

  it('external CA: keeps the given CA, issues nothing it signs, still issues what the other CAs sign', async () => {
    const own = await issued();
    const extCfg: ClusterConfig = { ...config, externalCA: { ca: 'ca.crt' } };
    const extPlan = buildPlan(extCfg);
    const given = own.get('ca') as Material;
    const { material, decisions } = await materialize(extPlan, new Map([['ca', { cert: given.cert }]]), { now });
    const byId = new Map(decisions.map((d) => [d.id, d]));
    expect(byId.get('ca')).toEqual({ id: 'ca', action: 'external' });
    expect(material.get('ca')?.cert).toBe(given.cert);
    expect(material.get('ca')?.key).toBeUndefined();
    for (const p of extPlan.certs.filter((c) => c.signer === 'ca')) {
      expect(byId.get(p.id)).toEqual({ id: p.id, action: 'external', reason: 'signed by external ca' });
      expect(material.has(p.id)).toBe(false);
    }
    for (const p of extPlan.certs.filter((c) => c.signer === 'etcd-ca' || c.signer === 'front-proxy-ca'))
      expect(byId.get(p.id)?.action).toBe('issued');
  });

  it('external CA: keeps a leaf the operator placed', async () => {
    const own = await issued();
    const extPlan = buildPlan({ ...config, externalCA: { ca: 'ca.crt' } });
    const placed = own.get('apiserver@cp-1') as Material;
    const { material } = await materialize(
      extPlan,
      new Map([
        ['ca', { cert: (own.get('ca') as Material).cert }],
        ['apiserver@cp-1', placed],
      ]),
      { now },
    );
    expect(material.get('apiserver@cp-1')).toBe(placed);
  });
});
