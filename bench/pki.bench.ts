// `pki init` for 3 control-plane nodes + 1,000 workers, beside `kubeadm init phase certs all` for one node;
// and a one-node `anchorage pki init` process beside `kubeadm init phase certs all` + `kubeconfig all`
// (what kubeadm writes for a node: its certificates and its kubeconfigs), whole processes, interleaved,
// the median of repeated runs with its spread.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildCli } from '../scripts/build-cli.ts';
import { parseClusterConfig } from '../src/pki/config.ts';
import { initPki } from '../src/pki/service.ts';
import { type BenchResult, spreadText, timeProcesses } from './harness.ts';

const root = join(import.meta.dirname, '..');

function config(keyAlgorithm: string, workers: number, controlPlane = 3): string {
  return stringify({
    apiVersion: 'anchorage.dev/v1alpha1',
    kind: 'ClusterPKI',
    controlPlaneEndpoint: 'cp.example.com:6443',
    keyAlgorithm,
    controlPlane: Array.from({ length: controlPlane }, (_, i) => ({ name: `cp-${i + 1}`, ips: [`10.0.0.${i + 1}`] })),
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

const kubeadmConfig = (dir: string, rsa: boolean): string =>
  `apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.1}\nnodeRegistration: {name: cp-1, criSocket: unix:///run/containerd/containerd.sock}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: cp.example.com:6443\nencryptionAlgorithm: ${rsa ? 'RSA-2048' : 'ECDSA-P256'}\ncertificatesDir: ${dir}/pki\n`;

/**
 * One control-plane node, whole processes, RUNS interleaved runs each (a discarded warm-up first): `anchorage
 * pki init` (CAs, the node's certificates and kubeconfigs, service-account keys, manifest) beside `kubeadm
 * init phase certs all` then `kubeconfig all` (the CAs, the node's certificates, sa.key and its four
 * kubeconfigs). Each run starts from an empty output folder (removed by the same shell, on both sides).
 * Anchorage runs as a checkout does after `npm ci`: bin/anchorage.js with the `npm run build:cli` bundle (built
 * here first), and, interleaved with it, from the TypeScript sources (ANCHORAGE_NO_BUNDLE=1).
 */
function oneNode(kubeadm: string, runs: number): ReturnType<typeof timeProcesses> {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-onenode-'));
  try {
    const cfg = join(dir, 'cluster.yaml');
    writeFileSync(cfg, config('ecdsa-p256', 0, 1));
    const kdir = join(dir, 'kubeadm');
    mkdirSync(kdir);
    const kcfg = join(dir, 'kubeadm.yaml');
    writeFileSync(kcfg, kubeadmConfig(kdir, false));
    const ours = join(dir, 'out');
    const st = timeProcesses(
      [
        {
          label: 'kubeadm',
          cmd: 'sh',
          args: [
            '-c',
            'rm -rf "$1/pki" "$1/kc" && "$0" init phase certs all --config "$2" >/dev/null && "$0" init phase kubeconfig all --config "$2" --kubeconfig-dir "$1/kc" >/dev/null',
            kubeadm,
            kdir,
            kcfg,
          ],
        },
        ...(['anchorage', 'anchorage sources'] as const).map((label) => ({
          label,
          cmd: 'sh',
          args: [
            '-c',
            `rm -rf "$2" && ${label === 'anchorage sources' ? 'ANCHORAGE_NO_BUNDLE=1 ' : ''}exec "$0" "$1" pki init --config "$3" --out "$2" >/dev/null`,
            process.execPath,
            join(root, 'bin', 'anchorage.js'),
            ours,
            cfg,
          ],
        })),
      ],
      runs,
    );
    return st;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** kubeadm's certificates per second for one node (it writes ~10 certificates and sa.key). */
function kubeadmRate(kubeadm: string, rsa: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-kubeadm-'));
  try {
    const cfg = join(dir, 'kubeadm.yaml');
    writeFileSync(cfg, kubeadmConfig(dir, rsa));
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

/**
 * kubeadm's way to a 3 + `workers` node cluster, really run (not extrapolated): one script, one kubeadm
 * process per node and phase. The first control-plane node makes the CAs; the other two get the CA files
 * copied in first (kubeadm reuses a CA it finds, as `kubeadm join --control-plane` expects); each worker
 * gets its kubelet.conf from the shared CA (`init phase kubeconfig kubelet --node-name`), which is less than
 * Anchorage writes per worker (it also writes the kubelet's serving certificate and key).
 */
function kubeadmLoop(kubeadm: string, workers: number): { seconds: number; workers: number; processes: number } {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-kubeadm-loop-'));
  try {
    const common = '--control-plane-endpoint cp.example.com:6443 --kubernetes-version v1.36.3';
    const script = [
      'set -e',
      'd="$1"; k="$2"; n="$3"',
      'for i in 1 2 3; do',
      '  mkdir -p "$d/cp-$i/pki/etcd"',
      '  if [ "$i" != 1 ]; then for f in ca front-proxy-ca; do cp "$d/cp-1/pki/$f.crt" "$d/cp-1/pki/$f.key" "$d/cp-$i/pki/"; done;',
      '    cp "$d/cp-1/pki/etcd/ca.crt" "$d/cp-1/pki/etcd/ca.key" "$d/cp-$i/pki/etcd/"; cp "$d/cp-1/pki/sa.key" "$d/cp-1/pki/sa.pub" "$d/cp-$i/pki/"; fi',
      `  "$k" init phase certs all --cert-dir "$d/cp-$i/pki" --apiserver-advertise-address "10.0.0.$i" ${common} >/dev/null`,
      `  "$k" init phase kubeconfig all --cert-dir "$d/cp-$i/pki" --kubeconfig-dir "$d/cp-$i/kc" --node-name "cp-$i" --apiserver-advertise-address "10.0.0.$i" ${common} >/dev/null`,
      'done',
      'i=0',
      'while [ "$i" -lt "$n" ]; do',
      `  "$k" init phase kubeconfig kubelet --cert-dir "$d/cp-1/pki" --kubeconfig-dir "$d/w/worker-$i" --node-name "worker-$i" --apiserver-advertise-address 10.0.0.1 ${common} >/dev/null`,
      '  i=$((i + 1))',
      'done',
    ].join('\n');
    execFileSync('sync');
    const t0 = process.hrtime.bigint();
    execFileSync('sh', ['-c', script, 'kubeadm-loop', dir, kubeadm, String(workers)], { stdio: ['ignore', 'ignore', 'inherit'] });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const made = readdirSync(join(dir, 'w')).length;
    if (made !== workers) throw new Error(`kubeadm loop: ${made} worker kubeconfigs, expected ${workers}`);
    return { seconds, workers, processes: 6 + workers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const kubeadm = cachedKubeBin('kubeadm');
  const out: BenchResult[] = [];
  if (kubeadm) {
    await buildCli();
    const st = oneNode(kubeadm, Number(process.env.BENCH_PKI_RUNS ?? 11));
    const k = st.get('kubeadm');
    const a = st.get('anchorage');
    const s = st.get('anchorage sources');
    if (!k || !a || !s) throw new Error('no one-node figures');
    const baseline = { name: 'kubeadm init phase certs all + kubeconfig all', value: k.median, spread: spreadText(k, 'ms') };
    out.push(
      {
        name: 'one-node pki init (ECDSA P-256: CAs, certificates, kubeconfigs, sa keys), whole process, bundled (npm run build:cli)',
        unit: 'ms',
        value: a.median,
        spread: spreadText(a, 'ms'),
        baseline,
        lowerIsBetter: true,
      },
      {
        name: 'the same from the TypeScript sources (ANCHORAGE_NO_BUNDLE=1)',
        unit: 'ms',
        value: s.median,
        spread: spreadText(s, 'ms'),
        baseline,
        lowerIsBetter: true,
      },
    );
    if (process.env.BENCH_PKI_ONE_NODE_ONLY) return out;
  }
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
    if (!rsa && kubeadm) {
      const loop = kubeadmLoop(kubeadm, Number(process.env.BENCH_PKI_LOOP_WORKERS ?? 1000));
      out.push({
        name: `the same ${r.certs} certificates against kubeadm's per-node loop, run (3 control-plane nodes: certs all + kubeconfig all, CAs copied from the first; ${loop.workers} workers: kubeconfig kubelet --node-name)`,
        unit: 's',
        value: r.seconds,
        baseline: { name: `kubeadm, one process per node and phase, ${loop.processes} processes`, value: loop.seconds },
        lowerIsBetter: true,
      });
    }
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
