// check-expiration against kubeadm's own printer (cmd/kubeadm/app/cmd/certs.go certTextPrinter: one
// tabwriter with minwidth 10, padding 3, the last column `%-8v`; duration.HumanDuration; Go's
// "Jan 02, 2006 15:04 MST") and its output.kubeadm.k8s.io/v1alpha3 Certificate JSON tags.
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from './config.ts';
import {
  checkExpiration,
  type ExpirationInfo,
  expirationObject,
  kubeadmDate,
  renderExpirationText,
  shortHumanDuration,
} from './expiration.ts';
import { materialize } from './materialize.ts';
import { buildPlan } from './plan.ts';

const D = 86400;
const H = 3600;

describe('kubeadm time formats', () => {
  it("dates are Go's `Jan 02, 2006 15:04 MST` in UTC, zero-padded day", () => {
    expect(kubeadmDate(new Date('2027-11-25T14:00:59Z'))).toBe('Nov 25, 2027 14:00 UTC');
    expect(kubeadmDate(new Date('2036-01-02T03:04:05Z'))).toBe('Jan 02, 2036 03:04 UTC');
    expect(kubeadmDate(new Date('2030-12-31T23:59:00Z'))).toBe('Dec 31, 2030 23:59 UTC');
  });

  // Expected values from k8s.io/apimachinery/pkg/util/duration.HumanDuration, which kubeadm's printer calls.
  it.each([
    [0, '0s'],
    [59, '59s'],
    [119, '119s'],
    [120, '2m'],
    [125, '2m5s'],
    [10 * 60, '10m'],
    [179 * 60, '179m'],
    [3 * H, '3h'],
    [3 * H + 30 * 60, '3h30m'],
    [8 * H, '8h'],
    [47 * H, '47h'],
    [48 * H, '2d'],
    [50 * H, '2d2h'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D, '8d'],
    [364 * D + 23 * H + 59 * 60, '364d'],
    [400 * D, '400d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [800 * D, '2y70d'],
    [8 * 365 * D, '8y'],
    [3650 * D - 60, '9y'],
    [3650 * D, '10y'],
  ])('%i seconds residual prints as %s', (seconds, text) => {
    expect(shortHumanDuration(seconds)).toBe(text);
  });
});

const row = (name: string, date: string, residual: number, caName?: string, ext = false): ExpirationInfo['certificates'][number] => ({
  name,
  expirationDate: new Date(date),
  residualSeconds: residual,
  ...(caName ? { caName } : {}),
  externallyManaged: ext,
  missing: false,
});
const missing = (name: string): ExpirationInfo['certificates'][number] => ({ name, externallyManaged: false, missing: true });

describe('check-expiration text', () => {
  it('is byte for byte what the tabwriter of kubeadm prints, missing rows and external CAs included', () => {
    const info: ExpirationInfo = {
      node: 'cp-1',
      certificates: [
        row('admin.conf', '2027-11-25T14:00:00Z', 364 * D + 23 * H, 'ca'),
        missing('apiserver-kubelet-client'),
        row('front-proxy-client', '2027-11-25T14:00:00Z', 364 * D, 'front-proxy-ca', true),
      ],
      certificateAuthorities: [row('ca', '2036-11-23T14:00:00Z', 3650 * D - 60), missing('front-proxy-ca')],
    };
    // Column widths: longest cell + 3 (padding); the last column is Go's %-8v and is not padded further.
    const expected = [
      'CERTIFICATE                          EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED',
      'admin.conf                           Nov 25, 2027 14:00 UTC   364d            ca                      no      ',
      `!MISSING! apiserver-kubelet-client   ${' '.repeat(25 + 16 + 24)}`,
      'front-proxy-client                   Nov 25, 2027 14:00 UTC   364d            front-proxy-ca          yes     ',
      '',
      'CERTIFICATE AUTHORITY      EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED',
      'ca                         Nov 23, 2036 14:00 UTC   9y              no      ',
      `!MISSING! front-proxy-ca   ${' '.repeat(25 + 16)}`,
      '',
    ].join('\n');
    expect(renderExpirationText(info)).toBe(expected);
  });

  it('keeps the header lines of the kubeadm reference when every name is present', () => {
    const names = [
      'admin.conf',
      'apiserver',
      'apiserver-etcd-client',
      'apiserver-kubelet-client',
      'controller-manager.conf',
      'etcd-healthcheck-client',
      'etcd-peer',
      'etcd-server',
      'front-proxy-client',
      'scheduler.conf',
      'super-admin.conf',
    ];
    const info: ExpirationInfo = {
      node: 'cp-1',
      certificates: names.map((n) => row(n, '2027-11-25T14:00:00Z', 364 * D + 23 * H, 'ca')),
      certificateAuthorities: ['ca', 'etcd-ca', 'front-proxy-ca'].map((n) => row(n, '2036-11-23T14:00:00Z', 3650 * D - 60)),
    };
    const lines = renderExpirationText(info).split('\n');
    // kubeadm's two header rows and a first row (`kubeadm certs check-expiration` prints them so), trailing %-8v padding aside.
    expect(lines[0]).toBe('CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED');
    expect(lines[1]).toBe('admin.conf                 Nov 25, 2027 14:00 UTC   364d            ca                      no      ');
    expect(lines[names.length + 2]).toBe('CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED');
    expect(lines[names.length + 3]).toBe('ca                      Nov 23, 2036 14:00 UTC   9y              no      ');
  });
});

describe('check-expiration objects', () => {
  it('have the kind, apiVersion and exactly the JSON fields of kubeadm, in its order', () => {
    const info: ExpirationInfo = {
      node: 'cp-1',
      certificates: [row('apiserver', '2027-11-25T14:00:00.123Z', 1234, 'ca'), missing('admin.conf')],
      certificateAuthorities: [row('ca', '2036-11-23T14:00:00Z', 99, undefined, true)],
    };
    const o = expirationObject(info);
    expect(Object.keys(o)).toEqual(['kind', 'apiVersion', 'certificates', 'certificateAuthorities']);
    expect(o.kind).toBe('CertificateExpirationInfo');
    expect(o.apiVersion).toBe('output.kubeadm.k8s.io/v1alpha3');
    const certs = o.certificates as Record<string, unknown>[];
    // Go: Name, ExpirationDate (RFC 3339, null when zero), ResidualTimeSeconds, ExternallyManaged, CAName (omitempty), Missing.
    expect(certs[0]).toEqual({
      name: 'apiserver',
      expirationDate: '2027-11-25T14:00:00Z',
      residualTime: 1234,
      externallyManaged: false,
      caName: 'ca',
      missing: false,
    });
    expect(Object.keys(certs[0] as object)).toEqual(['name', 'expirationDate', 'residualTime', 'externallyManaged', 'caName', 'missing']);
    expect(certs[1]).toEqual({ name: 'admin.conf', expirationDate: null, residualTime: 0, externallyManaged: false, missing: true });
    expect(o.certificateAuthorities).toEqual([
      { name: 'ca', expirationDate: '2036-11-23T14:00:00Z', residualTime: 99, externallyManaged: true, missing: false },
    ]);
  });
});

describe('checkExpiration', () => {
  const config = parseClusterConfig(
    [
      'apiVersion: anchorage.dev/v1alpha1',
      'kind: ClusterPKI',
      'controlPlaneEndpoint: cp.example.com',
      'keyAlgorithm: ecdsa-p256',
      'rootCA: {enabled: true}',
      'controlPlane: [{name: cp-1, ips: [10.0.0.10]}, {name: cp-2, ips: [10.0.0.11]}]',
      'workers: [{name: w-1, ips: [10.0.1.1]}]',
    ].join('\n'),
  );
  const plan = buildPlan(config);
  const now = new Date('2026-01-01T00:00:00Z');

  it("lists kubeadm's rows for the node in kubeadm's order, leaves out kubelet.conf and the offline root", async () => {
    const { material } = await materialize(plan, new Map(), { now });
    const info = checkExpiration(plan, material, 'cp-1', new Date(now.getTime() + 60_000));
    expect(info.certificates.map((r) => r.name)).toEqual([
      'admin.conf',
      'apiserver',
      'apiserver-etcd-client',
      'apiserver-kubelet-client',
      'controller-manager.conf',
      'etcd-healthcheck-client',
      'etcd-peer',
      'etcd-server',
      'front-proxy-client',
      'scheduler.conf',
      'super-admin.conf',
    ]);
    expect(info.certificateAuthorities.map((r) => r.name)).toEqual(['ca', 'etcd-ca', 'front-proxy-ca']);
    expect(info.certificates.map((r) => r.caName)).toEqual([
      'ca',
      'ca',
      'etcd-ca',
      'ca',
      'ca',
      'etcd-ca',
      'etcd-ca',
      'etcd-ca',
      'front-proxy-ca',
      'ca',
      'ca',
    ]);
    for (const r of [...info.certificates, ...info.certificateAuthorities]) {
      expect(r.missing).toBe(false);
      expect(r.externallyManaged).toBe(false);
    }
    const text = renderExpirationText(info);
    expect(text.match(/ 364d /g)).toHaveLength(11);
    expect(text.match(/ 9y /g)).toHaveLength(3);
    // super-admin.conf exists only on the first control-plane node, as with kubeadm.
    expect(checkExpiration(plan, material, 'cp-2', now).certificates.map((r) => r.name)).not.toContain('super-admin.conf');
    expect(checkExpiration(plan, material, 'w-1', now).certificates).toEqual([]);
  });

  it('marks a certificate missing from the material, and a CA without its key as externally managed', async () => {
    const { material } = await materialize(plan, new Map(), { now });
    material.delete('apiserver@cp-1');
    const ca = material.get('ca');
    if (!ca) throw new Error('no ca');
    material.set('ca', { cert: ca.cert });
    const info = checkExpiration(plan, material, 'cp-1', now);
    expect(info.certificates.find((r) => r.name === 'apiserver')).toEqual({
      name: 'apiserver',
      caName: 'ca',
      externallyManaged: false,
      missing: true,
    });
    expect(info.certificateAuthorities.map((r) => [r.name, r.externallyManaged])).toEqual([
      ['ca', true],
      ['etcd-ca', false],
      ['front-proxy-ca', false],
    ]);
    expect(renderExpirationText(info)).toMatch(/^!MISSING! apiserver {2,}$/m);
  });
});
