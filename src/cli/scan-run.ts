// What `anchorage scan` does (commands/scan.ts only registers it): read the sources, stream them into the
// scan, render the report.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.ts';
import { loadPolicy } from '../lint/policy.ts';
import { SEVERITY_RANK, type Severity } from '../lint/types.ts';
import { type EndpointProbe, type EndpointTarget, parseEndpoint, probeEndpoint } from '../scan/endpoint.ts';
import { scanToHtml } from '../scan/html.ts';
import { scanToSarif } from '../scan/sarif.ts';
import { type EndpointInput, Scanner, type ScanOptions, type ScanReport } from '../scan/scan.ts';
import { parseAt } from './args.ts';
import { readInputFile, stdinOnce, walkInputs } from './files.ts';
import { printOutput } from './output.ts';
import { renderScan } from './scan-view.ts';

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

/**
 * Scan what the options name. `gaps`, when given, receives each live source that could not be read at all or
 * in part (the API server or one of its resources, an `--endpoint` not reached): the scan is incomplete.
 */
export async function scanSources(paths: string[], o: ScanCliOptions = {}, now: Date = new Date(), gaps?: string[]): Promise<ScanReport> {
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
  const opts: ScanOptions = { now: at, generatedAt: now, policy, failures: [], endpoints: [] };
  if (o.password !== undefined) opts.password = o.password;
  if (o.caLog?.length) {
    const [{ parseLogExport, verifyLog }, { indexCaLogs }] = await Promise.all([
      import('../ca/log-verify.ts'),
      import('../ca/log-scan.ts'),
    ]);
    const logs = o.caLog.map((f) => {
      const log = parseLogExport(Buffer.from(readInputFile(f)).toString('utf8'));
      const v = verifyLog(log);
      if (!v.ok) throw new InputError(`--ca-log ${f}: the log does not verify: ${v.problems.join('; ')}`);
      return log;
    });
    opts.caLog = indexCaLogs(logs);
  }
  const failures = opts.failures as { source: string; reason: string }[];
  // Each file and each cluster value is parsed into the inventory as it is read and its bytes dropped.
  const scanner = new Scanner(o.password === undefined ? {} : { password: o.password });
  if (paths.length) {
    let n = 0;
    for (const f of walkInputs(paths, { stdin: stdinOnce() })) {
      if (f.error !== undefined) failures.push({ source: f.path, reason: f.error });
      else {
        scanner.add({ source: f.path === '-' ? 'stdin' : f.path, data: f.data });
        if (++n % 10_000 === 0) progress.page('files', n);
      }
    }
    progress.line(`progress: files: ${n} read`);
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
    // Loaded only for a cluster scan. src/kube's kubeconfig loader and client, not @kubernetes/client-node's
    // (docs/architecture.md: ~80 MiB and ~2 s of CPU to load).
    const { apiServerEndpoint, loadScanKubeConfig, readCluster } = await import('../scan/cluster.ts');
    const kc = loadScanKubeConfig({
      ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
      ...(o.context !== undefined && { context: o.context }),
      ...(o.inCluster === true && { inCluster: true }),
    });
    // The API server itself is an endpoint: its chain, the kubeconfig's CA against it, the client certificate.
    const api = await apiServerEndpoint(kc);
    if (api) probe(api, { for: 'apiserver', caSource: `kubeconfig cluster ${kc.getCurrentCluster().name}` });
    // caBundle values are kept for the handshakes with `url` backends; everything else is parsed and dropped.
    const bundles = new Map<string, Uint8Array>();
    const r = await readCluster(kc, {
      ...(pageSize !== undefined && { pageSize }),
      ...(qps !== undefined && { qps }),
      ...(burst !== undefined && { burst }),
      onProgress: progress.page,
      onValue: (v) => {
        if (v.source.endsWith('caBundle]')) bundles.set(v.source, v.data);
        scanner.add(v);
      },
    });
    for (const [resource, n] of Object.entries(r.listed)) progress.line(`progress: ${resource}: ${n} listed`);
    for (const f of r.failures) process.stderr.write(`warning: ${f.source}: ${f.reason}\n`);
    failures.push(...r.failures);
    gaps?.push(...r.unread);
    opts.backends = r.backends;
    opts.certManager = r.certManager;
    opts.components = r.components;
    // A webhook `url` backend gets a real handshake with its caBundle as the only root.
    for (const b of r.backends) {
      // A Service backend: each ready endpoint (EndpointSlices), greeted by the name the API server checks.
      if (b.service && b.endpoints)
        for (const ep of b.endpoints)
          probe(
            {
              host: ep.host,
              port: ep.port,
              servername: `${b.service.name}.${b.service.namespace}.svc`,
              ca: Buffer.from(bundles.get(b.source) ?? []).toString('utf8'),
            },
            { for: b.source, caSource: b.source },
          );
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
  // A webhook backend out of reach is the scan's finding about that webhook; an endpoint the user named is a gap.
  for (const e of opts.endpoints) if (e.for === 'endpoint' && !e.probe.reached) gaps?.push(`tls://${e.probe.endpoint}`);
  return scanner.finish(opts);
}

/** Print the report in the chosen format. */
export function printScan(r: ScanReport, format: string, verbose: boolean): void {
  if (format === 'sarif') process.stdout.write(`${JSON.stringify(scanToSarif(r), null, 2)}\n`);
  else if (format === 'html') process.stdout.write(scanToHtml(r));
  else printOutput(r, format, () => renderScan(r, { verbose }));
}

/** Scan, print the report, and answer the exit code: findings at or above `failOn` 1, else a live source unread 3, else 0. */
export async function runScan(paths: string[], o: ScanCliOptions, format: string, failOn: Severity): Promise<number> {
  const gaps: string[] = [];
  const r = await scanSources(paths, o, new Date(), gaps);
  printScan(r, format, o.verbose === true);
  return r.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]) ? 1 : gaps.length ? 3 : 0;
}
