// `anchorage controller`: the in-cluster controllers on the shared runtime (src/kube): caches on every replica,
// one leader (a coordination.k8s.io/v1 Lease) reconciling, /healthz /readyz /metrics, JSON logs, graceful stop
// on SIGTERM (the leader releases its Lease so a standby takes over at once). Today: the trust bundles controller.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';

export interface ControllerCliOptions {
  kubeconfig?: string;
  context?: string;
  trustNamespace: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName: string;
  identity?: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
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

function num(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InputError(`${flag}: '${v}' is not a number from ${min} to ${max}`);
  return n;
}

async function runController(o: ControllerCliOptions): Promise<void> {
  const [{ clientFrom }, { createLogger }, { LeaderElector }, server, { BundleController }, { loadDefaultCAs }] = await Promise.all([
    import('../../kube/config.ts'),
    import('../../kube/log.ts'),
    import('../../kube/leader.ts'),
    import('../../kube/server.ts'),
    import('../../bundles/controller.ts'),
    import('../../bundles/defaults.ts'),
  ]);
  const healthPort = num('--health-port', o.healthPort, 0, 65535);
  const lease = {
    leaseDurationSeconds: num('--lease-duration', o.leaseDuration, 1, 3600),
    renewDeadlineSeconds: num('--renew-deadline', o.renewDeadline, 0.5, 3600),
    retryPeriodSeconds: num('--retry-period', o.retryPeriod, 0.1, 600),
  };
  if (lease.renewDeadlineSeconds >= lease.leaseDurationSeconds)
    throw new InputError('--renew-deadline must be shorter than --lease-duration');
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
  const identity = o.identity ?? `${hostname()}_${process.pid}`;
  let elector: InstanceType<typeof LeaderElector> | undefined;
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
  if (!o.leaderElect) {
    bundles.startWorkers();
    return;
  }
  elector = new LeaderElector(client, {
    namespace: o.leaseNamespace ?? o.trustNamespace,
    name: o.leaseName,
    identity,
    ...lease,
    log,
    onStartedLeading: () => bundles.startWorkers(),
    onStoppedLeading: () => {
      if (stopping) return;
      // As client-go's controllers do: a replica that lost its Lease exits and starts clean as a standby.
      log.error('lost the leader lease: exiting');
      process.exit(1);
    },
  });
  elector.start();
}

export function register(program: Command): void {
  program
    .command('controller')
    .description('run the in-cluster controllers (trust bundles) with leader election, health and metrics endpoints')
    .option('--kubeconfig <files>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--trust-namespace <ns>', 'where ClusterBundle and trust-manager Bundle sources live unless a source names one', 'anchorage')
    .option('--no-leader-elect', 'reconcile without a Lease (one replica only)')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease (default: the trust namespace)')
    .option('--lease-name <name>', 'name of the leader Lease', 'anchorage-controller')
    .option('--identity <id>', 'this replica in the Lease (default: hostname_pid)')
    .option('--lease-duration <s>', 'seconds a standby waits before taking an unrenewed Lease', '15')
    .option('--renew-deadline <s>', 'seconds the leader keeps trying to renew before it steps down', '10')
    .option('--retry-period <s>', 'seconds between Lease attempts', '2')
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
