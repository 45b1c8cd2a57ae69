// `anchorage serve --kubeconfig` on a real API server (test/cluster/harness.ts) holding N kubernetes.io/tls
// Secrets (BENCH_SERVE_SECRETS, default 100,000; 1,000 distinct leaf+CA chains and keys, cycled): time from
// start to the first complete inventory (/readyz), beside a plain paginated LIST of the same Secrets in
// the same run; then BENCH_SERVE_STEADY_S seconds (default 60) of 10 Secret changes a second: CPU of the
// server process over that window, RSS, and peak RSS (VmHWM) over the whole run; and how long after the
// last change it shows up in the API. BENCH_SERVE_BEFORE=<another checkout> also starts that checkout's serve on
// the same Secrets, BENCH_SERVE_RUNS times each (default 1), the two alternating (before-after, after-before, ...):
// medians with min-max; the Secrets are created once (the longest part of the run at 100,000). Serve runs with
// Node's default heap settings, as a user starts it, from each checkout's compiled JS (tsconfig.build.json, built
// into a `.bench-dist-*` folder inside the checkout, removed after) with Node's compile cache on, as the
// published package and the image run it (scan.bench.ts does the same); BENCH_SERVE_FROM=sources runs the
// TypeScript sources (src/cli/main.ts, Node strips the types: ~30 MiB more resident memory).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';
import { type Cluster, startCluster } from '../test/cluster/harness.ts';
import { api, startCli } from '../test/support/serve.ts';
import { type BenchResult, type Stats, stats } from './harness.ts';
import { call, createSecrets, credsOf, rawList, tlsSecret } from './scan.bench.ts';

const N = Number(process.env.BENCH_SERVE_SECRETS ?? 100_000);
const STEADY_S = Number(process.env.BENCH_SERVE_STEADY_S ?? 60);
const NS = 'bench-serve';
/** Another checkout (its src/cli/main.ts) to measure in the same run, alternating with this one. */
const BEFORE = process.env.BENCH_SERVE_BEFORE;
/** Serve processes per checkout (each a first inventory and a steady state on the same Secrets). */
const RUNS = Number(process.env.BENCH_SERVE_RUNS ?? 1);
const DISTINCT = 1000;
/** `dist`: each checkout's compiled JS, as the package runs (default); `sources`: src/cli/main.ts. */
const FROM = process.env.BENCH_SERVE_FROM ?? 'dist';
if (FROM !== 'dist' && FROM !== 'sources') throw new Error(`BENCH_SERVE_FROM: '${FROM}' is not dist or sources`);

/** How a checkout's CLI is started: its main module, extra environment, and what to remove afterwards. */
interface Cli {
  main: string;
  env: NodeJS.ProcessEnv;
  dirs: string[];
}

/** A checkout's serve: its sources, or its compiled JS built inside it (so it resolves the checkout's node_modules). */
function cliOf(checkout: string): Cli {
  if (FROM === 'sources') return { main: join(checkout, 'src', 'cli', 'main.ts'), env: {}, dirs: [] };
  const compiled = mkdtempSync(join(checkout, '.bench-dist-'));
  const cache = mkdtempSync(join(tmpdir(), 'anchorage-bench-serve-cache-'));
  execFileSync(join(checkout, 'node_modules', '.bin', 'tsc'), ['-p', join(checkout, 'tsconfig.build.json'), '--outDir', compiled]);
  return { main: join(compiled, 'cli', 'main.js'), env: { NODE_COMPILE_CACHE: cache }, dirs: [compiled, cache] };
}

/** The machine's 1-minute load average, for the record (the bench machine is shared). */
const load = (): string => `load ${(loadavg()[0] as number).toFixed(1)}`;

function procStats(pid: number): { rssMiB: number; hwmMiB: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024, cpuS: ticks / 100 };
}

export async function run(): Promise<BenchResult[]> {
  const c: Cluster = await startCluster();
  const clis: Partial<Record<'after' | 'before', Cli>> = {};
  const creds = credsOf(c.admin);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const r = await call(c, creds, agent, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    if (r.status !== 201) throw new Error(`namespace: HTTP ${r.status}`);
    const caKp = generateKey('ecdsa-p256');
    const ca = issueCertificate({
      profile: { subject: 'CN=bench serve CA', ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
      publicKey: caKp.publicKey,
      signingKey: caKp.privateKey,
    });
    const pairs = Array.from({ length: DISTINCT }, (_, i) => {
      const kp = generateKey('ecdsa-p256');
      const leaf = issueCertificate({
        profile: {
          subject: `CN=svc-${i}.${NS}.svc`,
          sans: { dns: [`svc-${i}.${NS}.svc`] },
          keyUsage: ['digitalSignature'],
          extKeyUsage: ['serverAuth'],
          validity: { days: 30 },
        },
        publicKey: kp.publicKey,
        issuer: { cert: ca, key: caKp.privateKey },
      });
      return { crt: leaf.toPem() + ca.toPem(), key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
    });
    const t0 = Date.now();
    await createSecrets(c, creds, agent, 0, N, pairs, NS);
    process.stderr.write(`serve bench: ${N} Secrets created in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${load()}\n`);
    const list = await rawList(c, creds, agent);
    process.stderr.write(`serve bench: paginated LIST ${list.toFixed(2)} s, ${load()}\n`);
    // Built after the Secrets are created (the longest part of a run), from the checkouts as they are then.
    clis.after = cliOf(join(import.meta.dirname, '..'));
    if (BEFORE) clis.before = cliOf(BEFORE);
    const runs: Record<string, Run[]> = { after: [], before: [] };
    for (let r = 0; r < RUNS; r++)
      for (const which of BEFORE ? (r % 2 === 0 ? ['before', 'after'] : ['after', 'before']) : ['after']) {
        const x = await measure(c, creds, agent, pairs, tlsSecret, clis[which as 'after' | 'before'] as Cli, `${which} ${r + 1}/${RUNS}`);
        (runs[which] as Run[]).push(x);
      }
    const name = `${N.toLocaleString('en-US')} TLS Secrets${FROM === 'sources' ? ', from the sources' : ''}`;
    const fields: [keyof Run, string, string][] = [
      ['first', 's', `serve --kubeconfig, ${name}: start to first complete inventory`],
      ['firstCpu', 's', `serve, ${name}: CPU seconds to the first complete inventory`],
      ['rssFirst', 'MiB', `serve, ${name}: RSS after the first inventory`],
      ['cpu', '%', `serve, ${name}: CPU at 10 changes/s (share of one core)`],
      ['maxRss', 'MiB', `serve, ${name}: RSS at 10 changes/s (max sampled)`],
      ['hwm', 'MiB', `serve, ${name}: peak RSS (VmHWM, whole run)`],
      ['lag', 's', `serve, ${name}: last change visible in the API after`],
    ];
    const out: BenchResult[] = [];
    const med = (xs: number[]): Stats => stats(xs);
    const spread = (st: Stats, unit: string): string => `median of ${st.runs}, min-max ${st.min.toFixed(1)}-${st.max.toFixed(1)} ${unit}`;
    for (const [k, unit, label] of fields) {
      const a = med((runs.after as Run[]).map((x) => x[k]));
      const r: BenchResult = { name: label, unit, value: a.median, spread: spread(a, unit), lowerIsBetter: true };
      if (BEFORE) {
        const b = med((runs.before as Run[]).map((x) => x[k]));
        r.baseline = { name: `the serve of ${BEFORE}`, value: b.median, spread: spread(b, unit) };
      } else if (k === 'first') r.baseline = { name: 'paginated LIST of the same Secrets, bodies dropped', value: list };
      out.push(r);
    }
    return out;
  } finally {
    agent.destroy();
    await c.stop();
    for (const x of Object.values(clis)) for (const d of x.dirs) rmSync(d, { recursive: true, force: true });
  }
}

interface Run {
  first: number;
  firstCpu: number;
  rssFirst: number;
  cpu: number;
  maxRss: number;
  hwm: number;
  lag: number;
}

type Pair = { crt: string; key: string };

/** One serve process from start to the last change seen, then stopped. */
async function measure(
  c: Cluster,
  creds: ReturnType<typeof credsOf>,
  agent: Agent,
  pairs: Pair[],
  secret: (i: number, p: Pair) => unknown,
  cli: Cli,
  label: string,
): Promise<Run> {
  const start = Date.now();
  const srv = await startCli(['serve', '--kubeconfig', c.admin, '--listen', '127.0.0.1:0', '--no-history', '--log-level', 'warn'], {
    main: cli.main,
    env: cli.env,
  });
  const pid = srv.proc.pid as number;
  try {
    // A request may time out (60 s) while the process hands the first LIST's objects over in one synchronous
    // run at a high load: that is "not ready yet", not a failed bench.
    const ready = (): Promise<boolean> =>
      api(srv.url, '/readyz').then(
        (r) => r.status === 200,
        () => false,
      );
    for (;;) {
      if (await ready()) break;
      if (Date.now() - start > 3_600_000) throw new Error('no first inventory after an hour');
      await new Promise((r) => setTimeout(r, 500));
    }
    const first = (Date.now() - start) / 1000;
    const afterFirst = procStats(pid);
    const certs = await api(srv.url, '/api/v1/certificates?limit=1').then(
      (r) => r.body.total as number,
      () => -1, // for the log line only
    );
    process.stderr.write(
      `serve bench (${label}): first inventory ${first.toFixed(1)} s (${certs} certificates), RSS ${afterFirst.rssMiB.toFixed(0)} MiB, peak ${afterFirst.hwmMiB.toFixed(0)} MiB, CPU ${afterFirst.cpuS.toFixed(0)} s, ${load()}\n`,
    );
    // Steady state: 10 changes a second (each Secret swaps to another pair).
    const cpu0 = procStats(pid).cpuS;
    const w0 = Date.now();
    let maxRss = 0;
    let changes = 0;
    let last = { i: 0, pair: 0 };
    while (Date.now() - w0 < STEADY_S * 1000) {
      const tick = Date.now();
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const i = Math.floor(Math.random() * N);
          const pair = (i + 1 + changes) % DISTINCT;
          changes++;
          last = { i, pair };
          const s = await call(
            c,
            creds,
            agent,
            'PUT',
            `/api/v1/namespaces/${NS}/secrets/tls-${i}`,
            secret(i, pairs[pair] as { crt: string; key: string }),
          );
          if (s.status !== 200) throw new Error(`update tls-${i}: HTTP ${s.status}`);
        }),
      );
      maxRss = Math.max(maxRss, procStats(pid).rssMiB);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
    }
    const window = (Date.now() - w0) / 1000;
    const cpu = (procStats(pid).cpuS - cpu0) / window;
    // The last change, visible in the API: the Secret's place under its new certificate.
    const seen = Date.now();
    const where = `${NS}/Secret/tls-${last.i}[tls.crt]`;
    for (;;) {
      const list2 = (await api(srv.url, `/api/v1/certificates?q=svc-${last.pair}.${NS}.svc&limit=10`)).body.items as { sha256: string }[];
      let found = false;
      for (const s of list2) {
        const d = (await api(srv.url, `/api/v1/certificates/${s.sha256}`)).body as { locations: { where: string }[] };
        // A chain file is positional: `…[tls.crt] [block 1 (line 1)]`.
        if (d.locations?.some((l) => l.where.startsWith(where))) found = true;
      }
      if (found || Date.now() - seen > 600_000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const lag = (Date.now() - seen) / 1000;
    const end = procStats(pid);
    process.stderr.write(
      `serve bench (${label}): steady ${changes} changes in ${window.toFixed(0)} s: CPU ${(cpu * 100).toFixed(0)}% of a core, RSS max ${maxRss.toFixed(0)} MiB, peak ${end.hwmMiB.toFixed(0)} MiB; last change visible after ${lag.toFixed(1)} s, ${load()}\n`,
    );
    return { first, firstCpu: afterFirst.cpuS, rssFirst: afterFirst.rssMiB, cpu: cpu * 100, maxRss, hwm: end.hwmMiB, lag };
  } finally {
    await srv.stop();
  }
}
