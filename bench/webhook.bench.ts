// The admission webhook (`anchorage webhook`, its own process, out of cluster) on the test harness's real API server:
// 1. latency of AdmissionReviews sent open-loop at 500/s over keep-alive HTTPS, with real bodies (the pod is what the
//    API server itself produced for a server-side dry run, wrapped as the API server wraps it): trust only, and
//    trust + identity (the annotation asks for one; the certificate is issued after admission, by the leader);
// 2. an identity certificate issued (ECDSA P-256 key + signature), in this process;
// 3. pod creation through the API server with and without the webhook registered, same cluster, same run.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { KubeClient, resourcePath } from '../src/kube/client.ts';
import { issueLeaf, newCa } from '../src/webhook/certs.ts';
import { freePort, startCluster, waitFor } from '../test/cluster/harness.ts';
import { type BenchResult, stats } from './harness.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const RATE = Number(process.env.BENCH_WEBHOOK_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 10);
const PODS = Number(process.env.BENCH_WEBHOOK_PODS ?? 200);

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

/** Open loop: `rate` requests/s for `seconds`, each timed from its send to its answer. */
async function load(
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

async function closedLoop(url: string, ca: string, bodies: string[], n: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = bodies[i % bodies.length] as string;
    const s = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    ms.push(performance.now() - s);
  }
  agent.destroy();
  return ms;
}

export async function run(): Promise<BenchResult[]> {
  const cluster = await startCluster();
  const dir = mkdtempSync(join(tmpdir(), 'webhook-bench-'));
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.admin);
  const client = new KubeClient(kc, { qps: 0, maxSockets: 16 });
  let proc: ChildProcess | undefined;
  const out: BenchResult[] = [];
  try {
    const [port, healthPort] = await Promise.all([freePort(), freePort()]);
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
    const reviews = (pod: Record<string, unknown>) =>
      Array.from({ length: 64 }, (_, i) =>
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: {
            uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
            kind: { group: '', version: 'v1', kind: 'Pod' },
            resource: { group: '', version: 'v1', resource: 'pods' },
            requestKind: { group: '', version: 'v1', kind: 'Pod' },
            requestResource: { group: '', version: 'v1', resource: 'pods' },
            namespace: 'bench',
            operation: 'CREATE',
            userInfo: {
              username: 'system:serviceaccount:kube-system:replicaset-controller',
              groups: ['system:serviceaccounts', 'system:authenticated'],
            },
            object: pod,
            oldObject: null,
            dryRun: false,
            options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
          },
        }),
      );
    const trustBodies = reviews(dry({}));
    const identityBodies = reviews(dry({ 'identity.anchorage.dev/enabled': 'true' }));

    const log = join(dir, 'webhook.log');
    const fd = openSync(log, 'a');
    proc = spawn(
      NODE,
      [
        join(ROOT, 'src', 'cli', 'main.ts'),
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
        '--no-leader-elect',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    await waitFor('webhook ready', async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200, 120_000);
    const caPem = Buffer.from(
      JSON.parse(cluster.kubectl(['get', 'secret', '-n', 'anchorage', 'anchorage-webhook-ca', '-o', 'json']).stdout).data['ca.crt'],
      'base64',
    ).toString();
    const url = `https://127.0.0.1:${port}/mutate`;
    // Warm-up (JIT, TLS sessions), then the two measured runs.
    await load(url, caPem, trustBodies, RATE, 5);
    await load(url, caPem, identityBodies, RATE, 2);
    for (const [what, bodies, goal] of [
      ['trust', trustBodies, 2],
      ['trust + identity', identityBodies, 5],
    ] as const) {
      const cpu0 = cpuSeconds(proc.pid as number);
      const r = await load(url, caPem, bodies, RATE, SECONDS);
      const cpuMs = ((cpuSeconds(proc.pid as number) - cpu0) * 1000) / (r.ms.length + r.errors);
      const p50 = pct(r.ms, 0.5);
      const p99 = pct(r.ms, 0.99);
      const size = Buffer.byteLength(bodies[0] as string);
      out.push({
        name: `AdmissionReview (${what}, ${size} B body) at ${RATE}/s for ${SECONDS} s: p99 (goal < ${goal} ms)`,
        unit: 'ms',
        value: p99,
        spread: `p50 ${p50.toFixed(2)} ms, webhook CPU ${cpuMs.toFixed(2)} ms per admission, max ${Math.max(...r.ms).toFixed(1)} ms, ${r.ms.length} answered, ${r.errors} errors, achieved ${r.achieved.toFixed(0)}/s, load average ${loadavg()[0]?.toFixed(0)}`,
        lowerIsBetter: true,
      });
    }

    // Closed loop, one request in flight: the service time without queueing behind other requests.
    for (const [what, bodies] of [
      ['trust', trustBodies],
      ['trust + identity', identityBodies],
    ] as const) {
      const r = await closedLoop(url, caPem, bodies, 2000);
      out.push({
        name: `AdmissionReview (${what}), one at a time: p99`,
        unit: 'ms',
        value: pct(r, 0.99),
        spread: `p50 ${pct(r, 0.5).toFixed(2)} ms, ${r.length} requests, load average ${loadavg()[0]?.toFixed(0)}`,
        lowerIsBetter: true,
      });
    }

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
    if (proc && proc.exitCode === null) {
      const p = proc;
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    client.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
