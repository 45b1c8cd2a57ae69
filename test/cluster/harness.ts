// Boots upstream Kubernetes on loopback from the PKI `anchorage pki init` generates:
// etcd (client-cert auth) → kube-apiserver (Node,RBAC, front-proxy, SA keys) → controller-manager + scheduler.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;

/** The pinned binaries: builds them on first use, a cache hit afterwards (test/k8s/build.sh). */
export function kubeBinDir(): string {
  if (process.env.ANCHORAGE_K8S_BIN) return process.env.ANCHORAGE_K8S_BIN;
  const out = execFileSync('bash', [join(ROOT, 'test', 'k8s', 'build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  const dir = out.trim().split('\n').at(-1) as string;
  if (!existsSync(join(dir, 'kube-apiserver'))) throw new Error(`test/k8s/build.sh printed '${dir}', which has no kube-apiserver`);
  return dir;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export function anchorage(args: string[], cwd?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [join(ROOT, 'src', 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd, timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Thrown inside a waitFor probe to stop waiting at once (a process died). */
export class Fatal extends Error {}

/** Poll `f` until it returns true, at most `ms`. */
export async function waitFor(what: string, f: () => boolean | Promise<boolean>, ms = 90_000, every = 250): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (await f()) return;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      // not ready yet
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
}

/** An HTTPS GET with a client certificate; resolves with the status code (or rejects on TLS failure). */
export function tlsGet(
  url: string,
  o: { ca: string; cert?: string; key?: string; headers?: Record<string, string>; servername?: string; method?: string; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? 'GET',
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        headers: o.headers,
        servername: o.servername,
        timeout: 5000,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (o.body) req.write(o.body);
    req.end();
  });
}

export interface ClusterOptions {
  keyAlgorithm?: string;
  workers?: number;
  rootCA?: boolean;
  /** Change the generated PKI before anything starts (the broken-PKI cases). */
  tamper?: (pki: string, dir: string) => void;
  /** Don't wait for readiness (a broken PKI may never get there). */
  expectFailure?: boolean;
}

export interface Cluster {
  dir: string;
  pkiDir: string;
  nodeRoot: string;
  bin: string;
  apiPort: number;
  apiUrl: string;
  admin: string;
  kubectl(args: string[], kubeconfig?: string): { code: number; stdout: string; stderr: string };
  start(component?: Component): Promise<void>;
  stopComponent(component: Component): Promise<void>;
  restartAll(): Promise<void>;
  log(component: Component): string;
  stop(): Promise<void>;
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';
const ORDER: Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const bin = kubeBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-cluster-'));
  const [apiPort, etcdPort, peerPort, cmPort, schedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const config = {
    apiVersion: 'anchorage.dev/v1alpha1',
    kind: 'ClusterPKI',
    clusterName: 'anchorage-test',
    controlPlaneEndpoint: `127.0.0.1:${apiPort}`,
    apiServerPort: apiPort,
    keyAlgorithm: opts.keyAlgorithm ?? 'ecdsa-p256',
    serviceCIDR: '10.96.0.0/12',
    controlPlane: [{ name: 'cp-1', ips: ['127.0.0.1'] }],
    workers: Array.from({ length: opts.workers ?? 1 }, (_, i) => ({ name: `worker-${i + 1}`, ips: [`127.0.1.${i + 1}`] })),
    ...(opts.rootCA ? { rootCA: { enabled: true, commonName: 'Test Root CA' } } : {}),
    encryptionAtRest: { enabled: true, provider: 'aescbc' },
  };
  writeFileSync(join(dir, 'cluster.yaml'), stringify(config));
  const init = anchorage(['pki', 'init', '--config', join(dir, 'cluster.yaml'), '--out', join(dir, 'pki')]);
  if (init.code !== 0) throw new Error(`anchorage pki init failed: ${init.stderr}`);
  const pkiDir = join(dir, 'pki');
  const nodeRoot = join(pkiDir, 'nodes', 'cp-1');
  const K = join(nodeRoot, 'etc', 'kubernetes');
  const P = join(K, 'pki');
  opts.tamper?.(P, dir);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const procs = new Map<Component, ChildProcess>();
  const etcdUrl = `https://127.0.0.1:${etcdPort}`;
  const apiUrl = `https://127.0.0.1:${apiPort}`;
  const args: Record<Component, string[]> = {
    etcd: [
      '--name=cp-1',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=https://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${peerPort}`,
      `--initial-cluster=cp-1=https://127.0.0.1:${peerPort}`,
      '--listen-metrics-urls=',
      `--cert-file=${P}/etcd/server.crt`,
      `--key-file=${P}/etcd/server.key`,
      `--trusted-ca-file=${P}/etcd/ca.crt`,
      '--client-cert-auth=true',
      `--peer-cert-file=${P}/etcd/peer.crt`,
      `--peer-key-file=${P}/etcd/peer.key`,
      `--peer-trusted-ca-file=${P}/etcd/ca.crt`,
      '--peer-client-cert-auth=true',
      '--log-level=warn',
    ],
    'kube-apiserver': [
      `--etcd-servers=${etcdUrl}`,
      `--etcd-cafile=${P}/etcd/ca.crt`,
      `--etcd-certfile=${P}/apiserver-etcd-client.crt`,
      `--etcd-keyfile=${P}/apiserver-etcd-client.key`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${P}/apiserver.crt`,
      `--tls-private-key-file=${P}/apiserver.key`,
      `--client-ca-file=${P}/ca.crt`,
      `--kubelet-client-certificate=${P}/apiserver-kubelet-client.crt`,
      `--kubelet-client-key=${P}/apiserver-kubelet-client.key`,
      `--proxy-client-cert-file=${P}/front-proxy-client.crt`,
      `--proxy-client-key-file=${P}/front-proxy-client.key`,
      `--requestheader-client-ca-file=${P}/front-proxy-ca.crt`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--service-account-key-file=${P}/sa.pub`,
      `--service-account-signing-key-file=${P}/sa.key`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/12',
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      `--encryption-provider-config=${K}/encryption-config.yaml`,
    ],
    'kube-controller-manager': [
      `--kubeconfig=${K}/controller-manager.conf`,
      `--authentication-kubeconfig=${K}/controller-manager.conf`,
      `--authorization-kubeconfig=${K}/controller-manager.conf`,
      `--cluster-signing-cert-file=${P}/ca.crt`,
      `--cluster-signing-key-file=${P}/ca.key`,
      `--root-ca-file=${P}/ca.crt`,
      `--service-account-private-key-file=${P}/sa.key`,
      `--client-ca-file=${P}/ca.crt`,
      `--requestheader-client-ca-file=${P}/front-proxy-ca.crt`,
      '--use-service-account-credentials=true',
      '--leader-elect=true',
      '--bind-address=127.0.0.1',
      `--secure-port=${cmPort}`,
      '--controllers=*,bootstrapsigner,tokencleaner',
    ],
    'kube-scheduler': [
      `--kubeconfig=${K}/scheduler.conf`,
      `--authentication-kubeconfig=${K}/scheduler.conf`,
      `--authorization-kubeconfig=${K}/scheduler.conf`,
      '--leader-elect=true',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
    ],
  };
  const logPath = (c: Component): string => join(dir, 'logs', `${c}.log`);
  const start1 = (c: Component): void => {
    const fd = openSync(logPath(c), 'a');
    const p = spawn(join(bin, c), args[c], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    procs.set(c, p);
  };
  const stop1 = async (c: Component): Promise<void> => {
    const p = procs.get(c);
    procs.delete(c);
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  const admin = join(K, 'admin.conf');
  const kubectl = (a: string[], kubeconfig = admin): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, '--request-timeout=10s', ...a], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ready = async (c: Component): Promise<void> => {
    const alive = (): void => {
      const p = procs.get(c);
      if (p && p.exitCode !== null) throw new Fatal(`${c} exited with ${p.exitCode}:\n${tail(logPath(c))}`);
    };
    const ca = (f: string): string => readFileSync(join(P, f), 'utf8');
    if (c === 'kube-apiserver') {
      await waitFor('kube-apiserver /readyz', () => {
        alive();
        return kubectl(['get', '--raw', '/readyz']).stdout.trim() === 'ok';
      });
      // What `kubeadm init` does next: bind kubeadm:cluster-admins (admin.conf's group) with super-admin.conf.
      const superAdmin = join(K, 'super-admin.conf');
      if (kubectl(['get', 'clusterrolebinding', 'kubeadm:cluster-admins'], superAdmin).code !== 0) {
        const r = kubectl(
          ['create', 'clusterrolebinding', 'kubeadm:cluster-admins', '--clusterrole=cluster-admin', '--group=kubeadm:cluster-admins'],
          superAdmin,
        );
        if (r.code !== 0) throw new Error(`cannot bind kubeadm:cluster-admins: ${r.stderr}`);
      }
      return;
    }
    if (c === 'etcd')
      await waitFor('etcd /health', async () => {
        alive();
        const r = await tlsGet(`${etcdUrl}/health`, {
          ca: ca('etcd/ca.crt'),
          cert: ca('etcd/healthcheck-client.crt'),
          key: ca('etcd/healthcheck-client.key'),
        });
        return r.status === 200 && r.body.includes('"health":"true"');
      });
    else
      await waitFor(`${c} leader lease`, () => {
        alive();
        const r = kubectl(['get', 'lease', '-n', 'kube-system', c, '-o', 'jsonpath={.spec.holderIdentity}']);
        return r.code === 0 && r.stdout.trim() !== '';
      });
  };
  const cluster: Cluster = {
    dir,
    pkiDir,
    nodeRoot,
    bin,
    apiPort,
    apiUrl,
    admin,
    kubectl,
    async start(component?: Component) {
      for (const c of component ? [component] : ORDER) {
        start1(c);
        if (!opts.expectFailure) await ready(c);
      }
    },
    stopComponent: stop1,
    async restartAll() {
      for (const c of [...ORDER].reverse()) await stop1(c);
      // etcd and the control plane re-read every certificate at start-up.
      for (const c of ORDER) {
        start1(c);
        await ready(c);
      }
    },
    log: (c) => (existsSync(logPath(c)) ? readFileSync(logPath(c), 'utf8') : ''),
    async stop() {
      for (const c of [...ORDER].reverse()) await stop1(c);
      if (!process.env.ANCHORAGE_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.start();
  } catch (e) {
    await Promise.all([...procs.keys()].map(stop1));
    throw e;
  }
  return cluster;
}

function tail(path: string, lines = 30): string {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n') : '';
}
