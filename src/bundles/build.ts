// The offline twin of the controller (`anchorage bundle build`): a bundle and the objects its sources name, read
// from YAML manifests, resolved and rendered by the same code, and the target objects the controller would
// apply, for GitOps. What only a live cluster has (the previous targets for rotation grace, owner references
// with the bundle's uid) is left out.
import { parseAllDocuments } from 'yaml';
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import { ownerValue } from './owner.ts';
import { pemOf, renderItem } from './render.ts';
import { resolveBundle, SourceError, type SourceObject, type SourceReader } from './resolve.ts';
import { type BundleKind, type BundleRef, fromTrustManager, GROUP, matchesSelector, parseSpec } from './spec.ts';
import { type DesiredTarget, desiredTargets } from './targets.ts';

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface BuildInput {
  /** The YAML text: one bundle plus ConfigMaps, Secrets and Namespaces. */
  yaml: string;
  trustNamespace: string;
  /** Namespaces to write ClusterBundle targets to besides the Namespace manifests in the YAML. */
  namespaces?: string[];
  defaultCAs?: { pem: string; version: string };
  https?: (url: string) => Promise<Uint8Array>;
  now?: Date;
}

export interface BuildResult {
  bundle: BundleRef;
  certs: Certificate[];
  defaultCAsVersion?: string;
  targets: DesiredTarget[];
  /** Relative path → bytes: each target data key once per target kind, and the ClusterTrustBundle's PEM. */
  files: Map<string, Uint8Array>;
}

/** Most manifests in one build config. */
export const MAX_MANIFESTS = 10_000;

export function bundleKindOf(m: Manifest): BundleKind | undefined {
  if (m.apiVersion === `${GROUP}/v1alpha1` && (m.kind === 'ClusterBundle' || m.kind === 'Bundle')) return m.kind;
  if (m.apiVersion === 'trust.cert-manager.io/v1alpha1' && m.kind === 'Bundle') return 'TrustManagerBundle';
  return undefined;
}

export async function buildBundle(input: BuildInput): Promise<BuildResult> {
  const docs = parseAllDocuments(input.yaml);
  if (docs.length > MAX_MANIFESTS) throw new InputError(`too large: more than ${MAX_MANIFESTS} manifests`);
  const manifests: Manifest[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new InputError(`config: ${d.errors[0]?.message.split('\n')[0]}`);
    const v = d.toJS({ maxAliasCount: 100 }) as Manifest | null;
    if (v !== null) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new InputError('config: every YAML document must be a Kubernetes object');
      manifests.push(v);
    }
  }
  const bundles = manifests.filter((m) => bundleKindOf(m));
  if (bundles.length !== 1)
    throw new InputError(`config: expected exactly one bundle (ClusterBundle, Bundle or trust-manager Bundle), found ${bundles.length}`);
  const toRef = (m: Manifest): BundleRef => {
    const kind = bundleKindOf(m) as BundleKind;
    const name = m.metadata?.name;
    if (!name) throw new InputError(`config: the ${kind} has no metadata.name`);
    const namespace = kind === 'Bundle' ? (m.metadata?.namespace ?? 'default') : undefined;
    const spec = kind === 'TrustManagerBundle' ? fromTrustManager(m.spec as never, input.trustNamespace) : m.spec;
    return { kind, name, ...(namespace ? { namespace } : {}), spec: parseSpec(spec, `${kind} ${name}`) };
  };
  const ref = toRef(bundles[0] as Manifest);
  const objectsOf = (kind: 'ConfigMap' | 'Secret', ns: string): SourceObject[] =>
    manifests
      .filter((m) => m.apiVersion === 'v1' && m.kind === kind && (m.metadata?.namespace ?? 'default') === ns)
      .map((m) => {
        const values: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.data ?? {}))
          values[k] = kind === 'Secret' ? Buffer.from(String(v), 'base64').toString('utf8') : String(v);
        for (const [k, v] of Object.entries(m.stringData ?? {})) values[k] = String(v);
        for (const [k, v] of Object.entries(m.binaryData ?? {})) values[k] = Buffer.from(String(v), 'base64').toString('utf8');
        return { namespace: ns, name: m.metadata?.name ?? '', type: m.type, values, labels: m.metadata?.labels };
      });
  const reader: SourceReader = {
    object: async (kind, ns, name) => objectsOf(kind, ns).find((o) => o.name === name),
    objects: async (kind, ns, sel) =>
      objectsOf(kind, ns).filter((o) => matchesSelector(sel, (o as SourceObject & { labels?: Record<string, string> }).labels)),
    // Only one bundle per config: a bundle source names one that is not there.
    bundle: async () => undefined,
    defaultCAs: () => input.defaultCAs,
    ...(input.https ? { https: input.https } : {}),
  };
  let r: Awaited<ReturnType<typeof resolveBundle>>;
  try {
    r = await resolveBundle(ref, reader, { trustNamespace: input.trustNamespace, now: input.now });
  } catch (e) {
    if (e instanceof SourceError) throw new InputError(`${ref.kind} ${ref.name}: ${e.reason}: ${e.message}`);
    throw e;
  }
  const namespaces =
    ref.kind === 'Bundle'
      ? [ref.namespace as string]
      : [
          ...new Set([
            ...manifests
              .filter(
                (m) =>
                  m.apiVersion === 'v1' && m.kind === 'Namespace' && matchesSelector(ref.spec.target.namespaceSelector, m.metadata?.labels),
              )
              .map((m) => m.metadata?.name ?? ''),
            ...(input.namespaces ?? []),
          ]),
        ].sort();
  const targets = desiredTargets(ref, r.certs, { owner: ownerValue(ref), namespaces });
  const files = new Map<string, Uint8Array>();
  for (const [dir, spec] of [
    ['configmap', ref.spec.target.configMap],
    ['secret', ref.spec.target.secret],
  ] as const)
    for (const item of spec?.data ?? []) {
      const out = renderItem(r.certs, item);
      files.set(`${dir}/${item.key}`, out.text !== undefined ? Buffer.from(out.text) : (out.binary as Uint8Array));
    }
  if (ref.spec.target.clusterTrustBundle) files.set('clustertrustbundle.pem', Buffer.from(pemOf(r.certs)));
  return { bundle: ref, certs: r.certs, ...(r.defaultCAsVersion ? { defaultCAsVersion: r.defaultCAsVersion } : {}), targets, files };
}
