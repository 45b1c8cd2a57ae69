// The target objects of a bundle, exactly as they are written: the controller applies them, the offline build
// (`anchorage bundle build`) writes them to files. Named after the bundle; labelled with its owner value, annotated
// with the content hash; a ClusterTrustBundle is named `<signerName with / as :>:<bundle>` when it has a signer.
import type { Certificate } from '../x509/certificate.ts';
import { contentHash, pemOf, renderObject, wireDigest } from './render.ts';
import { type BundleRef, HASH_ANNOTATION, OWNER_LABEL } from './spec.ts';

export type TargetKind = 'ConfigMap' | 'Secret' | 'ClusterTrustBundle';

export interface DesiredTarget {
  kind: TargetKind;
  namespace?: string;
  name: string;
  /** The object to apply (server-side apply body). */
  body: Record<string, unknown>;
  /** wireDigest of what the object holds once applied. */
  digest: string;
}

/** The hash written on every target: the certificates and the target settings. */
export function bundleHash(ref: BundleRef, certs: readonly Certificate[]): string {
  return contentHash([certs.map((c) => c.sha256), ref.spec.target]);
}

export function ctbName(ref: BundleRef): string {
  const signer = ref.spec.target.clusterTrustBundle?.signerName;
  return signer ? `${signer.replace(/\//g, ':')}:${ref.name}` : ref.name;
}

export function desiredTargets(
  ref: BundleRef,
  certs: readonly Certificate[],
  o: { owner: string; namespaces: readonly string[]; ownerReferences?: unknown[] },
): DesiredTarget[] {
  const t = ref.spec.target;
  const hash = bundleHash(ref, certs);
  const meta = (ns: string | undefined, name: string, own?: { labels?: Record<string, string>; annotations?: Record<string, string> }) => ({
    name,
    ...(ns ? { namespace: ns } : {}),
    labels: { ...t.metadata?.labels, ...own?.labels, [OWNER_LABEL]: o.owner },
    annotations: { ...t.metadata?.annotations, ...own?.annotations, [HASH_ANNOTATION]: hash },
    ...(o.ownerReferences?.length ? { ownerReferences: o.ownerReferences } : {}),
  });
  const out: DesiredTarget[] = [];
  for (const kind of ['ConfigMap', 'Secret'] as const) {
    const spec = kind === 'ConfigMap' ? t.configMap : t.secret;
    if (!spec) continue;
    const rendered = renderObject(certs, spec.data, kind);
    const digest = wireDigest({ ...rendered, owner: o.owner, hash });
    for (const ns of o.namespaces)
      out.push({
        kind,
        namespace: ns,
        name: ref.name,
        digest,
        body: {
          apiVersion: 'v1',
          kind,
          metadata: meta(ns, ref.name, spec.metadata),
          ...(kind === 'Secret' ? { type: 'Opaque' } : {}),
          data: rendered.data,
          ...(kind === 'ConfigMap' && Object.keys(rendered.binaryData).length ? { binaryData: rendered.binaryData } : {}),
        },
      });
  }
  if (t.clusterTrustBundle && ref.kind !== 'Bundle') {
    const signer = t.clusterTrustBundle.signerName;
    const name = ctbName(ref);
    const pem = pemOf(certs);
    out.push({
      kind: 'ClusterTrustBundle',
      name,
      digest: wireDigest({ data: { trustBundle: pem }, owner: o.owner, hash }),
      body: {
        apiVersion: 'certificates.k8s.io/v1beta1',
        kind: 'ClusterTrustBundle',
        metadata: meta(undefined, name),
        spec: { ...(signer ? { signerName: signer } : {}), trustBundle: pem },
      },
    });
  }
  return out;
}
