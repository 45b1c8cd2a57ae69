// `anchorage agent`: watch one cluster (in-cluster by default, read-only) with the same informers as
// `anchorage serve` and push its inventory to a central server (`serve --accept-agents`) whenever it
// changes, at most every --min-interval, and at least every --interval. A server that is down is retried
// with backoff; the agent keeps watching meanwhile.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';
import { num } from '../args.ts';
import { serverMemory } from '../files.ts';

interface AgentCliOptions {
  server: string;
  token: string;
  cluster: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  serverCa?: string;
  interval: string;
  minInterval: string;
  logLevel: string;
  once?: boolean;
}

async function agentCommand(o: AgentCliOptions): Promise<void> {
  serverMemory(); // as serve: a long-running process holding an inventory
  const [{ loadKubeConfig }, { KubeClient }, { createLogger }, { Monitor }, { watchCluster }, { pushBody }, https] = await Promise.all([
    import('../../kube/kubeconfig.ts'),
    import('../../kube/client.ts'),
    import('../../kube/log.ts'),
    import('../../monitor/monitor.ts'),
    import('../../monitor/kube-source.ts'),
    import('../../monitor/agent.ts'),
    import('node:https'),
  ]);
  const http = await import('node:http');
  let url: URL;
  try {
    url = new URL('/api/v1/agent/push', o.server);
  } catch {
    throw new InputError(`--server: '${o.server}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InputError('--server: http:// or https://');
  const token = resolveSecret(o.token, '--token').trim();
  const ca = o.serverCa !== undefined ? readFileSync(o.serverCa, 'utf8') : undefined;
  const interval = num('--interval', o.interval, 1, 86_400) * 1000;
  const minInterval = num('--min-interval', o.minInterval, 0.05, 3600) * 1000;
  const log = createLogger({ level: o.logLevel, name: 'anchorage-agent' });
  const kc = loadKubeConfig({
    ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
    ...(o.context !== undefined && { context: o.context }),
    ...(o.inCluster && { inCluster: true }),
  });
  const monitor = new Monitor({ log });
  const c = monitor.addCluster({ name: o.cluster, kind: 'agent', debounceMs: minInterval });
  const client = new KubeClient(kc, { userAgent: 'anchorage-agent' });
  const push = async (): Promise<void> => {
    const body = JSON.stringify(pushBody(c, o.cluster));
    const { status, text } = await new Promise<{ status: number; text: string }>((res, rej) => {
      const req = (url.protocol === 'https:' ? https.request : http.request)(
        url,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 120_000,
          ...(ca !== undefined && { ca }),
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (d: Buffer) => chunks.push(d));
          r.on('end', () => res({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          r.on('error', rej);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', rej);
      req.end(body);
    });
    if (status !== 200) throw new Error(`server answered ${status}: ${text.slice(0, 200)}`);
    log.info({ objects: c.objectCount, bytes: body.length }, 'pushed');
  };
  let dirty = true;
  let backoff = 1000;
  monitor.on((e) => {
    if (e.type === 'cluster') dirty = true;
  });
  const w = watchCluster(monitor, c, client, log);
  await w.first;
  let last = 0;
  for (;;) {
    const now = Date.now();
    if (dirty || now - last >= interval) {
      dirty = false;
      try {
        await push();
        last = Date.now();
        backoff = 1000;
        if (o.once) break;
      } catch (e) {
        dirty = true;
        log.warn({ err: (e as Error).message, retryInMs: backoff }, 'push failed');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 60_000);
        continue;
      }
    }
    await new Promise((r) => setTimeout(r, minInterval));
  }
  await w.stop();
  client.close();
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('watch this cluster read-only and push its inventory to an anchorage serve --accept-agents server (docs/serve.md)')
    .requiredOption('--server <url>', 'the server, e.g. https://anchorage.example:8443')
    .requiredOption('--token <secret>', 'an agent token of the server (env:NAME, file:PATH)')
    .requiredOption('--cluster <name>', 'the name this cluster gets on the server')
    .option('--kubeconfig <files>', 'kubeconfig (default: in-cluster service account, else KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context')
    .option('--in-cluster', "the pod's service account")
    .option('--server-ca <file>', 'PEM CA of the server (default: the system roots)')
    .option('--interval <seconds>', 'push at least this often', '300')
    .option('--min-interval <seconds>', 'push at most this often', '2')
    .option('--once', 'push once after the first complete read, then exit')
    .option('--log-level <level>', 'info, debug, warn, error', 'info')
    .action(async (o: AgentCliOptions) => {
      await agentCommand(o);
    });
}
