// What `anchorage scan` takes from each Kubernetes object, one object at a time, so a watch event
// replaces exactly that object's values: the same rules and the same source names as the LIST reader
// in src/scan/cluster.ts (`namespace/Kind/name[key]`), and the same caBundle backends and cert-manager
// Certificates.
import { createHash } from 'node:crypto';
import {
  type Backend,
  backendOf,
  CERT_KEY,
  type CertManagerCertificate,
  type ClientConfig,
  keepStored,
  PEM,
  SKIPPED_SECRET_TYPES,
} from '../k8s/cluster-source.ts';
import type { KubeObject, ResourceType } from '../kube/client.ts';
import type { ProtoObject } from '../kube/protobuf.ts';
import type { ScanInput } from '../scan/scan.ts';

export { CERT_KEY };
/** Most bytes of one value (as the LIST reader: a little over what etcd stores in one object). */
export const MAX_VALUE_BYTES = 4 * 1024 * 1024;

export interface Extracted {
  values: ScanInput[];
  backends: Backend[];
  certManager: CertManagerCertificate[];
  failures: { source: string; reason: string }[];
}

type Obj = KubeObject & Record<string, unknown>;

const r = (group: string, version: string, resource: string, kind: string, namespaced: boolean): ResourceType => ({
  group,
  version,
  resource,
  kind,
  namespaced,
});

/** The resources the monitor watches; `optional` ones may be absent from a server (404: not served). */
export const WATCHED: { type: ResourceType; optional?: boolean; fieldSelector?: string; crd?: string }[] = [
  { type: r('', 'v1', 'secrets', 'Secret', true), fieldSelector: SKIPPED_SECRET_TYPES.map((t) => `type!=${t}`).join(',') },
  { type: r('', 'v1', 'configmaps', 'ConfigMap', true) },
  { type: r('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false) },
  { type: r('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false) },
  { type: r('apiregistration.k8s.io', 'v1', 'apiservices', 'APIService', false) },
  { type: r('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false) },
  { type: r('certificates.k8s.io', 'v1', 'certificatesigningrequests', 'CertificateSigningRequest', false) },
  { type: r('certificates.k8s.io', 'v1beta1', 'clustertrustbundles', 'ClusterTrustBundle', false), optional: true },
  { type: r('cert-manager.io', 'v1', 'issuers', 'Issuer', true), optional: true, crd: 'issuers.cert-manager.io' },
  { type: r('cert-manager.io', 'v1', 'clusterissuers', 'ClusterIssuer', false), optional: true, crd: 'clusterissuers.cert-manager.io' },
  { type: r('cert-manager.io', 'v1', 'certificates', 'Certificate', true), optional: true, crd: 'certificates.cert-manager.io' },
];

/**
 * One flat string. A template literal makes a rope (a cons string per `${}`, 32 bytes each, kept as long as
 * the string is: 100,000 Secrets' source names held ~12 of them a Secret); `join` copies into one string.
 */
export function flat(...parts: string[]): string {
  return parts.join('');
}

/** Namespace names, one string each (every object of a namespace holds its name). */
const namespaces = new Map<string, string>();
function namespaceName(ns: string): string {
  const have = namespaces.get(ns);
  if (have !== undefined) return have;
  if (namespaces.size >= 100_000) namespaces.clear(); // bounded: a hostile list of names costs a clear, not memory
  namespaces.set(ns, ns);
  return ns;
}

/** What an object without backends, cert-manager Certificates or failures holds for them: one shared empty list. */
const NONE: never[] = Object.freeze([]) as unknown as never[];

function b64(v: unknown): Buffer {
  return Buffer.from(typeof v === 'string' ? v : '', 'base64');
}

/** The name, namespace and resourceVersion: what the informer's cache needs of an object. */
export function slimMetadata(o: Obj): Obj['metadata'] {
  return {
    name: o.metadata.name,
    namespace: o.metadata.namespace === undefined ? undefined : namespaceName(o.metadata.namespace),
    resourceVersion: o.metadata.resourceVersion,
  } as Obj['metadata'];
}

/** slimMetadata of a Secret or ConfigMap read from protobuf (src/kube/protobuf.ts). */
export function protoMetadata(p: ProtoObject): Obj['metadata'] {
  return {
    name: p.metadata.name,
    namespace: namespaceName(p.metadata.namespace),
    resourceVersion: p.metadata.resourceVersion,
  } as Obj['metadata'];
}

/** A value as `extract` keeps it (its own interned bytes), or a failure when it is over the budget. */
function taker(values: ScanInput[], failures: Extracted['failures']): (source: string, data: Uint8Array) => void {
  return (source, data) => {
    if (data.length > MAX_VALUE_BYTES) failures.push({ source, reason: `too large: ${data.length} bytes (at most ${MAX_VALUE_BYTES})` });
    else values.push({ source, data: intern(data) });
  };
}

type Stored = Iterable<readonly [key: string, bytes: Buffer]>;

/** The values a Secret or ConfigMap holds (keepStored's rule), under `namespace/Kind/name[key]`. */
function storedValues(
  kind: 'Secret' | 'ConfigMap',
  ns: string,
  name: string,
  data: Stored,
  binaryData: Stored,
  take: (source: string, data: Uint8Array) => void,
): void {
  const infix = kind === 'Secret' ? '/Secret/' : '/ConfigMap/';
  for (const [k, v] of data) if (keepStored(kind, 'data', k, v)) take(flat(ns, infix, name, '[', k, ']'), v);
  for (const [k, v] of binaryData) if (keepStored(kind, 'binaryData', k, v)) take(flat(ns, infix, name, '[', k, ']'), v);
}

/** A JSON object's `data` or `binaryData`, each value as bytes (base64 decoded, or a ConfigMap's text as UTF-8). */
function* jsonStored(field: unknown, base64: boolean): Generator<[string, Buffer]> {
  for (const [k, v] of Object.entries((field as Record<string, unknown> | undefined) ?? {}))
    if (typeof v === 'string') yield [k, base64 ? b64(v) : Buffer.from(v)];
}

/**
 * extract() of a Secret or ConfigMap read from protobuf: the same values under the same source names, the bytes
 * as they are on the wire (no base64; a ConfigMap's `data` is its UTF-8 text). The item's buffers are views valid
 * only during the call: every value kept is interned, a copy of its own.
 */
export function extractProto(kind: 'Secret' | 'ConfigMap', p: ProtoObject): Extracted {
  const values: ScanInput[] = [];
  const failures: Extracted['failures'] = [];
  storedValues(kind, p.metadata.namespace, p.metadata.name, p.data, p.binaryData, taker(values, failures));
  return { values: values.length ? values.slice() : NONE, backends: NONE, certManager: NONE, failures: failures.length ? failures : NONE };
}

/** Drop what extraction never reads, before the informer caches the object (less memory). */
export function slim(kind: string, o: Obj): Obj {
  const metadata = slimMetadata(o);
  if (kind === 'Secret') {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries((o.data as Record<string, string> | undefined) ?? {})) {
      if (CERT_KEY.test(k)) data[k] = v;
      else if (typeof v === 'string' && v.length > 12 && b64(v).includes(PEM)) data[k] = v;
    }
    return { metadata, data };
  }
  if (kind === 'ConfigMap') {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries((o.data as Record<string, string> | undefined) ?? {})) if (v.includes('-----BEGIN ')) data[k] = v;
    const binaryData: Record<string, string> = {};
    for (const [k, v] of Object.entries((o.binaryData as Record<string, string> | undefined) ?? {}))
      if (CERT_KEY.test(k)) binaryData[k] = v;
    return { metadata, data, binaryData };
  }
  return { ...o, metadata };
}

/** Each distinct value's bytes, held once while some object holds them (weakly: dropped with the last holder). */
const interned = new Map<string, WeakRef<Buffer>>();
const internedGone = new FinalizationRegistry<string>((k) => {
  if (interned.get(k)?.deref() === undefined) interned.delete(k);
});

/**
 * The value's bytes in a buffer of their own, shared with every other object holding the same bytes (a CA in
 * every Secret's chain, a kube-root-ca.crt in every namespace, one certificate copied to many Secrets). A
 * decoded value is a slice of Node's 8 KiB pool: held as it is, a 1.5 KB PEM keeps a whole slab alive.
 */
function intern(data: Uint8Array): Uint8Array {
  const k = createHash('sha256').update(data).digest('base64');
  const have = interned.get(k)?.deref();
  if (have) return have;
  const own = Buffer.allocUnsafeSlow(data.length);
  own.set(data);
  interned.set(k, new WeakRef(own));
  internedGone.register(own, k);
  return own;
}

/** The values, backends and cert-manager Certificates of one object. */
export function extract(kind: string, o: Obj): Extracted {
  const out: Extracted = { values: [], backends: [], certManager: [], failures: [] };
  const take = taker(out.values, out.failures);
  const name = o.metadata.name ?? '?';
  const ns = o.metadata.namespace ?? '';
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  const backend = (source: string, cc: ClientConfig | undefined): void => {
    const b = backendOf(source, cc);
    if (!b) return;
    take(source, b64(cc?.caBundle));
    out.backends.push(b);
  };
  switch (kind) {
    case 'Secret':
    case 'ConfigMap':
      storedValues(kind, ns, name, jsonStored(o.data, kind === 'Secret'), jsonStored(o.binaryData, true), take);
      break;
    case 'ValidatingWebhookConfiguration':
    case 'MutatingWebhookConfiguration':
      for (const h of (o.webhooks as { name: string; clientConfig?: ClientConfig }[] | undefined) ?? [])
        backend(`${kind}/${name}[${h.name}.caBundle]`, h.clientConfig);
      break;
    case 'APIService': {
      const svc = spec.service as { namespace?: string; name?: string; port?: number } | undefined;
      backend(`APIService/${name}[caBundle]`, {
        ...(typeof spec.caBundle === 'string' && { caBundle: spec.caBundle }),
        ...(svc?.namespace &&
          svc.name && { service: { namespace: svc.namespace, name: svc.name, ...(svc.port !== undefined && { port: svc.port }) } }),
      });
      break;
    }
    case 'CustomResourceDefinition': {
      const conv = spec.conversion as { webhook?: { clientConfig?: ClientConfig } } | undefined;
      backend(`CustomResourceDefinition/${name}[conversion.caBundle]`, conv?.webhook?.clientConfig);
      break;
    }
    case 'CertificateSigningRequest': {
      const c = (o.status as { certificate?: string } | undefined)?.certificate;
      if (c) take(`CertificateSigningRequest/${name}[status.certificate]`, b64(c));
      break;
    }
    case 'ClusterTrustBundle':
      if (typeof spec.trustBundle === 'string') take(`ClusterTrustBundle/${name}[trustBundle]`, Buffer.from(spec.trustBundle));
      break;
    case 'Issuer':
    case 'ClusterIssuer': {
      const base = `${ns ? `${ns}/` : ''}${kind}/${name}`;
      const s = spec as { vault?: { caBundle?: string }; acme?: { caBundle?: string }; venafi?: { tpp?: { caBundle?: string } } };
      for (const [k, v] of [
        ['vault.caBundle', s.vault?.caBundle],
        ['acme.caBundle', s.acme?.caBundle],
        ['venafi.tpp.caBundle', s.venafi?.tpp?.caBundle],
      ] as const)
        if (v) take(`${base}[${k}]`, b64(v));
      break;
    }
    case 'Certificate': {
      const s = spec as { secretName?: string; dnsNames?: string[]; issuerRef?: { name?: string; kind?: string } };
      if (s.secretName)
        out.certManager.push({
          source: `${ns}/Certificate/${name}`,
          secret: `${ns}/Secret/${s.secretName}`,
          dnsNames: (s.dnsNames ?? []).map(String),
          issuer: `${s.issuerRef?.kind ?? 'Issuer'}/${s.issuerRef?.name ?? '?'}`,
        });
      break;
    }
  }
  // An array grown by push() keeps room for 17 elements (152 bytes); held once per object, copy it to its size.
  out.values = out.values.length ? out.values.slice() : NONE;
  if (!out.backends.length) out.backends = NONE;
  if (!out.certManager.length) out.certManager = NONE;
  if (!out.failures.length) out.failures = NONE;
  return out;
}
