// Boots upstream Kubernetes on loopback from the PKI `anchorage pki init` generates:
// etcd (client-cert auth) → kube-apiserver (Node,RBAC, front-proxy, SA keys) → controller-manager + scheduler,
// in kubeadm's layout (its static-pod flags) or the hard way's (Kubernetes the Hard Way's systemd units).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { kubeBinDir } from '../support/k8s.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;

/** Listen on `port` (0: any) and close again: the port it got, or undefined when that one is taken. */
function tryPort(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(undefined) : reject(e)));
    s.listen(port, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : undefined));
    });
  });
}

/** Ports freePort has picked in this process. */
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (the source ports of outgoing connections). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A port free now for a component to listen on later. Not one of the ephemeral range, as port 0 would give: between
 * this check and the component's bind, any outgoing connection (kubectl, a client, another test's cluster) may take
 * an ephemeral port as its source port ("bind: address already in use" for kube-scheduler in a CI run while a
 * 100,000-Secret cluster was being filled beside it). Below that range only listeners take ports, and these are
 * picked at random; after 100 taken ports, any free one.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const top = ephemeralStart();
  if (top > 11_000)
    for (let i = 0; i < 100; i++) {
      const pick = 10_000 + Math.floor(Math.random() * (top - 10_000));
      // Never the same port twice in this process (two calls at once could both find it free).
      if (handedOut.has(pick)) continue;
      handedOut.add(pick);
      const port = await tryPort(pick, host);
      if (port !== undefined) return port;
    }
  const any = await tryPort(0, host);
  if (any === undefined) throw new Error(`no free port on ${host}`);
  return any;
}

export function anchorage(args: string[], cwd?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [join(ROOT, 'src', 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd, timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `anchorage` without blocking this process's event loop (for a test that serves something the CLI talks to). */
export function anchorageAsync(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
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
  /** kubeadm (default) or hard-way: the files `pki init` writes and the flags the components get. */
  layout?: 'kubeadm' | 'hard-way';
  keyAlgorithm?: string;
  workers?: number;
  rootCA?: boolean;
  /** Change the generated PKI before anything starts (the broken-PKI cases). */
  tamper?: (pki: string, dir: string) => void;
  /** Don't wait for readiness (a broken PKI may never get there). */
  expectFailure?: boolean;
  /** Extra kube-apiserver flags (feature gates, --runtime-config for beta APIs). */
  apiserverArgs?: string[];
  /**
   * Start from a node tree made by something else (kubeadm layout, e.g. the real kubeadm's) instead of
   * `pki init`: called with the cluster folder and the API server's port, returns the node's root (holding
   * etc/kubernetes). `pkiDir` is then <dir>/pki, for the test to fill (e.g. with `pki adopt`). kubeadm refuses
   * a loopback advertise address, so such a tree names one this machine does not have: the controller-manager
   * and the scheduler get `--master` (the loopback API server), their kubeconfigs' credentials unchanged.
   */
  nodeTree?: (dir: string, apiPort: number) => string;
}

export interface Cluster {
  dir: string;
  pkiDir: string;
  nodeRoot: string;
  bin: string;
  apiPort: number;
  apiUrl: string;
  admin: string;
  /** etcd's client URL and the files of a client certificate it accepts. */
  etcd: { url: string; ca: string; cert: string; key: string };
  /** kubectl as `kubeconfig` (the admin by default), `input` on its stdin. */
  kubectl(args: string[], kubeconfig?: string, input?: string): { code: number; stdout: string; stderr: string };
  /** `kubectl apply --server-side --force-conflicts` of a YAML text; throws with kubectl's stderr. */
  apply(yaml: string, kubeconfig?: string): void;
  /** `kubectl get ARGS -o json`, parsed; undefined when kubectl fails (not found, forbidden). */
  getJson<T = Record<string, unknown>>(...args: string[]): T | undefined;
  start(component?: Component): Promise<void>;
  stopComponent(component: Component): Promise<void>;
  restartAll(): Promise<void>;
  log(component: Component): string;
  stop(): Promise<void>;
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';
const ORDER: Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

/** The hard way's service and pod ranges (its kube-api-server certificate carries 10.32.0.1). */
export const HW_SERVICE_CIDR = '10.32.0.0/24';
export const HW_POD_CIDR = '10.200.0.0/16';

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const bin = await kubeBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-cluster-'));
  const [apiPort, etcdPort, peerPort, cmPort, schedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const hardWay = opts.layout === 'hard-way';
  const config = {
    apiVersion: 'anchorage.dev/v1alpha1',
    kind: 'ClusterPKI',
    clusterName: 'anchorage-test',
    controlPlaneEndpoint: `127.0.0.1:${apiPort}`,
    // The hard way leaves apiServerPort to its default (the endpoint's port): its local kubeconfigs must follow it.
    ...(hardWay ? { layout: 'hard-way', podCIDR: HW_POD_CIDR } : { apiServerPort: apiPort }),
    keyAlgorithm: opts.keyAlgorithm ?? 'ecdsa-p256',
    serviceCIDR: hardWay ? HW_SERVICE_CIDR : '10.96.0.0/12',
    controlPlane: [{ name: 'cp-1', ips: ['127.0.0.1'] }],
    workers: Array.from({ length: opts.workers ?? 1 }, (_, i) => ({ name: `worker-${i + 1}`, ips: [`127.0.1.${i + 1}`] })),
    ...(opts.rootCA ? { rootCA: { enabled: true, commonName: 'Test Root CA' } } : {}),
    encryptionAtRest: { enabled: true, provider: 'aescbc' },
  };
  const pkiDir = join(dir, 'pki');
  let nodeRoot = join(pkiDir, 'nodes', 'cp-1');
  if (opts.nodeTree) nodeRoot = opts.nodeTree(dir, apiPort);
  else {
    writeFileSync(join(dir, 'cluster.yaml'), stringify(config));
    const init = anchorage(['pki', 'init', '--config', join(dir, 'cluster.yaml'), '--out', pkiDir]);
    if (init.code !== 0) throw new Error(`anchorage pki init failed: ${init.stderr}`);
  }
  const K = join(nodeRoot, 'etc', 'kubernetes');
  const P = join(K, 'pki');
  const HW = join(nodeRoot, 'var', 'lib', 'kubernetes');
  opts.tamper?.(hardWay ? HW : P, dir);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const procs = new Map<Component, ChildProcess>();
  const etcdUrl = `https://127.0.0.1:${etcdPort}`;
  const apiUrl = `https://127.0.0.1:${apiPort}`;
  const ports = { apiPort, etcdPort, peerPort, cmPort, schedPort };
  const kubeadmArgs: Record<Component, string[]> = {
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
      // kubeadm writes none: only a tree that has one gets it.
      ...(existsSync(join(K, 'encryption-config.yaml')) ? [`--encryption-provider-config=${K}/encryption-config.yaml`] : []),
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
  if (opts.nodeTree) for (const c of ['kube-controller-manager', 'kube-scheduler'] as const) kubeadmArgs[c].push(`--master=${apiUrl}`);
  const args = hardWay ? hardWayArgs(dir, HW, ports) : kubeadmArgs;
  args['kube-apiserver'].push(...(opts.apiserverArgs ?? []));
  const etcdClient = hardWay
    ? // The hard way has one certificate for etcd: the API server's, as server, peer and client.
      { url: etcdUrl, ca: join(HW, 'ca.crt'), cert: join(HW, 'kube-api-server.crt'), key: join(HW, 'kube-api-server.key') }
    : {
        url: etcdUrl,
        ca: join(P, 'etcd/ca.crt'),
        cert: join(P, 'etcd/healthcheck-client.crt'),
        key: join(P, 'etcd/healthcheck-client.key'),
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
  const admin = hardWay ? join(HW, 'admin.kubeconfig') : join(K, 'admin.conf');
  // Generous bounds: a loaded CI machine can take seconds per request.
  const kubectl = (a: string[], kubeconfig = admin, input?: string): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, '--request-timeout=20s', ...a], {
      encoding: 'utf8',
      input,
      timeout: 60_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const apply = (yaml: string, kubeconfig?: string): void => {
    const r = kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], kubeconfig, yaml);
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
  };
  const getJson = <T = Record<string, unknown>>(...args: string[]): T | undefined => {
    const r = kubectl(['get', ...args, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
  };
  const ready = async (c: Component): Promise<void> => {
    const alive = (): void => {
      const p = procs.get(c);
      if (p && p.exitCode !== null) throw new Fatal(`${c} exited with ${p.exitCode}:\n${tail(logPath(c))}`);
    };
    const read = (f: string): string => readFileSync(f, 'utf8');
    if (c === 'kube-apiserver') {
      await waitFor('kube-apiserver /readyz', () => {
        alive();
        return kubectl(['get', '--raw', '/readyz']).stdout.trim() === 'ok';
      });
      // The hard way's admin is in system:masters: nothing to bind.
      if (hardWay) return;
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
        const r = await tlsGet(`${etcdUrl}/health`, { ca: read(etcdClient.ca), cert: read(etcdClient.cert), key: read(etcdClient.key) });
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
    etcd: etcdClient,
    kubectl,
    apply,
    getJson,
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

/**
 * Kubernetes the Hard Way's systemd units (units/*.service, configs/kube-scheduler.yaml), file for file, with
 * these changes for a shared test machine: everything listens on 127.0.0.1 at free ports; etcd serves TLS with
 * client-certificate auth using the API server's certificate (the tutorial before 2024; today's plain-HTTP
 * etcd on 127.0.0.1 would test no certificate); the API server gets --service-cluster-ip-range (the unit
 * leaves it at 10.0.0.0/24, outside its own certificate's 10.32.0.1) and its audit log goes under <dir>/logs.
 */
function hardWayArgs(
  dir: string,
  HW: string,
  p: { apiPort: number; etcdPort: number; peerPort: number; cmPort: number; schedPort: number },
): Record<Component, string[]> {
  const etcdUrl = `https://127.0.0.1:${p.etcdPort}`;
  const peerUrl = `https://127.0.0.1:${p.peerPort}`;
  const schedulerConfig = join(dir, 'kube-scheduler.yaml');
  writeFileSync(
    schedulerConfig,
    stringify({
      apiVersion: 'kubescheduler.config.k8s.io/v1',
      kind: 'KubeSchedulerConfiguration',
      clientConnection: { kubeconfig: `${HW}/kube-scheduler.kubeconfig` },
      leaderElection: { leaderElect: true },
    }),
  );
  return {
    etcd: [
      '--name=controller',
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      '--initial-cluster-token=etcd-cluster-0',
      `--initial-cluster=controller=${peerUrl}`,
      '--initial-cluster-state=new',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--cert-file=${HW}/kube-api-server.crt`,
      `--key-file=${HW}/kube-api-server.key`,
      `--trusted-ca-file=${HW}/ca.crt`,
      '--client-cert-auth=true',
      `--peer-cert-file=${HW}/kube-api-server.crt`,
      `--peer-key-file=${HW}/kube-api-server.key`,
      `--peer-trusted-ca-file=${HW}/ca.crt`,
      '--peer-client-cert-auth=true',
      '--listen-metrics-urls=',
      '--log-level=warn',
    ],
    'kube-apiserver': [
      '--allow-privileged=true',
      '--audit-log-maxage=30',
      '--audit-log-maxbackup=3',
      '--audit-log-maxsize=100',
      `--audit-log-path=${join(dir, 'logs', 'audit.log')}`,
      '--authorization-mode=Node,RBAC',
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${p.apiPort}`,
      `--client-ca-file=${HW}/ca.crt`,
      '--enable-admission-plugins=NamespaceLifecycle,NodeRestriction,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota',
      `--etcd-servers=${etcdUrl}`,
      `--etcd-cafile=${HW}/ca.crt`,
      `--etcd-certfile=${HW}/kube-api-server.crt`,
      `--etcd-keyfile=${HW}/kube-api-server.key`,
      '--event-ttl=1h',
      `--encryption-provider-config=${HW}/encryption-config.yaml`,
      `--kubelet-certificate-authority=${HW}/ca.crt`,
      `--kubelet-client-certificate=${HW}/kube-api-server.crt`,
      `--kubelet-client-key=${HW}/kube-api-server.key`,
      '--runtime-config=api/all=true',
      `--service-account-key-file=${HW}/service-accounts.crt`,
      `--service-account-signing-key-file=${HW}/service-accounts.key`,
      `--service-account-issuer=https://127.0.0.1:${p.apiPort}`,
      `--service-cluster-ip-range=${HW_SERVICE_CIDR}`,
      '--service-node-port-range=30000-32767',
      `--tls-cert-file=${HW}/kube-api-server.crt`,
      `--tls-private-key-file=${HW}/kube-api-server.key`,
    ],
    'kube-controller-manager': [
      '--bind-address=127.0.0.1',
      `--secure-port=${p.cmPort}`,
      `--cluster-cidr=${HW_POD_CIDR}`,
      '--cluster-name=kubernetes',
      `--cluster-signing-cert-file=${HW}/ca.crt`,
      `--cluster-signing-key-file=${HW}/ca.key`,
      `--kubeconfig=${HW}/kube-controller-manager.kubeconfig`,
      `--root-ca-file=${HW}/ca.crt`,
      `--service-account-private-key-file=${HW}/service-accounts.key`,
      `--service-cluster-ip-range=${HW_SERVICE_CIDR}`,
      '--use-service-account-credentials=true',
    ],
    'kube-scheduler': [`--config=${schedulerConfig}`, '--bind-address=127.0.0.1', `--secure-port=${p.schedPort}`],
  };
}
