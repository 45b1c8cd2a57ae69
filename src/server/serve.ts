// `anchorage serve` put together: the store and its history, the monitor with its clusters (a PKI folder,
// kubeconfig contexts, in-cluster, agents), the sources that feed them, notifications, operations on a
// PKI folder, and the HTTP server. The CLI parses flags into a ServeConfig; tests call this directly.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../common/errors.ts';
import type { KubeClient } from '../kube/client.ts';
import type { Logger } from '../kube/log.ts';
import type { Policy } from '../lint/policy.ts';
import type { Severity } from '../lint/types.ts';
import { applyPush, PushError } from '../monitor/agent.ts';
import { History } from '../monitor/history.ts';
import { metricsChunks } from '../monitor/metrics.ts';
import { Monitor, STORE_ANSWER_MS } from '../monitor/monitor.ts';
import { nodeFiles } from '../monitor/nodes.ts';
import { Notifier } from '../monitor/notify.ts';
import type { OperationError, PkiOperations } from '../monitor/operations.ts';
import { type FileReader, type Stoppable, watchEndpoints, watchFiles } from '../monitor/sources.ts';
import type { NodeFiles } from '../monitor/types.ts';
import type { EndpointTarget } from '../scan/endpoint.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { type AuthConfig, createApp, type OperationsService } from './app.ts';
import { HttpError } from './errors.ts';
import { type Listening, listen } from './listen.ts';

export interface KubeSourceConfig {
  /** Cluster name in the API (default: the context name). */
  name?: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
}

export interface ServeConfig {
  host: string;
  port: number;
  tls?: { cert: string; key: string; clientCa?: string };
  auth: AuthConfig;
  /** Store URL (sqlite:PATH, postgres://…); undefined: no history. */
  store?: string;
  dir?: { path: string; intervalMs: number };
  readFiles?: FileReader;
  kube: KubeSourceConfig[];
  endpoints: EndpointTarget[];
  endpointIntervalMs: number;
  policy?: Policy;
  clusterPolicies?: Map<string, Policy>;
  warnDays?: number;
  webhook?: { url: string; minSeverity: Severity };
  acceptAgents: boolean;
  webDist?: string;
  version: string;
  log?: Logger;
  qps?: number;
  debounceMs?: number;
  /** Most of a core each cluster spends re-judging (ClusterOptions.judgeShare; default 0.25). */
  judgeShare?: number;
  heartbeatMs?: number;
  /** Resolved findings are kept this many days (default 90). */
  retentionDays?: number;
}

export interface Serving {
  url: string;
  monitor: Monitor;
  store?: Store;
  listening: Listening;
  /** Resolves when every source has delivered its first read. */
  first: Promise<void>;
  stop(): Promise<void>;
}

/** The PKI folder inside DIR: DIR itself when it has cluster.yaml, else its one subfolder that has one (demo: DIR/cluster). */
export function findPkiDir(dir: string): string | undefined {
  if (existsSync(join(dir, 'cluster.yaml'))) return dir;
  for (const sub of ['cluster', 'pki']) if (existsSync(join(dir, sub, 'cluster.yaml'))) return join(dir, sub);
  return undefined;
}

export async function startServe(cfg: ServeConfig): Promise<Serving> {
  const log = cfg.log;
  let store: Store | undefined;
  let history: History | undefined;
  if (cfg.store) {
    // A PostgreSQL round trip gets the monitor's answer budget too: one that has had no answer by then
    // fails (503 to an API write) and its connections are dropped, instead of holding a request or a
    // pool slot for as long as the socket stays up.
    store = await openStore(cfg.store, { answerMs: STORE_ANSWER_MS });
    history = new History(store);
  }
  let notifier: Notifier | undefined;
  const monitor = new Monitor({
    ...(history && { history }),
    ...(cfg.warnDays !== undefined && { warnDays: cfg.warnDays }),
    ...(cfg.retentionDays !== undefined && { retentionDays: cfg.retentionDays }),
    ...(log && { log }),
    onFindingChange: (f, change) => notifier?.notify(f, change),
  });
  if (cfg.webhook)
    notifier = new Notifier({
      url: cfg.webhook.url,
      minSeverity: cfg.webhook.minSeverity,
      ...(history && { history }),
      ...(log && { log }),
    });
  await monitor.load();
  // A cluster's own policy, else the first pattern that matches it (`prod-*`: a cluster group), else the default.
  const policyOf = (name: string): Policy | undefined => {
    const exact = cfg.clusterPolicies?.get(name);
    if (exact) return exact;
    for (const [pattern, p] of cfg.clusterPolicies ?? [])
      if (
        pattern.includes('*') &&
        new RegExp(
          `^${pattern
            .split('*')
            .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        ).test(name)
      )
        return p;
    return cfg.policy;
  };
  const sources: Stoppable[] = [];
  const clients: KubeClient[] = [];
  let ops: PkiOperations | undefined;
  let operationError: typeof OperationError | undefined;
  let nodes: ((cluster?: string) => Promise<NodeFiles[]>) | undefined;
  const pkiDirs = new Map<string, string>();

  if (cfg.dir) {
    const dir = resolve(cfg.dir.path);
    if (!existsSync(dir)) throw new InputError(`--dir ${dir}: no such folder`);
    if (!cfg.readFiles) throw new Error('a file reader is needed for --dir');
    const c = monitor.addCluster({
      name: 'dir',
      kind: 'dir',
      ...(policyOf('dir') && { policy: policyOf('dir') }),
      ...(cfg.debounceMs !== undefined && { debounceMs: cfg.debounceMs }),
      ...(cfg.judgeShare !== undefined && { judgeShare: cfg.judgeShare }),
    });
    const s = watchFiles(monitor, c, `dir:${dir}`, [dir], cfg.readFiles, cfg.dir.intervalMs);
    sources.push(s);
    void s.first.then(() => {
      c.ready = true;
    });
    const pki = findPkiDir(dir);
    if (pki) {
      pkiDirs.set('dir', pki);
      // Operations (pki renew/rotate, nodes plan/push) load with a PKI folder only: src/pki, src/nodes and
      // ssh2 are ~30 MiB of a process that watches a cluster (docs/benchmarks.md, serve at 100,000 Secrets).
      const { PkiOperations, OperationError: OpError } = await import('../monitor/operations.ts');
      operationError = OpError;
      ops = new PkiOperations({ dir: pki, ...(history && { history }), onChange: (op) => monitor.emit({ type: 'operation', data: op }) });
    }
  }
  const kubeMods = cfg.kube.length
    ? // src/kube's kubeconfig loader and client (kubectl's rules), not @kubernetes/client-node's KubeConfig, which
      // costs ~80 MiB and about a second of CPU to load (docs/architecture.md, client choice); client-node is
      // loaded only for a user with an exec plugin or an auth-provider.
      await Promise.all([import('../kube/kubeconfig.ts'), import('../kube/client.ts'), import('../monitor/kube-source.ts')])
    : undefined;
  for (const k of cfg.kube) {
    if (!kubeMods) break;
    const [{ apiServerEndpoint, loadKubeConfig }, { KubeClient }, { watchCluster }] = kubeMods;
    const kc = loadKubeConfig({
      ...(k.kubeconfig !== undefined && { kubeconfig: k.kubeconfig }),
      ...(k.context !== undefined && { context: k.context }),
      ...(k.inCluster && { inCluster: true }),
    });
    const name = k.name ?? (k.inCluster ? 'in-cluster' : kc.currentContext);
    const c = monitor.addCluster({
      name,
      kind: k.inCluster ? 'in-cluster' : 'kubeconfig',
      ...(policyOf(name) && { policy: policyOf(name) }),
      ...(cfg.debounceMs !== undefined && { debounceMs: cfg.debounceMs }),
      ...(cfg.judgeShare !== undefined && { judgeShare: cfg.judgeShare }),
    });
    const client = new KubeClient(kc, { qps: cfg.qps ?? 50, burst: 100, userAgent: 'anchorage-serve' });
    clients.push(client);
    const w = watchCluster(monitor, c, client, log);
    sources.push(w);
    const api = await apiServerEndpoint(kc);
    const probes: Stoppable[] = [];
    if (api) {
      const e = watchEndpoints(
        monitor,
        c,
        [
          {
            name: `endpoint:${api.host}:${api.port}`,
            target: { ...api, timeoutMs: 5000 },
            for: 'apiserver',
            caSource: `kubeconfig cluster ${kc.getCurrentCluster().name}`,
          },
        ],
        cfg.endpointIntervalMs,
      );
      sources.push(e);
      probes.push(e);
    }
    void Promise.all([w.first, ...probes.map((p) => p.first)]).then(() => {
      c.ready = true;
      c.rescan();
    });
  }
  if (cfg.endpoints.length) {
    const first = monitor.clusters.values().next().value ?? monitor.addCluster({ name: 'endpoints', kind: 'dir' });
    const e = watchEndpoints(
      monitor,
      first,
      cfg.endpoints.map((t) => ({
        name: `endpoint:${t.host}:${t.port}`,
        target: { ...t, timeoutMs: t.timeoutMs ?? 5000 },
        for: 'endpoint',
      })),
      cfg.endpointIntervalMs,
    );
    sources.push(e);
    if (first.name === 'endpoints')
      void e.first.then(() => {
        first.ready = true;
      });
  }
  if (pkiDirs.size)
    nodes = async (cluster) => {
      const out: NodeFiles[] = [];
      for (const [name, d] of pkiDirs) if (cluster === undefined || cluster === name) out.push(...nodeFiles(d, name));
      return out;
    };

  const wrapOps = (o: PkiOperations): OperationsService => {
    const t = async <T>(f: () => Promise<T>): Promise<T> => {
      try {
        return await f();
      } catch (e) {
        if (operationError && e instanceof operationError) throw new HttpError(e.status, e.message);
        throw e;
      }
    };
    return {
      plan: (kind, args) => t(() => o.plan(kind, args)),
      run: (id) =>
        t(async () => {
          const op = await o.run(id);
          // The folder changed: read it again now rather than at the next interval.
          for (const c of monitor.clusters.values()) if (c.kind === 'dir') c.schedule();
          return op;
        }),
      get: (id) => o.get(id),
    };
  };

  const app = createApp({
    monitor,
    auth: cfg.auth,
    version: cfg.version,
    metrics: () => metricsChunks(monitor),
    ...(ops && { operations: wrapOps(ops) }),
    ...(nodes && { nodes }),
    ...(cfg.acceptAgents && {
      agentPush: async (body) => {
        try {
          return applyPush(monitor, body, (name) =>
            monitor.addCluster({
              name,
              kind: 'agent',
              ...(policyOf(name) && { policy: policyOf(name) }),
              ...(cfg.judgeShare !== undefined && { judgeShare: cfg.judgeShare }),
            }),
          );
        } catch (e) {
          if (e instanceof PushError) throw new HttpError(400, e.message);
          throw e;
        }
      },
    }),
    ...(cfg.webDist && { webDist: cfg.webDist }),
    ...(log && { log }),
  });
  const listening = await listen(app, { host: cfg.host, port: cfg.port, ...(cfg.tls && { tls: cfg.tls }) });
  // The store is checked every few seconds (readiness, metrics), acknowledgements of other replicas read back.
  monitor.heartbeat(cfg.heartbeatMs ?? 5000);
  return {
    url: listening.url,
    monitor,
    ...(store && { store }),
    listening,
    first: Promise.all(sources.map((s) => s.first)).then(() => undefined),
    stop: async () => {
      await listening.close();
      await Promise.all(sources.map((s) => s.stop()));
      monitor.stop();
      for (const c of clients) c.close();
      await notifier?.idle();
      await monitor.flush().catch(() => undefined);
      await store?.close();
    },
  };
}
