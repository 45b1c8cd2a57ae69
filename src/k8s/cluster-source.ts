// What a cluster source hands the scan and the monitor, and the rules both read a cluster by: which Secret
// types never hold certificates (skipped by field selector), which object keys may hold one, and how many
// endpoints of one Service are probed. No client here: src/scan/cluster.ts reads the API with src/kube's
// client, src/monitor with its informers.

/** The server a caBundle must verify: a webhook's or APIService's backend. */
export interface Backend {
  /** The caBundle value's source (`ValidatingWebhookConfiguration/name[hook.caBundle]`). */
  source: string;
  /** A `url` backend (webhooks only). */
  url?: string;
  /** A Service backend: the API server dials `<name>.<namespace>.svc` and checks that name. */
  service?: { namespace: string; name: string; port?: number };
  /** The Service's ready endpoints for that port (from its EndpointSlices), where the API server's call lands. */
  endpoints?: { host: string; port: number }[];
  /** Why the Service did not resolve to an endpoint (no such Service, no ready endpoint, not readable). */
  unresolved?: string;
}

/** A webhook's, APIService's or CRD conversion's `clientConfig` (or an APIService's `spec`) as the API serves it. */
export interface ClientConfig {
  caBundle?: string;
  url?: string;
  service?: { namespace: string; name: string; port?: number };
}

/** The backend a caBundle must verify; undefined when there is no caBundle. */
export function backendOf(source: string, cc: ClientConfig | undefined): Backend | undefined {
  if (!cc?.caBundle) return undefined;
  const b: Backend = { source };
  if (cc.url) b.url = cc.url;
  if (cc.service) {
    b.service = { namespace: cc.service.namespace, name: cc.service.name };
    if (cc.service.port !== undefined) b.service.port = cc.service.port;
  }
  return b;
}

/** The API server as a TLS endpoint: where it is and what the kubeconfig trusts and presents. */
export interface ApiServerEndpoint {
  host: string;
  port: number;
  servername?: string;
  /** PEM of the kubeconfig's certificate-authority(-data); undefined when it has none (system roots). */
  ca?: string;
  cert?: string;
  key?: string;
  /** The HTTP(S) proxy the kubeconfig's client tunnels through (CONNECT): the probe goes the same way. */
  proxy?: string;
}

/** A cert-manager Certificate: the Secret it keeps and the names it asks for. */
export interface CertManagerCertificate {
  source: string;
  secret: string;
  dnsNames: string[];
  issuer: string;
}

export interface ClusterValue {
  /** `namespace/Kind/name[key]`, or `Kind/name[key]` for cluster-scoped objects. */
  source: string;
  data: Uint8Array;
}

/** Most endpoints of one Service probed: enough to see a mixed rollout, bounded for a Service of 1,000 pods. */
export const MAX_ENDPOINTS_PER_BACKEND = 3;

/** Secret types that never hold certificates: skipped by field selector, so they never leave the server. */
export const SKIPPED_SECRET_TYPES = ['kubernetes.io/service-account-token', 'helm.sh/release.v1'];

/** Where a pod's service account token is mounted (its ca.crt and namespace beside it). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const CERT_KEY = /(\.(crt|pem|cer|der|key|p12|pfx|jks)|^ca|cert|key|bundle|truststore|keystore)$/i;
export const PEM = Buffer.from('-----BEGIN ');
/** `-----BEGIN` as it reads in base64 at each of the three byte alignments: a value none of them appears in
 * holds no PEM and is dropped without being decoded (large opaque Secrets cost a search, not a copy). */
const PEM_B64 = [0, 1, 2].map((s) => PEM.subarray(s, s + 9).toString('base64'));
export const mayHoldPem = (b64: string): boolean => PEM_B64.some((p) => b64.includes(p));

/**
 * Whether a stored value of a Secret (`data`) or ConfigMap (`data`, `binaryData`) is read, given its bytes (a
 * ConfigMap's `data` as UTF-8): the one rule of the LIST reader (src/scan/cluster.ts) and the monitor
 * (src/monitor/extract.ts), in JSON and in protobuf. A Secret's value by a certificate-like key or holding PEM, a
 * ConfigMap's text holding PEM, its binary value by a certificate-like key.
 */
export function keepStored(kind: 'Secret' | 'ConfigMap', field: 'data' | 'binaryData', key: string, bytes: Buffer): boolean {
  if (kind === 'Secret') return CERT_KEY.test(key) || bytes.includes(PEM);
  return field === 'data' ? bytes.includes(PEM) : CERT_KEY.test(key);
}
