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

type EnvAdd = { name: string; value: string };

/**
 * What a bundle adds under one configuration, the same for every pod: its variables, the container mount, the
 * volume (frozen: every patch shares them), and its encoded patches by pod shape (`encodedPatch`).
 */
interface TrustParts {
  env: readonly Readonly<EnvAdd>[];
  mount: Readonly<Record<string, unknown>>;
  volume: Readonly<Record<string, unknown>>;
  /** The base64 JSON patch of a trust-only mutation, by the shape of the pod it was made for (`shapeKey`). */
  encoded: Map<string, string>;
}
/** Most encoded patches kept per bundle (pod shapes seen; emptied when full). */
const MAX_ENCODED = 512;
const partsCache = new WeakMap<BundleSource, { env: readonly string[]; dir: string; parts: TrustParts }>();

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The bundle's additions under `config` (made once per configuration and bundle). */
function trustParts(config: WebhookConfig, source: BundleSource): TrustParts {
  const dir = config.trust.mountPath;
  const hit = partsCache.get(source);
  if (hit && hit.env === config.trust.env && hit.dir === dir) return hit.parts;
  const env = config.trust.env.map((n) => ({ name: n, value: envValue(n, dir, source) })).filter((e) => e.value !== undefined) as EnvAdd[];
  const parts: TrustParts = {
    env: deepFreeze(env),
    mount: deepFreeze({ name: TRUST_VOLUME, mountPath: dir, readOnly: true }),
    // A copy: the volume may hold the configuration's own objects (a label selector), which stay unfrozen.
    volume: deepFreeze(structuredClone(trustVolume(source))),
    encoded: new Map(),
  };
  partsCache.set(source, { env: config.trust.env, dir, parts });
  return parts;
}

/** One container's additions. */
interface Slot {
  g: 'containers' | 'initContainers';
  i: number;
  c: Container;
  env: EnvAdd[];
  /** Which of the bundle's variables `env` holds (bit k: parts.env[k]). */
  envMask: number;
  mounts: Record<string, unknown>[];
  /** `mounts` holds the trust mount. */
  trustMount: boolean;
}

/** The decision on one pod, before it is written as a patch. */
export interface Plan {
  /** The answer when no patch is made (excluded, denied). */
  done?: Mutation;
  warnings: string[];
  bundle?: string;
  identitySecret?: string;
  skipped?: string;
  parts?: TrustParts;
  slots: Slot[];
  newVolumes: Record<string, unknown>[];
  newAnnotations: Record<string, string>;
  /** spec.volumes is absent; metadata is absent; metadata.annotations is absent or null. */
  noVolumes: boolean;
  noMetadata: boolean;
  noAnnotations: boolean;
}

/** Compute the patch. Throws only on a pod too malformed to patch (the caller answers allowed + warning). */
export function mutatePod(pod: PodLike, ctx: MutateContext): Mutation {
  const p = planMutation(pod, ctx);
  return p.done ?? mutation(p, renderPatch(p));
}

/** The mutation without its patch objects, and the patch as the AdmissionReview carries it (base64 JSON; '' when empty). */
export function mutatePodEncoded(pod: PodLike, ctx: MutateContext): Mutation & { patchBase64: string } {
  const p = planMutation(pod, ctx);
  if (p.done) return { ...p.done, patchBase64: '' };
  return { ...mutation(p, []), patchBase64: encodedPatch(p) };
}

function mutation(p: Plan, patch: PatchOp[]): Mutation {
  return {
    patch,
    warnings: p.warnings,
    ...(p.bundle !== undefined && { bundle: p.bundle }),
    ...(p.identitySecret !== undefined && { identitySecret: p.identitySecret }),
    ...(p.skipped !== undefined && { skipped: p.skipped }),
  };
}

/** Does `list` (a pod's list of objects) hold an entry whose `key` is `value`? */
function anyIs(list: unknown[], key: string, value: unknown, value2?: unknown): boolean {
  for (const x of list) {
    const v = (x as Record<string, unknown> | null | undefined)?.[key];
    if (v === value || (value2 !== undefined && v === value2)) return true;
  }
  return false;
}

export function planMutation(pod: PodLike, ctx: MutateContext): Plan {
  const { config } = ctx;
  const warnings: string[] = [];
  const denials: string[] = [];
  const annotations = pod.metadata?.annotations ?? {};
  const nsLabels = ctx.namespaceLabels ?? {};
  const slots: Slot[] = [];
  const newVolumes: Record<string, unknown>[] = [];
  const newAnnotations: Record<string, string> = {};
  const plan: Plan = {
    warnings,
    slots,
    newVolumes,
    newAnnotations,
    noVolumes: false,
    noMetadata: pod.metadata === undefined,
    noAnnotations: pod.metadata?.annotations === undefined || pod.metadata.annotations === null,
  };
  if (ctx.excluded.has(ctx.namespace)) {
    plan.done = { patch: [], warnings, skipped: 'excluded namespace' };
    return plan;
  }
  const spec = pod.spec;
  if (typeof spec !== 'object' || spec === null || !isContainerArray(spec.containers))
    throw new Error('the pod has no spec.containers list');
  if (spec.initContainers !== undefined && !isContainerArray(spec.initContainers)) throw new Error('spec.initContainers is not a list');
  if (spec.volumes !== undefined && !Array.isArray(spec.volumes)) throw new Error('spec.volumes is not a list');
  plan.noVolumes = spec.volumes === undefined;

  const volumes = spec.volumes ?? [];
  // Each container's additions, applied at the end (env, mounts) so each list gets one `add` or appends; in the
  // order first touched.
  const groups: ['containers' | 'initContainers', Container[]][] = [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers ?? []],
  ];
  const slotOf: Record<'containers' | 'initContainers', (Slot | undefined)[]> = { containers: [], initContainers: [] };
  const slot = (g: 'containers' | 'initContainers', i: number, c: Container): Slot => {
    let s = slotOf[g][i];
    if (!s) {
      s = { g, i, c, env: [], envMask: 0, mounts: [], trustMount: false };
      slotOf[g][i] = s;
      slots.push(s);
    }
    return s;
  };

  // --- trust ---
  const podTrust = flag(annotations[INJECT]);
  const nsTrust = flag(nsLabels[INJECT]);
  const wantTrust = podTrust ?? nsTrust ?? config.trust.mode === 'opt-out';
  if (!wantTrust) plan.skipped = podTrust === false ? 'pod opted out' : nsTrust === false ? 'namespace opted out' : 'not opted in';
  else if (annotations[INJECTED] !== undefined || anyIs(volumes, 'name', TRUST_VOLUME)) plan.skipped = 'already injected';
  else {
    const wanted = annotations[BUNDLE] ?? nsLabels[BUNDLE] ?? config.trust.defaultBundle;
    const source = config.trust.bundles[wanted];
    if (!source) {
      if (config.policy.unknownBundle === 'deny')
        denials.push(`no trust bundle named '${wanted}' is configured (policy.unknownBundle: deny)`);
      else warnings.push(`anchorage: no trust bundle named '${wanted}' is configured: trust not injected`);
    } else {
      plan.bundle = wanted;
      let only: Set<string> | undefined;
      if (annotations[CONTAINERS] !== undefined) {
        only = new Set(
          annotations[CONTAINERS]
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
        const allNames = new Set(groups.flatMap(([, cs]) => cs.map((c) => c.name)));
        const unknown = [...only].filter((n) => !allNames.has(n));
        if (unknown.length) warnings.push(`anchorage: ${CONTAINERS} names no container ${unknown.join(', ')}`.slice(0, 200));
      }
      const dir = config.trust.mountPath;
      const parts = trustParts(config, source);
      plan.parts = parts;
      for (const [g, cs] of groups)
        for (let i = 0; i < cs.length; i++) {
          const c = cs[i] as Container;
          if (only && !only.has(c.name as string)) continue;
          const have = Array.isArray(c.env) ? c.env : [];
          const s = slot(g, i, c);
          for (let k = 0; k < parts.env.length; k++) {
            const e = parts.env[k] as EnvAdd;
            if (!anyIs(have, 'name', e.name)) {
              s.env.push(e);
              s.envMask |= 1 << k;
            }
          }
          const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
          if (!anyIs(mounts, 'mountPath', dir, `${dir}/`)) {
            s.mounts.push(parts.mount);
            s.trustMount = true;
          }
        }
      newVolumes.push(parts.volume);
      newAnnotations[INJECTED] = wanted;
    }
  }

  // --- identity ---
  const wantIdentity = flag(annotations[IDENTITY]) ?? flag(nsLabels[IDENTITY]) ?? false;
  if (wantIdentity && annotations[IDENTITY_SECRET] === undefined && !anyIs(volumes, 'name', IDENTITY_VOLUME)) {
    if (!ctx.issuerReady && config.policy.identityUnavailable === 'deny')
      denials.push(
        `the pod asks for an identity (${IDENTITY}) and the identity issuer is ${config.identity.issuer ? 'not available' : 'not configured'} (policy.identityUnavailable: deny)`,
      );
    else if (!ctx.issuerReady) {
      const w = 'anchorage: the identity issuer is not available: pod admitted without an identity';
      warnings.push(w);
      newAnnotations[WARNING] = w;
    } else {
      const identitySecret = identitySecretName(pod);
      plan.identitySecret = identitySecret;
      newVolumes.push({ name: IDENTITY_VOLUME, secret: { secretName: identitySecret } });
      newAnnotations[IDENTITY_SECRET] = identitySecret;
      const dir = config.identity.mountPath;
      for (const [g, cs] of groups)
        for (let i = 0; i < cs.length; i++) {
          const c = cs[i] as Container;
          const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
          if (!anyIs(mounts, 'mountPath', dir)) slot(g, i, c).mounts.push({ name: IDENTITY_VOLUME, mountPath: dir, readOnly: true });
        }
    }
  }

  if (denials.length) plan.done = { patch: [], warnings: [], denied: `anchorage: pod refused: ${denials.join('; ')}`.slice(0, 1000) };
  return plan;
}

/** The plan as RFC 6902 operations. */
function renderPatch(p: Plan): PatchOp[] {
  const patch: PatchOp[] = [];
  for (const s of p.slots) {
    const base = `/spec/${s.g}/${s.i}`;
    if (s.env.length) {
      if (Array.isArray(s.c.env)) for (const e of s.env) patch.push({ op: 'add', path: `${base}/env/-`, value: e });
      else patch.push({ op: 'add', path: `${base}/env`, value: s.env });
    }
    if (s.mounts.length) {
      if (Array.isArray(s.c.volumeMounts)) for (const m of s.mounts) patch.push({ op: 'add', path: `${base}/volumeMounts/-`, value: m });
      else patch.push({ op: 'add', path: `${base}/volumeMounts`, value: s.mounts });
    }
  }
  if (p.newVolumes.length) {
    if (p.noVolumes) patch.push({ op: 'add', path: '/spec/volumes', value: p.newVolumes });
    else for (const v of p.newVolumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: v });
  }
  if (Object.keys(p.newAnnotations).length) {
    if (p.noAnnotations) {
      if (p.noMetadata) patch.push({ op: 'add', path: '/metadata', value: { annotations: p.newAnnotations } });
      else patch.push({ op: 'add', path: '/metadata/annotations', value: p.newAnnotations });
    } else
      for (const [k, v] of Object.entries(p.newAnnotations)) patch.push({ op: 'add', path: `/metadata/annotations/${ptr(k)}`, value: v });
  }
  return patch;
}

const encode = (patch: PatchOp[]): string => (patch.length ? Buffer.from(JSON.stringify(patch)).toString('base64') : '');

/**
 * The plan's patch as base64 JSON, what `renderPatch` gives, encoded. A trust-only plan (no identity Secret, whose
 * name is random) is a function of the bundle and the pod's shape (which containers get which of the bundle's
 * variables and its mount, which of their lists and of the pod's volumes and annotations exist), so its encoding
 * is kept by that shape and not made again for the next pod of the same shape (a Deployment's replicas).
 */
function encodedPatch(p: Plan): string {
  const parts = p.parts;
  if (!parts || p.identitySecret !== undefined) return encode(renderPatch(p));
  let key = `${p.bundle}\0${p.noVolumes ? 1 : 0}${p.noMetadata ? 1 : 0}${p.noAnnotations ? 1 : 0}${p.newAnnotations[WARNING] !== undefined ? 1 : 0}`;
  for (const s of p.slots)
    if (s.env.length || s.mounts.length)
      key += `|${s.g === 'containers' ? 'c' : 'i'}${s.i}.${s.envMask}.${Array.isArray(s.c.env) ? 1 : 0}${s.trustMount ? 1 : 0}${Array.isArray(s.c.volumeMounts) ? 1 : 0}`;
  let out = parts.encoded.get(key);
  if (out === undefined) {
    out = encode(renderPatch(p));
    if (parts.encoded.size >= MAX_ENCODED) parts.encoded.clear();
    parts.encoded.set(key, out);
  }
  return out;
}
