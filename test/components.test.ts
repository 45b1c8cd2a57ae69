// Which component reads which node file (the restart advice after renew/rotate), checked against the
// flags of the static Pod manifests the real kubeadm v1.36.3 writes.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Component, componentsReading, restartsFor } from '../src/k8s/components.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';
import { tempDirs } from './support/temp.ts';

const tempDir = tempDirs();

const STATIC: Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const reads = new Map<Component, Set<string>>();

beforeAll(async () => {
  const root = tempDir('components-');
  writeFileSync(
    join(root, 'kubeadm.yaml'),
    [
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: InitConfiguration',
      'localAPIEndpoint: {advertiseAddress: 10.0.0.11, bindPort: 6443}',
      'nodeRegistration: {name: cp-1, criSocket: unix:///var/run/containerd/containerd.sock}',
      '---',
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: ClusterConfiguration',
      'kubernetesVersion: v1.36.3',
      '',
    ].join('\n'),
  );
  const kubeadm = join(await kubeBinDir(), 'kubeadm');
  for (const phase of [
    ['control-plane', 'all'],
    ['etcd', 'local'],
  ])
    execFileSync(kubeadm, ['init', 'phase', ...phase, '--rootfs', root, '--config', '/kubeadm.yaml'], { stdio: 'pipe' });
  const dir = join(root, 'etc/kubernetes/manifests');
  for (const f of readdirSync(dir)) {
    const pod = parse(readFileSync(join(dir, f), 'utf8'));
    const c = pod.spec.containers[0];
    const name = c.name as Component;
    const files = new Set<string>();
    for (const arg of c.command as string[]) {
      const v = /^--[a-z-]+=(\/etc\/kubernetes\/\S+\.(crt|key|pub|conf|yaml))$/.exec(arg)?.[1];
      if (v) files.add(v);
    }
    reads.set(name, files);
  }
}, K8S_BUILD_TIMEOUT_MS);

describe("componentsReading against kubeadm's static Pod manifests", () => {
  it('kubeadm wrote the four control-plane manifests', () => {
    expect([...reads.keys()].sort()).toEqual([...STATIC].sort());
  });

  it('every file a manifest names is attributed to that component', () => {
    for (const [component, files] of reads)
      for (const f of files) expect({ f, c: componentsReading(f) }).toEqual({ f, c: expect.arrayContaining([component]) });
  });

  it('no static Pod is said to read a file its manifest does not name', () => {
    const all = new Set([...reads.values()].flatMap((s) => [...s]));
    for (const f of all)
      for (const c of componentsReading(f).filter((x) => STATIC.includes(x)))
        expect({ f, c, reads: reads.get(c)?.has(f) }).toEqual({ f, c, reads: true });
  });

  it('restart advice names each component once with its nodes', () => {
    expect(
      restartsFor([
        { node: 'cp-1', paths: ['/etc/kubernetes/pki/apiserver.crt', '/etc/kubernetes/kubelet.conf'] },
        { node: 'w-1', paths: ['/etc/kubernetes/kubelet.conf'] },
      ]),
    ).toEqual([
      { component: 'kube-apiserver', nodes: ['cp-1'] },
      { component: 'kubelet', nodes: ['cp-1', 'w-1'] },
    ]);
    expect(restartsFor([{ node: 'cp-1', paths: ['/etc/kubernetes/admin.conf'] }])).toEqual([]);
  });
});
