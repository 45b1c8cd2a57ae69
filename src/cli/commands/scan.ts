// `anchorage scan [PATH...] [--kubeconfig F] [--endpoint HOST:PORT]...`: inventory every certificate and key
// under the paths, in the cluster and on live endpoints, build the trust graph and report what is wrong
// (docs/scan-schema.md). Exit 0 clean, 1 findings at or above --fail-on, 2 bad input.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { loadPolicy } from '../../lint/policy.ts';
import { SEVERITIES, SEVERITY_RANK, type Severity } from '../../lint/types.ts';
import { type EndpointProbe, type EndpointTarget, parseEndpoint, probeEndpoint } from '../../scan/endpoint.ts';
import { scanToHtml } from '../../scan/html.ts';
import { scanToSarif } from '../../scan/sarif.ts';
import { type EndpointInput, type ScanInput, type ScanOptions, type ScanReport, scan } from '../../scan/scan.ts';
import { collect, parseAt } from '../args.ts';
import { collectInputs, readInputFile } from '../files.ts';
import { checkFormat, printOutput } from '../output.ts';
import { renderScan } from '../scan-view.ts';

export interface ScanCliOptions {
  output?: string;
  failOn?: string;
  policy?: string;
  at?: string;
  password?: string;
  verbose?: boolean;
  kubeconfig?: string;
  context?: string;
  /** Objects per LIST page. */
  pageSize?: string;
  qps?: string;
  burst?: string;
  inCluster?: boolean;
  endpoint?: string[];
  endpointCa?: string;
  clientCert?: string;
  clientKey?: string;
  endpointTimeout?: string;
  /** Progress lines on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Exported Anchorage CA logs (`anchorage ca log export`): their CAs' certificates must be in them. */
  caLog?: string[];
}

const FORMATS = ['table', 'json', 'yaml', 'sarif', 'html'] as const;

function numberOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InputError(`--${name}: '${v}' is not a number from ${min} to ${max}`);
  return n;
}

function readPem(flag: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    const text = readFileSync(path, 'utf8');
    if (!text.includes('-----BEGIN ')) throw new InputError(`--${flag}: ${path}: no PEM block`);
    return text;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`--${flag}: ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Progress on stderr: one line per resource and at most one a second while a long LIST runs. */
function progressReporter(on: boolean): { page: (resource: string, n: number) => void; line: (s: string) => void } {
  let last = 0;
  const line = (s: string): void => {
    if (on) process.stderr.write(`${s}\n`);
  };
  return {
    page: (resource, n) => {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      line(`progress: ${resource}: ${n} listed`);
    },
    line,
  };
}

function parseFailOn(s: string | undefined): Severity {
  const v = s ?? 'error';
  if (!(SEVERITIES as readonly string[]).includes(v))
    throw new InputError(`--fail-on: '${v}' is not a severity (expected ${SEVERITIES.join(', ')})`);
  return v as Severity;
}

export async function scanSources(paths: string[], o: ScanCliOptions = {}, now: Date = new Date()): Promise<ScanReport> {
  const live = o.kubeconfig !== undefined || o.context !== undefined || o.inCluster === true;
  const endpoints: EndpointTarget[] = (o.endpoint ?? []).map(parseEndpoint);
  if (paths.length === 0 && !live && !endpoints.length)
    throw new InputError(
      'nothing to scan: name files or directories, --kubeconfig/--context/--in-cluster for a cluster, or --endpoint HOST:PORT',
    );
  if (o.inCluster && (o.kubeconfig !== undefined || o.context !== undefined))
    throw new InputError('--in-cluster reads the pod service account: it does not go with --kubeconfig or --context');
  const policy = loadPolicy(o.policy);
  const at = o.at !== undefined ? parseAt(o.at) : now;
  const pageSize = numberOption('page-size', o.pageSize, 1, 10_000);
  if (pageSize !== undefined && !Number.isInteger(pageSize)) throw new InputError(`--page-size: '${o.pageSize}' is not a whole number`);
  const qps = numberOption('qps', o.qps, 0.1, 10_000);
  const burst = numberOption('burst', o.burst, 1, 10_000);
  const timeoutMs = (numberOption('endpoint-timeout', o.endpointTimeout, 0.1, 600) ?? 5) * 1000;
  const endpointCa = readPem('endpoint-ca', o.endpointCa);
  const clientCert = readPem('client-cert', o.clientCert);
  const clientKey = readPem('client-key', o.clientKey);
  if ((clientCert === undefined) !== (clientKey === undefined)) throw new InputError('--client-cert and --client-key go together');
  const progress = progressReporter(o.progress ?? process.stderr.isTTY === true);
  const { files, errors } = paths.length ? collectInputs(paths) : { files: [], errors: [] };
  if (paths.length) progress.line(`progress: files: ${files.length} read`);
  const inputs: ScanInput[] = files.map((f) => ({ source: f.path === '-' ? 'stdin' : f.path, data: f.data }));
  const failures = errors.map((e) => ({ source: e.path, reason: e.error }));
  const opts: ScanOptions = { now: at, generatedAt: now, policy, failures, endpoints: [] };
  if (o.password !== undefined) opts.password = o.password;
  if (o.caLog?.length) {
    const [{ parseLogExport, verifyLog }, { indexCaLogs }] = await Promise.all([
      import('../../ca/log-verify.ts'),
      import('../../ca/log-scan.ts'),
    ]);
    const logs = o.caLog.map((f) => {
      const log = parseLogExport(Buffer.from(readInputFile(f)).toString('utf8'));
      const v = verifyLog(log);
      if (!v.ok) throw new InputError(`--ca-log ${f}: the log does not verify: ${v.problems.join('; ')}`);
      return log;
    });
    opts.caLog = indexCaLogs(logs);
  }
  const probes: Promise<EndpointInput>[] = [];
  const probe = (t: EndpointTarget, input: Omit<EndpointInput, 'probe'>): void => {
    probes.push(probeEndpoint({ ...t, timeoutMs }).then((p: EndpointProbe) => ({ probe: p, ...input })));
  };
  for (const t of endpoints)
    probe(
      {
        ...t,
        ...(endpointCa !== undefined && { ca: endpointCa }),
        ...(clientCert !== undefined && clientKey !== undefined && { cert: clientCert, key: clientKey }),
      },
      { for: 'endpoint', ...(o.endpointCa !== undefined && { caSource: o.endpointCa }) },
    );
  if (live) {
    // Loaded only for a cluster scan: the client library costs every other command ~1.5 s and 60 MB at start.
    const { apiServerEndpoint, loadKubeConfig, readCluster } = await import('../../k8s/client.ts');
    const kc = loadKubeConfig({
      ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
      ...(o.context !== undefined && { context: o.context }),
      ...(o.inCluster === true && { inCluster: true }),
    });
    // The API server itself is an endpoint: its chain, the kubeconfig's CA against it, the client certificate.
    const api = apiServerEndpoint(kc);
    if (api) probe(api, { for: 'apiserver', caSource: `kubeconfig cluster ${kc.getCurrentCluster()?.name ?? '?'}` });
    const r = await readCluster(kc, {
      ...(pageSize !== undefined && { pageSize }),
      ...(qps !== undefined && { qps }),
      ...(burst !== undefined && { burst }),
      onProgress: progress.page,
    });
    for (const [resource, n] of Object.entries(r.listed)) progress.line(`progress: ${resource}: ${n} listed`);
    for (const f of r.failures) process.stderr.write(`warning: ${f.source}: ${f.reason}\n`);
    inputs.push(...r.values);
    failures.push(...r.failures);
    opts.backends = r.backends;
    opts.certManager = r.certManager;
    // A webhook `url` backend gets a real handshake with its caBundle as the only root.
    const bundles = new Map(r.values.map((v) => [v.source, v.data]));
    for (const b of r.backends) {
      if (b.url === undefined) continue;
      let u: URL;
      try {
        u = new URL(b.url);
      } catch {
        failures.push({ source: b.source, reason: `url '${b.url}' does not parse` });
        continue;
      }
      const host = u.hostname.replace(/^\[|\]$/g, '');
      probe(
        { host, port: u.port ? Number(u.port) : 443, ca: Buffer.from(bundles.get(b.source) ?? []).toString('utf8') },
        { for: b.source, caSource: b.source },
      );
    }
  }
  // An API server that could not be read at all is one line already: its failed handshake adds nothing.
  const apiDown = failures.some((f) => / nothing was read from the cluster after /.test(f.reason));
  opts.endpoints = (await Promise.all(probes)).filter((e) => !(apiDown && e.for === 'apiserver' && !e.probe.reached));
  for (const e of opts.endpoints) if (!e.probe.reached) process.stderr.write(`warning: tls://${e.probe.endpoint}: ${e.probe.error}\n`);
  return scan(inputs, opts);
}

export async function scanCommand(paths: string[], o: ScanCliOptions = {}): Promise<number> {
  const format = checkFormat(o.output ?? 'table', FORMATS);
  const failOn = parseFailOn(o.failOn);
  const r = await scanSources(paths, o);
  if (format === 'sarif') process.stdout.write(`${JSON.stringify(scanToSarif(r), null, 2)}\n`);
  else if (format === 'html') process.stdout.write(scanToHtml(r));
  else printOutput(r, format, () => renderScan(r, { verbose: o.verbose === true }));
  return r.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]) ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('scan')
    .description(
      'inventory every certificate and key under the paths, check who trusts whom and report what is wrong (docs/scan-schema.md)',
    )
    .argument('[paths...]', 'files or directories (PEM, DER, PKCS#7/#12, JKS, kubeconfigs, pki init node trees)')
    .option('--kubeconfig <files>', "read the cluster too: Secrets, ConfigMaps with PEM, webhook caBundles (several files joined by ':')")
    .option('--context <name>', 'kubeconfig context to use (reads the cluster; default kubeconfig when --kubeconfig is not given)')
    .option(
      '--in-cluster',
      'read the cluster this pod runs in with its service account (KUBERNETES_SERVICE_HOST, the mounted token and CA)',
    )
    .option('--page-size <n>', 'objects per LIST page when reading the cluster', '500')
    .option('--qps <n>', 'LIST calls per second when reading the cluster (default 50)')
    .option('--burst <n>', 'LIST calls allowed at once before --qps pacing starts (default 100)')
    .option(
      '--endpoint <host:port>',
      'also handshake with this TLS endpoint and record its chain; =NAME to send and check another name (repeatable)',
      collect,
      [],
    )
    .option('--endpoint-ca <file>', 'PEM CA the --endpoint chains must verify against')
    .option('--client-cert <file>', 'PEM client certificate to offer --endpoint servers (with --client-key): is it accepted?')
    .option('--client-key <file>', 'PEM key of --client-cert')
    .option('--endpoint-timeout <seconds>', 'give up on an endpoint after this long (default 5)')
    .option('--progress', 'progress lines on stderr (default when stderr is a terminal)')
    .option('-o, --output <format>', 'table|json|yaml|sarif|html (html: one self-contained page with the trust graph)', 'table')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: error|warning|notice', 'error')
    .option('--policy <file>', 'lint policy file (docs/policy.md): thresholds, disabled ids, severities')
    .option('--at <time>', 'judge expiry at this time (ISO 8601 or Unix seconds) instead of now')
    .option('--password <password>', 'password for PKCS#12/JKS/encrypted keys')
    .option('-v, --verbose', 'list every place and every skipped source')
    .option(
      '--ca-log <file>',
      'an exported Anchorage CA log (ca log export): flag what its CAs signed that it lacks; repeatable',
      collect,
      [],
    )
    .action(async (paths: string[], o: ScanCliOptions) => {
      process.exitCode = await scanCommand(paths, o);
    });
}
