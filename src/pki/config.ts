// The cluster PKI configuration: one YAML file, validated with zod. docs/cluster-config.md annotates it;
// docs/cluster-config.schema.json is generated from this schema.

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../common/errors.ts';
import { isIP } from '../common/ip.ts';
import { KEY_TYPES } from '../x509/keys.ts';

const ip = z.string().refine((s) => isIP(s) !== 0, { message: 'not an IP address' });
const dnsName = z
  .string()
  .regex(/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'not a DNS name');
const nodeName = z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'node names are lowercase DNS-1123 subdomains');
const cidr = z.string().refine((s) => {
  const [a, p] = s.split('/');
  const v = isIP(a ?? '');
  return v !== 0 && p !== undefined && /^\d+$/.test(p) && Number(p) <= (v === 4 ? 32 : 128);
}, 'not a CIDR (e.g. 10.96.0.0/12)');
/** Durations as Go writes them (8760h, 90m) or days (365d). */
const duration = z.string().regex(/^\d+(\.\d+)?(h|m|s|d)$/, 'a duration such as 8760h or 365d');

export function durationSeconds(s: string): number {
  const n = Number.parseFloat(s);
  const unit = s.at(-1);
  return n * (unit === 'd' ? 86400 : unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
}

const port = z.number().int().min(1).max(65535);
/** How `anchorage nodes` reaches a machine (docs/nodes.md): top-level defaults, overridden per node. */
const sshEndpoint = {
  /** Host name or IP to connect to; default: the node's first IP. */
  address: z.string().min(1).max(253).optional(),
  port: port.optional(),
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'not a user name')
    .optional(),
  /** Private key file (OpenSSH or PEM, unencrypted). */
  identityFile: z.string().min(1).optional(),
  /** Use the SSH agent ($SSH_AUTH_SOCK) for authentication. */
  agent: z.boolean().optional(),
};
const sshSettings = z
  .object({
    ...sshEndpoint,
    /** known_hosts file the host keys are checked against; default ~/.ssh/known_hosts. */
    knownHosts: z.string().min(1).optional(),
    /** Reach the node through this SSH host (like OpenSSH's ProxyJump). */
    jump: z
      .object({ ...sshEndpoint, address: z.string().min(1).max(253) })
      .strict()
      .optional(),
    /** Log in as `user` and act as root through sudo (`--become-password` when sudo asks for one). */
    sudo: z.boolean().optional(),
    /** Command run on the node after a push that changed files there (e.g. `systemctl restart kubelet`). */
    postPushHook: z.string().min(1).max(4096).optional(),
  })
  .strict();
/** TLS ports `anchorage nodes verify` dials on a node; defaults: the apiServerPort, 10250, 2379, 2380. */
const endpointPorts = z
  .object({ apiserver: port.optional(), kubelet: port.optional(), etcdClient: port.optional(), etcdPeer: port.optional() })
  .strict();
export type SshSettings = z.infer<typeof sshSettings>;
export type EndpointPorts = z.infer<typeof endpointPorts>;

const node = z
  .object({
    name: nodeName,
    ips: z.array(ip).min(1, 'each node needs at least one IP'),
    hostnames: z.array(dnsName).default([]),
    ssh: sshSettings.optional(),
    endpoints: endpointPorts.optional(),
  })
  .strict();

export const clusterConfigSchema = z
  .object({
    apiVersion: z.literal('anchorage.dev/v1alpha1'),
    kind: z.literal('ClusterPKI'),
    clusterName: z.string().min(1).default('kubernetes'),
    /** host[:port] clients use to reach the API servers (a load balancer or the first control-plane node). */
    controlPlaneEndpoint: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'host or host:port'),
    kubernetesVersion: z
      .string()
      .regex(/^v?1\.\d+(\.\d+)?$/)
      .default('v1.36.3'),
    /**
     * Port each kube-apiserver listens on (kubeadm's localAPIEndpoint.bindPort); kubeconfigs that talk to their own
     * node's API server use it, and so does a controlPlaneEndpoint that names no port. Default: 6443 in the kubeadm
     * layout (kubeadm's bindPort); in the hard way, where the endpoint is an API server itself, the endpoint's port.
     */
    apiServerPort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe(
        "Port each kube-apiserver listens on. Default: 6443 (kubeadm layout); controlPlaneEndpoint's port, else 6443 (hard-way layout)",
      ),
    dnsDomain: dnsName.default('cluster.local'),
    serviceCIDR: cidr.default('10.96.0.0/12'),
    podCIDR: cidr.default('10.244.0.0/16'),
    layout: z.enum(['kubeadm', 'hard-way']).default('kubeadm'),
    keyAlgorithm: z.enum(KEY_TYPES).default('rsa-2048'),
    validity: z
      .object({ ca: duration.default('87600h'), leaf: duration.default('8760h'), root: duration.default('175200h') })
      .strict()
      .default({ ca: '87600h', leaf: '8760h', root: '175200h' }),
    /**
     * Issue each kubelet a CA-signed serving certificate (/var/lib/kubelet/pki/kubelet.crt), so the apiserver
     * can verify kubelets. kubeadm leaves it to the kubelet (self-signed): `pki adopt` sets false for such clusters.
     */
    kubeletServingCertificates: z.boolean().default(true),
    /** Extra SANs on the apiserver certificate (kubeadm's certSANs). */
    certSANs: z.array(z.string()).default([]),
    controlPlane: z.array(node).min(1, 'at least one control-plane node'),
    workers: z.array(node).default([]),
    etcd: z
      .object({
        topology: z.enum(['stacked', 'external']).default('stacked'),
        /** External etcd members; stacked etcd runs on the control-plane nodes. */
        members: z.array(node).default([]),
        serverCertSANs: z.array(z.string()).default([]),
        peerCertSANs: z.array(z.string()).default([]),
      })
      .strict()
      .default({ topology: 'stacked', members: [], serverCertSANs: [], peerCertSANs: [] }),
    /** An offline root CA above the cluster CAs (Root CA → Kubernetes CA). Its key never goes to a node. */
    rootCA: z
      .object({ enabled: z.boolean().default(true), commonName: z.string().default('Anchorage Root CA') })
      .strict()
      .optional(),
    /** External-CA mode: these CA certificates are given without their keys; nothing they sign is issued here. */
    externalCA: z
      .object({ ca: z.string().optional(), frontProxyCA: z.string().optional(), etcdCA: z.string().optional() })
      .strict()
      .optional(),
    /** Defaults for every node's `ssh` settings (`anchorage nodes`). */
    ssh: sshSettings.optional(),
    /** Defaults for every node's `endpoints` (`anchorage nodes verify`). */
    endpoints: endpointPorts.optional(),
    encryptionAtRest: z
      .object({ enabled: z.boolean().default(true), provider: z.enum(['aescbc', 'secretbox', 'aesgcm']).default('aescbc') })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const port = endpointPort(c.controlPlaneEndpoint);
    if (port !== undefined && (port < 1 || port > 65535))
      ctx.addIssue({ code: 'custom', path: ['controlPlaneEndpoint'], message: `port ${port} is not in 1-65535` });
    const names = new Map<string, string>();
    for (const [group, list] of [
      ['controlPlane', c.controlPlane],
      ['workers', c.workers],
    ] as const) {
      for (const n of list) {
        const prev = names.get(n.name);
        if (prev) ctx.addIssue({ code: 'custom', path: [group], message: `node name '${n.name}' is used twice (also in ${prev})` });
        names.set(n.name, group);
      }
    }
    // Members may go unlisted only when etcd's CA is external too (etcd is then wholly someone else's).
    if (c.etcd.topology === 'external' && c.etcd.members.length === 0 && !c.externalCA?.etcdCA)
      ctx.addIssue({ code: 'custom', path: ['etcd', 'members'], message: 'external etcd needs its members listed' });
    if (c.etcd.topology === 'stacked' && c.etcd.members.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['etcd', 'members'],
        message: 'stacked etcd runs on the control-plane nodes: list members only for external etcd',
      });
  })
  .transform((c) => ({ ...c, apiServerPort: c.apiServerPort ?? defaultApiServerPort(c.layout, c.controlPlaneEndpoint) }));

/** kubeadm's bindPort is 6443 whatever the endpoint says (a load balancer may listen elsewhere); the hard way's endpoint is an API server. */
function defaultApiServerPort(layout: 'kubeadm' | 'hard-way', endpoint: string): number {
  return layout === 'hard-way' ? (endpointPort(endpoint) ?? 6443) : 6443;
}

export type ClusterConfig = z.infer<typeof clusterConfigSchema>;
export type ClusterNode = z.infer<typeof node>;

/** Parse and validate; errors name the file and the field in one line. */
export function parseClusterConfig(text: string, source = 'config'): ClusterConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new InputError(`${source}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  const r = clusterConfigSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(top level)';
    throw new InputError(`${source}: ${path}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** The first host address of the service CIDR: the `kubernetes` Service's ClusterIP. */
export function serviceIP(serviceCIDR: string): string {
  const [addr] = serviceCIDR.split('/') as [string];
  if (isIP(addr) === 4) {
    const p = addr.split('.').map(Number);
    const n = ((((p[0] as number) << 24) | ((p[1] as number) << 16) | ((p[2] as number) << 8) | (p[3] as number)) >>> 0) + 1;
    return [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255].join('.');
  }
  // IPv6: add one to the last group
  const groups = addr.split('::');
  if (groups.length === 2 && groups[1] === '') return `${groups[0]}::1`;
  const parts = addr.split(':');
  const last = Number.parseInt(parts.at(-1) || '0', 16) + 1;
  parts[parts.length - 1] = last.toString(16);
  return parts.join(':');
}

/** Host part of host[:port] (IPv6 in brackets allowed). */
export function endpointHost(endpoint: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (m?.[1]) return m[1];
  if (isIP(endpoint) === 6) return endpoint;
  return endpoint.replace(/:\d+$/, '');
}

/** Port part of host[:port], or undefined when it names none. */
export function endpointPort(endpoint: string): number | undefined {
  if (isIP(endpoint) === 6) return undefined;
  const port = /:(\d+)$/.exec(endpoint.replace(/^\[[^\]]+\]/, (s) => s.replace(/:/g, '')))?.[1];
  return port === undefined ? undefined : Number(port);
}

/** https://host:port; an endpoint without a port gets `defaultPort` (kubeadm: the bindPort, i.e. apiServerPort). */
export function endpointUrl(endpoint: string, defaultPort = 6443): string {
  const host = endpointHost(endpoint);
  return `https://${isIP(host) === 6 ? `[${host}]` : host}:${endpointPort(endpoint) ?? defaultPort}`;
}
