// `anchorage scan --kubeconfig` on a real API server (test/cluster/harness.ts) holding 1k, 10k and 20k
// kubernetes.io/tls Secrets plus large non-certificate Secrets, beside a plain paginated LIST of the same
// Secrets (limit/continue, bodies read and dropped: the least any scanner must do) in the same run.
// The scan is a whole process, as installed: the checkout's compiled JS (tsconfig.build.json, built into a
// `.bench-dist-*` folder inside the checkout, removed after) with Node's compile cache on, as bin/anchorage.js
// runs the published package's dist/; BENCH_SCAN_FROM=sources runs `bin/anchorage.js` on the TypeScript sources
// instead. Timed with its peak RSS by /usr/bin/time; the LIST runs in this process. At each tier the two alternate,
// BENCH_SCAN_RUNS times (default 3): median, p25-p75, min-max. BENCH_SCAN_TIERS=1000,10000 picks other sizes.
// The raw LIST is taken twice: in JSON, and in protobuf (what the scan asks Secrets in). BENCH_SCAN_BEFORE=<a
// checkout> (with node_modules) also runs that checkout's scan in the same rounds (built the same way): before
// and after side by side. Each round also runs the floor (bench/scan-floor.ts, a whole process on the same build):
// the same read with only the distinct certificates parsed, signature-checked and linted, the least of the scan's
// work any scan must do; what is between it and the raw LIST is not the scan's per-place work. And kubectl listing
// the same Secrets (`kubectl get secrets -A -o json`, output discarded): what a person runs to see them.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ProtoListStream } from '../src/kube/protobuf.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';
import { type Cluster, startCluster } from '../test/cluster/harness.ts';
import { kubeBinDir } from '../test/support/k8s.ts';
import { type BenchResult, spreadText, stats } from './harness.ts';

const root = join(import.meta.dirname, '..');
const TIERS = (process.env.BENCH_SCAN_TIERS ?? '1000,10000,20000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_SCAN_RUNS ?? 3);
const NS = 'bench-scan';
/** Distinct certificate+key pairs, cycled over the Secrets (each Secret is still fetched and parsed). */
const DISTINCT = 1000;
const LARGE = { count: 100, bytes: 256 * 1024 };
const BEFORE = process.env.BENCH_SCAN_BEFORE;
/** `dist`: each checkout's compiled JS, as the package runs (default); `sources`: bin/anchorage.js on the TypeScript. */
const FROM = process.env.BENCH_SCAN_FROM ?? 'dist';
if (FROM !== 'dist' && FROM !== 'sources') throw new Error(`BENCH_SCAN_FROM: '${FROM}' is not dist or sources`);

/** How a checkout's CLI is started: argv after node, extra environment, and what to remove afterwards. */
interface Cli {
  args: string[];
  env: NodeJS.ProcessEnv;
  dirs: string[];
}

/** Build a checkout's compiled JS inside it (so that it resolves the checkout's node_modules, as dist/ would). */
function cliOf(checkout: string): Cli {
  if (FROM === 'sources') return { args: [join(checkout, 'bin', 'anchorage.js')], env: process.env, dirs: [] };
  const compiled = mkdtempSync(join(checkout, '.bench-dist-'));
  const cache = mkdtempSync(join(tmpdir(), 'anchorage-bench-scan-cache-'));
  execFileSync(join(checkout, 'node_modules', '.bin', 'tsc'), ['-p', join(checkout, 'tsconfig.build.json'), '--outDir', compiled]);
  // bin/anchorage.js turns the compile cache on itself; the compiled main.js, run directly, gets it from the environment.
  return { args: [join(compiled, 'cli', 'main.js')], env: { ...process.env, NODE_COMPILE_CACHE: cache }, dirs: [compiled, cache] };
}

interface Creds {
  ca: string;
  cert: string;
  key: string;
}

export function credsOf(kubeconfig: string): Creds {
  const kc = parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const b = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
  return {
    ca: b(kc.clusters[0]?.cluster['certificate-authority-data']),
    cert: b(kc.users[0]?.user['client-certificate-data']),
    key: b(kc.users[0]?.user['client-key-data']),
  };
}

export function call(
  c: Cluster,
  creds: Creds,
  agent: Agent,
  method: string,
  path: string,
  body?: unknown,
  accept?: string,
): Promise<{ status: number; bytes: number; body: string; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.apiUrl}${path}`,
      { method, agent, ...creds, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(accept && { accept }) } },
      (res) => {
        let bytes = 0;
        const keep: Buffer[] = [];
        // The first 4 KiB (a protobuf list's metadata).
        let head = Buffer.alloc(0);
        res.on('data', (d: Buffer) => {
          if (head.length < 4096) head = Buffer.concat([head, d.subarray(0, 4096 - head.length)]);
          bytes += d.length;
          // The body is kept for small answers (errors, creates); a list's is dropped past its last 64 KiB.
          keep.push(d);
          while (keep.length > 1 && keep.reduce((n, x) => n + x.length, 0) - (keep[0]?.length ?? 0) > 65536) keep.shift();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body: Buffer.concat(keep).toString('utf8'), head }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body) req.end(JSON.stringify(body));
    else req.end();
  });
}

/** The bench's `kubernetes.io/tls` Secret number `i`, holding the pair `p` (scan.bench and serve.bench). */
export function tlsSecret(i: number, p: { crt: string; key: string }) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: `tls-${i}` },
    data: { 'tls.crt': Buffer.from(p.crt).toString('base64'), 'tls.key': Buffer.from(p.key).toString('base64') },
  };
}

/** Secrets `tls-<from>` to `tls-<to - 1>` in namespace `ns`, cycling `pairs`, 16 POSTs at a time. */
export async function createSecrets(
  c: Cluster,
  creds: Creds,
  agent: Agent,
  from: number,
  to: number,
  pairs: { crt: string; key: string }[],
  ns = NS,
) {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      const r = await call(
        c,
        creds,
        agent,
        'POST',
        `/api/v1/namespaces/${ns}/secrets`,
        tlsSecret(i, pairs[i % pairs.length] as { crt: string; key: string }),
      );
      if (r.status !== 201) throw new Error(`create tls-${i}: HTTP ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** The raw paginated LIST of every Secret (the scan's field selector too), bodies read and dropped. */
export async function rawList(c: Cluster, creds: Creds, _shared?: Agent, protobuf = false): Promise<number> {
  // Its own kept-alive connection: one left idle through a long scan may have been closed by the server.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const t0 = process.hrtime.bigint();
  let cont = '';
  const sel = encodeURIComponent('type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1');
  do {
    const r = await call(
      c,
      creds,
      agent,
      'GET',
      `/api/v1/secrets?limit=500&fieldSelector=${sel}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
      undefined,
      protobuf ? 'application/vnd.kubernetes.protobuf' : undefined,
    );
    if (r.status !== 200) throw new Error(`list: HTTP ${r.status}`);
    cont = protobuf ? protoContinue(r.head) : jsonContinue(r.head);
  } while (cont);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  return seconds;
}

/**
 * The `continue` token of a JSON list, from the answer's first bytes: the API server writes the list's metadata
 * before its items. (Until 2026-12-03 this was looked for in the answer's last 64 KiB, where it never is: the JSON
 * LIST baseline read only the first page.)
 */
export function jsonContinue(head: Buffer): string {
  const text = head.toString('utf8');
  const items = text.indexOf('"items":');
  const meta = items < 0 ? text : text.slice(0, items);
  return /"continue":"([^"]*)"/.exec(meta)?.[1] ?? '';
}

/** The `continue` token of a protobuf SecretList, from the answer's first bytes (ListMeta comes before the items). */
function protoContinue(head: Buffer): string {
  const s = new ProtoListStream('Secret', () => {});
  let cont = '';
  s.onHead = (h) => {
    cont = h.metadata.continue ?? '';
    throw new Error('done');
  };
  try {
    s.write(head);
  } catch (e) {
    if ((e as Error).message !== 'done') throw e;
  }
  return cont;
}

function timedScan(c: Cluster, cli: Cli, floor = false): { seconds: number; cpu: number; rssMiB: number; certificates: number } {
  // The floor (bench/scan-floor.ts) loads the same build's modules: the compiled JS, or src/ on the sources.
  const args = floor
    ? [
        join(root, 'bench', 'scan-floor.ts'),
        FROM === 'dist' ? dirname(dirname(cli.args[0] as string)) : join(root, 'src'),
        FROM === 'dist' ? '.js' : '.ts',
        c.admin,
      ]
    : [...cli.args, 'scan', '--kubeconfig', c.admin, '-o', 'json'];
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M %U %S', process.execPath, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: cli.env,
  });
  const m = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (!m || (r.status !== 0 && r.status !== 1))
    throw new Error(`${floor ? 'floor' : 'scan'} failed (${r.status}): ${r.stderr.slice(0, 500)}`);
  const report = JSON.parse(r.stdout) as { summary: { certificates: number } };
  return {
    seconds: Number(m[1]),
    cpu: Number(m[3]) + Number(m[4]),
    rssMiB: Number(m[2]) / 1024,
    certificates: report.summary.certificates,
  };
}

/**
 * `kubectl get secrets -A -o json` with the scan's field selector, output discarded: what a person runs to list the
 * same Secrets (kubectl pages them by 500 too, decodes them and prints them), timed as a whole process.
 */
function timedKubectl(c: Cluster, kubectl: string): { seconds: number; cpu: number; rssMiB: number } {
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      'BENCH %e %M %U %S',
      kubectl,
      '--kubeconfig',
      c.admin,
      'get',
      'secrets',
      '-A',
      '-o',
      'json',
      '--field-selector',
      'type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1',
    ],
    { encoding: 'buffer', maxBuffer: 1 << 30, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr = r.stderr.toString('utf8');
  const m = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!m || r.status !== 0) throw new Error(`kubectl failed (${r.status}): ${stderr.slice(0, 500)}`);
  return { seconds: Number(m[1]), cpu: Number(m[3]) + Number(m[4]), rssMiB: Number(m[2]) / 1024 };
}

export async function run(): Promise<BenchResult[]> {
  const clis: Cli[] = [];
  const c = await startCluster();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const now = cliOf(root);
    clis.push(now);
    const before = BEFORE ? cliOf(BEFORE) : undefined;
    if (before) clis.push(before);
    const creds = credsOf(c.admin);
    const kubectl = join(await kubeBinDir(), 'kubectl');
    const r = await call(c, creds, agent, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    if (r.status !== 201) throw new Error(`namespace: HTTP ${r.status}`);
    const caKp = generateKey('ecdsa-p256');
    const ca = issueCertificate({
      profile: { subject: 'CN=bench CA', ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
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
    // Large Secrets that hold no certificate: the LIST carries them, the scan drops them.
    const blob = Buffer.alloc(LARGE.bytes, 'x').toString('base64');
    for (let i = 0; i < LARGE.count; i++) {
      const s = await call(c, creds, agent, 'POST', `/api/v1/namespaces/${NS}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `blob-${i}` },
        data: { payload: blob },
      });
      if (s.status !== 201) throw new Error(`blob-${i}: HTTP ${s.status}`);
    }
    const out: BenchResult[] = [];
    let have = 0;
    for (const n of TIERS) {
      await createSecrets(c, creds, agent, have, n, pairs);
      have = n;
      // A warm-up of each (the compile cache, the API server's watch cache), then RUNS alternating rounds.
      await rawList(c, creds, agent);
      await rawList(c, creds, agent, true);
      timedScan(c, now);
      timedScan(c, now, true);
      timedKubectl(c, kubectl);
      if (before) timedScan(c, before);
      const lists: number[] = [];
      const protoLists: number[] = [];
      const scans: ReturnType<typeof timedScan>[] = [];
      const befores: ReturnType<typeof timedScan>[] = [];
      const floors: ReturnType<typeof timedScan>[] = [];
      const kubectls: ReturnType<typeof timedKubectl>[] = [];
      for (let r = 0; r < RUNS; r++) {
        lists.push(await rawList(c, creds, agent));
        protoLists.push(await rawList(c, creds, agent, true));
        floors.push(timedScan(c, now, true));
        kubectls.push(timedKubectl(c, kubectl));
        // Alternate which scan goes first.
        if (before && r % 2 === 1) befores.push(timedScan(c, before));
        scans.push(timedScan(c, now));
        if (before && r % 2 === 0) befores.push(timedScan(c, before));
      }
      const wall = stats(scans.map((x) => x.seconds));
      const cpu = stats(scans.map((x) => x.cpu));
      const rss = stats(scans.map((x) => x.rssMiB));
      const list = stats(lists);
      const plist = stats(protoLists);
      const line = (what: string, xs: ReturnType<typeof timedScan>[]): string => {
        const w = stats(xs.map((x) => x.seconds));
        const u = stats(xs.map((x) => x.cpu));
        const m = stats(xs.map((x) => x.rssMiB));
        return `${what} ${n}: ${w.median.toFixed(2)} s (${spreadText(w, 's', 2)}), CPU ${u.median.toFixed(2)} s (${spreadText(u, 's', 2)}), ${m.median.toFixed(0)} MiB peak RSS (max ${m.max.toFixed(0)}), ${xs[0]?.certificates} certificates`;
      };
      process.stderr.write(
        `${line('scan', scans)}; raw LIST ${list.median.toFixed(2)} s (${spreadText(list, 's', 2)}), in protobuf ${plist.median.toFixed(2)} s (${spreadText(plist, 's', 2)})\n`,
      );
      process.stderr.write(`${line('floor (bench/scan-floor.ts)', floors)}\n`);
      const kw = stats(kubectls.map((x) => x.seconds));
      const kc = stats(kubectls.map((x) => x.cpu));
      process.stderr.write(
        `kubectl get secrets -A -o json ${n}: ${kw.median.toFixed(2)} s (${spreadText(kw, 's', 2)}), CPU ${kc.median.toFixed(2)} s, ${stats(kubectls.map((x) => x.rssMiB)).median.toFixed(0)} MiB peak RSS\n`,
      );
      if (BEFORE) process.stderr.write(`${line(`before (${BEFORE})`, befores)}\n`);
      const name = `${n.toLocaleString('en-US')} TLS Secrets + ${LARGE.count} x ${LARGE.bytes / 1024} KiB opaque Secrets`;
      out.push({
        name: `paginated LIST of the same Secrets in protobuf, bodies dropped, ${name}`,
        unit: 's',
        value: plist.median,
        spread: spreadText(plist, 's', 2),
        baseline: { name: 'the same LIST in JSON', value: list.median, spread: spreadText(list, 's', 2) },
        lowerIsBetter: true,
      });
      if (BEFORE)
        for (const [what, f, unit] of [
          ['CPU time (user + system)', (x: ReturnType<typeof timedScan>) => x.cpu, 's'],
          ['peak RSS', (x: ReturnType<typeof timedScan>) => x.rssMiB, 'MiB'],
        ] as const) {
          const a = stats(scans.map(f));
          const b = stats(befores.map(f));
          out.push({
            name: `scan --kubeconfig, ${name}: ${what}, this checkout against BENCH_SCAN_BEFORE`,
            unit,
            value: a.median,
            spread: spreadText(a, unit, 2),
            baseline: { name: `the scan of ${BEFORE}`, value: b.median, spread: spreadText(b, unit, 2) },
            lowerIsBetter: true,
          });
        }
      out.push({
        name: `scan --kubeconfig, ${name} (whole process)`,
        unit: 's',
        value: wall.median,
        spread: spreadText(wall, 's', 2),
        baseline: { name: 'paginated LIST of the same Secrets, bodies dropped', value: list.median, spread: spreadText(list, 's', 2) },
        lowerIsBetter: true,
      });
      const floor = stats(floors.map((x) => x.seconds));
      out.push({
        name: `the floor under the scan (bench/scan-floor.ts: the same read, each value hashed, only the distinct certificates parsed, signature-checked and linted), ${name} (whole process)`,
        unit: 's',
        value: floor.median,
        spread: spreadText(floor, 's', 2),
        baseline: { name: 'paginated LIST of the same Secrets, bodies dropped', value: list.median, spread: spreadText(list, 's', 2) },
        lowerIsBetter: true,
      });
      out.push({
        name: `scan --kubeconfig, ${name} (whole process), beside kubectl listing the same Secrets`,
        unit: 's',
        value: wall.median,
        spread: spreadText(wall, 's', 2),
        baseline: {
          name: 'kubectl get secrets -A -o json (the same field selector, output discarded)',
          value: kw.median,
          spread: spreadText(kw, 's', 2),
        },
        lowerIsBetter: true,
      });
      out.push({
        name: `scan --kubeconfig, ${name}: CPU time (user + system) of the scan process`,
        unit: 's',
        value: cpu.median,
        spread: spreadText(cpu, 's', 2),
        lowerIsBetter: true,
      });
      out.push({
        name: `scan --kubeconfig, ${name}: peak RSS`,
        unit: 'MiB',
        value: rss.median,
        spread: spreadText(rss, 'MiB'),
        lowerIsBetter: true,
      });
    }
    return out;
  } finally {
    agent.destroy();
    await c.stop();
    for (const d of clis.flatMap((x) => x.dirs)) rmSync(d, { recursive: true, force: true });
  }
}
