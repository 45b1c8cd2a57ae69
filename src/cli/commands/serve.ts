// `anchorage serve`: the long-running monitor and its HTTP API (docs/serve.md, docs/api.md). Sources: a
// PKI folder (--dir, offline), kubeconfig contexts (--context, repeatable: one cluster each), the pod's
// service account (--in-cluster), TLS endpoints (--endpoint), agents (--accept-agents). History in SQLite
// (default, beside the folder or in the working directory) or PostgreSQL (--store postgres://…).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';
import { loadPolicy } from '../../lint/policy.ts';
import { SEVERITIES, type Severity } from '../../lint/types.ts';
import { parseEndpoint } from '../../scan/endpoint.ts';
import { collect, num } from '../args.ts';
import { collectInputs, serverMemory } from '../files.ts';

export interface ServeCliOptions {
  dir?: string;
  kubeconfig?: string;
  context: string[];
  inCluster?: boolean;
  endpoint: string[];
  listen: string;
  store?: string;
  history: boolean;
  readToken: string[];
  writeToken: string[];
  agentToken: string[];
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  allowWritesOnLoopback?: boolean;
  readOnly?: boolean;
  interval: string;
  endpointInterval: string;
  warnDays: string;
  retentionDays: string;
  judgeCpu: string;
  policy?: string;
  clusterPolicy: string[];
  webhook?: string;
  notifySeverity: string;
  acceptAgents?: boolean;
  web?: string;
  logLevel: string;
  qps: string;
}

function readPem(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`${flag}: ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!text.includes('-----BEGIN ')) throw new InputError(`${flag}: ${path}: no PEM block`);
  return text;
}

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m) throw new InputError(`--listen: '${s}' is not HOST:PORT`);
  return { host: (m[1] ?? m[2]) as string, port: num('--listen', m[3] as string, 0, 65535) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

async function serveCommand(o: ServeCliOptions): Promise<void> {
  // A long-running process that holds an inventory: collect the old generation near its live size and keep
  // the young generation small (docs/benchmarks.md, serve at 100,000 Secrets).
  serverMemory();
  const { startServe } = await import('../../server/serve.ts');
  const { createLogger } = await import('../../kube/log.ts');
  const log = createLogger({ level: o.logLevel, name: 'anchorage-serve' });
  const { host, port } = parseListen(o.listen);
  const tokens = new Map<string, 'reader' | 'writer' | 'agent'>();
  for (const [list, role] of [
    [o.readToken, 'reader'],
    [o.writeToken, 'writer'],
    [o.agentToken, 'agent'],
  ] as const)
    for (const spec of list) {
      const t = resolveSecret(spec, `--${role === 'reader' ? 'read' : role === 'writer' ? 'write' : 'agent'}-token`).trim();
      if (t.length < 16) throw new InputError(`--${role}-token: at least 16 characters`);
      tokens.set(t, role);
    }
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new InputError('--tls-cert and --tls-key go together');
  if (o.clientCa !== undefined && o.tlsCert === undefined) throw new InputError('--client-ca needs --tls-cert and --tls-key (mTLS)');
  const open = tokens.size === 0 && o.clientCa === undefined;
  if (open && !isLoopback(host))
    throw new InputError(`--listen ${o.listen}: without --read-token/--write-token or --client-ca the server listens on loopback only`);
  if (!open && o.allowWritesOnLoopback) throw new InputError('--allow-writes-on-loopback is for a server without tokens or client CA');
  const live = o.kubeconfig !== undefined || o.context.length > 0 || o.inCluster === true;
  if (o.dir === undefined && !live && o.endpoint.length === 0 && !o.acceptAgents)
    throw new InputError('nothing to watch: --dir DIR, --kubeconfig/--context/--in-cluster, --endpoint HOST:PORT or --accept-agents');
  const severity = o.notifySeverity as Severity;
  if (!(SEVERITIES as readonly string[]).includes(severity))
    throw new InputError(`--notify-severity: '${o.notifySeverity}' is not a severity`);
  const clusterPolicies = new Map(
    o.clusterPolicy.map((s) => {
      const i = s.indexOf('=');
      if (i <= 0) throw new InputError(`--cluster-policy: '${s}' is not CLUSTER=FILE`);
      return [s.slice(0, i), loadPolicy(s.slice(i + 1))] as const;
    }),
  );
  const store = !o.history
    ? undefined
    : (o.store ?? `sqlite:${o.dir !== undefined ? join(resolve(o.dir), '.anchorage-serve.sqlite') : resolve('anchorage-serve.sqlite')}`);
  const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const kube = o.inCluster
    ? [{ inCluster: true }]
    : o.context.length
      ? o.context.map((context) => ({ context, ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }) }))
      : o.kubeconfig !== undefined
        ? [{ kubeconfig: o.kubeconfig }]
        : [];
  const s = await startServe({
    host,
    port,
    ...(o.tlsCert !== undefined &&
      o.tlsKey !== undefined && {
        tls: {
          cert: readPem('--tls-cert', o.tlsCert),
          key: readPem('--tls-key', o.tlsKey),
          ...(o.clientCa !== undefined && { clientCa: readPem('--client-ca', o.clientCa) }),
        },
      }),
    auth: {
      tokens,
      mtls: o.clientCa !== undefined,
      ...(open && { open: o.allowWritesOnLoopback ? 'writer' : 'reader' }),
      readOnly: o.readOnly === true,
    },
    ...(store !== undefined && { store }),
    ...(o.dir !== undefined && { dir: { path: o.dir, intervalMs: num('--interval', o.interval, 0.05, 86_400) * 1000 } }),
    readFiles: (paths) => {
      const { files, errors } = collectInputs(paths);
      return {
        inputs: files.filter((f) => !/\.anchorage-serve\.sqlite(-wal|-shm)?$/.test(f.path)).map((f) => ({ source: f.path, data: f.data })),
        failures: errors.map((e) => ({ source: e.path, reason: e.error })),
      };
    },
    kube,
    endpoints: o.endpoint.map(parseEndpoint),
    endpointIntervalMs: num('--endpoint-interval', o.endpointInterval, 1, 86_400) * 1000,
    policy: loadPolicy(o.policy),
    clusterPolicies,
    warnDays: num('--warn-days', o.warnDays, 0, 3650),
    retentionDays: num('--retention-days', o.retentionDays, 1, 36_500),
    judgeShare: num('--judge-cpu', o.judgeCpu, 0.01, 1),
    ...(o.webhook !== undefined && { webhook: { url: o.webhook, minSeverity: severity } }),
    acceptAgents: o.acceptAgents === true,
    webDist: o.web ?? new URL('../../../web/dist', import.meta.url).pathname,
    version,
    log,
    qps: num('--qps', o.qps, 1, 10_000),
  });
  process.stdout.write(`anchorage serve: listening on ${s.url}\n`);
  log.info({ url: s.url, store: s.store?.location, clusters: [...s.monitor.clusters.keys()] }, 'serving');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'shutting down');
    s.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await new Promise<never>(() => undefined);
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('watch clusters, folders and endpoints continuously: HTTP API (docs/api.md), /metrics, alerts and history (docs/serve.md)')
    .option('--dir <dir>', 'a PKI folder (pki init, anchorage demo --dir): read again every --interval; operations run on it')
    .option('--kubeconfig <files>', 'kubeconfig file(s) (several joined by ":")')
    .option('--context <name>', 'watch this kubeconfig context as one cluster (repeatable: several clusters)', collect, [])
    .option('--in-cluster', 'watch the cluster this pod runs in with its service account')
    .option('--endpoint <host:port>', 'probe this TLS endpoint every --endpoint-interval (repeatable)', collect, [])
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:8080')
    .option('--store <url>', 'history: sqlite:PATH or postgres://… (default sqlite beside --dir, or ./anchorage-serve.sqlite)')
    .option('--no-history', 'keep nothing: no store')
    .option('--read-token <secret>', 'a reader bearer token (env:NAME, file:PATH; repeatable)', collect, [])
    .option('--write-token <secret>', 'a writer bearer token: operations and acknowledgements (repeatable)', collect, [])
    .option('--agent-token <secret>', 'a token agents push with (repeatable)', collect, [])
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, with --tls-key)')
    .option('--tls-key <file>', 'its key')
    .option('--client-ca <file>', 'mTLS: verify client certificates against this CA; O=anchorage:writers writes')
    .option('--allow-writes-on-loopback', 'without tokens or client CA: loopback callers may write (the demo)')
    .option('--read-only', 'refuse every write route (403), whatever the caller')
    .option('--interval <seconds>', 'read --dir again this often', '30')
    .option('--endpoint-interval <seconds>', 'probe TLS endpoints this often', '60')
    .option('--warn-days <days>', 'a certificate is expiring this many days before notAfter', '30')
    .option('--retention-days <days>', 'forget resolved findings after this many days', '90')
    .option(
      '--judge-cpu <share>',
      'most of a core each cluster spends re-judging changes (0.01-1): lower saves CPU on a large busy cluster, higher shows changes sooner',
      '0.25',
    )
    .option('--policy <file>', 'lint policy file (docs/policy.md) for every cluster')
    .option(
      '--cluster-policy <cluster=file>',
      "a policy for one cluster, or a group with '*' (prod-*=strict.yaml; repeatable)",
      collect,
      [],
    )
    .option('--webhook <url>', 'post findings that open and resolve to this webhook (Slack-compatible payload)')
    .option('--notify-severity <severity>', 'least severity that notifies', 'warning')
    .option('--accept-agents', 'take pushes from anchorage agent (agent or writer token)')
    .option('--web <dir>', 'the dashboard build to serve at / (default web/dist of this package)')
    .option('--qps <n>', 'API server requests per second per cluster', '50')
    .option('--log-level <level>', 'info, debug, warn, error', 'info')
    .action(async (o: ServeCliOptions) => {
      await serveCommand(o);
    });
}
