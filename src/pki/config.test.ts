// Config validation: every mistake is one line naming the file and the field; the derived values
// (service IP, endpoint host and URL) are what kubeadm computes.
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { endpointHost, endpointPort, endpointUrl, parseClusterConfig, serviceIP } from './config.ts';
import { buildPlan } from './plan.ts';

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
    // A bare IPv6 address names no port (its last group is not one).
    expect(endpointPort('fd00::1')).toBeUndefined();
    expect(endpointUrl('fd00::1')).toBe('https://[fd00::1]:6443');
    // kubeadm: an endpoint without a port gets the bindPort.
    expect(endpointUrl('cp.example.com', 7443)).toBe('https://cp.example.com:7443');
    expect(endpointUrl('cp.example.com:443', 7443)).toBe('https://cp.example.com:443');
  });

  it('rejects an endpoint port outside 1-65535', () => {
    expect(error(BASE.replace('cp.example.com:6443', 'cp.example.com:70000'))).toBe(
      '/tmp/x/cluster.yaml: controlPlaneEndpoint: port 70000 is not in 1-65535',
    );
  });
});

describe('apiServerPort: where each API server listens, and every kubeconfig agrees', () => {
  /** node → path → server URL of every planned kubeconfig. */
  const servers = (yaml: string): Record<string, string> => {
    const plan = buildPlan(parseClusterConfig(yaml));
    return Object.fromEntries(
      plan.files.flatMap((f) => (f.content.type === 'kubeconfig' ? [[`${f.node}:${f.path}`, f.content.server]] : [])),
    );
  };
  const cfg = (layout: string, endpoint: string, port?: number): string =>
    [
      'apiVersion: anchorage.dev/v1alpha1',
      'kind: ClusterPKI',
      `layout: ${layout}`,
      `controlPlaneEndpoint: ${endpoint}`,
      ...(port ? [`apiServerPort: ${port}`] : []),
      'controlPlane: [{name: cp-1, ips: [10.0.0.10]}]',
      'workers: [{name: w-1, ips: [10.0.1.1]}]',
    ].join('\n');

  it('hard way: the server-local kubeconfigs follow the port controlPlaneEndpoint names (they said 6443)', () => {
    expect(parseClusterConfig(cfg('hard-way', '127.0.0.1:7443')).apiServerPort).toBe(7443);
    expect(servers(cfg('hard-way', '127.0.0.1:7443'))).toEqual({
      'cp-1:/var/lib/kubernetes/kube-controller-manager.kubeconfig': 'https://127.0.0.1:7443',
      'cp-1:/var/lib/kubernetes/kube-scheduler.kubeconfig': 'https://127.0.0.1:7443',
      'cp-1:/var/lib/kubernetes/admin.kubeconfig': 'https://127.0.0.1:7443',
      'w-1:/var/lib/kubelet/kubeconfig': 'https://127.0.0.1:7443',
      'w-1:/var/lib/kube-proxy/kubeconfig': 'https://127.0.0.1:7443',
    });
  });

  it('hard way: an explicit apiServerPort (a load balancer in front) moves only the local ones; no port anywhere is 6443', () => {
    const s = servers(cfg('hard-way', 'lb.example.com:443', 8443));
    expect(s['cp-1:/var/lib/kubernetes/admin.kubeconfig']).toBe('https://127.0.0.1:8443');
    expect(s['cp-1:/var/lib/kubernetes/kube-scheduler.kubeconfig']).toBe('https://127.0.0.1:8443');
    expect(s['w-1:/var/lib/kubelet/kubeconfig']).toBe('https://lb.example.com:443');
    expect(parseClusterConfig(cfg('hard-way', 'server.kubernetes.local')).apiServerPort).toBe(6443);
    expect(Object.values(servers(cfg('hard-way', 'server.kubernetes.local', 7443)))).toEqual(
      Array(5).fill(expect.stringMatching(/:7443$/)),
    );
  });

  // kubeadm v1.36.3 (`init phase kubeconfig all`, localAPIEndpoint.bindPort): test/cluster/ports.test.ts runs it.
  it('kubeadm: 6443 whatever the endpoint names; an endpoint without a port uses it', () => {
    expect(parseClusterConfig(cfg('kubeadm', 'lb.example.com:443')).apiServerPort).toBe(6443);
    const lb = servers(cfg('kubeadm', 'lb.example.com:443'));
    expect(lb['cp-1:/etc/kubernetes/admin.conf']).toBe('https://lb.example.com:443');
    expect(lb['cp-1:/etc/kubernetes/controller-manager.conf']).toBe('https://10.0.0.10:6443');
    const bare = servers(cfg('kubeadm', 'cp.example.com', 7443));
    expect(bare).toMatchObject({
      'cp-1:/etc/kubernetes/admin.conf': 'https://cp.example.com:7443',
      'cp-1:/etc/kubernetes/super-admin.conf': 'https://cp.example.com:7443',
      'cp-1:/etc/kubernetes/controller-manager.conf': 'https://10.0.0.10:7443',
      'cp-1:/etc/kubernetes/scheduler.conf': 'https://10.0.0.10:7443',
      'cp-1:/etc/kubernetes/kubelet.conf': 'https://10.0.0.10:7443',
      'w-1:/etc/kubernetes/kubelet.conf': 'https://cp.example.com:7443',
    });
  });
});
