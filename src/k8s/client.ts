// The kubeconfig as @kubernetes/client-node loads it, for `anchorage serve` and `anchorage agent` (their
// informers run on src/kube's client over it), and the API server as a TLS endpoint to probe. `anchorage scan`
// reads the cluster with src/kube/kubeconfig.ts and src/kube/client.ts instead (src/scan/cluster.ts): loading
// this module's KubeConfig costs ~80 MiB of RSS and over a second of CPU (docs/architecture.md, client choice).
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { InputError } from '../common/errors.ts';
import { type ApiServerEndpoint, SERVICE_ACCOUNT_TOKEN } from './cluster-source.ts';

// What src/monitor imports from here (it lives in cluster-source.ts, which loads no client).
export { type Backend, type CertManagerCertificate, SKIPPED_SECRET_TYPES } from './cluster-source.ts';

/** Load the kubeconfig as kubectl would. Bad input (missing file, unknown context) is an InputError. */
export function loadKubeConfig(o: { kubeconfig?: string; context?: string; inCluster?: boolean }): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (o.inCluster) {
      if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
        throw new InputError('--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)');
      if (!existsSync(SERVICE_ACCOUNT_TOKEN))
        throw new InputError(`--in-cluster: ${SERVICE_ACCOUNT_TOKEN}: no such file (no service account token mounted)`);
      kc.loadFromCluster();
    } else if (o.kubeconfig !== undefined) {
      for (const f of o.kubeconfig.split(':')) if (f && !existsSync(f)) throw new InputError(`--kubeconfig: ${f}: no such file`);
      // Several files joined by ':' merge as kubectl merges KUBECONFIG.
      if (o.kubeconfig.includes(':')) {
        const saved = process.env.KUBECONFIG;
        process.env.KUBECONFIG = o.kubeconfig;
        try {
          kc.loadFromDefault();
        } finally {
          if (saved === undefined) delete process.env.KUBECONFIG;
          else process.env.KUBECONFIG = saved;
        }
      } else kc.loadFromFile(o.kubeconfig);
    } else kc.loadFromDefault();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`kubeconfig: ${(e as Error).message.split('\n')[0]}`);
  }
  if (o.context !== undefined) {
    if (!kc.getContextObject(o.context)) throw new InputError(`--context: no context named '${o.context}' in the kubeconfig`);
    kc.setCurrentContext(o.context);
  }
  if (!kc.getCurrentCluster()) throw new InputError('kubeconfig: no current cluster (set a current-context or pass --context)');
  return kc;
}

export type { ApiServerEndpoint };

export function apiServerEndpoint(kc: KubeConfig): ApiServerEndpoint | undefined {
  const c = kc.getCurrentCluster();
  if (!c?.server) return undefined;
  let u: URL;
  try {
    u = new URL(c.server);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const read = (data: string | undefined, file: string | undefined): string | undefined => {
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    if (file && existsSync(file)) return readFileSync(file, 'utf8');
    return undefined;
  };
  const e: ApiServerEndpoint = { host, port: u.port ? Number(u.port) : 443 };
  if (c.tlsServerName) e.servername = c.tlsServerName;
  const ca = read(c.caData, c.caFile);
  if (ca) e.ca = ca;
  const user = kc.getCurrentUser();
  const cert = read(user?.certData, user?.certFile);
  const key = read(user?.keyData, user?.keyFile);
  if (cert && key) {
    e.cert = cert;
    e.key = key;
  }
  return e;
}
