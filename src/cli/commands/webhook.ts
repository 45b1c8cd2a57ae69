// `anchorage webhook`: the admission webhook (trust injected into every pod, per-pod identity) on the shared
// controller runtime (src/kube): every replica serves AdmissionReviews; one leader (a Lease) keeps the serving
// CA and caBundles, issues identities, signs PodCertificateRequests and reports missed pods. See docs/webhook.md.
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { num } from '../args.ts';
import { type Leading, type LeaseCliOptions, lead, leaseFlags, leaseTiming, replicaIdentity } from '../leader.ts';

export interface WebhookCliOptions extends LeaseCliOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  config?: string;
  host: string;
  port: string;
  path: string;
  serviceName: string;
  servingName: string[];
  caSecret: string;
  webhookConfiguration: string[];
  caLifetime: string;
  leafLifetime: string;
  resync: string;
  healthHost: string;
  healthPort: string;
  podCertificates: boolean;
  qps: string;
  burst: string;
  workers: string;
  logLevel: string;
}

/** `90s`, `15m`, `12h`, `365d` → seconds. */
export function duration(flag: string, v: string, minSeconds: number): number {
  const m = /^(\d{1,9})(s|m|h|d)$/.exec(v.trim());
  if (!m) throw new InputError(`${flag}: '${v}' is not a duration (like 90s, 15m, 12h, 365d)`);
  const s = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'];
  if (s < minSeconds || s > 20 * 366 * 86400) throw new InputError(`${flag}: '${v}' is out of range (${minSeconds}s to 20 years)`);
  return s;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

async function runWebhook(o: WebhookCliOptions): Promise<void> {
  // Flags and the config file first: a mistake is reported before the heavy modules load.
  const cfg = await import('../../webhook/config.ts');
  const port = num('--port', o.port, 0, 65535);
  const healthPort = num('--health-port', o.healthPort, 0, 65535);
  const timing = leaseTiming(o);
  const caSeconds = duration('--ca-lifetime', o.caLifetime, 60);
  const leafSeconds = duration('--leaf-lifetime', o.leafLifetime, 30);
  if (!o.path.startsWith('/')) throw new InputError(`--path: '${o.path}' must start with /`);
  const loaded = o.config ? await cfg.readConfigFile(o.config) : { config: cfg.parseConfig({}), text: '' };
  const [{ clientFrom }, { createLogger }, server, { Webhook }] = await Promise.all([
    import('../../kube/config.ts'),
    import('../../kube/log.ts'),
    import('../../kube/server.ts'),
    import('../../webhook/webhook.ts'),
  ]);
  const names = [`${o.serviceName}.${o.namespace}.svc`, `${o.serviceName}.${o.namespace}.svc.cluster.local`, ...o.servingName];
  const log = createLogger({ level: o.logLevel, name: 'anchorage-webhook' });
  const client = clientFrom({
    ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
    ...(o.context !== undefined && { context: o.context }),
    qps: num('--qps', o.qps, 0, 100_000),
    burst: num('--burst', o.burst, 1, 100_000),
    userAgent: 'anchorage-webhook',
  });
  const registry = server.newRegistry();
  const webhook = new Webhook({
    client,
    log,
    registry,
    config: loaded.config,
    namespace: o.namespace,
    host: o.host,
    port,
    path: o.path,
    serving: {
      secretName: o.caSecret,
      webhookConfigurations: o.webhookConfiguration.length ? o.webhookConfiguration : ['anchorage-webhook'],
      dnsNames: names.filter((n) => !isIP(n)),
      ips: names.filter((n) => isIP(n)),
      caSeconds,
      leafSeconds,
    },
    resyncSeconds: num('--resync', o.resync, 0.2, 3600),
    workers: num('--workers', o.workers, 1, 256),
    podCertificates: o.podCertificates,
  });
  const stopWatching = o.config
    ? cfg.watchConfig(
        o.config,
        loaded.text,
        (c) => webhook.setConfig(c),
        (e) => log.error({ err: e.message }, 'configuration file not reloaded: keeping the previous one'),
      )
    : () => undefined;
  const identity = replicaIdentity(o);
  let elector: Leading | undefined;
  let stopping = false;
  const health = await server.startHealthServer({
    host: o.healthHost,
    port: healthPort,
    registry,
    ready: { caches: () => webhook.synced },
  });
  server.onShutdown(async (signal) => {
    stopping = true;
    log.info({ signal }, 'shutting down');
    stopWatching();
    await elector?.stop();
    await webhook.stop();
    await health.close();
    client.close();
    log.info('stopped');
  });
  await webhook.start();
  log.info({ port: webhook.port, host: o.host, path: o.path, healthPort: health.port, identity, names }, 'serving AdmissionReviews');
  elector = await lead(client, o, {
    namespace: o.namespace,
    timing,
    log,
    start: () => void webhook.startLeading(),
    stopping: () => stopping,
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('webhook')
    .description('run the admission webhook: trust bundle injected into every pod, per-pod identity certificates')
    .option('--kubeconfig <files>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--namespace <ns>', "the webhook's own namespace (never mutated; serving CA Secret and Lease live there)", 'anchorage')
    .option('--config <file>', 'configuration file (YAML; reloaded when it changes); see docs/webhook.md')
    .option('--host <addr>', 'address of the HTTPS admission endpoint', '0.0.0.0')
    .option('--port <port>', 'port of the HTTPS admission endpoint (0: any free port, logged)', '8443')
    .option('--path <path>', 'path of the admission endpoint', '/mutate')
    .option(
      '--service-name <name>',
      'the Service in front of the webhook (its DNS names go in the serving certificate)',
      'anchorage-webhook',
    )
    .option('--serving-name <name>', 'another DNS name or IP for the serving certificate (repeatable)', collect, [])
    .option('--ca-secret <name>', 'Secret holding the serving CA', 'anchorage-webhook-ca')
    .option('--webhook-configuration <name>', 'MutatingWebhookConfiguration whose caBundle is kept (repeatable)', collect, [])
    .option('--ca-lifetime <d>', 'serving CA lifetime (rotated after 2/3)', '365d')
    .option('--leaf-lifetime <d>', 'serving certificate lifetime (renewed after 2/3)', '30d')
    .option('--resync <s>', 'seconds between serving CA/caBundle checks and CA reloads', '10');
  leaseFlags(cmd, { name: 'anchorage-webhook', without: 'lead' })
    .option('--health-host <addr>', 'address of /healthz /readyz /metrics', '0.0.0.0')
    .option('--health-port <port>', 'port of /healthz /readyz /metrics (0: any free port, logged)', '8081')
    .option('--no-pod-certificates', 'do not sign PodCertificateRequests')
    .option('--qps <n>', 'API requests per second (0: no limit)', '100')
    .option('--burst <n>', 'API requests allowed at once above --qps', '200')
    .option('--workers <n>', 'identities issued at once', '4')
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'info')
    .action(async (o: WebhookCliOptions) => {
      await runWebhook(o);
    });
}
