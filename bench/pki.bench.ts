// `pki init` for 3 control-plane nodes + 1,000 workers, beside `kubeadm init phase certs all` for one node.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseClusterConfig } from '../src/pki/config.ts';
import { initPki } from '../src/pki/service.ts';
import type { BenchResult } from './harness.ts';

function config(keyAlgorithm: string, workers: number): string {
  return stringify({
    apiVersion: 'anchorage.dev/v1alpha1',
    kind: 'ClusterPKI',
    controlPlaneEndpoint: 'cp.example.com:6443',
    keyAlgorithm,
    controlPlane: [1, 2, 3].map((i) => ({ name: `cp-${i}`, ips: [`10.0.0.${i}`] })),
    workers: Array.from({ length: workers }, (_, i) => ({ name: `worker-${i}`, ips: [`10.1.${i >> 8}.${i & 255}`] })),
  });
}

/** kubeadm from the cache test/k8s/build.sh fills, if it has been built. */
export function cachedKubeBin(name: string): string | undefined {
  const root = process.env.ANCHORAGE_CACHE ?? join(homedir(), '.cache', 'anchorage');
  if (!existsSync(root)) return undefined;
  for (const d of readdirSync(root)
    .filter((x) => x.startsWith('k8s-'))
    .sort()
    .reverse()) {
    const bin = join(root, d, 'bin', name);
    if (existsSync(join(root, d, 'DONE')) && existsSync(bin)) return bin;
  }
  return undefined;
}

async function timeInit(keyAlgorithm: string, workers: number, base = tmpdir()): Promise<{ seconds: number; certs: number }> {
  const dir = mkdtempSync(join(base, 'anchorage-bench-pki-'));
  try {
    const text = config(keyAlgorithm, workers);
    // Start from a clean page cache: earlier benches' dirty pages would otherwise be flushed on our time.
    execFileSync('sync');
    const t0 = process.hrtime.bigint();
    const r = await initPki({ config: parseClusterConfig(text), configText: text, configDir: dir, out: join(dir, 'out') });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { seconds, certs: r.plan.certs.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** kubeadm's certificates per second for one node (it writes ~10 certificates and sa.key). */
function kubeadmRate(kubeadm: string, rsa: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-kubeadm-'));
  try {
    const cfg = join(dir, 'kubeadm.yaml');
    writeFileSync(
      cfg,
      `apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.1}\nnodeRegistration: {name: cp-1, criSocket: unix:///run/containerd/containerd.sock}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: cp.example.com:6443\nencryptionAlgorithm: ${rsa ? 'RSA-2048' : 'ECDSA-P256'}\ncertificatesDir: ${dir}/pki\n`,
    );
    execFileSync('sync');
    const t0 = process.hrtime.bigint();
    execFileSync(kubeadm, ['init', 'phase', 'certs', 'all', '--config', cfg], { stdio: 'ignore' });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const certs = [...readdirSync(join(dir, 'pki')), ...readdirSync(join(dir, 'pki', 'etcd'))].filter((f) => f.endsWith('.crt')).length;
    return certs / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const kubeadm = cachedKubeBin('kubeadm');
  const out: BenchResult[] = [];
  for (const [alg, rsa] of [
    ['ecdsa-p256', false],
    ['rsa-2048', true],
  ] as const) {
    const r = await timeInit(alg, 1000);
    const res: BenchResult = {
      name: `pki init, 3 control-plane + 1,000 workers, ${alg}: ${r.certs} certificates + keys, 4,000+ files, in ${r.seconds.toFixed(2)} s`,
      unit: 'certs/s',
      value: r.certs / r.seconds,
    };
    if (kubeadm)
      res.baseline = {
        name: `kubeadm init phase certs all, one node, ${rsa ? 'RSA-2048' : 'ECDSA-P256'}`,
        value: kubeadmRate(kubeadm, rsa),
      };
    out.push(res);
    // The same run on tmpfs: what is left when the disk is taken out (this VM's disk is slow and bursty).
    if (!rsa && existsSync('/dev/shm')) {
      const m = await timeInit(alg, 1000, '/dev/shm');
      out.push({
        name: `the same, ${alg}, output on tmpfs (/dev/shm), in ${m.seconds.toFixed(2)} s`,
        unit: 'certs/s',
        value: m.certs / m.seconds,
        ...(res.baseline ? { baseline: res.baseline } : {}),
      });
    }
  }
  return out;
}
