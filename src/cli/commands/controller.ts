// `anchorage controller`: the in-cluster controllers on the shared runtime (src/kube): caches on every replica,
// one leader (a coordination.k8s.io/v1 Lease) reconciling, /healthz /readyz /metrics, JSON logs, graceful stop
// on SIGTERM (the leader releases its Lease so a standby takes over at once). Today: the trust bundles controller.
import type { Command } from 'commander';
import { num } from '../args.ts';
import { type Leading, type LeaseCliOptions, lead, leaseFlags, leaseTiming, replicaIdentity } from '../leader.ts';

export interface ControllerCliOptions extends LeaseCliOptions {
  kubeconfig?: string;
  context?: string;
  trustNamespace: string;
  healthHost: string;
  healthPort: string;
  defaultCas?: string;
  defaultCasVersion?: string;
  allowHttpsSources?: boolean;
  trustManager: boolean;
  qps: string;
  burst: string;
  workers: string;
  logLevel: string;
}

async function runController(o: ControllerCliOptions): Promise<void> {
  const [{ clientFrom }, { createLogger }, server, { BundleController }, { loadDefaultCAs }] = await Promise.all([
    import('../../kube/config.ts'),
    import('../../kube/log.ts'),
    import('../../kube/server.ts'),
    import('../../bundles/controller.ts'),
    import('../../bundles/defaults.ts'),
  ]);
  const healthPort = num('--health-port', o.healthPort, 0, 65535);
  const timing = leaseTiming(o);
  const log = createLogger({ level: o.logLevel });
  const client = clientFrom({
    ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
    ...(o.context !== undefined && { context: o.context }),
    qps: num('--qps', o.qps, 0, 100_000),
    burst: num('--burst', o.burst, 1, 100_000),
    userAgent: 'anchorage-controller',
  });
  const registry = server.newRegistry();
  const defaultCAs = loadDefaultCAs(o.defaultCas, o.defaultCasVersion);
  const bundles = new BundleController({
    client,
    log,
    registry,
    trustNamespace: o.trustNamespace,
    ...(defaultCAs ? { defaultCAs } : {}),
    allowHttps: !!o.allowHttpsSources,
    trustManager: o.trustManager,
    workers: num('--workers', o.workers, 1, 256),
  });
  const identity = replicaIdentity(o);
  let elector: Leading | undefined;
  let stopping = false;
  const health = await server.startHealthServer({
    host: o.healthHost,
    port: healthPort,
    registry,
    ready: { caches: () => bundles.synced },
  });
  log.info({ port: health.port, host: o.healthHost, identity, defaultCAs: defaultCAs?.version }, 'serving /healthz /readyz /metrics');
  const stop = async (signal: string): Promise<void> => {
    stopping = true;
    log.info({ signal }, 'shutting down');
    await elector?.stop();
    await bundles.stop();
    await health.close();
    client.close();
    log.info('stopped');
  };
  server.onShutdown(stop);
  await bundles.start();
  elector = await lead(client, o, {
    namespace: o.trustNamespace,
    timing,
    log,
    start: () => bundles.startWorkers(),
    stopping: () => stopping,
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('controller')
    .description('run the in-cluster controllers (trust bundles) with leader election, health and metrics endpoints')
    .option('--kubeconfig <files>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--trust-namespace <ns>', 'where ClusterBundle and trust-manager Bundle sources live unless a source names one', 'anchorage');
  leaseFlags(cmd, {
    name: 'anchorage-controller',
    without: 'reconcile',
    leaseNamespace: { help: 'namespace of the leader Lease (default: the trust namespace)' },
  })
    .option('--health-host <addr>', 'address of /healthz /readyz /metrics', '0.0.0.0')
    .option('--health-port <port>', 'port of /healthz /readyz /metrics (0: any free port, logged)', '8081')
    .option(
      '--default-cas <file>',
      "PEM file of the default public CAs (default: Debian's ca-certificates, /usr/share/ca-certificates/mozilla)",
    )
    .option('--default-cas-version <v>', 'the version recorded in status for --default-cas')
    .option('--allow-https-sources', 'allow https sources (pinned by SHA-256)')
    .option('--no-trust-manager', "do not reconcile trust-manager's Bundles (trust.cert-manager.io/v1alpha1)")
    .option('--qps <n>', 'API requests per second (0: no limit)', '200')
    .option('--burst <n>', 'API requests allowed at once above --qps', '400')
    .option('--workers <n>', 'bundles reconciled at once', '4')
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'info')
    .action(async (o: ControllerCliOptions) => {
      await runController(o);
    });
}
