// Kubeconfig: extract embedded credentials (*-data fields) and write kubeconfigs with embedded material.

import { InputError } from '../common/errors.ts';
import { parseYaml, stringifyYaml as stringify } from '../common/yaml.ts';

export interface KubeconfigEmbedded {
  /** e.g. `clusters[kubernetes].certificate-authority-data` */
  location: string;
  field: 'certificate-authority-data' | 'client-certificate-data' | 'client-key-data';
  /** The decoded base64: PEM text in practice. */
  data: Uint8Array;
}

export interface KubeconfigSummary {
  embedded: KubeconfigEmbedded[];
  /** File references (certificate-authority, client-certificate, client-key) by location. */
  references: { location: string; path: string }[];
  servers: { cluster: string; server: string }[];
  /** Each context's cluster and user names. */
  contexts: { name: string; cluster?: string; user?: string }[];
  currentContext?: string;
}

/** Cheap test before a YAML parse: kubeconfigs name their kind or carry clusters/users lists. */
export function looksLikeKubeconfig(text: string): boolean {
  return /^\s*kind:\s*["']?Config\b/m.test(text) || (/^clusters:/m.test(text) && /^users:/m.test(text)) || /-data:\s*\S/.test(text);
}

interface Named {
  name?: unknown;
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
}

export function readKubeconfig(text: string): KubeconfigSummary {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new InputError(`kubeconfig is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new InputError('kubeconfig is empty or not a mapping');
  const d = doc as { clusters?: Named[]; users?: Named[]; contexts?: Named[]; 'current-context'?: string };
  const out: KubeconfigSummary = { embedded: [], references: [], servers: [], contexts: [] };
  if (Array.isArray(d.contexts))
    for (const c of d.contexts) {
      const ctx = (c as { context?: Record<string, unknown> })?.context;
      if (!c || typeof c !== 'object' || !ctx || typeof ctx !== 'object') continue;
      out.contexts.push({
        name: String(c.name ?? '?'),
        ...(typeof ctx.cluster === 'string' ? { cluster: ctx.cluster } : {}),
        ...(typeof ctx.user === 'string' ? { user: ctx.user } : {}),
      });
    }
  if (typeof d['current-context'] === 'string') out.currentContext = d['current-context'];
  const take = (
    list: Named[] | undefined,
    kind: 'clusters' | 'users',
    inner: 'cluster' | 'user',
    fields: KubeconfigEmbedded['field'][],
  ): void => {
    if (!Array.isArray(list)) return;
    for (const item of list) {
      const body = item?.[inner];
      if (!body || typeof body !== 'object') continue;
      const name = String(item.name ?? '?');
      for (const f of fields) {
        const v = body[f];
        if (typeof v === 'string' && v.trim()) {
          const data = Buffer.from(v.replace(/\s+/g, ''), 'base64');
          if (data.length === 0) throw new InputError(`${kind}[${name}].${f} is not base64`);
          out.embedded.push({ location: `${kind}[${name}].${f}`, field: f, data });
        }
        const ref = body[f.replace(/-data$/, '')];
        if (typeof ref === 'string' && ref) out.references.push({ location: `${kind}[${name}].${f.replace(/-data$/, '')}`, path: ref });
      }
      if (inner === 'cluster' && typeof body.server === 'string') out.servers.push({ cluster: name, server: body.server });
    }
  };
  take(d.clusters, 'clusters', 'cluster', ['certificate-authority-data']);
  take(d.users, 'users', 'user', ['client-certificate-data', 'client-key-data']);
  return out;
}

export interface KubeconfigSpec {
  clusterName: string;
  server: string;
  caPem: string;
  userName: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  contextName?: string;
  namespace?: string;
}

/** A kubeconfig in the layout kubeadm writes (embedded data, one cluster, user and context). */
export function writeKubeconfig(s: KubeconfigSpec): string {
  const doc = kubeconfigDoc(s);
  return plainKubeconfig(doc) ?? stringify(doc, { lineWidth: 0 });
}

/** The document writeKubeconfig writes, as the YAML library would take it. */
export function kubeconfigDoc(s: KubeconfigSpec): KubeconfigDoc & { apiVersion: string; kind: string; preferences: object } {
  const b64 = (t: string): string => Buffer.from(t).toString('base64');
  const context = s.contextName ?? `${s.userName}@${s.clusterName}`;
  const user: Record<string, string> = {};
  if (s.clientCertPem) user['client-certificate-data'] = b64(s.clientCertPem);
  if (s.clientKeyPem) user['client-key-data'] = b64(s.clientKeyPem);
  if (s.token) user.token = s.token;
  const ctx: Record<string, string> = { cluster: s.clusterName, user: s.userName };
  if (s.namespace) ctx.namespace = s.namespace;
  return {
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': b64(s.caPem), server: s.server }, name: s.clusterName }],
    contexts: [{ context: ctx, name: context }],
    'current-context': context,
    kind: 'Config',
    preferences: {},
    users: [{ name: s.userName, user }],
  };
}

/**
 * A string the YAML library writes as it is, unquoted (lineWidth 0: never folded): conservative on purpose
 * (a letter first, no space, no indicator, a colon only inside a word), so that names, URLs and base64 pass
 * and anything else goes to the library. src/k8s/kubeconfig.test.ts checks both against the library.
 */
const PLAIN = /^[A-Za-z](?:[A-Za-z0-9._@/+=-]|:(?=[A-Za-z0-9._@/+=-]))*$/;
/** Plain words the YAML 1.2 core schema reads as booleans or null: the library quotes them. */
const RESERVED = /^(?:true|True|TRUE|false|False|FALSE|null|Null|NULL)$/;
export const plainScalar = (v: string): boolean => PLAIN.test(v) && !RESERVED.test(v);

export interface KubeconfigDoc {
  clusters: [{ cluster: { 'certificate-authority-data': string; server: string }; name: string }];
  contexts: [{ context: Record<string, string>; name: string }];
  'current-context': string;
  users: [{ name: string; user: Record<string, string> }];
}

/**
 * What `stringify(doc, { lineWidth: 0 })` writes for a kubeconfig of writeKubeconfig's shape when every value
 * is a plain scalar (the YAML library's code costs more than a one-node `pki init` writes, docs/benchmarks.md,
 * issue #12); undefined otherwise, or for an empty user, and the library writes it.
 */
function plainKubeconfig(d: KubeconfigDoc): string | undefined {
  const [cl] = d.clusters;
  const [cx] = d.contexts;
  const [us] = d.users;
  const values = [cl.cluster['certificate-authority-data'], cl.cluster.server, cl.name, cx.name, d['current-context'], us.name];
  const ctx = Object.entries(cx.context);
  const user = Object.entries(us.user);
  for (const [, v] of [...ctx, ...user]) values.push(v);
  if (user.length === 0 || !values.every(plainScalar)) return undefined;
  const map = (entries: [string, string][], indent: string): string => entries.map(([k, v]) => `${indent}${k}: ${v}\n`).join('');
  return (
    'apiVersion: v1\nclusters:\n' +
    `  - cluster:\n      certificate-authority-data: ${cl.cluster['certificate-authority-data']}\n      server: ${cl.cluster.server}\n    name: ${cl.name}\n` +
    `contexts:\n  - context:\n${map(ctx, '      ')}    name: ${cx.name}\n` +
    `current-context: ${d['current-context']}\nkind: Config\npreferences: {}\n` +
    `users:\n  - name: ${us.name}\n    user:\n${map(user, '      ')}`
  );
}
