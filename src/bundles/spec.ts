// The bundle API: what a ClusterBundle (cluster-scoped) or a Bundle (namespaced) of trust.anchorage.dev/v1alpha1
// says, validated with zod (the CRDs in deploy/crds/ carry the same rules as OpenAPI and CEL), and the
// translation of trust-manager's own Bundle (trust.cert-manager.io/v1alpha1) into it.
import { z } from 'zod';
import { InputError } from '../common/errors.ts';

export const GROUP = 'trust.anchorage.dev';
export const VERSION = 'v1alpha1';
/** Label on every target: which bundle owns it (`<kind>.<name>` or `<kind>.<namespace>.<name>`, hashed when long). */
export const OWNER_LABEL = `${GROUP}/bundle`;
/** Annotation on every target: SHA-256 of its content and the settings that made it. */
export const HASH_ANNOTATION = `${GROUP}/hash`;
export const FIELD_MANAGER = 'anchorage-bundles';

const labelSelector = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(
        z.object({
          key: z.string(),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.array(z.string()).optional(),
        }),
      )
      .optional(),
  })
  .strict();
export type LabelSelector = z.infer<typeof labelSelector>;

const objectSource = z
  .object({
    name: z.string().min(1).optional(),
    selector: labelSelector.optional(),
    /** ClusterBundle only (default: the controller's trust namespace); a Bundle reads its own namespace. */
    namespace: z.string().min(1).optional(),
    /** Key globs (`*`, `?`); default every key. */
    keys: z.array(z.string().min(1)).min(1).max(64).default(['*']),
  })
  .strict()
  .refine((s) => (s.name === undefined) !== (s.selector === undefined), 'set exactly one of name and selector');
export type ObjectSource = z.infer<typeof objectSource>;

const source = z
  .object({
    configMap: objectSource.optional(),
    secret: objectSource.optional(),
    inLine: z
      .string()
      .max(1 << 20)
      .optional(),
    defaultCAs: z.object({}).strict().optional(),
    bundle: z
      .object({ name: z.string().min(1) })
      .strict()
      .optional(),
    https: z
      .object({
        url: z.string().startsWith('https://'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lower-case hex digits'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1, 'each source sets exactly one kind');
export type Source = z.infer<typeof source>;

export const FORMATS = ['PEM', 'PKCS12', 'JKS'] as const;
const dataItem = z
  .object({
    key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'a ConfigMap/Secret key'),
    format: z.enum(FORMATS).default('PEM'),
    /** PKCS12 (default "") and JKS (default "changeit"). */
    password: z.string().max(128).optional(),
    /** PKCS12: Modern (AES-256, SHA-256 MAC) or Legacy (3DES, SHA-1 MAC; old Java). */
    profile: z.enum(['Modern', 'Legacy']).default('Modern'),
  })
  .strict();
export type DataItem = z.infer<typeof dataItem>;

const targetMetadata = z
  .object({ labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional() })
  .strict();

const objectTarget = z
  .object({
    data: z.array(dataItem).min(1).max(16),
    /** Labels and annotations of this kind of target only (over target.metadata). */
    metadata: targetMetadata.optional(),
  })
  .strict()
  .refine((t) => new Set(t.data.map((d) => d.key)).size === t.data.length, 'target keys must be unique');

export const bundleSpec = z
  .object({
    sources: z.array(source).min(1).max(100),
    filters: z
      .object({ dropExpired: z.boolean().default(false), dropNonCA: z.boolean().default(false) })
      .strict()
      .default({ dropExpired: false, dropNonCA: false }),
    /** Seconds a CA removed from the sources stays in the bundle (0: removed at once). */
    rotation: z
      .object({
        gracePeriodSeconds: z
          .number()
          .int()
          .min(0)
          .max(365 * 86400),
      })
      .strict()
      .optional(),
    target: z
      .object({
        configMap: objectTarget.optional(),
        secret: objectTarget.optional(),
        /** ClusterBundle only: a certificates.k8s.io ClusterTrustBundle, named `<signer with / as :>:<bundle>` when signerName is set. */
        clusterTrustBundle: z
          .object({
            signerName: z
              .string()
              .regex(/^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/, 'signerName: <domain>/<path>')
              .optional(),
          })
          .strict()
          .optional(),
        /** ClusterBundle only (default: every namespace). */
        namespaceSelector: labelSelector.optional(),
        metadata: targetMetadata.optional(),
      })
      .strict()
      .refine((t) => t.configMap || t.secret || t.clusterTrustBundle, 'the target needs a configMap, a secret or a clusterTrustBundle'),
  })
  .strict();
export type BundleSpec = z.infer<typeof bundleSpec>;

/** Anchorage's two kinds, trust-manager's Bundle (trust.cert-manager.io/v1alpha1) and ClusterBundle (trust-manager.io/v1alpha2). */
export type BundleKind = 'ClusterBundle' | 'Bundle' | 'TrustManagerBundle' | 'TrustManagerClusterBundle';

/** trust-manager's API groups, labels and annotations that matter when taking over from it. */
export const TM_V1_GROUP = 'trust.cert-manager.io';
export const TM_V2_GROUP = 'trust-manager.io';
/** The label trust-manager puts on the targets of a Bundle (v1alpha1) and of a ClusterBundle (v1alpha2). */
export const TM_V1_LABEL = 'trust.cert-manager.io/bundle';
export const TM_V2_LABEL = 'trust-manager.io/bundle';
/** On a v1alpha2 ClusterBundle: the user migrated it from the Bundle of that name (trust-manager stops copying). */
export const TM_MIGRATED_ANNOTATION = 'trust-manager.io/migrated';
/** On a v1alpha2 ClusterBundle that trust-manager made from a Bundle: which PKCS12 key is really the Bundle's JKS. */
export const TM_JKS_KEY_ANNOTATION = 'internal.trust-manager.io/jks-key';

/** One bundle as the controller and the offline build see it. */
export interface BundleRef {
  kind: BundleKind;
  name: string;
  /** Bundle only. */
  namespace?: string;
  uid?: string;
  generation?: number;
  spec: BundleSpec;
}

export function bundleId(b: Pick<BundleRef, 'kind' | 'name' | 'namespace'>): string {
  return b.namespace ? `${b.kind}/${b.namespace}/${b.name}` : `${b.kind}/${b.name}`;
}

/** Parse a spec; a bad one is an InputError naming the first problem's path. */
export function parseSpec(spec: unknown, what: string): BundleSpec {
  const r = bundleSpec.safeParse(spec);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError(`${what}: spec.${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** Rules a namespaced Bundle must follow on top of the schema (a tenant reads and writes only its namespace). */
export function tenantViolation(b: BundleRef): string | undefined {
  if (b.kind !== 'Bundle') return undefined;
  for (const s of b.spec.sources) {
    const o = s.configMap ?? s.secret;
    if (o?.namespace !== undefined && o.namespace !== b.namespace)
      return `source ${s.configMap ? 'configMap' : 'secret'} in namespace '${o.namespace}': a Bundle reads only its own namespace '${b.namespace}'`;
  }
  if (b.spec.target.namespaceSelector) return 'a Bundle writes only to its own namespace: namespaceSelector is for ClusterBundles';
  if (b.spec.target.clusterTrustBundle) return 'a Bundle cannot write a ClusterTrustBundle (cluster-scoped): use a ClusterBundle';
  return undefined;
}

interface TmObjectSource {
  name?: string;
  selector?: LabelSelector;
  key?: string;
  includeAllKeys?: boolean;
}
interface TmSpec {
  sources?: { configMap?: TmObjectSource; secret?: TmObjectSource; inLine?: string; useDefaultCAs?: boolean }[];
  target?: {
    configMap?: { key: string; metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    secret?: { key: string; metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    additionalFormats?: {
      jks?: { key: string; password?: string };
      pkcs12?: { key: string; password?: string; profile?: 'LegacyRC2' | 'LegacyDES' | 'Modern2023' };
    };
    namespaceSelector?: LabelSelector;
  };
}

/** trust-manager's Bundle spec in this API (sources read from the trust namespace, as trust-manager does). */
export function fromTrustManager(spec: TmSpec, trustNamespace: string): unknown {
  const obj = (o: TmObjectSource): unknown => ({
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.selector !== undefined ? { selector: o.selector } : {}),
    namespace: trustNamespace,
    keys: o.includeAllKeys ? ['*'] : [o.key ?? ''],
  });
  const t = spec.target ?? {};
  const extra: unknown[] = [];
  if (t.additionalFormats?.jks)
    extra.push({ key: t.additionalFormats.jks.key, format: 'JKS', password: t.additionalFormats.jks.password ?? 'changeit' });
  if (t.additionalFormats?.pkcs12)
    extra.push({
      key: t.additionalFormats.pkcs12.key,
      format: 'PKCS12',
      password: t.additionalFormats.pkcs12.password ?? '',
      profile: t.additionalFormats.pkcs12.profile === 'Modern2023' ? 'Modern' : 'Legacy',
    });
  const meta = (m?: { labels?: Record<string, string>; annotations?: Record<string, string> }): unknown =>
    m && (m.labels || m.annotations)
      ? { metadata: { ...(m.labels ? { labels: m.labels } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) } }
      : {};
  return {
    sources: (spec.sources ?? []).map((s) =>
      s.configMap
        ? { configMap: obj(s.configMap) }
        : s.secret
          ? { secret: obj(s.secret) }
          : s.inLine !== undefined
            ? { inLine: s.inLine }
            : s.useDefaultCAs
              ? { defaultCAs: {} }
              : {},
    ),
    target: {
      ...(t.configMap ? { configMap: { data: [{ key: t.configMap.key }, ...extra], ...(meta(t.configMap.metadata) as object) } } : {}),
      ...(t.secret ? { secret: { data: [{ key: t.secret.key }, ...extra], ...(meta(t.secret.metadata) as object) } } : {}),
      ...(t.namespaceSelector ? { namespaceSelector: t.namespaceSelector } : {}),
    },
  };
}

interface TmV2KeyValueTarget {
  data?: { key: string; format?: 'PEM' | 'PKCS12'; password?: string; profile?: 'LegacyRC2' | 'LegacyDES' | 'Modern2023' }[];
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}
interface TmV2Spec {
  sourceRefs?: { kind?: 'ConfigMap' | 'Secret'; name?: string; selector?: LabelSelector; key?: string }[];
  defaultCAs?: { provider?: 'System' | 'Disabled' };
  inLineCAs?: string;
  target?: { configMap?: TmV2KeyValueTarget; secret?: TmV2KeyValueTarget; namespaceSelector?: LabelSelector };
}

/**
 * trust-manager's ClusterBundle (trust-manager.io/v1alpha2) in this API: `sourceRefs` (ConfigMap/Secret by name or
 * selector, `key` with `*` wildcards) read from the trust namespace, `defaultCAs.provider: System`, `inLineCAs`,
 * ConfigMap/Secret targets with `data[] {key, format PEM|PKCS12, password, profile}` and their own metadata, the
 * required `namespaceSelector` (`{}`: every namespace). PKCS12 defaults as trust-manager's: no password, profile
 * LegacyDES (our Legacy: 3DES with a SHA-1 MAC; LegacyRC2, which OpenSSL 3 and Java 20 no longer open, is written
 * as Legacy too). The key named by the `internal.trust-manager.io/jks-key` annotation (what trust-manager converts a
 * Bundle's JKS format into) is written as JKS.
 */
export function fromTrustManagerV2(spec: TmV2Spec, annotations: Record<string, string> | undefined, trustNamespace: string): unknown {
  const jksKey = annotations?.[TM_JKS_KEY_ANNOTATION];
  const sources: unknown[] = (spec.sourceRefs ?? []).map((r) => {
    const obj = {
      ...(r.name !== undefined && r.name !== '' ? { name: r.name } : {}),
      ...(r.selector !== undefined ? { selector: r.selector } : {}),
      namespace: trustNamespace,
      keys: [r.key ?? ''],
    };
    return r.kind === 'Secret' ? { secret: obj } : r.kind === 'ConfigMap' ? { configMap: obj } : {};
  });
  if (spec.inLineCAs) sources.push({ inLine: spec.inLineCAs });
  if (spec.defaultCAs?.provider === 'System') sources.push({ defaultCAs: {} });
  const target = (t: TmV2KeyValueTarget): unknown => ({
    data: (t.data ?? []).map((d) =>
      d.format === 'PKCS12'
        ? d.key === jksKey
          ? { key: d.key, format: 'JKS', password: d.password ?? 'changeit' }
          : { key: d.key, format: 'PKCS12', password: d.password ?? '', profile: d.profile === 'Modern2023' ? 'Modern' : 'Legacy' }
        : { key: d.key, format: 'PEM' },
    ),
    ...(t.metadata && (t.metadata.labels || t.metadata.annotations) ? { metadata: t.metadata } : {}),
  });
  const t = spec.target ?? {};
  return {
    sources,
    target: {
      ...(t.configMap ? { configMap: target(t.configMap) } : {}),
      ...(t.secret ? { secret: target(t.secret) } : {}),
      // Required by trust-manager's schema; `{}` selects every namespace (what trust-manager's conversion writes for none).
      namespaceSelector: t.namespaceSelector ?? {},
    },
  };
}

/** A bundle object's spec in this API, whichever of the four kinds it is. */
export function specOf(
  kind: BundleKind,
  obj: { metadata?: { annotations?: Record<string, string> }; spec?: unknown },
  trustNamespace: string,
): unknown {
  if (kind === 'TrustManagerBundle') return fromTrustManager((obj.spec ?? {}) as TmSpec, trustNamespace);
  if (kind === 'TrustManagerClusterBundle')
    return fromTrustManagerV2((obj.spec ?? {}) as TmV2Spec, obj.metadata?.annotations, trustNamespace);
  return obj.spec;
}

/** Does a label selector match these labels (Kubernetes semantics; an empty selector matches everything)? */
export function matchesSelector(sel: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(v as string))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(v as string)) return false;
  }
  return true;
}

/** A selector in the API's query form (`a=b,c in (d,e),!f`). */
export function selectorString(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',');
}

/** Key glob (`*`, `?`) to a matcher. */
export function globMatcher(globs: readonly string[]): (key: string) => boolean {
  const res = globs.map(
    (g) =>
      new RegExp(
        `^${g
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      ),
  );
  return (k) => res.some((r) => r.test(k));
}
