// The pod mutation, pure: from a pod, its namespace's labels and the configuration, the RFC 6902 JSON patch
// that mounts the trust bundle into every selected container (init containers included), sets each runtime's
// trust-store variable, and, for a pod that asks for one, mounts its identity Secret. Nothing the pod already
// has is replaced: a variable a container sets (by value or valueFrom) stays, a mount path or volume name in
// use is left alone, and a pod patched once (re-invocation, a retry) is not patched again.
import { randomBytes } from 'node:crypto';
import {
  BUNDLE,
  type BundleSource,
  CONTAINERS,
  flag,
  IDENTITY,
  IDENTITY_SECRET,
  INJECT,
  INJECTED,
  WARNING,
  type WebhookConfig,
} from './config.ts';

export const TRUST_VOLUME = 'anchorage-trust';
export const IDENTITY_VOLUME = 'anchorage-identity';
export const BUNDLE_FILE = 'ca-certificates.crt';
export const JKS_FILE = 'truststore.jks';

export interface PatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

interface EnvVar {
  name?: unknown;
}
interface Mount {
  name?: unknown;
  mountPath?: unknown;
}
interface Container {
  name?: unknown;
  env?: EnvVar[];
  volumeMounts?: Mount[];
}
export interface PodLike {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: { containers?: Container[]; initContainers?: Container[]; volumes?: { name?: unknown }[] };
}

export interface MutateContext {
  config: WebhookConfig;
  /** The pod's namespace (the AdmissionReview's, which a pod being created may not carry itself). */
  namespace: string;
  /** The namespace's labels (undefined when the namespace is not in the cache yet). */
  namespaceLabels?: Record<string, string>;
  /** Namespaces never touched (kube-system and the webhook's own). */
  excluded: ReadonlySet<string>;
  /** Is the identity issuer able to issue now? (false: the pod goes through without identity, with a warning) */
  issuerReady: boolean;
}

export interface Mutation {
  patch: PatchOp[];
  warnings: string[];
  /** The bundle injected, if any. */
  bundle?: string;
  /** The identity Secret the pod will mount, if any. */
  identitySecret?: string;
  /** Why nothing was injected (excluded namespace, opted out, already injected). */
  skipped?: string;
  /** Set when the configuration's policy refuses the pod: why (the patch is then empty). */
  denied?: string;
}

/** JSON pointer escaping of one path segment (RFC 6901). */
export const ptr = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The value of each trust-store variable for a bundle mounted at `dir`; undefined: not settable for this source. */
export function envValue(name: string, dir: string, source: BundleSource): string | undefined {
  const file = `${dir}/${BUNDLE_FILE}`;
  switch (name) {
    case 'SSL_CERT_FILE':
    case 'NODE_EXTRA_CA_CERTS':
    case 'REQUESTS_CA_BUNDLE':
    case 'CURL_CA_BUNDLE':
    case 'GIT_SSL_CAINFO':
      return file;
    case 'SSL_CERT_DIR':
      return dir;
    case 'JAVA_TOOL_OPTIONS': {
      const cm = source.configMap;
      if (!cm?.jksKey) return undefined;
      return `-Djavax.net.ssl.trustStore=${dir}/${JKS_FILE} -Djavax.net.ssl.trustStoreType=JKS -Djavax.net.ssl.trustStorePassword=${cm.jksPassword}`;
    }
    default:
      return undefined;
  }
}

export function trustVolume(source: BundleSource): Record<string, unknown> {
  const sources: unknown[] = [];
  if (source.configMap) {
    const cm = source.configMap;
    sources.push({ configMap: { name: cm.name, items: [{ key: cm.key, path: BUNDLE_FILE }] } });
    if (cm.jksKey) sources.push({ configMap: { name: cm.name, optional: true, items: [{ key: cm.jksKey, path: JKS_FILE }] } });
  } else if (source.clusterTrustBundle) {
    const c = source.clusterTrustBundle;
    sources.push({
      clusterTrustBundle: {
        ...(c.name ? { name: c.name } : { signerName: c.signerName, labelSelector: { matchLabels: c.labelSelector ?? {} } }),
        path: BUNDLE_FILE,
      },
    });
  }
  return { name: TRUST_VOLUME, projected: { defaultMode: 0o444, sources } };
}

/** A Secret name for the pod's identity: the pod's name (or generateName) and a random suffix, a valid DNS-1123 subdomain. */
export function identitySecretName(pod: PodLike): string {
  const base = (pod.metadata?.name || pod.metadata?.generateName || 'pod')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 200)
    .replace(/-+$/, '');
  const suffix = randomBytes(6).toString('hex');
  return `${base || 'pod'}-identity-${suffix}`;
}

function isContainerArray(v: unknown): v is Container[] {
  return Array.isArray(v) && v.every((c) => typeof c === 'object' && c !== null && !Array.isArray(c));
}

/** Compute the patch. Throws only on a pod too malformed to patch (the caller answers allowed + warning). */
export function mutatePod(pod: PodLike, ctx: MutateContext): Mutation {
  const { config } = ctx;
  const warnings: string[] = [];
  const denials: string[] = [];
  const annotations = pod.metadata?.annotations ?? {};
  const nsLabels = ctx.namespaceLabels ?? {};
  if (ctx.excluded.has(ctx.namespace)) return { patch: [], warnings, skipped: 'excluded namespace' };
  const spec = pod.spec;
  if (typeof spec !== 'object' || spec === null || !isContainerArray(spec.containers))
    throw new Error('the pod has no spec.containers list');
  if (spec.initContainers !== undefined && !isContainerArray(spec.initContainers)) throw new Error('spec.initContainers is not a list');
  if (spec.volumes !== undefined && !Array.isArray(spec.volumes)) throw new Error('spec.volumes is not a list');

  const volumes = spec.volumes ?? [];
  const volumeNames = new Set(volumes.map((v) => v?.name));
  const patch: PatchOp[] = [];
  const newVolumes: Record<string, unknown>[] = [];
  const newAnnotations: Record<string, string> = {};
  // Each container's additions, applied at the end (env, mounts) so each list gets one `add` or appends.
  const perContainer = new Map<string, { env: { name: string; value: string }[]; mounts: Record<string, unknown>[] }>();
  const groups: ['containers' | 'initContainers', Container[]][] = [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers ?? []],
  ];
  const allNames = new Set(groups.flatMap(([, cs]) => cs.map((c) => c.name)));
  const slot = (g: string, i: number) => {
    const k = `${g}/${i}`;
    let s = perContainer.get(k);
    if (!s) {
      s = { env: [], mounts: [] };
      perContainer.set(k, s);
    }
    return s;
  };

  // --- trust ---
  const podTrust = flag(annotations[INJECT]);
  const nsTrust = flag(nsLabels[INJECT]);
  const wantTrust = podTrust ?? nsTrust ?? config.trust.mode === 'opt-out';
  let bundle: string | undefined;
  let skipped: string | undefined;
  if (!wantTrust) skipped = podTrust === false ? 'pod opted out' : nsTrust === false ? 'namespace opted out' : 'not opted in';
  else if (annotations[INJECTED] !== undefined || volumeNames.has(TRUST_VOLUME)) skipped = 'already injected';
  else {
    const wanted = annotations[BUNDLE] ?? nsLabels[BUNDLE] ?? config.trust.defaultBundle;
    const source = config.trust.bundles[wanted];
    if (!source) {
      if (config.policy.unknownBundle === 'deny')
        denials.push(`no trust bundle named '${wanted}' is configured (policy.unknownBundle: deny)`);
      else warnings.push(`anchorage: no trust bundle named '${wanted}' is configured: trust not injected`);
    } else {
      bundle = wanted;
      let only: Set<string> | undefined;
      if (annotations[CONTAINERS] !== undefined) {
        only = new Set(
          annotations[CONTAINERS]
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
        const unknown = [...only].filter((n) => !allNames.has(n));
        if (unknown.length) warnings.push(`anchorage: ${CONTAINERS} names no container ${unknown.join(', ')}`.slice(0, 200));
      }
      const dir = config.trust.mountPath;
      const env = config.trust.env.map((n) => ({ name: n, value: envValue(n, dir, source) })).filter((e) => e.value !== undefined) as {
        name: string;
        value: string;
      }[];
      for (const [g, cs] of groups)
        cs.forEach((c, i) => {
          if (only && !only.has(c.name as string)) return;
          const have = new Set((Array.isArray(c.env) ? c.env : []).map((e) => e?.name));
          const s = slot(g, i);
          for (const e of env) if (!have.has(e.name)) s.env.push(e);
          const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
          if (!mounts.some((m) => m?.mountPath === dir || m?.mountPath === `${dir}/`))
            s.mounts.push({ name: TRUST_VOLUME, mountPath: dir, readOnly: true });
        });
      newVolumes.push(trustVolume(source));
      newAnnotations[INJECTED] = wanted;
    }
  }

  // --- identity ---
  let identitySecret: string | undefined;
  const wantIdentity = flag(annotations[IDENTITY]) ?? flag(nsLabels[IDENTITY]) ?? false;
  if (wantIdentity && annotations[IDENTITY_SECRET] === undefined && !volumeNames.has(IDENTITY_VOLUME)) {
    if (!ctx.issuerReady && config.policy.identityUnavailable === 'deny')
      denials.push(
        `the pod asks for an identity (${IDENTITY}) and the identity issuer is ${config.identity.issuer ? 'not available' : 'not configured'} (policy.identityUnavailable: deny)`,
      );
    else if (!ctx.issuerReady) {
      const w = 'anchorage: the identity issuer is not available: pod admitted without an identity';
      warnings.push(w);
      newAnnotations[WARNING] = w;
    } else {
      identitySecret = identitySecretName(pod);
      newVolumes.push({ name: IDENTITY_VOLUME, secret: { secretName: identitySecret } });
      newAnnotations[IDENTITY_SECRET] = identitySecret;
      const dir = config.identity.mountPath;
      for (const [g, cs] of groups)
        cs.forEach((c, i) => {
          const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
          if (!mounts.some((m) => m?.mountPath === dir)) slot(g, i).mounts.push({ name: IDENTITY_VOLUME, mountPath: dir, readOnly: true });
        });
    }
  }

  if (denials.length) return { patch: [], warnings: [], denied: `anchorage: pod refused: ${denials.join('; ')}`.slice(0, 1000) };

  // --- the patch ---
  for (const [key, s] of perContainer) {
    const [g, i] = key.split('/') as [string, string];
    const c = (g === 'containers' ? spec.containers : (spec.initContainers ?? []))[Number(i)] as Container;
    const base = `/spec/${g}/${i}`;
    if (s.env.length) {
      if (Array.isArray(c.env)) for (const e of s.env) patch.push({ op: 'add', path: `${base}/env/-`, value: e });
      else patch.push({ op: 'add', path: `${base}/env`, value: s.env });
    }
    if (s.mounts.length) {
      if (Array.isArray(c.volumeMounts)) for (const m of s.mounts) patch.push({ op: 'add', path: `${base}/volumeMounts/-`, value: m });
      else patch.push({ op: 'add', path: `${base}/volumeMounts`, value: s.mounts });
    }
  }
  if (newVolumes.length) {
    if (spec.volumes === undefined) patch.push({ op: 'add', path: '/spec/volumes', value: newVolumes });
    else for (const v of newVolumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: v });
  }
  if (Object.keys(newAnnotations).length) {
    if (pod.metadata?.annotations === undefined || pod.metadata.annotations === null) {
      if (pod.metadata === undefined) patch.push({ op: 'add', path: '/metadata', value: { annotations: newAnnotations } });
      else patch.push({ op: 'add', path: '/metadata/annotations', value: newAnnotations });
    } else
      for (const [k, v] of Object.entries(newAnnotations)) patch.push({ op: 'add', path: `/metadata/annotations/${ptr(k)}`, value: v });
  }
  return {
    patch,
    warnings,
    ...(bundle !== undefined && { bundle }),
    ...(identitySecret !== undefined && { identitySecret }),
    ...(skipped !== undefined && { skipped }),
  };
}
