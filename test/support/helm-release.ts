// What test/helm.test.ts and test/helm-parts.test.ts share: the chart rendered by the real helm
// (test/support/helm.ts) and applied to a real control plane (test/cluster/harness.ts), questions to its RBAC
// as a part's ServiceAccount (`kubectl auth can-i`, SubjectAccessReview), a kubeconfig holding only that
// ServiceAccount's token (`kubectl create token`), raw API requests with the token (for the API server's own
// 403), and `anchorage` parts started as child processes with their output in a log file.
//
//   const r = new Release(dir, NS);
//   const { kubectl, can, saKubeconfig, api } = r;   // arrow properties: usable unbound
//   beforeAll(async () => { r.c = await startCluster(...); r.helm = await helmBin(); r.caPem = ...; });
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { writeKubeconfig } from '../../src/k8s/kubeconfig.ts';
import type { Cluster } from '../cluster/harness.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
export const CHART = join(ROOT, 'deploy', 'helm', 'anchorage');
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  rules?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  webhooks?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  subjects?: any[];
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds
  roleRef?: any;
  data?: Record<string, string>;
};

export type Result = { code: number; stdout: string; stderr: string };

export const objects = (yaml: string): Obj[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => !!o);

export function must(r: Result, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A chart release under test: its folder, its namespace, the cluster, helm and the cluster's CA (set in a beforeAll). */
export class Release {
  c!: Cluster;
  helm = '';
  caPem = '';
  readonly procs: ChildProcess[] = [];
  readonly dir: string;
  readonly ns: string;
  constructor(dir: string, ns: string) {
    this.dir = dir;
    this.ns = ns;
  }

  run = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Result => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, cwd: this.dir, ...opts });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };

  kubectl = (...args: string[]): string => must(this.c.kubectl(['--request-timeout=60s', ...args]), `kubectl ${args.join(' ')}`);

  template = (...args: string[]): Result => this.run(this.helm, ['template', 'anchorage', CHART, '--namespace', this.ns, ...args]);

  writeTmp = (name: string, text: string): string => {
    const p = join(this.dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };

  /** `kubectl auth can-i` as the part's ServiceAccount (impersonated by the admin). */
  can = (sa: string, ...args: string[]): boolean => {
    const r = this.c.kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:${this.ns}:${sa}`]);
    if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`can-i ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim() === 'yes';
  };

  /** A SubjectAccessReview for the ServiceAccount: exact resource names (signer names hold a '/', which can-i cannot take). */
  sar = (
    sa: string,
    attrs: { verb: string; group: string; resource: string; name?: string; subresource?: string; namespace?: string },
  ): boolean => {
    const review = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${this.ns}:${sa}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${this.ns}`, 'system:authenticated'],
        resourceAttributes: attrs,
      },
    };
    const out = this.kubectl('create', '-o', 'json', '-f', this.writeTmp('sar.json', JSON.stringify(review)));
    return (JSON.parse(out) as { status?: { allowed?: boolean } }).status?.allowed === true;
  };

  /** A kubeconfig holding only a fresh token of the ServiceAccount (`kubectl create token`). */
  saKubeconfig = (sa: string): { path: string; token: string } => {
    const token = this.kubectl('create', 'token', sa, '-n', this.ns, '--duration=2h').trim();
    const path = this.writeTmp(
      `${sa}.kubeconfig`,
      writeKubeconfig({
        server: this.c.apiUrl,
        caPem: this.caPem,
        token,
        clusterName: 'helm-test',
        userName: sa,
        contextName: 'helm-test',
      }),
    );
    return { path, token };
  };

  /** One API request with a bearer token: the HTTP status and body. */
  api = (token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${this.c.apiUrl}${path}`,
        {
          method,
          ca: this.caPem,
          headers: {
            authorization: `Bearer ${token}`,
            ...(data !== undefined && {
              'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
              'content-length': Buffer.byteLength(data),
            }),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(data);
    });

  /** `anchorage <args>` in the background, its stdout and stderr in <dir>/<name>.log; stopped by stopAll. */
  start = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; log: string } => {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const proc = spawn(NODE, [MAIN, ...args], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    this.procs.push(proc);
    return { proc, log };
  };

  stopAll = async (): Promise<void> => {
    await Promise.all(this.procs.map(stopProc));
  };

  openssl = (...a: string[]): string => execFileSync('openssl', a, { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  /** A self-signed CA (PEM) and its SHA-256 fingerprint as lowercase hex, made by openssl. */
  makeCa = (name: string): { pem: string; sha256: string } => {
    this.openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    const fp = this.openssl('x509', '-in', `${name}.crt`, '-noout', '-fingerprint', '-sha256').split('=')[1] ?? '';
    return { pem: readFileSync(join(this.dir, `${name}.crt`), 'utf8'), sha256: fp.trim().replaceAll(':', '').toLowerCase() };
  };
}

/** SIGTERM, then SIGKILL after 20 s; resolves when the process is gone. */
export async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
  await done;
  clearTimeout(t);
}
