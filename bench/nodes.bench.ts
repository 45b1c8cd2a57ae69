// `anchorage nodes push` to 103 real sshd nodes (3 control planes + 100 workers, network namespaces from
// test/support/sshd.ts) beside what Starquill does, in the same run over the same nodes: one file at a
// time, node after node, `scp` to a temporary name then `ssh … mv` into place (two SSH connections per
// file). Every figure is measured, none extrapolated: BENCH_NODES_RUNS rounds (default 3), each round
// interleaving a full push (every file changed: the rounds alternate between two complete PKI versions),
// a push with nothing to change, and Starquill's whole loop over every file; medians with their spread.
// On a machine too loaded for the loop, BENCH_NODES_BASELINE_BUDGET_S bounds the time all loops together
// may take: a loop cut short is reported as what it is, a lower bound (">= its time so far, k of N files"),
// and so is the ratio; loops are then run only while budget remains.
// Wall clock of whole processes; run as root (network namespaces).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, manifestOf, nodeBin } from '../test/support/nodes-cli.ts';
import { type Lab, startLab } from '../test/support/sshd.ts';
import { type BenchResult, spreadText, stats } from './harness.ts';

const WORKERS = Number(process.env.BENCH_NODES_WORKERS ?? 100);
const RUNS = Number(process.env.BENCH_NODES_RUNS ?? 3);
const BUDGET_S = Number(process.env.BENCH_NODES_BASELINE_BUDGET_S ?? Number.POSITIVE_INFINITY);
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
    // Two complete PKI versions: each round pushes the other one, so every file changes every time.
    const dirs = [join(work, 'a'), join(work, 'b')];
    for (const d of dirs)
      execFileSync(nodeBin, [main, 'pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', d], { stdio: 'ignore' });
    const files = manifestOf(dirs[0] as string);
    const push = (dir: string) => (): void => {
      const r = spawnSync(nodeBin, [main, 'nodes', 'push', '--dir', dir, '--parallel', '64', '--timeout', '120', '-o', 'json'], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`nodes push failed: ${r.stderr}`);
    };
    // Starquill: per file, scp to /tmp on the node, then ssh mv into place, chown root, chmod.
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
    let budgetLeft = BUDGET_S;
    /** Starquill's loop; returns the files done (fewer than all when the budget ran out). */
    const starquill = (dir: string): { seconds: number; done: number } => {
      const t0 = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
      let done = 0;
      for (const f of files) {
        if (elapsed() > budgetLeft) break;
        const host = byNode.get(f.node) as string;
        const tmp = `/tmp/starquill-${f.path.replace(/\//g, '_')}`;
        execFileSync('scp', [...ssh, join(dir, 'nodes', f.node, f.path), `root@${host}:${tmp}`]);
        execFileSync('ssh', [
          ...ssh,
          `root@${host}`,
          `mkdir -p ${f.path.replace(/\/[^/]+$/, '')} && mv ${tmp} ${f.path} && chown root:root ${f.path} && chmod ${f.mode} ${f.path}`,
        ]);
        done++;
      }
      const seconds = elapsed();
      budgetLeft -= seconds;
      return { seconds, done };
    };
    // The first push (every file new) is the warm-up: it also fills the page cache and known sessions alike.
    const first = timed(push(dirs[1] as string));
    process.stderr.write(`nodes.bench.ts: warm-up push (every file new) ${first.toFixed(1)} s\n`);
    const full: number[] = [];
    const noop: number[] = [];
    const loop: number[] = [];
    let cut: { seconds: number; done: number } | undefined;
    for (let r = 0; r < RUNS; r++) {
      const dir = dirs[r % 2] as string;
      full.push(timed(push(dir)));
      noop.push(timed(push(dir)));
      let said = 'no budget left for the loop';
      if (budgetLeft > 0 && !cut) {
        const l = starquill(dir);
        if (l.done === files.length) loop.push(l.seconds);
        else cut = l;
        said = `Starquill's loop ${l.seconds.toFixed(1)} s (${l.done} of ${files.length} files)`;
      }
      process.stderr.write(
        `nodes.bench.ts: round ${r + 1}/${RUNS}: push ${full.at(-1)?.toFixed(1)} s, again ${noop.at(-1)?.toFixed(1)} s, ${said}\n`,
      );
    }
    const [f, n] = [stats(full), stats(noop)];
    const l = loop.length ? stats(loop) : undefined;
    const baseline = l
      ? { name: 'sequential scp + ssh mv per file (Starquill), every file', value: l.median, spread: spreadText(l, 's', 1) }
      : {
          name: `sequential scp + ssh mv per file (Starquill): LOWER BOUND, stopped at the time budget after ${cut?.done ?? 0} of ${files.length} files (ratio is a lower bound too)`,
          value: cut?.seconds ?? 0,
        };
    const what = `${CPS} control planes + ${WORKERS} workers, ${files.length} files, ${CPS + WORKERS} sshd nodes`;
    return [
      {
        name: `nodes push --parallel 64 (whole CLI run, every file changed: backups, journal, atomic writes): ${what}`,
        unit: 's',
        value: f.median,
        spread: spreadText(f, 's', 1),
        lowerIsBetter: true,
        baseline,
      },
      {
        name: 'nodes push again, nothing to change (connect, hash every file, plan)',
        unit: 's',
        value: n.median,
        spread: spreadText(n, 's', 1),
        lowerIsBetter: true,
        baseline,
      },
    ];
  } finally {
    await lab?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
