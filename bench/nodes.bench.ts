// `anchorage nodes push` to 103 real sshd nodes (3 control planes + 100 workers, network namespaces from
// test/support/sshd.ts) beside what Starquill does, in the same run over the same nodes: one file at a
// time, node after node, `scp` to a temporary name then `ssh … mv` into place (two SSH connections per
// file). Wall clock of whole processes; run as root (network namespaces).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, manifestOf, nodeBin } from '../test/support/nodes-cli.ts';
import { type Lab, startLab } from '../test/support/sshd.ts';
import type { BenchResult } from './harness.ts';

const WORKERS = Number(process.env.BENCH_NODES_WORKERS ?? 100);
const CPS = 3;

function timed(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function run(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('nodes.bench.ts: skipped (needs root for network namespaces)\n');
    return [];
  }
  const work = mkdtempSync(join(tmpdir(), 'anc-nb-work-'));
  let lab: Lab | undefined;
  try {
    lab = await startLab({ id: 'nb', subnet: 204, count: CPS + WORKERS });
    const ip = (i: number) => (lab as Lab).nodes[i]?.ip as string;
    const names = [...Array.from({ length: CPS }, (_, i) => `cp-${i + 1}`), ...Array.from({ length: WORKERS }, (_, i) => `w-${i + 1}`)];
    writeFileSync(
      join(work, 'cluster.yaml'),
      [
        'apiVersion: anchorage.dev/v1alpha1',
        'kind: ClusterPKI',
        `controlPlaneEndpoint: ${ip(0)}:6443`,
        'keyAlgorithm: ecdsa-p256',
        `ssh: {identityFile: ${lab.clientKey}, knownHosts: ${lab.knownHosts}}`,
        'controlPlane:',
        ...names.slice(0, CPS).map((n, i) => `  - {name: ${n}, ips: [${ip(i)}]}`),
        'workers:',
        ...names.slice(CPS).map((n, i) => `  - {name: ${n}, ips: [${ip(CPS + i)}]}`),
        '',
      ].join('\n'),
    );
    const dir = join(work, 'pki');
    execFileSync(nodeBin, [main, 'pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dir], { stdio: 'ignore' });
    const files = manifestOf(dir);
    const anchorage = (): void => {
      const r = spawnSync(nodeBin, [main, 'nodes', 'push', '--dir', dir, '--parallel', '64'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`nodes push failed: ${r.stderr}`);
    };
    const push = timed(anchorage);
    const noop = timed(anchorage);
    process.stderr.write(`nodes.bench.ts: anchorage push ${push.toFixed(1)} s, again ${noop.toFixed(1)} s\n`);
    // Starquill: per file, scp to /tmp on the node, then ssh mv into place, chown root, chmod 600.
    const ssh = [
      '-i',
      lab.clientKey,
      '-o',
      `UserKnownHostsFile=${lab.knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-q',
    ];
    const byNode = new Map(names.map((n, i) => [n, ip(i)]));
    // BENCH_NODES_BASELINE_FILES caps the loop on a loaded machine: its time is then extrapolated per file.
    const cap = Math.min(files.length, Number(process.env.BENCH_NODES_BASELINE_FILES ?? files.length));
    const sample = files.slice(0, cap);
    const looped = timed(() => {
      for (const f of sample) {
        const host = byNode.get(f.node) as string;
        const tmp = `/tmp/starquill-${f.path.replace(/\//g, '_')}`;
        execFileSync('scp', [...ssh, join(dir, 'nodes', f.node, f.path), `root@${host}:${tmp}`]);
        execFileSync('ssh', [
          ...ssh,
          `root@${host}`,
          `mkdir -p ${f.path.replace(/\/[^/]+$/, '')} && mv ${tmp} ${f.path} && chown root:root ${f.path} && chmod 600 ${f.path}`,
        ]);
      }
    });
    const loop = (looped * files.length) / cap;
    const baselineName = `sequential scp + ssh mv per file (Starquill)${cap < files.length ? `, ${cap} files timed, extrapolated to ${files.length}` : ''}`;
    process.stderr.write(`nodes.bench.ts: ${baselineName}: ${loop.toFixed(1)} s\n`);
    const what = `${CPS} control planes + ${WORKERS} workers, ${files.length} files, ${CPS + WORKERS} sshd nodes`;
    return [
      {
        name: `nodes push (whole CLI run, every file new): ${what}`,
        unit: 's',
        value: push,
        lowerIsBetter: true,
        baseline: { name: baselineName, value: loop },
      },
      {
        name: 'nodes push again, nothing to change (connect, hash every file, plan)',
        unit: 's',
        value: noop,
        lowerIsBetter: true,
        baseline: { name: baselineName, value: loop },
      },
    ];
  } finally {
    await lab?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
