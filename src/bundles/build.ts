// The offline twin of the controller (`anchorage bundle build`): bundles and the objects their sources name, read
// from YAML manifests, resolved, rotated and rendered by the same code as the controller (resolve.ts, rotation.ts,
// targets.ts), giving the target objects the controller would apply, for GitOps. Where the controller keeps state
// in the bundle's status and its targets, the offline build keeps it beside its outputs: the previous run's
// `status.json` and PEM output feed the rotation grace period. Owner references (the bundle's uid) are left out.
import { parseAllDocuments } from 'yaml';
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import { ownerValue } from './owner.ts';
import { pemOf, renderItem } from './render.ts';
import { resolveBundle, SourceError, type SourceObject, type SourceReader } from './resolve.ts';
import { type Retiring, rotate } from './rotation.ts';
import { type BundleKind, type BundleRef, bundleId, GROUP, matchesSelector, parseSpec, specOf, TM_V1_GROUP, TM_V2_GROUP } from './spec.ts';
import { bundleHash, type DesiredTarget, desiredTargets } from './targets.ts';

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** What a build records beside its outputs (`status.json`): the controller's bundle status, without conditions. */
export interface BuildStatus {
  caCount: number;
  soonestExpiry: string;
  defaultCAsVersion?: string;
  hash: string;
  targetCount: number;
  /** The sources' CAs (SHA-256), for the next build's rotation. */
  fingerprints: string[];
  retiring: Retiring[];
}

export interface BuildInput {
  /** The YAML text: bundles plus the ConfigMaps, Secrets and Namespaces their sources and selectors read. */
  yaml: string;
  /** Which bundle to build (its name) when the config holds more than one; the others serve as `bundle` sources. */
  bundle?: string;
  /**
   * The previous build of this bundle, for the rotation grace period: its status.json, and a reader of its output
   * files (relative paths) where the previous PEM is found.
   */
  previous?: { status?: Partial<BuildStatus>; read?: (rel: string) => string | undefined };
  trustNamespace: string;
  /** Namespaces to write ClusterBundle targets to besides the Namespace manifests in the YAML. */
  namespaces?: string[];
  defaultCAs?: { pem: string; version: string };
  https?: (url: string) => Promise<Uint8Array>;
  now?: Date;
}

export interface BuildResult {
  bundle: BundleRef;
  /** The bundle's CAs: the sources' and the retiring ones. */
  certs: Certificate[];
  status: BuildStatus;
  defaultCAsVersion?: string;
  targets: DesiredTarget[];
  /** Relative path → bytes: each target data key once per target kind, the ClusterTrustBundle's PEM, status.json. */
  files: Map<string, Uint8Array>;
}

/** Most manifests in one build config. */
export const MAX_MANIFESTS = 10_000;

export function bundleKindOf(m: Manifest): BundleKind | undefined {
  if (m.apiVersion === `${GROUP}/v1alpha1` && (m.kind === 'ClusterBundle' || m.kind === 'Bundle')) return m.kind;
  if (m.apiVersion === `${TM_V1_GROUP}/v1alpha1` && m.kind === 'Bundle') return 'TrustManagerBundle';
  if (m.apiVersion === `${TM_V2_GROUP}/v1alpha2` && m.kind === 'ClusterBundle') return 'TrustManagerClusterBundle';
  return undefined;
}

/** The PEM output of a bundle, relative to the output folder (where the next build finds the previous bundle). */
export function pemOutput(ref: BundleRef): string | undefined {
  for (const [dir, t] of [
    ['configmap', ref.spec.target.configMap],
    ['secret', ref.spec.target.secret],
  ] as const) {
    const item = t?.data.find((d) => d.format === 'PEM');
    if (item) return `${dir}/${item.key}`;
  }
  return ref.spec.target.clusterTrustBundle ? 'clustertrustbundle.pem' : undefined;
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
  const toRef = (m: Manifest): BundleRef => {
    const kind = bundleKindOf(m) as BundleKind;
    const name = m.metadata?.name;
    if (!name) throw new InputError(`config: the ${kind} has no metadata.name`);
    const namespace = kind === 'Bundle' ? (m.metadata?.namespace ?? 'default') : undefined;
    const id = bundleId({ kind, name, ...(namespace ? { namespace } : {}) });
    return { kind, name, ...(namespace ? { namespace } : {}), spec: parseSpec(specOf(kind, m, input.trustNamespace), id) };
  };
  const bundles = manifests.filter((m) => bundleKindOf(m));
  if (bundles.length === 0)
    throw new InputError('config: no bundle (ClusterBundle, Bundle, or trust-manager Bundle or ClusterBundle) found');
  const chosen = input.bundle === undefined ? bundles : bundles.filter((m) => m.metadata?.name === input.bundle);
  if (chosen.length !== 1)
    throw new InputError(
      input.bundle === undefined
        ? `config: ${bundles.length} bundles (${bundles.map((m) => m.metadata?.name).join(', ')}): choose one with --bundle`
        : chosen.length === 0
          ? `--bundle: no bundle named '${input.bundle}' in the config (${bundles.map((m) => m.metadata?.name).join(', ')})`
          : `--bundle: ${chosen.length} bundles named '${input.bundle}' in the config`,
    );
  const ref = toRef(chosen[0] as Manifest);
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
    // Another bundle of the same kind in the config (for a Bundle: of its namespace), as the controller reads its cache.
    bundle: async (kind, ns, name) => {
      const m = bundles.find(
        (b) => bundleKindOf(b) === kind && b.metadata?.name === name && (kind !== 'Bundle' || (b.metadata?.namespace ?? 'default') === ns),
      );
      return m ? toRef(m) : undefined;
    },
    defaultCAs: () => input.defaultCAs,
    ...(input.https ? { https: input.https } : {}),
  };
  let r: Awaited<ReturnType<typeof resolveBundle>>;
  const now = input.now ?? new Date();
  try {
    r = await resolveBundle(ref, reader, { trustNamespace: input.trustNamespace, now });
  } catch (e) {
    if (e instanceof SourceError) throw new InputError(`${ref.kind} ${ref.name}: ${e.reason}: ${e.message}`);
    throw e;
  }
  const prev = input.previous?.status;
  const rot = await rotate({
    certs: r.certs,
    previous: { fingerprints: prev?.fingerprints, retiring: prev?.retiring },
    graceSeconds: ref.spec.rotation?.gracePeriodSeconds ?? 0,
    now,
    previousPem: async () => {
      const rel = pemOutput(ref);
      return rel === undefined ? undefined : input.previous?.read?.(rel);
    },
  });
  const certs = rot.all;
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
  const targets = desiredTargets(ref, certs, { owner: ownerValue(ref), namespaces });
  const files = new Map<string, Uint8Array>();
  for (const [dir, spec] of [
    ['configmap', ref.spec.target.configMap],
    ['secret', ref.spec.target.secret],
  ] as const)
    for (const item of spec?.data ?? []) {
      const out = renderItem(certs, item);
      files.set(`${dir}/${item.key}`, out.text !== undefined ? Buffer.from(out.text) : (out.binary as Uint8Array));
    }
  if (ref.spec.target.clusterTrustBundle) files.set('clustertrustbundle.pem', Buffer.from(pemOf(certs)));
  const soonest = new Date(Math.min(...certs.map((c) => c.notAfter.getTime())));
  const status: BuildStatus = {
    caCount: certs.length,
    soonestExpiry: soonest.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(r.defaultCAsVersion ? { defaultCAsVersion: r.defaultCAsVersion } : {}),
    hash: bundleHash(ref, certs),
    targetCount: targets.length,
    fingerprints: rot.fingerprints,
    retiring: rot.retiring,
  };
  files.set('status.json', Buffer.from(`${JSON.stringify(status, null, 2)}\n`));
  return { bundle: ref, certs, status, ...(r.defaultCAsVersion ? { defaultCAsVersion: r.defaultCAsVersion } : {}), targets, files };
}
