// Where kubeconfigs point when the API server's port is not 6443 or the endpoint names another one, held to the
// real kubeadm: `kubeadm init phase kubeconfig all` with localAPIEndpoint.bindPort set (Anchorage: apiServerPort).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { anchorage } from './harness.ts';

const FILES = ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kubelet.conf'];
const server = (path: string): string => parseYaml(readFileSync(path, 'utf8')).clusters[0].cluster.server;

describe('kubeconfig servers with another API server port: the same as kubeadm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-ports-'));
  let kubeadm = '';
  beforeAll(async () => {
    kubeadm = join(await kubeBinDir(), 'kubeadm');
  }, K8S_BUILD_TIMEOUT_MS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an endpoint without a port, bindPort 7443', 'cp.example.com', 7443],
    ['a load balancer on 443, bindPort left at its default', 'lb.example.com:443', undefined],
    ['an endpoint and bindPort that differ', 'lb.example.com:8443', 9443],
  ] as const)('%s', (name, endpoint, bindPort) => {
    const here = join(dir, name.replace(/\W+/g, '-'));
    const theirs = join(here, 'kubeadm');
    mkdirSync(theirs, { recursive: true });
    writeFileSync(
      join(here, 'kubeadm.yaml'),
      [
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: InitConfiguration',
        `localAPIEndpoint: {advertiseAddress: 10.0.0.10${bindPort ? `, bindPort: ${bindPort}` : ''}}`,
        'nodeRegistration: {name: cp-1, criSocket: unix:///var/run/containerd/containerd.sock}',
        '---',
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: ClusterConfiguration',
        'kubernetesVersion: v1.36.3',
        `controlPlaneEndpoint: ${endpoint}`,
        `certificatesDir: ${join(theirs, 'pki')}`,
        '',
      ].join('\n'),
    );
    for (const args of [
      ['init', 'phase', 'certs', 'ca'],
      ['init', 'phase', 'kubeconfig', 'all', '--kubeconfig-dir', theirs],
    ]) {
      const r = spawnSync(kubeadm, [...args, '--config', join(here, 'kubeadm.yaml')], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, `kubeadm ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    writeFileSync(
      join(here, 'cluster.yaml'),
      [
        'apiVersion: anchorage.dev/v1alpha1',
        'kind: ClusterPKI',
        'kubernetesVersion: v1.36.3',
        `controlPlaneEndpoint: ${endpoint}`,
        ...(bindPort ? [`apiServerPort: ${bindPort}`] : []),
        'keyAlgorithm: ecdsa-p256',
        'controlPlane: [{name: cp-1, ips: [10.0.0.10]}]',
        '',
      ].join('\n'),
    );
    const r = anchorage(['pki', 'init', '--config', join(here, 'cluster.yaml'), '--out', join(here, 'ours')]);
    expect(r.code, r.stderr).toBe(0);
    const ours = join(here, 'ours', 'nodes', 'cp-1', 'etc', 'kubernetes');
    const got = Object.fromEntries(FILES.map((f) => [f, server(join(ours, f))]));
    expect(got).toEqual(Object.fromEntries(FILES.map((f) => [f, server(join(theirs, f))])));
    // Not vacuous: the local ones use the bind port, admin.conf the endpoint's.
    expect(got['controller-manager.conf']).toBe(`https://10.0.0.10:${bindPort ?? 6443}`);
  });
});
