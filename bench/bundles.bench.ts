// The trust bundles controller beside trust-manager, on the same real API server in the same run: one bundle fanned
// out to every namespace (1,000 made for the bench, plus the cluster's own) as a ConfigMap, time from the bundle's
// creation until every target holds the right certificates; then a CA added to the source, time until every target
// has it. Rounds alternate the two (BENCH_BUNDLE_ROUNDS, default 3): each round starts a fresh process, creates a
// new bundle, and ends when the previous round's targets are gone. Each controller runs alone, out of cluster, with
// its defaults; Anchorage as it ships (the package's compiled dist/, built here with tsconfig.build.json). A watch in
// this process (src/kube's informer) decides when the targets are right. CPU seconds and peak RSS come from /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORE, KubeClient, type KubeObject, resourcePath } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { LiteKubeConfig } from '../src/kube/kubeconfig.ts';
import { scanPem } from '../src/x509/pem.ts';
import { freePort, startCluster, waitFor } from '../test/cluster/harness.ts';
import { opensslCa } from '../test/support/openssl.ts';
import { TRUST_MANAGER_VERSION, trustManager } from '../test/support/trust-manager.ts';
import { type BenchResult, stats } from './harness.ts';

const ROOT = join(import.meta.dirname, '..');
const NAMESPACES = Number(process.env.BENCH_BUNDLE_NAMESPACES ?? 1000);
const ROUNDS = Number(process.env.BENCH_BUNDLE_ROUNDS ?? 3);
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;

interface Figures {
  fanOutS: number;
  changeS: number;
  cpuS: number;
  peakRssMiB: number;
  targets: number;
}

/** utime+stime in seconds and VmHWM in MiB of a live process. */
function procStats(pid: number): { cpuS: number; hwmMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  const cpuS = (Number(f[11]) + Number(f[12])) / ticks;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuS, hwmMiB: Number(hwm) / 1024 };
}

/** The certificates of a PEM text as a comparable key (sorted base64 bodies). */
const certKey = (pem: string | undefined): string =>
  scanPem(pem ?? '')
    .map((b) => Buffer.from(b.der).toString('base64'))
    .sort()
    .join();

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

export async function run(): Promise<BenchResult[]> {
  const tm = await trustManager();
  const cluster = await startCluster();
  const dir = mkdtempSync(join(tmpdir(), 'bundles-bench-'));
  const client = new KubeClient(LiteKubeConfig.load({ kubeconfig: cluster.admin }), { qps: 0, maxSockets: 16 });
  try {
    opensslCa(dir, 'a', '/CN=Bench Root A');
    opensslCa(dir, 'b', '/CN=Bench Root B');
    const pemA = readFileSync(join(dir, 'a.crt'), 'utf8');
    const pemB = readFileSync(join(dir, 'b.crt'), 'utf8');
    for (const f of ['trust.anchorage.dev_clusterbundles.yaml', 'trust.anchorage.dev_bundles.yaml'])
      if (cluster.kubectl(['apply', '-f', join(ROOT, 'deploy', 'crds', f)]).code !== 0) throw new Error(`CRD ${f}`);
    for (const f of ['trust.cert-manager.io_bundles.yaml', 'trust-manager.io_clusterbundles.yaml'])
      if (cluster.kubectl(['apply', '--server-side', '-f', join(tm.crds, f)]).code !== 0) throw new Error(`CRD ${f}`);
    // The namespaces, 16 requests at a time.
    const names = ['anchorage', 'cert-manager', ...Array.from({ length: NAMESPACES }, (_, i) => `bench-${String(i).padStart(4, '0')}`)];
    for (let i = 0; i < names.length; i += 16)
      await Promise.all(
        names
          .slice(i, i + 16)
          .map((n) =>
            client.request('POST', resourcePath(CORE.namespaces), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }),
          ),
      );
    const total = (await client.list<KubeObject>(resourcePath(CORE.namespaces))).items.length;
    const source = (ns: string, pem: string) =>
      client.apply(
        resourcePath(CORE.configMaps, ns, 'bench-roots'),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bench-roots', namespace: ns }, data: { 'ca.crt': pem } },
        'bench',
      );

    /** Time until `label`'s targets in every namespace hold `pem`, watched by an informer. */
    const until = async (inf: Informer<KubeObject & { data?: Record<string, string> }>, key: string, pem: string): Promise<number> => {
      const want = certKey(pem);
      const t0 = performance.now();
      await waitFor(
        `${total} targets right`,
        () => inf.list().filter((o) => certKey(o.data?.[key]) === want).length === total,
        900_000,
        50,
      );
      return (performance.now() - t0) / 1000;
    };

    const measure = async (
      name: string,
      start: () => ChildProcess,
      ready: () => Promise<boolean>,
      label: string,
      create: () => Promise<unknown>,
      remove: () => Promise<unknown>,
      sourceNs: string,
    ): Promise<Figures> => {
      await source(sourceNs, pemA);
      const inf = new Informer<KubeObject & { data?: Record<string, string> }>(client, CORE.configMaps, { labelSelector: label });
      inf.start();
      await inf.synced;
      const p = start();
      try {
        await waitFor(`${name} ready`, ready, 300_000, 100);
        await create();
        const fanOutS = await until(inf, 'ca.crt', pemA);
        await source(sourceNs, pemA + pemB);
        const changeS = await until(inf, 'ca.crt', pemA + pemB);
        const s = procStats(p.pid as number);
        return { fanOutS, changeS, cpuS: s.cpuS, peakRssMiB: s.hwmMiB, targets: total };
      } finally {
        await stop(p);
        // The next round starts clean: the bundle deleted, its targets gone (the garbage collector, by owner reference).
        await remove();
        await waitFor(`${name}'s targets gone`, () => inf.size === 0, 900_000, 200);
        await inf.stop();
      }
    };

    // trust-manager first: its webhook needs a serving certificate; its ports are free ones.
    const tmDir = join(dir, 'tm-tls');
    execFileSync('mkdir', ['-p', tmDir]);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(tmDir, 'tls.key'),
        '-out',
        join(tmDir, 'tls.crt'),
        '-subj',
        '/CN=trust-manager',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    const [tmReady, tmMetrics, tmWebhook, ourHealth] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const log = (n: string): number => openSync(join(dir, `${n}.log`), 'a');
    const runTheirs = (round: number): Promise<Figures> =>
      measure(
        'trust-manager',
        () => {
          const fd = log('trust-manager');
          const p = spawn(
            tm.bin,
            [
              `--kubeconfig=${cluster.admin}`,
              '--trust-namespace=cert-manager',
              `--readiness-probe-port=${tmReady}`,
              `--metrics-port=${tmMetrics}`,
              '--webhook-host=127.0.0.1',
              `--webhook-port=${tmWebhook}`,
              `--webhook-certificate-dir=${tmDir}`,
              // Out of cluster it cannot find a namespace for its Lease (it has no flag for one): one replica, no election.
              '--leader-elect=false',
            ],
            { stdio: ['ignore', fd, fd] },
          );
          closeSync(fd);
          return p;
        },
        async () => (await fetch(`http://127.0.0.1:${tmReady}/readyz`).catch(() => undefined))?.status === 200,
        `trust.cert-manager.io/bundle=bench-tm-${round}`,
        () =>
          client.apply(
            `/apis/trust.cert-manager.io/v1alpha1/bundles/bench-tm-${round}`,
            {
              apiVersion: 'trust.cert-manager.io/v1alpha1',
              kind: 'Bundle',
              metadata: { name: `bench-tm-${round}` },
              spec: { sources: [{ configMap: { name: 'bench-roots', key: 'ca.crt' } }], target: { configMap: { key: 'ca.crt' } } },
            },
            'bench',
          ),
        () =>
          // Its ClusterBundle copy of the Bundle (v0.25.0 makes one) and its targets go with it, by owner reference.
          client.delete(`/apis/trust.cert-manager.io/v1alpha1/bundles/bench-tm-${round}`),
        'cert-manager',
      );
    const runOurs = (round: number): Promise<Figures> =>
      measure(
        'anchorage controller',
        () => {
          const fd = log('anchorage');
          const p = spawn(
            NODE,
            [
              shipped,
              'controller',
              '--kubeconfig',
              cluster.admin,
              '--health-host',
              '127.0.0.1',
              '--health-port',
              String(ourHealth),
              '--no-trust-manager',
            ],
            { stdio: ['ignore', fd, fd] },
          );
          closeSync(fd);
          return p;
        },
        async () => (await fetch(`http://127.0.0.1:${ourHealth}/readyz`).catch(() => undefined))?.status === 200,
        `trust.anchorage.dev/bundle=c.bench-${round}`,
        () =>
          client.apply(
            `/apis/trust.anchorage.dev/v1alpha1/clusterbundles/bench-${round}`,
            {
              apiVersion: 'trust.anchorage.dev/v1alpha1',
              kind: 'ClusterBundle',
              metadata: { name: `bench-${round}` },
              spec: {
                sources: [{ configMap: { name: 'bench-roots', keys: ['ca.crt'] } }],
                target: { configMap: { data: [{ key: 'ca.crt' }] } },
              },
            },
            'bench',
          ),
        () => client.delete(`/apis/trust.anchorage.dev/v1alpha1/clusterbundles/bench-${round}`),
        'anchorage',
      );
    // Anchorage as it ships: the compiled dist/ (the npm package's), beside a copy of package.json it reads.
    const pkg = join(dir, 'pkg');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
      stdio: 'inherit',
    });
    execFileSync('cp', [join(ROOT, 'package.json'), join(pkg, 'package.json')]);
    execFileSync('ln', ['-s', join(ROOT, 'node_modules'), join(pkg, 'node_modules')]);
    const shipped = join(pkg, 'dist', 'cli', 'main.js');
    const theirRounds: Figures[] = [];
    const ourRounds: Figures[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating which goes first, so a burst of load from elsewhere falls on both alike.
      if (round % 2 === 1) {
        theirRounds.push(await runTheirs(round));
        ourRounds.push(await runOurs(round));
      } else {
        ourRounds.push(await runOurs(round));
        theirRounds.push(await runTheirs(round));
      }
      process.stdout.write(
        `bundles bench round ${round}: anchorage ${JSON.stringify(ourRounds.at(-1))} trust-manager ${JSON.stringify(theirRounds.at(-1))}\n`,
      );
    }
    const med = (rs: Figures[], f: (x: Figures) => number): { m: number; spread: string } => {
      const st = stats(rs.map(f));
      return { m: st.median, spread: `min-max ${st.min.toFixed(1)}-${st.max.toFixed(1)}, ${st.runs} rounds` };
    };
    const usage = (rs: Figures[]): string => {
      const cpu = stats(rs.map((r) => r.cpuS));
      const rss = stats(rs.map((r) => r.peakRssMiB));
      return `${cpu.median.toFixed(1)} CPU s (${cpu.min.toFixed(1)}-${cpu.max.toFixed(1)}), peak RSS ${Math.round(rss.median)} MiB (${Math.round(rss.min)}-${Math.round(rss.max)})`;
    };
    const base = `trust-manager ${TRUST_MANAGER_VERSION}`;
    const oFan = med(ourRounds, (r) => r.fanOutS);
    const tFan = med(theirRounds, (r) => r.fanOutS);
    const oChg = med(ourRounds, (r) => r.changeS);
    const tChg = med(theirRounds, (r) => r.changeS);
    const targets = ourRounds[0]?.targets ?? 0;
    return [
      {
        name: `fan-out of one bundle to ${targets} namespaces (ConfigMap targets), until every target is right (${usage(ourRounds)})`,
        unit: 's',
        value: oFan.m,
        spread: oFan.spread,
        lowerIsBetter: true,
        baseline: { name: `${base} (${usage(theirRounds)})`, value: tFan.m, spread: tFan.spread },
      },
      {
        name: `a CA added to the source, until all ${targets} targets have it`,
        unit: 's',
        value: oChg.m,
        spread: oChg.spread,
        lowerIsBetter: true,
        baseline: { name: base, value: tChg.m, spread: tChg.spread },
      },
    ];
  } finally {
    client.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
