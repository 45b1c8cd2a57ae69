// Read what holds certificates from a Kubernetes API server: Secrets (not service-account tokens or Helm
// releases), ConfigMaps with PEM, the caBundle of webhook configurations, APIServices and CRD conversion
// webhooks, and the certificates issued to CertificateSigningRequests. Read-only: only LIST calls,
// paginated (limit/continue). Each object's certificate-looking values are handed on as bytes, keyed
// `namespace/Kind/name[key]`; the rest of the object is dropped as each page is processed. A resource that
// fails (unreachable, forbidden) is one line in `failures` and the others are still read.
import { existsSync } from 'node:fs';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  ApiregistrationV1Api,
  CertificatesV1Api,
  CoreV1Api,
  KubeConfig,
} from '@kubernetes/client-node';
import { InputError } from '../common/errors.ts';

export interface ClusterSourceOptions {
  /** Kubeconfig file(s), as kubectl's --kubeconfig; default: KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string;
  context?: string;
  /** Objects per LIST page (default 500). */
  pageSize?: number;
  /** Most values handed on in all (default 1,000,000): a "too large" failure past it. */
  maxValues?: number;
  /** Most bytes of one value (default 4 MiB, a little over what etcd stores in one object). */
  maxValueBytes?: number;
}

export interface ClusterValue {
  /** `namespace/Kind/name[key]`, or `Kind/name[key]` for cluster-scoped objects. */
  source: string;
  data: Uint8Array;
}

export interface ClusterRead {
  /** The API server URL read from. */
  server: string;
  values: ClusterValue[];
  /** What could not be read, one line each. */
  failures: { source: string; reason: string }[];
  /** Objects listed per resource. */
  listed: Record<string, number>;
}

/** Secret types that never hold certificates: skipped by field selector, so they never leave the server. */
export const SKIPPED_SECRET_TYPES = ['kubernetes.io/service-account-token', 'helm.sh/release.v1'];

const CERT_KEY = /(\.(crt|pem|cer|der|key|p12|pfx|jks)|^ca|cert|key|bundle|truststore|keystore)$/i;
const PEM = Buffer.from('-----BEGIN ');

/** Load the kubeconfig as kubectl would. Bad input (missing file, unknown context) is an InputError. */
export function loadKubeConfig(o: Pick<ClusterSourceOptions, 'kubeconfig' | 'context'>): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (o.kubeconfig !== undefined) {
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

/** One line for a failed API call: the HTTP status and the server's message, or the network error. */
export function describeApiError(e: unknown): string {
  const err = e as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string; message?: string } };
  if (typeof err.code === 'number') {
    let msg = '';
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      msg = typeof body?.message === 'string' ? body.message : '';
    } catch {}
    const words: Record<number, string> = { 401: 'unauthorized (expired or wrong credentials)', 403: 'forbidden', 404: 'not found' };
    return `HTTP ${err.code} ${words[err.code] ?? ''}${msg ? `: ${msg}` : ''}`.replace(/\s+/g, ' ').trim();
  }
  const cause = err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause && !err.message?.includes(cause) ? ` (${cause})` : ''}`.replace(/\s+/g, ' ').trim();
}

interface Page<T> {
  items: T[];
  metadata?: { _continue?: string };
}

/** Read every certificate-holding value from the cluster. Never throws for API failures: they land in `failures`. */
export async function readCluster(kc: KubeConfig, o: ClusterSourceOptions = {}): Promise<ClusterRead> {
  const limit = o.pageSize ?? 500;
  const maxValues = o.maxValues ?? 1_000_000;
  const maxBytes = o.maxValueBytes ?? 4 * 1024 * 1024;
  const server = kc.getCurrentCluster()?.server ?? '';
  const out: ClusterRead = { server, values: [], failures: [], listed: {} };
  const core = kc.makeApiClient(CoreV1Api);
  const adm = kc.makeApiClient(AdmissionregistrationV1Api);
  let full = false;
  const take = (source: string, data: Uint8Array): void => {
    if (full) return;
    if (data.length > maxBytes) {
      out.failures.push({ source, reason: `too large: ${data.length} bytes (at most ${maxBytes})` });
      return;
    }
    if (out.values.length >= maxValues) {
      full = true;
      out.failures.push({ source, reason: `too many values: stopped at ${maxValues}` });
      return;
    }
    out.values.push({ source, data });
  };

  async function list<T>(resource: string, call: (cont: string | undefined) => Promise<Page<T>>, each: (item: T) => void): Promise<void> {
    let cont: string | undefined;
    let n = 0;
    try {
      do {
        const page = await call(cont);
        for (const item of page.items) each(item);
        n += page.items.length;
        cont = page.metadata?._continue || undefined;
      } while (cont && !full);
      out.listed[resource] = n;
    } catch (e) {
      out.failures.push({ source: `${server} ${resource}`, reason: describeApiError(e) });
    }
  }

  const fieldSelector = SKIPPED_SECRET_TYPES.map((t) => `type!=${t}`).join(',');
  await list(
    'secrets',
    (cont) => core.listSecretForAllNamespaces({ fieldSelector, limit, ...(cont !== undefined && { _continue: cont }) }),
    (s) => {
      const base = `${s.metadata?.namespace ?? ''}/Secret/${s.metadata?.name ?? '?'}`;
      for (const [k, v] of Object.entries(s.data ?? {})) {
        const data = Buffer.from(v, 'base64');
        if (CERT_KEY.test(k) || data.includes(PEM)) take(`${base}[${k}]`, data);
      }
    },
  );
  await list(
    'configmaps',
    (cont) => core.listConfigMapForAllNamespaces({ limit, ...(cont !== undefined && { _continue: cont }) }),
    (c) => {
      const base = `${c.metadata?.namespace ?? ''}/ConfigMap/${c.metadata?.name ?? '?'}`;
      for (const [k, v] of Object.entries(c.data ?? {})) if (v.includes('-----BEGIN ')) take(`${base}[${k}]`, Buffer.from(v));
      for (const [k, v] of Object.entries(c.binaryData ?? {})) if (CERT_KEY.test(k)) take(`${base}[${k}]`, Buffer.from(v, 'base64'));
    },
  );
  const webhooks =
    (kind: string) => (w: { metadata?: { name?: string }; webhooks?: { name: string; clientConfig: { caBundle?: string } }[] }) => {
      for (const h of w.webhooks ?? []) {
        const b = h.clientConfig.caBundle;
        if (b) take(`${kind}/${w.metadata?.name ?? '?'}[${h.name}.caBundle]`, Buffer.from(b, 'base64'));
      }
    };
  await list(
    'validatingwebhookconfigurations',
    (cont) => adm.listValidatingWebhookConfiguration({ limit, ...(cont !== undefined && { _continue: cont }) }),
    webhooks('ValidatingWebhookConfiguration'),
  );
  await list(
    'mutatingwebhookconfigurations',
    (cont) => adm.listMutatingWebhookConfiguration({ limit, ...(cont !== undefined && { _continue: cont }) }),
    webhooks('MutatingWebhookConfiguration'),
  );
  const apireg = kc.makeApiClient(ApiregistrationV1Api);
  await list(
    'apiservices',
    (cont) => apireg.listAPIService({ limit, ...(cont !== undefined && { _continue: cont }) }),
    (a) => {
      const b = a.spec?.caBundle;
      if (b) take(`APIService/${a.metadata?.name ?? '?'}[caBundle]`, Buffer.from(b, 'base64'));
    },
  );
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await list(
    'customresourcedefinitions',
    (cont) => ext.listCustomResourceDefinition({ limit, ...(cont !== undefined && { _continue: cont }) }),
    (d) => {
      const b = d.spec.conversion?.webhook?.clientConfig?.caBundle;
      if (b) take(`CustomResourceDefinition/${d.metadata?.name ?? '?'}[conversion.caBundle]`, Buffer.from(b, 'base64'));
    },
  );
  const certs = kc.makeApiClient(CertificatesV1Api);
  await list(
    'certificatesigningrequests',
    (cont) => certs.listCertificateSigningRequest({ limit, ...(cont !== undefined && { _continue: cont }) }),
    (r) => {
      const b = r.status?.certificate;
      if (b) take(`CertificateSigningRequest/${r.metadata?.name ?? '?'}[status.certificate]`, Buffer.from(b, 'base64'));
    },
  );
  return out;
}
