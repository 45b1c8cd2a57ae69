// The admission webhook (`anchorage webhook`, its own process, out of cluster) on the test harness's real API server:
// 1. latency of AdmissionReviews sent open-loop at 500/s over keep-alive HTTPS, with real bodies (the pod is what the
//    API server itself produced for a server-side dry run, wrapped as the API server wraps it): trust only, and
//    trust + identity (the annotation asks for one; the certificate is issued after admission, by the leader);
//    Beside each figure, its peer in the same run at the same rate on the same cores: the same mutation served
//    by a Go webhook (bench/go/webhook.go: net/http over crypto/tls and encoding/json, what a controller-runtime
//    webhook is underneath), the rounds interleaved (Anchorage, Go, Anchorage, Go, …) so a burst of load from
//    elsewhere falls on both; each figure says whether the issue's goal (p99 < 2 ms trust, < 5 ms identity) is met;
// 2. an identity certificate issued (ECDSA P-256 key + signature), in this process;
// 3. pod creation through the API server with and without the webhook registered, same cluster, same run.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { KubeClient, resourcePath } from '../src/kube/client.ts';
import { issueLeaf, keyPem, newCa } from '../src/webhook/certs.ts';
import { freePort, startCluster, waitFor } from '../test/cluster/harness.ts';
import type { MeterReading } from './gc-meter.ts';
import { type BenchResult, stats } from './harness.ts';
import { treeAt } from './tree-at.ts';
import { benchPod, reviewBodies } from './webhook-bodies.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const RATE = Number(process.env.BENCH_WEBHOOK_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 10);
const PODS = Number(process.env.BENCH_WEBHOOK_PODS ?? 200);
/**
 * Seconds each open-loop run first sends at the same rate, untimed, over the same client (Go load generator
 * only): the timed requests then go over connections already open, as an API server's go over its pooled
 * connections to a webhook. Before 2026-12-03 every 10 s run began on a new client with a burst of TLS
 * handshakes; what a new connection costs is now its own row. 0 brings the old runs back.
 */
const WARM = Number(process.env.BENCH_WEBHOOK_WARM ?? 1);
/** New TLS connections per side for the handshake row. */
const HANDSHAKES = Number(process.env.BENCH_WEBHOOK_HANDSHAKES ?? 300);
/** Child processes to stop at the end (the Go peer, the standalone webhook). */
const children = new Set<ChildProcess>();
/** Interleaved rounds of each open-loop figure (each SECONDS long), per side. */
const ROUNDS = Number(process.env.BENCH_WEBHOOK_ROUNDS ?? 3);
/** Node's flags for the webhook in production (deploy/webhook/deployment.yaml, the chart's webhook Deployment). */
const WEBHOOK_NODE_FLAGS = '--min-semi-space-size=16';

/** User + system CPU seconds of a live process. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};

/**
 * Who sends the open-loop load: `go` (default), the Go peer's `load` (bench/go/load.go: one goroutine per request,
 * sent at its due time); `node`, this process. A load generator must not be what limits the latency it times: in
 * this process, its own event-loop turns and collections sat inside every figure, for the Go webhook as for ours.
 */
const CLIENT = process.env.BENCH_WEBHOOK_CLIENT ?? 'go';

let peerBinPath: string | undefined;
/** The Go peers' binary (bench/go/build.sh, built once into the cache). */
function peerBinary(): string {
  peerBinPath ??= execFileSync('bash', [join(ROOT, 'bench', 'go', 'build.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1) as string;
  return peerBinPath;
}

let loadDir: string | undefined;
/** A file holding `text` for the Go load generator (one per distinct text). */
function loadFile(text: string): string {
  loadDir ??= mkdtempSync(join(tmpdir(), 'webhook-load-'));
  const f = join(loadDir, createHash('sha256').update(text).digest('hex').slice(0, 16));
  if (!existsSync(f)) writeFileSync(f, text);
  return f;
}

/** Open loop: `rate` requests/s for `seconds`, each timed from its send to its answer. */
async function load(
  url: string,
  ca: string,
  bodies: string[],
  rate: number,
  seconds: number,
): Promise<{ ms: number[]; errors: number; achieved: number; warmed: number }> {
  if (CLIENT === 'node') return { ...(await loadNode(url, ca, bodies, rate, seconds)), warmed: 0 };
  const { stdout } = await promisify(execFile)(
    peerBinary(),
    ['load', ...(WARM > 0 ? [`--warm=${WARM}`] : []), url, loadFile(ca), String(rate), String(seconds), ...bodies.map(loadFile)],
    { maxBuffer: 256 << 20 },
  );
  const r = JSON.parse(stdout) as { us: number[]; errors: number; achieved: number; warmed: number };
  return { ms: r.us.map((us) => us / 1000), errors: r.errors, achieved: r.achieved, warmed: r.warmed };
}

/** The same open loop sent from this process (`BENCH_WEBHOOK_CLIENT=node`). */
async function loadNode(
  url: string,
  ca: string,
  bodies: string[],
  rate: number,
  seconds: number,
): Promise<{ ms: number[]; errors: number; achieved: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca });
  const ms: number[] = [];
  let errors = 0;
  const total = rate * seconds;
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = bodies[i % bodies.length] as string;
    inflight.push(
      new Promise<void>((resolve) => {
        const s = performance.now();
        const req = request(
          url,
          { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => {
              const ok =
                res.statusCode === 200 &&
                (JSON.parse(Buffer.concat(chunks).toString()) as { response?: { patch?: string } }).response?.patch;
              if (ok) ms.push(performance.now() - s);
              else errors++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end(body);
      }),
    );
  }
  await Promise.all(inflight);
  const achieved = total / ((performance.now() - t0) / 1000);
  agent.destroy();
  return { ms, errors, achieved };
}

async function closedLoop(url: string, ca: string, bodies: string[], n: number, keep = false): Promise<{ ms: number[]; patch: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  const ms: number[] = [];
  let patch = '';
  for (let i = 0; i < n; i++) {
    const body = bodies[i % bodies.length] as string;
    const s = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => {
            if (keep) chunks.push(d);
          });
          res.on('end', () => {
            if (keep) {
              const p = (JSON.parse(Buffer.concat(chunks).toString()) as { response?: { patch?: string } }).response?.patch ?? '';
              patch = Buffer.from(p, 'base64').toString();
            }
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    ms.push(performance.now() - s);
  }
  agent.destroy();
  return { ms, patch };
}

/** One Anchorage webhook under test: this tree's, or BENCH_WEBHOOK_BEFORE's beside it. */
interface Side {
  /** '' for this tree, else ` [before: <rev>]` (appended to each figure's name). */
  label: string;
  url: string;
  caPem: string;
  /** The webhook process (for its CPU). */
  pid: number;
  /** Its bench/gc-meter-preload.ts output file (per-admission allocation and collections). */
  meter: string;
}

/**
 * The node arguments of a webhook process: the in-process meter (bench/gc-meter-preload.ts) writing to `file`, and
 * node's own flags: BENCH_WEBHOOK_NODE_FLAGS for this tree's webhook (default: what deploy/webhook/deployment.yaml
 * and the chart run it with, WEBHOOK_NODE_FLAGS), BENCH_WEBHOOK_BEFORE_NODE_FLAGS for BENCH_WEBHOOK_BEFORE's
 * (default: none, as before there were any). Space-separated.
 */
const meterArgs = (file: string, before = false): { args: string[]; env: NodeJS.ProcessEnv } => {
  const flags =
    (before ? process.env.BENCH_WEBHOOK_BEFORE_NODE_FLAGS : process.env.BENCH_WEBHOOK_NODE_FLAGS) ?? (before ? '' : WEBHOOK_NODE_FLAGS);
  return {
    args: [...flags.split(' ').filter(Boolean), '--import', pathToFileURL(join(ROOT, 'bench', 'gc-meter-preload.ts')).href],
    env: { ...process.env, GC_METER_OUT: file },
  };
};

/** The meter's figures since its last reading: SIGUSR2 to the process, then its new line in the file. */
async function readMeter(side: Side): Promise<MeterReading | undefined> {
  const before = existsSync(side.meter) ? readFileSync(side.meter, 'utf8').length : 0;
  process.kill(side.pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const text = existsSync(side.meter) ? readFileSync(side.meter, 'utf8') : '';
    if (text.length > before && text.endsWith('\n')) return JSON.parse(text.slice(before)) as MeterReading;
  }
  return undefined;
}

/**
 * The AdmissionReview latency figures at RATE/s (open loop, ROUNDS interleaved rounds per side) and one at a
 * time, each beside the Go peer serving the same mutation. `sides`: this tree's webhook, and with
 * BENCH_WEBHOOK_BEFORE another revision's, their rounds interleaved with the Go peer's (this, before, Go, ...).
 */
async function versusPeer(o: {
  sides: Side[];
  dir: string;
  trustBodies: string[];
  identityBodies: string[];
  out: BenchResult[];
}): Promise<void> {
  const { sides, dir, trustBodies, identityBodies, out } = o;
  const { url, caPem } = sides[0] as Side;
  // The Go peer: the same mutation, its own serving certificate for 127.0.0.1.
  const peerBin = peerBinary();
  const peerCa = newCa('Bench Go webhook CA', 86400);
  const peerLeaf = issueLeaf(peerCa, { commonName: '127.0.0.1', ip: ['127.0.0.1'], eku: ['serverAuth'], seconds: 86400 });
  writeFileSync(join(dir, 'peer.crt'), peerLeaf.cert.toPem());
  writeFileSync(join(dir, 'peer.key'), keyPem(peerLeaf.key as NonNullable<typeof peerLeaf.key>), { mode: 0o600 });
  const peerPort = await freePort();
  const peerProc = spawn(peerBin, ['webhook', join(dir, 'peer.crt'), join(dir, 'peer.key'), String(peerPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(peerProc);
  await new Promise<void>((ok, fail) => {
    peerProc.stdout?.once('data', () => ok());
    peerProc.once('exit', (code) => fail(new Error(`Go webhook peer exited ${code}`)));
  });
  const peerUrl = `https://127.0.0.1:${peerPort}/mutate`;
  const peerCaPem = peerCa.cert.toPem();
  // Same answer from all (the patch applies the same operations, the identity Secret's random name aside); the
  // sides of this repository answer the same bytes.
  for (const b of [trustBodies[0], identityBodies[0]] as string[]) {
    const ours = await closedLoop(url, caPem, [b], 1, true);
    const theirs = await closedLoop(peerUrl, peerCaPem, [b], 1, true);
    const norm = (x: string) =>
      JSON.stringify(
        JSON.parse(x)
          .map((o: { path: string }) => o.path)
          .sort(),
      );
    if (norm(ours.patch) !== norm(theirs.patch)) throw new Error(`the Go peer's patch differs: ${ours.patch} vs ${theirs.patch}`);
    for (const s of sides.slice(1)) {
      const other = await closedLoop(s.url, s.caPem, [b], 1, true);
      const bare = (x: string) => x.replace(/identity-[0-9a-f]{12}/g, '');
      if (bare(other.patch) !== bare(ours.patch)) throw new Error(`the${s.label} webhook's patch differs: ${other.patch} vs ${ours.patch}`);
    }
  }

  // Warm-up (JIT, TLS sessions) of all, then the measured runs, interleaved.
  for (const s of sides) {
    await load(s.url, s.caPem, trustBodies, RATE, 5);
    await load(s.url, s.caPem, identityBodies, RATE, 2);
  }
  await load(peerUrl, peerCaPem, trustBodies, RATE, 3);
  const goalText = (p99: number, goal: number) => `goal p99 < ${goal} ms: ${p99 < goal ? 'met' : 'NOT met'}`;
  for (const [what, bodies, goal] of [
    ['trust', trustBodies, 2],
    ['trust + identity', identityBodies, 5],
  ] as const) {
    const per = sides.map(() => ({
      ms: [] as number[],
      errors: 0,
      cpu: 0,
      served: 0,
      rates: [] as number[],
      allocated: 0,
      young: 0,
      youngMs: 0,
      youngMax: 0,
      other: 0,
    }));
    const theirs: number[] = [];
    let peerErrors = 0;
    const peerRates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, s] of sides.entries()) {
        const m = per[i] as (typeof per)[number];
        await readMeter(s);
        const cpu0 = cpuSeconds(s.pid);
        const a = await load(s.url, s.caPem, bodies, RATE, SECONDS);
        m.cpu += cpuSeconds(s.pid) - cpu0;
        const g = await readMeter(s);
        if (g) {
          m.allocated += g.allocated;
          m.young += g.young;
          m.youngMs += g.youngMs;
          m.youngMax = Math.max(m.youngMax, g.youngMaxMs);
          m.other += g.other;
        }
        // The process's CPU and the meter also cover the untimed warm-up's requests.
        m.served += a.ms.length + a.errors + a.warmed;
        m.ms.push(...a.ms);
        m.errors += a.errors;
        m.rates.push(a.achieved);
      }
      const b = await load(peerUrl, peerCaPem, bodies, RATE, SECONDS);
      theirs.push(...b.ms);
      peerErrors += b.errors;
      peerRates.push(b.achieved);
    }
    const size = Buffer.byteLength(bodies[0] as string);
    const min = (xs: number[]) => Math.min(...xs).toFixed(0);
    for (const [i, s] of sides.entries()) {
      const m = per[i] as (typeof per)[number];
      const p99 = pct(m.ms, 0.99);
      const n = m.served || 1;
      out.push({
        name: `AdmissionReview (${what}, ${size} B body) at ${RATE}/s, ${ROUNDS} x ${SECONDS} s${CLIENT === 'go' && WARM > 0 ? ` after ${WARM} s untimed on the same connections` : ''}: p99 (${goalText(p99, goal)})${s.label}`,
        unit: 'ms',
        value: p99,
        spread:
          `p50 ${pct(m.ms, 0.5).toFixed(2)} ms, webhook CPU ${((m.cpu * 1000) / n).toFixed(3)} ms per admission, ` +
          `${(m.allocated / n / 1024).toFixed(1)} KiB allocated per admission, ${((m.young * 1000) / n).toFixed(1)} young collections per 1000 ` +
          `(${((m.youngMs * 1000) / n).toFixed(1)} ms of pauses per 1000, largest ${m.youngMax.toFixed(2)} ms; ${m.other} other collections), ` +
          `max ${Math.max(...m.ms).toFixed(1)} ms, ${m.ms.length} answered, ${m.errors} errors, achieved >= ${min(m.rates)}/s, load average ${loadavg()[0]?.toFixed(0)}`,
        baseline: {
          name: 'the same mutation by a Go webhook (net/http, encoding/json), same rate, interleaved',
          value: pct(theirs, 0.99),
          spread: `p50 ${pct(theirs, 0.5).toFixed(2)} ms, ${theirs.length} answered, ${peerErrors} errors, achieved >= ${min(peerRates)}/s`,
        },
        lowerIsBetter: true,
      });
    }
  }

  // Closed loop, one request in flight: the service time without queueing behind other requests.
  for (const [what, bodies, goal] of [
    ['trust', trustBodies, 2],
    ['trust + identity', identityBodies, 5],
  ] as const) {
    const per = sides.map(() => [] as number[]);
    const theirs: number[] = [];
    for (let r = 0; r < 4; r++) {
      for (const [i, s] of sides.entries()) (per[i] as number[]).push(...(await closedLoop(s.url, s.caPem, bodies, 500)).ms);
      theirs.push(...(await closedLoop(peerUrl, peerCaPem, bodies, 500)).ms);
    }
    for (const [i, s] of sides.entries()) {
      const ours = per[i] as number[];
      const p99 = pct(ours, 0.99);
      out.push({
        name: `AdmissionReview (${what}), one at a time: p99 (a diagnostic: the goal, ${goal} ms, is at ${RATE}/s)${s.label}`,
        unit: 'ms',
        value: p99,
        spread: `p50 ${pct(ours, 0.5).toFixed(2)} ms, ${ours.length} requests, load average ${loadavg()[0]?.toFixed(0)}`,
        baseline: { name: 'the Go webhook, interleaved', value: pct(theirs, 0.99), spread: `p50 ${pct(theirs, 0.5).toFixed(2)} ms` },
        lowerIsBetter: true,
      });
    }
  }

  // A new connection: the webhook process's CPU for one TLS handshake, HANDSHAKES in a row per side, in two
  // interleaved halves. The client is this process's Node (OpenSSL 3.5: X25519MLKEM768 first, as the API
  // server's Go client offers); the open-loop rows above go over connections already open.
  if (HANDSHAKES > 0) {
    const handshakes = async (url: string, ca: string, pid: number, n: number): Promise<{ cpu: number; ms: number[] }> => {
      const { hostname, port } = new URL(url);
      const ms: number[] = [];
      const c0 = cpuSeconds(pid);
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await new Promise<void>((ok, fail) => {
          const sock = tlsConnect({ host: hostname, port: Number(port), ca }, () => {
            ms.push(performance.now() - t);
            sock.destroy();
            ok();
          });
          sock.once('error', fail);
        });
      }
      return { cpu: cpuSeconds(pid) - c0, ms };
    };
    const half = Math.ceil(HANDSHAKES / 2);
    const per = sides.map(() => ({ cpu: 0, ms: [] as number[] }));
    const theirs = { cpu: 0, ms: [] as number[] };
    for (let r = 0; r < 2; r++) {
      for (const [i, s] of sides.entries()) {
        const h = await handshakes(s.url, s.caPem, s.pid, half);
        (per[i] as (typeof per)[number]).cpu += h.cpu;
        (per[i] as (typeof per)[number]).ms.push(...h.ms);
      }
      const g = await handshakes(peerUrl, peerCaPem, peerProc.pid as number, half);
      theirs.cpu += g.cpu;
      theirs.ms.push(...g.ms);
    }
    for (const [i, s] of sides.entries()) {
      const h = per[i] as (typeof per)[number];
      out.push({
        name: `new TLS connection (full handshake, ECDSA P-256 serving key): webhook CPU per handshake${s.label}`,
        unit: 'ms',
        value: (h.cpu * 1000) / h.ms.length,
        spread: `${h.ms.length} handshakes, p50 ${pct(h.ms, 0.5).toFixed(2)} ms to connect`,
        baseline: {
          name: 'the Go webhook (crypto/tls), interleaved',
          value: (theirs.cpu * 1000) / theirs.ms.length,
          spread: `p50 ${pct(theirs.ms, 0.5).toFixed(2)} ms to connect`,
        },
        lowerIsBetter: true,
      });
    }
  }
}

export async function run(): Promise<BenchResult[]> {
  if (process.env.BENCH_WEBHOOK_STANDALONE === '1') return standalone();
  const cluster = await startCluster();
  const dir = mkdtempSync(join(tmpdir(), 'webhook-bench-'));
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.admin);
  const client = new KubeClient(kc, { qps: 0, maxSockets: 16 });
  let proc: ChildProcess | undefined;
  const out: BenchResult[] = [];
  try {
    for (const ns of ['anchorage', 'bench']) cluster.kubectl(['create', 'namespace', ns]);
    await waitFor('bench/default SA', () => cluster.kubectl(['get', 'sa', '-n', 'bench', 'default']).code === 0, 60_000);
    const ca = newCa('Bench Identity CA', 86400);
    writeFileSync(join(dir, 'ca.crt'), ca.cert.toPem());
    writeFileSync(join(dir, 'ca.key'), ca.key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    cluster.kubectl([
      'create',
      'secret',
      'tls',
      'identity-ca',
      '-n',
      'anchorage',
      `--cert=${join(dir, 'ca.crt')}`,
      `--key=${join(dir, 'ca.key')}`,
    ]);
    writeFileSync(
      join(dir, 'config.yaml'),
      stringify({ identity: { issuer: { secret: { namespace: 'anchorage', name: 'identity-ca' } } } }),
    );
    // A real pod as the API server hands it to a mutating webhook: defaulted (server-side dry run).
    const podYaml = (annotations: Record<string, string>) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'web-7d4b9c8f5-',
          namespace: 'bench',
          labels: { app: 'web', 'pod-template-hash': '7d4b9c8f5' },
          annotations,
        },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'registry.invalid/web:1.2.3',
              ports: [{ containerPort: 8080 }],
              env: [{ name: 'MODE', value: 'prod' }],
              resources: { requests: { cpu: '100m', memory: '128Mi' } },
            },
            { name: 'proxy', image: 'registry.invalid/proxy:2', args: ['--port=9090'] },
          ],
          initContainers: [{ name: 'migrate', image: 'registry.invalid/migrate:1' }],
        },
      });
    const dry = (annotations: Record<string, string>) => {
      writeFileSync(join(dir, 'pod.yaml'), podYaml(annotations));
      const d = cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', join(dir, 'pod.yaml')]);
      if (d.code !== 0) throw new Error(`dry run: ${d.stderr}`);
      return JSON.parse(d.stdout) as Record<string, unknown>;
    };
    const trustBodies = reviewBodies(dry({}));
    const identityBodies = reviewBodies(dry({ 'identity.anchorage.dev/enabled': 'true' }));

    // `anchorage webhook` from `root` (this tree, or BENCH_WEBHOOK_BEFORE's), with the in-process meter, its own
    // serving CA Secret and ports; resolves once it is ready.
    const startWebhook = async (root: string, label: string, caSecret: string): Promise<{ proc: ChildProcess; side: Side }> => {
      const [port, healthPort] = await Promise.all([freePort(), freePort()]);
      const tag = caSecret.replace(/[^a-z0-9]+/g, '-');
      const fd = openSync(join(dir, `${tag}.log`), 'a');
      const meter = join(dir, `${tag}.meter`);
      const m = meterArgs(meter, root !== ROOT);
      const p = spawn(
        NODE,
        [
          ...m.args,
          join(root, 'src', 'cli', 'main.ts'),
          'webhook',
          '--kubeconfig',
          cluster.admin,
          '--config',
          join(dir, 'config.yaml'),
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--serving-name',
          '127.0.0.1',
          '--health-host',
          '127.0.0.1',
          '--health-port',
          String(healthPort),
          '--ca-secret',
          caSecret,
          '--no-leader-elect',
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', fd, fd], env: m.env },
      );
      closeSync(fd);
      await waitFor(`webhook${label} ready`, async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200, 120_000);
      const caPem = Buffer.from(
        JSON.parse(cluster.kubectl(['get', 'secret', '-n', 'anchorage', caSecret, '-o', 'json']).stdout).data['ca.crt'],
        'base64',
      ).toString();
      return { proc: p, side: { label, url: `https://127.0.0.1:${port}/mutate`, caPem, pid: p.pid as number, meter } };
    };
    const main = await startWebhook(ROOT, '', 'anchorage-webhook-ca');
    proc = main.proc;
    const { url, caPem } = main.side;
    const sides = [main.side];
    const before = process.env.BENCH_WEBHOOK_BEFORE;
    if (before) {
      const b = await startWebhook(treeAt(before), ` [before: ${before}]`, 'anchorage-webhook-ca-before');
      children.add(b.proc);
      sides.push(b.side);
    }

    await versusPeer({ sides, dir, trustBodies, identityBodies, out });
    // The earlier revision's webhook stops here: the pod-create figures are this tree's alone.
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');

    // An identity certificate: ECDSA P-256 key pair + signature, as the leader issues it.
    const ca2 = newCa('Bench CA', 86400);
    const t: number[] = [];
    for (let i = 0; i < 500; i++) {
      const s = performance.now();
      issueLeaf(ca2, {
        commonName: `web-${i}`,
        dns: ['web', 'web.bench', 'web.bench.svc', 'web.bench.svc.cluster.local'],
        uri: ['spiffe://cluster.local/ns/bench/sa/default'],
        eku: ['serverAuth', 'clientAuth'],
        seconds: 86400,
      });
      t.push(performance.now() - s);
    }
    out.push({
      name: 'identity certificate issued (ECDSA P-256 key + signature, in process): p99',
      unit: 'ms',
      value: pct(t, 0.99),
      spread: `p50 ${pct(t, 0.5).toFixed(2)} ms, 500 certificates`,
      lowerIsBetter: true,
    });

    // Pod creation through the API server, without then with the webhook registered.
    const create = async (label: string): Promise<number[]> => {
      const ms: number[] = [];
      const body = dry({});
      for (let i = 0; i < PODS; i++) {
        const p = structuredClone(body) as { metadata: Record<string, unknown> };
        p.metadata = { name: `${label}-${i}`, namespace: 'bench', labels: { app: 'web' } };
        const s = performance.now();
        await client.request(
          'POST',
          resourcePath({ group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true }, 'bench'),
          p,
        );
        ms.push(performance.now() - s);
      }
      return ms;
    };
    const without = await create('plain');
    const reg = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'anchorage-webhook' },
      webhooks: [
        {
          name: 'pods.webhook.anchorage.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          timeoutSeconds: 5,
          clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'anchorage'] }],
          },
        },
      ],
    };
    await client.request('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', reg);
    // Wait until the API server calls it (its webhook configuration cache is eventually consistent).
    let n = 0;
    await waitFor(
      'the API server calls the webhook',
      async () => {
        const r = await client.request<{ metadata: { annotations?: Record<string, string> } }>(
          'POST',
          resourcePath({ group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true }, 'bench'),
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: `probe-${n++}`, namespace: 'bench' },
            spec: { containers: [{ name: 'c', image: 'x' }] },
          },
        );
        return r.body.metadata.annotations?.['trust.anchorage.dev/injected'] === 'default';
      },
      60_000,
      200,
    );
    const withWebhook = await create('hooked');
    const a = stats(withWebhook);
    const b = stats(without);
    out.push({
      name: `pod create through the API server, median (${PODS} pods each, sequential)`,
      unit: 'ms',
      value: a.median,
      spread: `p99 ${pct(withWebhook, 0.99).toFixed(1)} ms`,
      baseline: { name: 'without the webhook', value: b.median, spread: `p99 ${pct(without, 0.99).toFixed(1)} ms` },
      lowerIsBetter: true,
    });
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    if (proc && proc.exitCode === null) {
      const p = proc;
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    client.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
    if (loadDir) rmSync(loadDir, { recursive: true, force: true });
    loadDir = undefined;
  }
  return out;
}

/**
 * Without a control plane (BENCH_WEBHOOK_STANDALONE=1; for a machine where the Kubernetes binaries are not built):
 * the admission path alone (bench/webhook-standalone.ts: node:https and review(), as `anchorage webhook` answers)
 * beside the Go peer, with the bench's pod written out as the API server defaults it. No pod-create figures.
 */
async function standalone(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'webhook-bench-'));
  const out: BenchResult[] = [];
  try {
    const ca = newCa('Bench webhook CA', 86400);
    const leaf = issueLeaf(ca, { commonName: '127.0.0.1', ip: ['127.0.0.1'], eku: ['serverAuth'], seconds: 86400 });
    writeFileSync(join(dir, 'tls.crt'), leaf.cert.toPem());
    writeFileSync(join(dir, 'tls.key'), keyPem(leaf.key as NonNullable<typeof leaf.key>), { mode: 0o600 });
    const start = async (root: string, label: string): Promise<Side> => {
      const port = await freePort();
      const meter = join(dir, `standalone${sidesMade++}.meter`);
      const m = meterArgs(meter, root !== ROOT);
      const p = spawn(
        NODE,
        [...m.args, join(ROOT, 'bench', 'webhook-standalone.ts'), join(dir, 'tls.crt'), join(dir, 'tls.key'), String(port)],
        { stdio: ['ignore', 'pipe', 'inherit'], env: { ...m.env, WEBHOOK_STANDALONE_ROOT: root } },
      );
      children.add(p);
      await new Promise<void>((ok, fail) => {
        p.stdout?.once('data', () => ok());
        p.once('exit', (code) => fail(new Error(`standalone webhook exited ${code}`)));
      });
      return { label, url: `https://127.0.0.1:${port}/mutate`, caPem: ca.cert.toPem(), pid: p.pid as number, meter };
    };
    let sidesMade = 0;
    const sides = [await start(ROOT, '')];
    const before = process.env.BENCH_WEBHOOK_BEFORE;
    if (before) sides.push(await start(treeAt(before), ` [before: ${before}]`));
    await versusPeer({
      sides,
      dir,
      trustBodies: reviewBodies(benchPod({})),
      identityBodies: reviewBodies(benchPod({ 'identity.anchorage.dev/enabled': 'true' })),
      out,
    });
    for (const r of out) r.name = `${r.name} [standalone: review() behind node:https, no control plane]`;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    if (loadDir) rmSync(loadDir, { recursive: true, force: true });
    loadDir = undefined;
  }
  return out;
}
