// Kubernetes TLS Secrets (type kubernetes.io/tls): the manifest `kubectl create secret tls` writes,
// byte for byte, plus cert-manager's optional ca.crt.
import { stringify } from 'yaml';
import { InputError } from '../common/errors.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface TlsSecretSpec {
  name: string;
  namespace?: string;
  /** tls.crt: the leaf first, then its chain (PEM). */
  certPem: string;
  /** tls.key (PEM). */
  keyPem: string;
  /** ca.crt (PEM), as cert-manager writes it; omitted when absent. */
  caPem?: string;
}

export function checkObjectName(name: string, what = 'name'): void {
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))
    throw new InputError(`${what} '${name}' is not a valid Kubernetes name (lowercase DNS-1123 subdomain)`);
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The Secret manifest as YAML, keys sorted as kubectl (Go's YAML encoder) sorts them. */
export function tlsSecretManifest(s: TlsSecretSpec): string {
  checkObjectName(s.name, 'Secret name');
  if (s.namespace !== undefined) checkObjectName(s.namespace, 'namespace');
  const data: Record<string, string> = {};
  if (s.caPem) data['ca.crt'] = b64(s.caPem);
  data['tls.crt'] = b64(s.certPem);
  data['tls.key'] = b64(s.keyPem);
  const doc = {
    apiVersion: 'v1',
    data,
    kind: 'Secret',
    metadata: { name: s.name, ...(s.namespace !== undefined ? { namespace: s.namespace } : {}) },
    type: 'kubernetes.io/tls',
  };
  return stringify(doc, { lineWidth: 0 });
}
