// Config validation: every mistake is one line naming the file and the field; the derived values
// (service IP, endpoint host and URL) are what kubeadm computes.
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { endpointHost, endpointUrl, parseClusterConfig, serviceIP } from './config.ts';

const BASE = [
  'apiVersion: anchorage.dev/v1alpha1',
  'kind: ClusterPKI',
  'controlPlaneEndpoint: cp.example.com:6443',
  'controlPlane: [{name: cp-1, ips: [10.0.0.10]}]',
].join('\n');

function error(text: string): string {
  try {
    parseClusterConfig(text, '/tmp/x/cluster.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('config was accepted');
}

describe('parseClusterConfig', () => {
  it.each([
    ['malformed YAML', 'apiVersion: [unclosed\n', /^\/tmp\/x\/cluster\.yaml: not valid YAML \(.+\)$/],
    ['an unknown top-level field', `${BASE}\ncolour: blue`, /^\/tmp\/x\/cluster\.yaml: \(top level\): Unrecognized key: "colour"$/],
    [
      'an unknown node field',
      BASE.replace('ips: [10.0.0.10]}', 'ips: [10.0.0.10], ip: 10.0.0.1}'),
      /^\/tmp\/x\/cluster\.yaml: controlPlane\.0: Unrecognized key: "ip"$/,
    ],
    [
      'a CIDR without prefix',
      `${BASE}\nserviceCIDR: 10.96.0.0`,
      /^\/tmp\/x\/cluster\.yaml: serviceCIDR: not a CIDR \(e\.g\. 10\.96\.0\.0\/12\)$/,
    ],
    ['a CIDR with a prefix too long', `${BASE}\npodCIDR: 10.244.0.0/33`, /^\/tmp\/x\/cluster\.yaml: podCIDR: not a CIDR/],
    [
      'a node name used twice',
      `${BASE}\nworkers: [{name: cp-1, ips: [10.0.1.1]}]`,
      /^\/tmp\/x\/cluster\.yaml: workers: node name 'cp-1' is used twice \(also in controlPlane\)$/,
    ],
    [
      'external etcd without members',
      `${BASE}\netcd: {topology: external}`,
      /^\/tmp\/x\/cluster\.yaml: etcd\.members: external etcd needs its members listed$/,
    ],
    [
      'a node IP that is not one',
      BASE.replace('10.0.0.10', '10.0.0.300'),
      /^\/tmp\/x\/cluster\.yaml: controlPlane\.0\.ips\.0: not an IP address$/,
    ],
    [
      'no control plane',
      BASE.replace('controlPlane: [{name: cp-1, ips: [10.0.0.10]}]', 'controlPlane: []'),
      /: controlPlane: at least one control-plane node$/,
    ],
    ['a wrong kind', BASE.replace('kind: ClusterPKI', 'kind: Cluster'), /^\/tmp\/x\/cluster\.yaml: kind: /],
    ['a bad validity', `${BASE}\nvalidity: {leaf: 1y}`, /: validity\.leaf: a duration such as 8760h or 365d$/],
  ])('rejects %s in one line naming the file and field', (_what, text, pattern) => {
    const msg = error(text);
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toMatch(pattern);
  });

  it('fills kubeadm defaults', () => {
    const c = parseClusterConfig(BASE);
    expect(c).toMatchObject({
      clusterName: 'kubernetes',
      dnsDomain: 'cluster.local',
      serviceCIDR: '10.96.0.0/12',
      layout: 'kubeadm',
      keyAlgorithm: 'rsa-2048',
      validity: { ca: '87600h', leaf: '8760h' },
      etcd: { topology: 'stacked', members: [] },
      workers: [],
    });
  });
});

describe('derived values', () => {
  it('the kubernetes Service IP is the first host of the service CIDR', () => {
    expect(serviceIP('10.96.0.0/12')).toBe('10.96.0.1');
    expect(serviceIP('10.32.0.0/24')).toBe('10.32.0.1');
    expect(serviceIP('172.16.255.0/24')).toBe('172.16.255.1');
    expect(serviceIP('fd00:10:96::/112')).toBe('fd00:10:96::1');
  });

  it('endpoint host and URL, port 6443 by default', () => {
    expect(endpointHost('cp.example.com')).toBe('cp.example.com');
    expect(endpointHost('cp.example.com:8443')).toBe('cp.example.com');
    expect(endpointHost('[fd00::1]:6443')).toBe('fd00::1');
    expect(endpointUrl('cp.example.com')).toBe('https://cp.example.com:6443');
    expect(endpointUrl('10.0.0.1:8443')).toBe('https://10.0.0.1:8443');
    expect(endpointUrl('[fd00::1]:7443')).toBe('https://[fd00::1]:7443');
  });
});
