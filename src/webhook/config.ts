// The webhook's configuration file (YAML or JSON, validated with zod), the labels and annotations that steer it,
// and a watcher that reloads the file when it changes (a ConfigMap mounted as a volume is swapped atomically
// through a `..data` symlink: we poll the content, not inotify, so a swap is never missed). A file that stops
// parsing keeps the previous configuration (logged), never an empty one.
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { InputError } from '../common/errors.ts';
import { parseYaml } from '../common/yaml.ts';

export const GROUP = 'anchorage.dev';
/** Namespace label or pod annotation: `enabled` / `disabled` (also true/false). */
export const INJECT = `trust.${GROUP}/inject`;
/** Namespace label or pod annotation: which configured bundle (default: the config's `defaultBundle`). */
export const BUNDLE = `trust.${GROUP}/bundle`;
/** Pod annotation: comma-separated container names to inject (default: every container, init containers too). */
export const CONTAINERS = `trust.${GROUP}/containers`;
/** Pod annotation the webhook sets: what it injected (`<bundle>`), so the reconciler can tell missed pods. */
export const INJECTED = `trust.${GROUP}/injected`;
/** Namespace label or pod annotation: `enabled` asks for a per-pod identity. */
export const IDENTITY = `identity.${GROUP}/enabled`;
/** Pod annotation the webhook sets: the name of the pod's identity Secret. */
export const IDENTITY_SECRET = `identity.${GROUP}/secret`;
/** Label on every identity Secret. */
export const IDENTITY_LABEL = `identity.${GROUP}/pod`;
/** Pod annotation the webhook sets on a pod it let through without something it asked for (the reason). */
export const WARNING = `webhook.${GROUP}/warning`;

/** Most bytes of the configuration file. */
export const MAX_CONFIG_BYTES = 1 << 20;

const name = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes object name');
/** A policy decision: let the pod through without what it asked for (with a warning), or refuse it. */
const decision = z.enum(['allow', 'deny']).default('allow');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

const bundleSchema = z
  .object({
    /** A ConfigMap in the pod's namespace (what a ClusterBundle's ConfigMap target writes). */
    configMap: z
      .object({
        name,
        /** PEM bundle key (default ca.crt). */
        key: z.string().min(1).default('ca.crt'),
        /** A JKS truststore key in the same ConfigMap (binaryData), for Java (optional in the volume). */
        jksKey: z.string().min(1).optional(),
        jksPassword: z.string().default('changeit'),
      })
      .strict()
      .optional(),
    /** A ClusterTrustBundle projection (clusters with the ClusterTrustBundleProjection feature). */
    clusterTrustBundle: z
      .object({
        name: z.string().min(1).optional(),
        signerName: z.string().min(1).optional(),
        labelSelector: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .refine((c) => (c.name === undefined) !== (c.signerName === undefined), 'set exactly one of name and signerName')
      .optional(),
  })
  .strict()
  .refine(
    (b) => (b.configMap === undefined) !== (b.clusterTrustBundle === undefined),
    'set exactly one of configMap and clusterTrustBundle',
  );
export type BundleSource = z.infer<typeof bundleSchema>;

export const configSchema = z
  .object({
    trust: z
      .object({
        /** opt-out (default): every pod outside the excluded namespaces; opt-in: only where a label/annotation enables it. */
        mode: z.enum(['opt-out', 'opt-in']).default('opt-out'),
        bundles: z
          .record(name, bundleSchema)
          .default({ default: { configMap: { name: 'anchorage-trust', key: 'ca.crt', jksPassword: 'changeit' } } }),
        defaultBundle: name.default('default'),
        /** Where the bundle is mounted in every container. */
        mountPath: z
          .string()
          .regex(/^\/[^\0]*$/, 'an absolute path')
          .default('/etc/anchorage/trust'),
        /** Namespaces never touched (kube-system and the webhook's own are always added). */
        excludeNamespaces: z.array(name).max(1000).default([]),
        /** The variables set (each only when the container does not set it already). */
        env: z
          .array(envName)
          .max(32)
          .default([
            'SSL_CERT_FILE',
            'SSL_CERT_DIR',
            'NODE_EXTRA_CA_CERTS',
            'REQUESTS_CA_BUNDLE',
            'CURL_CA_BUNDLE',
            'GIT_SSL_CAINFO',
            'JAVA_TOOL_OPTIONS',
          ]),
      })
      .strict()
      .prefault({}),
    identity: z
      .object({
        /** SPIFFE trust domain of the URI SAN. */
        trustDomain: z
          .string()
          .regex(/^[a-z0-9._-]{1,255}$/, 'a SPIFFE trust domain')
          .default('cluster.local'),
        /** The cluster's DNS domain, for `svc.ns.svc.<domain>`. */
        clusterDomain: z.string().min(1).max(253).default('cluster.local'),
        keyType: z.enum(['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048', 'rsa-3072']).default('ecdsa-p256'),
        /** Certificate lifetime; renewed after 2/3 of it. */
        lifetimeSeconds: z
          .number()
          .int()
          .min(60)
          .max(366 * 86400)
          .default(86400),
        mountPath: z
          .string()
          .regex(/^\/[^\0]*$/, 'an absolute path')
          .default('/var/run/anchorage/identity'),
        issuer: z
          .object({
            /** An Anchorage CA held in a kubernetes.io/tls Secret (tls.crt: CA certificate [+ chain], tls.key, optional ca.crt: roots). */
            secret: z.object({ namespace: name, name }).strict().optional(),
            /** The Kubernetes CSR API: a CertificateSigningRequest with this signer, waited for (bounded). */
            csr: z
              .object({
                signerName: z.string().regex(/^[a-z0-9.-]+\/[a-zA-Z0-9.:_-]+$/, 'a signer name (domain/path)'),
                /** Approve our own CSRs (needs the approve verb on the signer). */
                approve: z.boolean().default(true),
                timeoutSeconds: z.number().min(1).max(600).default(20),
                /** The trust bundle written beside the key (the signer's CA, PEM), from a ConfigMap in the webhook's namespace. */
                trustConfigMap: z
                  .object({ name, key: z.string().min(1).default('ca.crt') })
                  .strict()
                  .optional(),
              })
              .strict()
              .optional(),
          })
          .strict()
          .refine((i) => !(i.secret && i.csr), 'set at most one of secret and csr')
          .optional(),
        /** Sign PodCertificateRequests for this signer name (where the cluster has that API). */
        podCertificateSigner: z.string().default(`${GROUP}/identity`),
      })
      .strict()
      .prefault({}),
    /**
     * What a pod gets when the webhook cannot give it what it asked for: `allow` (the default) admits it without
     * (a warning, and an annotation for identity), `deny` refuses its creation with the reason.
     */
    policy: z
      .object({
        /** The pod asks for an identity and the issuer is down or not configured. */
        identityUnavailable: decision,
        /** The pod's bundle annotation or its namespace's label names a bundle the config does not have. */
        unknownBundle: decision,
        /** The AdmissionReview's pod is too malformed to patch (no container list, lists that are not lists). */
        malformedPod: decision,
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type WebhookConfig = z.infer<typeof configSchema>;

export function parseConfig(input: unknown, where = 'config'): WebhookConfig {
  const r = configSchema.safeParse(input ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError(`${where}: ${i?.path.join('.') || '(top)'}: ${i?.message}`);
  }
  const c = r.data;
  if (!c.trust.bundles[c.trust.defaultBundle])
    throw new InputError(`${where}: trust.defaultBundle '${c.trust.defaultBundle}' is not in trust.bundles`);
  return c;
}

export async function readConfigFile(path: string): Promise<{ config: WebhookConfig; text: string }> {
  let text: string;
  try {
    const s = await stat(path);
    if (s.size > MAX_CONFIG_BYTES) throw new InputError(`${path}: too large (${s.size} bytes, at most ${MAX_CONFIG_BYTES})`);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new InputError(`${path}: not YAML: ${(e as Error).message}`);
  }
  return { config: parseConfig(parsed, path), text };
}

/** Re-reads `path` every `everyMs` and calls `onChange` with a new valid configuration; a bad file is reported and ignored. */
export function watchConfig(
  path: string,
  first: string,
  onChange: (c: WebhookConfig) => void,
  onError: (e: Error) => void,
  everyMs = 2000,
): () => void {
  let last = first;
  let busy = false;
  const t = setInterval(() => {
    if (busy) return;
    busy = true;
    readConfigFile(path)
      .then(
        ({ config, text }) => {
          if (text === last) return;
          last = text;
          onChange(config);
        },
        (e: Error) => {
          // Report a bad file once per content, and try again next tick.
          onError(e);
        },
      )
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}

/** `enabled`/`true` → true, `disabled`/`false` → false, anything else (or absent) → undefined. */
export function flag(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'enabled' || s === 'true') return true;
  if (s === 'disabled' || s === 'false') return false;
  return undefined;
}
