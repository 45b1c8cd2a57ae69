// The real control plane started from a tree the real kubeadm v1.36.3 wrote (`init phase certs all` +
// `kubeconfig all`), then taken over by `anchorage pki adopt` while it runs: live clients keep working through
// `pki renew all` and `pki rotate-ca ca` (every phase). After each command only the files it reports changed
// are copied onto the node (what an operator distributes) and only the components its advice names are
// restarted: the advice is part of what is proven.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { type ClientCreds, certsOf, kubeconfigCreds, LiveClients, servedCertificate } from '../support/live-clients.ts';
import { anchorage, type Cluster, type Component, startCluster } from './harness.ts';

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = `${statSync(p).mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

/** What a command's output says to distribute ("  cp-1: /a, /b") and restart ("  kube-apiserver on cp-1"). */
function advice(stdout: string): { paths: string[]; restart: string[] } {
  const [changes = '', restarts = ''] = stdout.split('then restart:');
  const paths = [...changes.matchAll(/^ {2}cp-1: (.+)$/gm)].flatMap((m) => (m[1] as string).split(', '));
  const restart = [...restarts.matchAll(/^ {2}(\S+) on (.+)$/gm)]
    .filter((m) => (m[2] as string).split(', ').includes('cp-1'))
    .map((m) => m[1] as string);
  return { paths, restart };
}

describe('a control plane the real kubeadm made, adopted while it runs', () => {
  let c: Cluster;
  let root = '';
  let out = '';
  const K = (): string => join(root, 'etc/kubernetes');
  beforeAll(async () => {
    await kubeBinDir();
  }, K8S_BUILD_TIMEOUT_MS);
  // biome-ignore lint/suspicious/noDuplicateTestHooks: a cold build gets its own 45 minutes; starting the cluster keeps 10
  beforeAll(async () => {
    const bin = await kubeBinDir();
    c = await startCluster({
      nodeTree: (dir, apiPort) => {
        const node = join(dir, 'node');
        mkdirSync(join(node, 'etc/kubernetes/pki'), { recursive: true });
        const cfg = join(dir, 'kubeadm.yaml');
        writeFileSync(
          cfg,
          [
            'apiVersion: kubeadm.k8s.io/v1beta4',
            'kind: InitConfiguration',
            `localAPIEndpoint: {advertiseAddress: 192.0.2.11, bindPort: ${apiPort}}`,
            'nodeRegistration: {name: cp-1, criSocket: unix:///var/run/containerd/containerd.sock}',
            '---',
            'apiVersion: kubeadm.k8s.io/v1beta4',
            'kind: ClusterConfiguration',
            'kubernetesVersion: v1.36.3',
            'clusterName: live',
            `controlPlaneEndpoint: 127.0.0.1:${apiPort}`,
            `certificatesDir: ${join(node, 'etc/kubernetes/pki')}`,
            'encryptionAlgorithm: ECDSA-P256',
            'networking: {serviceSubnet: 10.96.0.0/12, dnsDomain: cluster.local}',
            '',
          ].join('\n'),
        );
        for (const phase of [
          ['certs', 'all'],
          ['kubeconfig', 'all', '--kubeconfig-dir', join(node, 'etc/kubernetes')],
        ]) {
          const r = spawnSync(join(bin, 'kubeadm'), ['init', 'phase', ...phase, '--config', cfg], { encoding: 'utf8', timeout: 120_000 });
          if (r.status !== 0) throw new Error(`kubeadm init phase ${phase.join(' ')}: ${r.stderr}`);
        }
        return node;
      },
    });
    root = c.nodeRoot;
    out = c.pkiDir;
  }, 600_000);
  afterAll(async () => {
    await c?.stop();
  });

  /** Copy what the command said changed onto the node, restart what it named; return the components restarted. */
  async function distribute(stdout: string): Promise<string[]> {
    const a = advice(stdout);
    for (const p of a.paths) {
      const from = join(out, 'nodes/cp-1', p);
      mkdirSync(join(root, p, '..'), { recursive: true });
      copyFileSync(from, join(root, p));
      chmodSync(join(root, p), statSync(from).mode & 0o777);
    }
    // The harness runs the control plane only (no kubelet, no kube-proxy).
    const here = (['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as Component[]).filter((x) =>
      a.restart.includes(x),
    );
    for (const x of here) {
      await c.stopComponent(x);
      await c.start(x);
    }
    return here;
  }

  it('adopt takes it over without changing a file, while kubectl keeps working', () => {
    const before = hashTree(K());
    const r = anchorage(['pki', 'adopt', root, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(hashTree(K())).toEqual(before);
    const config = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(config).toMatchObject({
      clusterName: 'live',
      controlPlaneEndpoint: `127.0.0.1:${c.apiPort}`,
      apiServerPort: c.apiPort,
      keyAlgorithm: 'ecdsa-p256',
      controlPlane: [{ name: 'cp-1', ips: ['192.0.2.11'] }],
      etcd: { topology: 'stacked' },
    });
    expect(JSON.parse(readFileSync(join(out, 'adopted.json'), 'utf8')).differences).toEqual([]);
    expect(c.kubectl(['get', 'namespaces', '-o', 'name']).stdout).toContain('namespace/kube-system');
    // Nothing to distribute right after adoption: the adopted node tree is what the node holds.
    const again = anchorage(['pki', 'init', '--config', join(out, 'cluster.yaml'), '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('no node file changed');
  });

  it('renew all: clients keep working, the API server serves its new certificate after the advised restarts', async () => {
    const apiBefore = readFileSync(join(K(), 'pki/apiserver.crt'), 'utf8');
    const live = new LiveClients(`${c.apiUrl}/api/v1/namespaces/default`, [kubeconfigCreds(join(K(), 'admin.conf'))]);
    const restarted = await live.pausedWhile(async () => {
      const r = anchorage(['pki', 'renew', 'all', '--dir', out]);
      expect(r.code, r.stderr).toBe(0);
      const a = advice(r.stdout);
      // kubeadm's renew set plus kubelet.conf (Anchorage renews it too), and no CA, sa key or bundle.
      expect(a.paths.filter((p) => /(ca|sa)\.(crt|key|pub)$/.test(p))).toEqual([]);
      expect(a.paths).toEqual(expect.arrayContaining(['/etc/kubernetes/pki/apiserver.crt', '/etc/kubernetes/admin.conf']));
      const done = await distribute(r.stdout);
      live.clients = [...live.clients, kubeconfigCreds(join(K(), 'admin.conf'))];
      return done;
    });
    expect(restarted).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    const { failures, requests } = await live.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(0);
    expect(readFileSync(join(K(), 'pki/apiserver.crt'), 'utf8')).not.toBe(apiBefore);
    expect(await servedCertificate(c.apiPort)).toBe(certsOf(readFileSync(join(K(), 'pki/apiserver.crt'), 'utf8'))[0]?.sha256);
    expect(c.kubectl(['get', 'lease', '-n', 'kube-system', 'kube-scheduler']).code).toBe(0);
  }, 300_000);

  it('rotate-ca ca through every phase: clients one phase behind keep working, and the new CA is the only one at the end', async () => {
    const oldCa = certsOf(readFileSync(join(K(), 'pki/ca.crt'), 'utf8'))[0]?.sha256;
    const kc = (): ClientCreds => kubeconfigCreds(join(K(), 'admin.conf'));
    const live = new LiveClients(`${c.apiUrl}/api/v1/namespaces/default`, [kc()]);
    for (const phase of ['new-ca', 'bundle', 'reissue', 'done']) {
      await live.pausedWhile(async () => {
        const r = anchorage(['pki', 'rotate-ca', 'ca', '--dir', out]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`phase ${phase}`);
        await distribute(r.stdout);
        live.clients = [live.clients.at(-1) as ClientCreds, kc()];
      });
      // Let the clients run against this phase before the next one.
      await new Promise((r) => setTimeout(r, 1500));
    }
    const { failures, requests } = await live.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(20);
    const bundle = certsOf(readFileSync(join(K(), 'pki/ca.crt'), 'utf8'));
    expect(bundle).toHaveLength(1);
    expect(bundle[0]?.sha256).not.toBe(oldCa);
    // The controller-manager (restarted as advised) signs with the new CA; the scheduler holds its lease.
    expect(c.kubectl(['get', 'lease', '-n', 'kube-system', 'kube-scheduler']).code).toBe(0);
    expect(c.kubectl(['auth', 'whoami']).code).toBe(0);
  }, 600_000);
});
