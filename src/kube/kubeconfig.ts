// Where the runtime's credentials come from, without @kubernetes/client-node: its KubeConfig imports the whole
// generated API (about 80 MiB of resident memory in a controller that uses none of it). Read here, as kubectl
// reads them: the kubeconfig files (KUBECONFIG's list merged, first value wins; ~/.kube/config by default; relative
// paths against each file's folder), the current context or --context, the cluster's server, CA, TLS server
// name and insecure-skip-tls-verify, the user's client certificate and key, bearer token or token file, basic
// auth; and the in-cluster service account (token file re-read, as it rotates). Users with an exec plugin or an
// auth-provider are handed to @kubernetes/client-node's KubeConfig, loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../common/errors.ts';
import { parseYaml } from '../common/yaml.ts';

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

const readIn = (base: string, p: string): Buffer => readFileSync(isAbsolute(p) ? p : join(base, p));

/** A kubeconfig as the controller runtime uses it. */
export class LiteKubeConfig implements KubeConfigLike {
  private readonly r: Resolved;
  /** For exec / auth-provider users: client-node's KubeConfig, loaded on first use. */
  private delegate?: Promise<KubeConfigLike>;
  private readonly files: string[];
  private readonly inCluster: boolean;

  private constructor(r: Resolved, files: string[], inCluster: boolean) {
    this.r = r;
    this.files = files;
    this.inCluster = inCluster;
  }

  get currentContext(): string {
    return this.r.contextName;
  }

  getCurrentCluster(): { server: string; name: string } {
    return { server: this.r.server, name: this.r.clusterName };
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
