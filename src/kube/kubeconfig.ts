// Where the runtime's credentials come from, without @kubernetes/client-node: its KubeConfig imports the whole
// generated API (about 80 MiB of resident memory in a controller that uses none of it). Read here, as kubectl
// reads them: the kubeconfig files (KUBECONFIG's list merged, first value wins; ~/.kube/config by default; relative
// paths against each file's folder), the current context or --context, the cluster's server, CA, TLS server
// name and insecure-skip-tls-verify, the user's client certificate and key, bearer token or token file, basic
// auth; and the in-cluster service account (token file re-read, as it rotates). Users with an exec plugin or an
// auth-provider are handed to @kubernetes/client-node's KubeConfig, loaded only then. The proxy is kubectl's
// too: the cluster's `proxy-url` (http:// or https://, an HTTP CONNECT tunnel), else HTTPS_PROXY with NO_PROXY
// (Go's rules: loopback never proxied).
import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../common/errors.ts';
import { parseYaml } from '../common/yaml.ts';
import type { ApiServerEndpoint } from '../k8s/cluster-source.ts';

/** What the client needs for one connection: TLS material and headers. */
export interface HttpsAuth {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  headers: Record<string, string>;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/**
 * The shape KubeClient reads: @kubernetes/client-node's KubeConfig has it too, so either may be passed.
 * `applyToHTTPSOptions` fills node:https options (ca, cert, key, headers, rejectUnauthorized, servername).
 */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: object): Promise<void>;
  /** The HTTP(S) proxy to tunnel through (CONNECT), when there is one (client-node's KubeConfig: never). */
  proxyUrl?(): string | undefined;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Largest kubeconfig file read. */
const MAX_KUBECONFIG = 4 << 20;

interface Named<T> {
  name: string;
  [k: string]: unknown;
  value?: T;
}
interface RawCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}
interface RawUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  as?: string;
}
interface RawContext {
  cluster?: string;
  user?: string;
  namespace?: string;
}

interface Resolved {
  server: string;
  cluster: RawCluster & { base: string };
  user: RawUser & { base: string };
  contextName: string;
  /** The context's cluster entry's name (`in-cluster` for the service account). */
  clusterName: string;
}

/** A proxy URL without its password, for messages. */
export function redactProxy(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.href.replace(/\/$/, '');
  } catch {
    return u;
  }
}

/** Go's `http.ProxyFromEnvironment` value form: a URL, or `host[:port]` meaning http://. */
function envProxyUrl(v: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
}

/** Whether NO_PROXY exempts `host:port`: Go's httpproxy rules (`*`, IPs, `host[:port]`, `.suffix`) plus client-go's CIDRs. */
export function noProxyMatches(noProxy: string, host: string, port: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (isIP(h) && inCidr(h, entry)) return true;
      continue;
    }
    if (isIP(entry.replace(/^\[|\]$/g, ''))) {
      if (entry.replace(/^\[|\]$/g, '') === h) return true;
      continue;
    }
    // host:port or [v6]:port
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    const eHost = (m ? (m[1] as string) : entry).replace(/^\[|\]$/g, '');
    const ePort = m?.[2] ?? '';
    if (ePort && ePort !== port) continue;
    if (isIP(eHost)) {
      if (eHost === h) return true;
      continue;
    }
    // `*.x` is `.x`; `.x` matches below x only; `x` matches x and below it.
    const d = eHost.startsWith('*.') ? eHost.slice(1) : eHost;
    if (d.startsWith('.') ? h.endsWith(d) : h === d || h.endsWith(`.${d}`)) return true;
  }
  return false;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net = '', bitsText = ''] = cidr.split('/');
  const family = isIP(net);
  const bits = Number(bitsText);
  if (!family || family !== isIP(ip) || !/^\d+$/.test(bitsText) || bits > (family === 4 ? 32 : 128)) return false;
  const list = new BlockList();
  list.addSubnet(net, bits, family === 4 ? 'ipv4' : 'ipv6');
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

let tunnels: boolean | undefined;
/** Whether this Node's https.Agent takes `proxyEnv` (Node 24.5+): older ones ignore it and would connect directly. */
function nodeTunnels(): boolean {
  tunnels ??= Object.getOwnPropertySymbols(new Agent({ proxyEnv: { HTTPS_PROXY: 'http://127.0.0.1:9' } })).some(
    (s) => s.description === 'kProxyConfig',
  );
  return tunnels;
}

/**
 * Check a proxy as client-go does (`where`: `kubeconfig: cluster 'c': proxy-url`, or the variable it came from);
 * SOCKS is not supported here: one line.
 */
function checkProxyUrl(where: string, u: string): string {
  if (!nodeTunnels())
    throw new InputError(
      `${where} ${redactProxy(u)}: this Node (${process.version}) has no proxy support in its https.Agent; run Anchorage on Node 24.5 or later`,
    );
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new InputError(`${where} '${redactProxy(u)}' is not a URL`);
  }
  if (url.protocol === 'socks5:' || url.protocol === 'socks5h:')
    throw new InputError(`${where} ${redactProxy(u)}: SOCKS5 proxies are not supported (http:// and https:// are)`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InputError(`${where} ${redactProxy(u)}: scheme ${url.protocol} is not supported (http:// and https:// are)`);
  return u;
}

/** kubectl's choice of proxy for this cluster (LiteKubeConfig.proxyUrl); an unusable one is an InputError. */
function chooseProxy(r: Resolved): string | undefined {
  const explicit = r.cluster['proxy-url'];
  if (explicit) return checkProxyUrl(`kubeconfig: cluster '${r.clusterName}': proxy-url`, explicit);
  let u: URL;
  try {
    u = new URL(r.server);
  } catch {
    return undefined;
  }
  const https = u.protocol === 'https:';
  const name = https ? (process.env.HTTPS_PROXY ? 'HTTPS_PROXY' : 'https_proxy') : process.env.HTTP_PROXY ? 'HTTP_PROXY' : 'http_proxy';
  const env = process.env[name];
  if (!env) return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return undefined;
  if (isIP(host) && (inCidr(host, '127.0.0.0/8') || inCidr(host, '::1/128'))) return undefined;
  const port = u.port || (https ? '443' : '80');
  if (noProxyMatches(process.env.NO_PROXY || process.env.no_proxy || '', host, port)) return undefined;
  return checkProxyUrl(name, envProxyUrl(env));
}

const readIn = (base: string, p: string): Buffer => readFileSync(isAbsolute(p) ? p : join(base, p));

/** A kubeconfig as the controller runtime uses it. */
export class LiteKubeConfig implements KubeConfigLike {
  private readonly r: Resolved;
  /** For exec / auth-provider users: client-node's KubeConfig, loaded on first use. */
  private delegate?: Promise<KubeConfigLike>;
  private readonly files: string[];
  private readonly inCluster: boolean;
  private readonly proxy: string | undefined;

  private constructor(r: Resolved, files: string[], inCluster: boolean) {
    this.r = r;
    this.files = files;
    this.inCluster = inCluster;
    this.proxy = chooseProxy(r);
  }

  get currentContext(): string {
    return this.r.contextName;
  }

  getCurrentCluster(): { server: string; name: string } {
    return { server: this.r.server, name: this.r.clusterName };
  }

  /**
   * The proxy this cluster's requests go through, as kubectl picks it: the cluster's `proxy-url`, else (for an
   * https:// server) HTTPS_PROXY/https_proxy unless NO_PROXY/no_proxy exempts the host; localhost and loopback
   * addresses never go through an environment proxy. Chosen when the kubeconfig is loaded.
   */
  proxyUrl(): string | undefined {
    return this.proxy;
  }

  /** True when the user authenticates through an exec plugin or an auth-provider (client-node does those). */
  get delegated(): boolean {
    return this.r.user.exec !== undefined || this.r.user['auth-provider'] !== undefined;
  }

  async applyToHTTPSOptions(opts: object): Promise<void> {
    const o = opts as HttpsAuth;
    if (this.delegated) {
      this.delegate ??= (async () => {
        const { KubeConfig } = await import('@kubernetes/client-node');
        const kc = new KubeConfig();
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = this.files.join(':');
        try {
          kc.loadFromDefault();
        } finally {
          if (saved === undefined) delete process.env.KUBECONFIG;
          else process.env.KUBECONFIG = saved;
        }
        kc.setCurrentContext(this.r.contextName);
        return kc as unknown as KubeConfigLike;
      })();
      return (await this.delegate).applyToHTTPSOptions(opts);
    }
    const c = this.r.cluster;
    const u = this.r.user;
    o.headers = { ...(o.headers ?? {}) };
    if (c['certificate-authority-data']) o.ca = Buffer.from(c['certificate-authority-data'], 'base64');
    else if (c['certificate-authority']) o.ca = readIn(c.base, c['certificate-authority']);
    if (c['insecure-skip-tls-verify']) o.rejectUnauthorized = false;
    if (c['tls-server-name']) o.servername = c['tls-server-name'];
    if (u['client-certificate-data']) o.cert = Buffer.from(u['client-certificate-data'], 'base64');
    else if (u['client-certificate']) o.cert = readIn(u.base, u['client-certificate']);
    if (u['client-key-data']) o.key = Buffer.from(u['client-key-data'], 'base64');
    else if (u['client-key']) o.key = readIn(u.base, u['client-key']);
    // A token file is read on every call (the caller caches for a minute): projected tokens rotate.
    const token = u.tokenFile ? readIn(u.base, u.tokenFile).toString('utf8').trim() : u.token;
    if (token) o.headers.authorization = `Bearer ${token}`;
    else if (u.username !== undefined)
      o.headers.authorization = `Basic ${Buffer.from(`${u.username}:${u.password ?? ''}`).toString('base64')}`;
    if (u.as) o.headers['impersonate-user'] = u.as;
  }

  /** The in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA). */
  static fromCluster(dir = SERVICE_ACCOUNT_DIR): LiteKubeConfig {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new InputError('in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)');
    if (!existsSync(join(dir, 'token'))) throw new InputError(`in-cluster: ${join(dir, 'token')}: no such file (no service account token)`);
    const h = host.includes(':') ? `[${host}]` : host;
    return new LiteKubeConfig(
      {
        server: `https://${h}:${port}`,
        cluster: { base: dir, 'certificate-authority': 'ca.crt' },
        user: { base: dir, tokenFile: 'token' },
        contextName: 'in-cluster',
        clusterName: 'in-cluster',
      },
      [],
      true,
    );
  }

  /**
   * Load as kubectl would: `kubeconfig` (files joined by ':'), else KUBECONFIG, else ~/.kube/config; then the
   * context. Bad input (a missing file, an unknown context, no cluster) is an InputError.
   */
  static load(o: { kubeconfig?: string; context?: string } = {}): LiteKubeConfig {
    const fromFlag = o.kubeconfig !== undefined;
    const list = (o.kubeconfig ?? process.env.KUBECONFIG ?? '')
      .split(':')
      .filter(Boolean)
      .map((f) => resolve(f));
    if (fromFlag) for (const f of list) if (!existsSync(f)) throw new InputError(`--kubeconfig: ${f}: no such file`);
    const files = list.length ? list.filter((f) => existsSync(f)) : [join(homedir(), '.kube', 'config')];
    if (!files.some((f) => existsSync(f))) throw new InputError(`kubeconfig: ${files.join(':') || 'KUBECONFIG'}: no such file`);
    const clusters = new Map<string, RawCluster & { base: string }>();
    const users = new Map<string, RawUser & { base: string }>();
    const contexts = new Map<string, RawContext>();
    let current: string | undefined;
    for (const f of files) {
      if (!existsSync(f)) continue;
      const buf = readFileSync(f);
      if (buf.length > MAX_KUBECONFIG) throw new InputError(`kubeconfig: ${f}: too large (over ${MAX_KUBECONFIG} bytes)`);
      let doc: Record<string, unknown> | null;
      try {
        doc = parseYaml(buf.toString('utf8')) as Record<string, unknown> | null;
      } catch (e) {
        throw new InputError(`kubeconfig: ${f}: ${(e as Error).message.split('\n')[0]}`);
      }
      if (doc === null || doc === undefined) continue;
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`kubeconfig: ${f}: not a kubeconfig`);
      const base = dirname(f);
      const each = <T>(k: string, inner: string, into: Map<string, T>, extra: object): void => {
        const arr = doc?.[k];
        if (arr === undefined || arr === null) return;
        if (!Array.isArray(arr)) throw new InputError(`kubeconfig: ${f}: ${k} is not a list`);
        for (const e of arr as Named<T>[]) {
          if (!e || typeof e.name !== 'string') throw new InputError(`kubeconfig: ${f}: an entry of ${k} has no name`);
          if (!into.has(e.name)) into.set(e.name, { ...((e[inner] as object) ?? {}), ...extra } as T);
        }
      };
      each('clusters', 'cluster', clusters, { base });
      each('users', 'user', users, { base });
      each('contexts', 'context', contexts, {});
      if (current === undefined && typeof doc['current-context'] === 'string' && doc['current-context']) current = doc['current-context'];
    }
    const name = o.context ?? current;
    if (o.context !== undefined && !contexts.has(o.context))
      throw new InputError(`--context: no context named '${o.context}' in the kubeconfig`);
    const ctx = name === undefined ? undefined : contexts.get(name);
    if (!ctx || name === undefined) throw new InputError('kubeconfig: no current cluster (set a current-context or pass --context)');
    const cluster = ctx.cluster === undefined ? undefined : clusters.get(ctx.cluster);
    if (!cluster?.server) throw new InputError(`kubeconfig: context '${name}' names no cluster with a server`);
    const user = (ctx.user === undefined ? undefined : users.get(ctx.user)) ?? { base: dirname(files[0] as string) };
    return new LiteKubeConfig(
      { server: cluster.server, cluster, user, contextName: name, clusterName: ctx.cluster as string },
      files,
      false,
    );
  }

  get isInCluster(): boolean {
    return this.inCluster;
  }
}

/**
 * The kubeconfig of `scan`, `serve` and `agent`, as kubectl loads it: the pod's service account with
 * `inCluster`; else `kubeconfig` (files joined by ':'), else KUBECONFIG, else ~/.kube/config, with `context`;
 * and, like client-go, the service account when none of those files exists and the process runs in a pod.
 * Bad input (a missing file, an unknown context, --in-cluster outside a pod) is an InputError.
 */
export function loadKubeConfig(o: { kubeconfig?: string; context?: string; inCluster?: boolean }): LiteKubeConfig {
  const token = join(SERVICE_ACCOUNT_DIR, 'token');
  if (o.inCluster) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
      throw new InputError('--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)');
    if (!existsSync(token)) throw new InputError(`--in-cluster: ${token}: no such file (no service account token mounted)`);
    return LiteKubeConfig.fromCluster();
  }
  if (
    o.kubeconfig === undefined &&
    o.context === undefined &&
    !process.env.KUBECONFIG &&
    !existsSync(join(homedir(), '.kube', 'config')) &&
    process.env.KUBERNETES_SERVICE_HOST &&
    process.env.KUBERNETES_SERVICE_PORT &&
    existsSync(token)
  )
    return LiteKubeConfig.fromCluster();
  return LiteKubeConfig.load({
    ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
    ...(o.context !== undefined && { context: o.context }),
  });
}

/**
 * The API server as a TLS endpoint: its host and port, with the TLS material the kubeconfig's client would use
 * and the proxy its requests go through. Undefined for a server that is not https:// or credentials that fail
 * to load (the API calls then say why, once).
 */
export async function apiServerEndpoint(kc: LiteKubeConfig): Promise<ApiServerEndpoint | undefined> {
  let u: URL;
  try {
    u = new URL(kc.getCurrentCluster().server);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:') return undefined;
  const tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; servername?: string; headers?: object } = {};
  try {
    await kc.applyToHTTPSOptions(tls);
  } catch {
    return undefined;
  }
  const text = (b: string | Buffer | undefined): string | undefined => (b === undefined ? undefined : b.toString());
  const e: ApiServerEndpoint = { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 443 };
  if (tls.servername) e.servername = tls.servername;
  const ca = text(tls.ca);
  if (ca) e.ca = ca;
  const cert = text(tls.cert);
  const key = text(tls.key);
  if (cert && key) {
    e.cert = cert;
    e.key = key;
  }
  const proxy = kc.proxyUrl();
  if (proxy) e.proxy = proxy;
  return e;
}
