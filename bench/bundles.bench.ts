// The trust bundles controller beside trust-manager, on the same real API server in the same run: one bundle fanned
// out to every namespace (1,000 made for the bench, plus the cluster's own) as a ConfigMap, time from the bundle's
// creation until every target holds the right certificates; then a CA added to the source, time until every target
// has it. Each controller runs alone (trust-manager first), out of cluster, with its defaults; a watch in this
// process (src/kube's informer) decides when the targets are right. CPU seconds and peak RSS come from /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { CORE, KubeClient, type KubeObject, resourcePath } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { scanPem } from '../src/x509/pem.ts';
import { freePort, startCluster, waitFor } from '../test/cluster/harness.ts';
import { opensslCa } from '../test/support/openssl.ts';
import { TRUST_MANAGER_VERSION, trustManager } from '../test/support/trust-manager.ts';
import type { BenchResult } from './harness.ts';

const ROOT = join(import.meta.dirname, '..');
const NAMESPACES = Number(process.env.BENCH_BUNDLE_NAMESPACES ?? 1000);
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
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.admin);
  const client = new KubeClient(kc, { qps: 0, maxSockets: 16 });
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
      sourceNs: string,
    ): Promise<Figures> => {
      await source(sourceNs, pemA);
      const inf = new Informer<KubeObject & { data?: Record<string, string> }>(client, CORE.configMaps, { labelSelector: label });
      inf.start();
      await inf.synced;
      const p = start();
      try {
        await waitFor(`${name} ready`, ready, 300_000, 100);
        const t0 = performance.now();
        await create();
        const fanOutS = await until(inf, 'ca.crt', pemA);
        void t0;
        await source(sourceNs, pemA + pemB);
        const changeS = await until(inf, 'ca.crt', pemA + pemB);
        const s = procStats(p.pid as number);
        return { fanOutS, changeS, cpuS: s.cpuS, peakRssMiB: s.hwmMiB, targets: total };
      } finally {
        await stop(p);
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
    const theirs = await measure(
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
      'trust.cert-manager.io/bundle=bench-tm',
      () =>
        client.apply(
          '/apis/trust.cert-manager.io/v1alpha1/bundles/bench-tm',
          {
            apiVersion: 'trust.cert-manager.io/v1alpha1',
            kind: 'Bundle',
            metadata: { name: 'bench-tm' },
            spec: { sources: [{ configMap: { name: 'bench-roots', key: 'ca.crt' } }], target: { configMap: { key: 'ca.crt' } } },
          },
          'bench',
        ),
      'cert-manager',
    );
    const ours = await measure(
      'anchorage controller',
      () => {
        const fd = log('anchorage');
        const p = spawn(
          NODE,
          [
            join(ROOT, 'src', 'cli', 'main.ts'),
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
      'trust.anchorage.dev/bundle=c.bench',
      () =>
        client.apply(
          '/apis/trust.anchorage.dev/v1alpha1/clusterbundles/bench',
          {
            apiVersion: 'trust.anchorage.dev/v1alpha1',
            kind: 'ClusterBundle',
            metadata: { name: 'bench' },
            spec: {
              sources: [{ configMap: { name: 'bench-roots', keys: ['ca.crt'] } }],
              target: { configMap: { data: [{ key: 'ca.crt' }] } },
            },
          },
          'bench',
        ),
      'anchorage',
    );
    const usage = (f: Figures): string => `${f.cpuS.toFixed(1)} CPU s, peak RSS ${Math.round(f.peakRssMiB)} MiB`;
    const base = `trust-manager ${TRUST_MANAGER_VERSION}`;
    process.stdout.write(`bundles bench: anchorage ${JSON.stringify(ours)} trust-manager ${JSON.stringify(theirs)}\n`);
    return [
      {
        name: `fan-out of one bundle to ${ours.targets} namespaces (ConfigMap targets), until every target is right (${usage(ours)})`,
        unit: 's',
        value: ours.fanOutS,
        lowerIsBetter: true,
        baseline: { name: `${base} (${usage(theirs)})`, value: theirs.fanOutS },
      },
      {
        name: `a CA added to the source, until all ${ours.targets} targets have it`,
        unit: 's',
        value: ours.changeS,
        lowerIsBetter: true,
        baseline: { name: base, value: theirs.changeS },
      },
    ];
  } finally {
    client.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
