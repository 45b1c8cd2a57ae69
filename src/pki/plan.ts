// From a cluster config to the full list of CAs, leaves, keys and files: pure, no I/O.
//
// Built the way kubeadm builds its own list (phases/certs/certlist.go, phases/kubeconfig/kubeconfig.go):
// a layout is data. Each certificate is one spec naming its role (CN, O, SANs and usages come from the
// one role table, src/k8s/roles.ts), its issuing CA and where it goes on a node; what depends on the
// config or the node (extra SANs, the O of a Kubernetes version, whether it exists at all) is a small
// mutator or condition on that spec. buildPlan only walks the specs over the nodes.
import { isIP } from '../common/ip.ts';
import { fillTemplate, K8S_ROLES, type K8sRole, type TemplateVars } from '../k8s/roles.ts';
import type { KeyType } from '../x509/keys.ts';
import type { KeyUsage } from '../x509/oids.ts';
import { type ClusterConfig, type ClusterNode, durationSeconds, endpointHost, endpointUrl, serviceIP } from './config.ts';

export interface PlannedCert {
  /** Unique id: the role name, suffixed with @node for per-node certificates (e.g. apiserver@cp-1). */
  id: string;
  role: string;
  /** kubeadm's name for check-expiration/renew (apiserver, admin.conf, etcd-server ...). */
  kubeadmName: string;
  ca: boolean;
  /** Id of the issuing CA, or null when self-signed. */
  signer: string | null;
  node?: string;
  cn: string;
  o: string[];
  sans: { dns: string[]; ip: string[] };
  keyUsage: KeyUsage[];
  extKeyUsage: string[];
  pathLen?: number;
  validitySeconds: number;
  keyType: KeyType;
  /** CA given without a key (external-CA mode): nothing is issued for it, and nothing it signs is either. */
  external: boolean;
  /** Offline root: its key stays in the store and never goes to a node. */
  offline: boolean;
}

export type FileContent =
  | { type: 'cert'; cert: string }
  /** A CA bundle: these certificates concatenated (rotation writes old+new). */
  | { type: 'bundle'; certs: string[] }
  | { type: 'key'; cert: string }
  | { type: 'kubeconfig'; cert: string; caBundle: string; server: string; user: string; cluster: string }
  | { type: 'sa-key' }
  | { type: 'sa-pub' }
  | { type: 'encryption-config' };

export interface PlannedFile {
  node: string;
  /** Absolute path on the node. */
  path: string;
  mode: number;
  content: FileContent;
}

export interface Plan {
  config: ClusterConfig;
  certs: PlannedCert[];
  files: PlannedFile[];
  nodes: { name: string; roles: ('control-plane' | 'worker' | 'etcd')[] }[];
  notes: string[];
}

// ---------------------------------------------------------------- the spec types

/** What a spec's functions see: the config and the node being planned. */
interface NodeContext {
  c: ClusterConfig;
  node: ClusterNode;
  /** Position of the node in its pass (0: the first control-plane node). */
  index: number;
  vars: TemplateVars;
  controlPlane: boolean;
}

type Condition = (x: NodeContext) => boolean;
/** kubeadm's configMutatorsFunc: adjusts one planned certificate for the config and the node. */
type Mutator = (p: PlannedCert, x: NodeContext) => void;

/** Where a certificate goes on its node: a .crt/.key pair, or a kubeconfig that embeds it (user = its CN). */
type Placement = { pair: string } | { kubeconfig: string; server: (x: NodeContext) => string };

/** One certificate per node of a pass (kubeadm's KubeadmCert plus, for clients, its kubeconfig spec). */
interface CertSpec {
  /** kubeadm's name (check-expiration, renew); the id is name@node. */
  name: string;
  /** Its row in the role table. */
  role: string;
  /** Id of the issuing CA. */
  ca: string;
  when?: Condition;
  mutators?: readonly Mutator[];
  /** In the order they are written. */
  placements: readonly Placement[];
}

/** A node file that is not a certificate of its own: CA bundles and keys, the sa pair, the encryption config. */
interface FileSpec {
  path: string;
  content: FileContent;
  mode: number;
  when?: Condition;
}

/** Specs applied to each node of a set, in order: certificates and files come out in this order. */
interface Pass {
  nodes: (c: ClusterConfig) => readonly ClusterNode[];
  items: readonly (CertSpec | FileSpec)[];
}

interface Layout {
  /** The cluster CAs: [id, role]. */
  cas: readonly (readonly [string, string])[];
  passes: readonly Pass[];
  notes?: (c: ClusterConfig) => string[];
}

// ---------------------------------------------------------------- helpers for the specs

const K = '/etc/kubernetes';
const P = `${K}/pki`;
const HW = '/var/lib/kubernetes';

const file = (path: string, content: FileContent, mode = 0o644, when?: Condition): FileSpec => ({
  path,
  content,
  mode,
  ...(when ? { when } : {}),
});
const bundle = (path: string, ca: string, when?: Condition): FileSpec => file(path, { type: 'bundle', certs: [ca] }, 0o644, when);
const caKey = (path: string, ca: string, when?: Condition): FileSpec => file(path, { type: 'key', cert: ca }, 0o600, when);
const encryptionConfig = (path: string): FileSpec =>
  file(path, { type: 'encryption-config' }, 0o600, (x) => x.c.encryptionAtRest?.enabled === true);

/** kubeadm before 1.29 put admin and apiserver-kubelet-client in system:masters (and had no super-admin.conf). */
function minor(version: string): number {
  return Number(/^v?1\.(\d+)/.exec(version)?.[1] ?? 99);
}
const legacyAdmins = (c: ClusterConfig): boolean => minor(c.kubernetesVersion) < 29;

/**
 * apiserver-kubelet-client's O: system:masters before 1.29, kubeadm:cluster-admins from 1.29, none from 1.36.1
 * (kubernetes/kubernetes#138957: RBAC binds the user kube-apiserver-kubelet-client to system:kubelet-api-admin instead).
 * undefined: the role table's current value.
 */
function kubeletClientO(c: ClusterConfig): string[] | undefined {
  const m = /^v?1\.(\d+)(?:\.(\d+))?/.exec(c.kubernetesVersion);
  const mi = Number(m?.[1] ?? 99);
  if (mi < 29) return ['system:masters'];
  if (mi > 36 || (mi === 36 && Number(m?.[2] ?? 0) >= 1)) return undefined;
  return ['kubeadm:cluster-admins'];
}

function splitSans(values: Iterable<string>): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  for (const v of values) {
    const list = isIP(v) ? ip : dns;
    if (!list.includes(v)) list.push(v);
  }
  return { dns, ip };
}

// ---------------------------------------------------------------- mutators

/** SANs after the role's own, duplicates dropped (kubeadm's makeAltNamesMutator). */
const altNames =
  (f: (x: NodeContext) => readonly string[]): Mutator =>
  (p, x) => {
    p.sans = splitSans([...p.sans.dns, ...p.sans.ip, ...f(x)]);
  };
/** The O of the config's Kubernetes version, where it differs from the role table's current value. */
const organization =
  (f: (c: ClusterConfig) => readonly string[] | undefined): Mutator =>
  (p, x) => {
    const o = f(x.c);
    if (o) p.o = [...o];
  };

/** kubeadm's GetAPIServerAltNames beyond the role's: the endpoint host (unless it is the node name), hostnames, other IPs, certSANs. */
const apiServerAltNames = altNames(({ c, node }) => {
  const host = endpointHost(c.controlPlaneEndpoint);
  return [...(isIP(host) || host !== node.name ? [host] : []), ...node.hostnames, ...node.ips.slice(1), ...c.certSANs];
});
const etcdAltNames = (extra: 'serverCertSANs' | 'peerCertSANs'): Mutator =>
  altNames(({ c, node }) => [...node.hostnames, ...node.ips.slice(1), ...c.etcd[extra]]);

// ---------------------------------------------------------------- kubeconfig servers

const hostPort = (ip: string, port: number): string => (isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);
/** The control-plane endpoint; without a port, the apiserver's (kubeadm's bindPort). */
const endpoint = ({ c }: NodeContext): string => endpointUrl(c.controlPlaneEndpoint, c.apiServerPort);
/** The node's own apiserver (kubeadm's controller-manager.conf and scheduler.conf). */
const localApiServer = ({ c, node }: NodeContext): string => endpointUrl(hostPort(node.ips[0] as string, c.apiServerPort));
/** kubeadm's ControlPlaneKubeletLocalMode (default from 1.33, GA 1.35): a control-plane kubelet talks to its local apiserver. */
const kubeletServer = (x: NodeContext): string =>
  x.controlPlane && minor(x.c.kubernetesVersion) >= 33 ? endpointUrl(hostPort(x.node.ips[0] as string, x.c.apiServerPort)) : endpoint(x);
const loopback = ({ c }: NodeContext): string => `https://127.0.0.1:${c.apiServerPort}`;

// ---------------------------------------------------------------- the layouts

const cert = (name: string, role: string, ca: string, placements: Placement[], extra: Partial<CertSpec> = {}): CertSpec => ({
  name,
  role,
  ca,
  placements,
  ...extra,
});
const pair = (base: string): Placement => ({ pair: base });
const kubeconfig = (path: string, server: (x: NodeContext) => string): Placement => ({ kubeconfig: path, server });

const KUBEADM_CAS = [
  ['ca', 'ca'],
  ['front-proxy-ca', 'front-proxy-ca'],
  ['etcd-ca', 'etcd/ca'],
] as const;
const notExternal =
  (ca: string): Condition =>
  ({ c }) =>
    !externalCAs(c).has(ca);

/** kubeadm's layout: `kubeadm init phase certs all` + `kubeconfig all` on each control-plane node, etcd's certificates on each member, a kubelet.conf on every node. */
const KUBEADM: Layout = {
  cas: [
    ['ca', 'ca'],
    ['front-proxy-ca', 'front-proxy-ca'],
    ['etcd-ca', 'etcd-ca'],
  ],
  passes: [
    {
      nodes: (c) => c.controlPlane,
      items: [
        // With external etcd a control plane is only etcd's client: it needs etcd's CA to verify the members,
        // never its key (kubeadm writes no etcd CA there; the key stays in the store).
        ...KUBEADM_CAS.flatMap(([ca, base]) => [
          bundle(`${P}/${base}.crt`, ca),
          caKey(`${P}/${base}.key`, ca, ca === 'etcd-ca' ? (x) => notExternal(ca)(x) && x.c.etcd.topology === 'stacked' : notExternal(ca)),
        ]),
        cert('apiserver', 'apiserver', 'ca', [pair(`${P}/apiserver`)], { mutators: [apiServerAltNames] }),
        cert('apiserver-kubelet-client', 'apiserver-kubelet-client', 'ca', [pair(`${P}/apiserver-kubelet-client`)], {
          mutators: [organization(kubeletClientO)],
        }),
        cert('front-proxy-client', 'front-proxy-client', 'front-proxy-ca', [pair(`${P}/front-proxy-client`)]),
        cert('apiserver-etcd-client', 'apiserver-etcd-client', 'etcd-ca', [pair(`${P}/apiserver-etcd-client`)]),
        file(`${P}/sa.key`, { type: 'sa-key' }, 0o600),
        file(`${P}/sa.pub`, { type: 'sa-pub' }),
        cert('admin.conf', 'admin.conf', 'ca', [kubeconfig(`${K}/admin.conf`, endpoint)], {
          mutators: [organization((c) => (legacyAdmins(c) ? ['system:masters'] : undefined))],
        }),
        cert('super-admin.conf', 'super-admin.conf', 'ca', [kubeconfig(`${K}/super-admin.conf`, endpoint)], {
          when: (x) => x.index === 0 && !legacyAdmins(x.c),
        }),
        cert('controller-manager.conf', 'controller-manager.conf', 'ca', [kubeconfig(`${K}/controller-manager.conf`, localApiServer)]),
        cert('scheduler.conf', 'scheduler.conf', 'ca', [kubeconfig(`${K}/scheduler.conf`, localApiServer)]),
        encryptionConfig(`${K}/encryption-config.yaml`),
      ],
    },
    {
      nodes: (c) => (c.etcd.topology === 'external' ? c.etcd.members : c.controlPlane),
      items: [
        cert('etcd-server', 'etcd-server', 'etcd-ca', [pair(`${P}/etcd/server`)], { mutators: [etcdAltNames('serverCertSANs')] }),
        cert('etcd-peer', 'etcd-peer', 'etcd-ca', [pair(`${P}/etcd/peer`)], { mutators: [etcdAltNames('peerCertSANs')] }),
        cert('etcd-healthcheck-client', 'etcd-healthcheck-client', 'etcd-ca', [pair(`${P}/etcd/healthcheck-client`)]),
        bundle(`${P}/etcd/ca.crt`, 'etcd-ca', ({ c }) => c.etcd.topology === 'external'),
      ],
    },
    {
      nodes: (c) => [...c.controlPlane, ...c.workers],
      items: [
        bundle(`${P}/ca.crt`, 'ca', (x) => !x.controlPlane),
        cert('kubelet.conf', 'kubelet-client', 'ca', [kubeconfig(`${K}/kubelet.conf`, kubeletServer)]),
        // kubeadm leaves the serving certificate to the kubelet (self-signed); a CA-signed one lets the
        // apiserver verify kubelets (--kubelet-certificate-authority).
        cert('kubelet-serving', 'kubelet-serving', 'ca', [pair('/var/lib/kubelet/pki/kubelet')], {
          when: (x) => x.c.kubeletServingCertificates,
          mutators: [altNames(({ node }) => [node.name, ...node.hostnames, ...node.ips])],
        }),
      ],
    },
  ],
};

/** Kubernetes the Hard Way: one CA; upstream's two typos (scheduler O, apiserver DNS) corrected in the role table. */
const HARD_WAY: Layout = {
  cas: [['ca', 'hard-way-ca']],
  passes: [
    {
      nodes: (c) => c.controlPlane,
      items: [
        bundle(`${HW}/ca.crt`, 'ca'),
        caKey(`${HW}/ca.key`, 'ca'),
        cert('kube-api-server', 'hard-way-apiserver', 'ca', [pair(`${HW}/kube-api-server`)], {
          mutators: [altNames(({ c, node }) => [endpointHost(c.controlPlaneEndpoint), ...node.hostnames, ...node.ips, ...c.certSANs])],
        }),
        cert('service-accounts', 'hard-way-service-accounts', 'ca', [pair(`${HW}/service-accounts`)]),
        cert('kube-controller-manager', 'hard-way-controller-manager', 'ca', [
          kubeconfig(`${HW}/kube-controller-manager.kubeconfig`, loopback),
        ]),
        cert('kube-scheduler', 'hard-way-scheduler', 'ca', [kubeconfig(`${HW}/kube-scheduler.kubeconfig`, loopback)]),
        cert('admin', 'hard-way-admin', 'ca', [kubeconfig(`${HW}/admin.kubeconfig`, loopback)]),
        encryptionConfig(`${HW}/encryption-config.yaml`),
      ],
    },
    {
      nodes: (c) => c.workers,
      items: [
        bundle('/var/lib/kubelet/ca.crt', 'ca'),
        cert('kubelet', 'hard-way-node', 'ca', [pair('/var/lib/kubelet/kubelet'), kubeconfig('/var/lib/kubelet/kubeconfig', endpoint)], {
          mutators: [altNames(({ node }) => [...node.hostnames, ...node.ips])],
        }),
        cert('kube-proxy', 'hard-way-kube-proxy', 'ca', [kubeconfig('/var/lib/kube-proxy/kubeconfig', endpoint)]),
      ],
    },
  ],
  notes: (c) =>
    c.etcd.topology === 'external'
      ? ['hard-way layout: etcd uses the apiserver certificate, as upstream does; external members get it too']
      : [],
};

// ---------------------------------------------------------------- the builder

function role(name: string): K8sRole {
  const r = K8S_ROLES[name];
  if (!r) throw new Error(`no role '${name}' in the role table`);
  return r;
}

function fill(r: K8sRole, t: string, vars: TemplateVars): string {
  const v = fillTemplate(t, vars);
  if (v === undefined) throw new Error(`role ${r.name}: template '${t}' has no value`);
  return v;
}

/** The CAs given without their keys (external-CA mode). */
function externalCAs(c: ClusterConfig): Set<string> {
  const external = new Set<string>();
  if (c.externalCA?.ca) external.add('ca');
  if (c.externalCA?.frontProxyCA) external.add('front-proxy-ca');
  if (c.externalCA?.etcdCA) external.add('etcd-ca');
  return external;
}

/** The offline root above the cluster CAs. */
function rootCert(c: ClusterConfig): PlannedCert {
  return {
    id: 'root-ca',
    role: 'root-ca',
    kubeadmName: 'root-ca',
    ca: true,
    signer: null,
    cn: c.rootCA?.commonName ?? 'Anchorage Root CA',
    o: [],
    sans: { dns: [], ip: [] },
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    extKeyUsage: [],
    validitySeconds: durationSeconds(c.validity.root),
    keyType: c.keyAlgorithm,
    external: false,
    offline: true,
  };
}

function caCert(c: ClusterConfig, id: string, roleName: string, root: string | null, external: ReadonlySet<string>): PlannedCert {
  const r = role(roleName);
  const p: PlannedCert = {
    id,
    role: r.name,
    kubeadmName: id,
    ca: true,
    signer: external.has(id) ? null : root,
    cn: r.cn,
    o: [...r.o],
    sans: splitSans(r.sans.map((s) => fill(r, s, { nodeName: r.cn }))),
    keyUsage: [...r.keyUsage],
    extKeyUsage: [],
    validitySeconds: durationSeconds(c.validity.ca),
    keyType: c.keyAlgorithm,
    external: external.has(id),
    offline: false,
  };
  // Under an offline root the cluster CAs are intermediates that may sign only leaves.
  if (root && !p.external) p.pathLen = 0;
  return p;
}

function leafCert(spec: CertSpec, x: NodeContext, external: ReadonlySet<string>): PlannedCert {
  const r = role(spec.role);
  const p: PlannedCert = {
    id: `${spec.name}@${x.node.name}`,
    role: r.name,
    kubeadmName: spec.name,
    ca: false,
    signer: spec.ca,
    node: x.node.name,
    cn: fill(r, r.cn, x.vars),
    o: [...r.o],
    sans: splitSans(r.sans.map((s) => fill(r, s, x.vars))),
    keyUsage: [...r.keyUsage],
    extKeyUsage: [...r.eku],
    validitySeconds: durationSeconds(x.c.validity.leaf),
    keyType: x.c.keyAlgorithm,
    external: external.has(spec.ca),
    offline: false,
  };
  for (const m of spec.mutators ?? []) m(p, x);
  return p;
}

function placed(spec: CertSpec, p: PlannedCert, x: NodeContext): PlannedFile[] {
  const node = x.node.name;
  return spec.placements.flatMap((at): PlannedFile[] =>
    'pair' in at
      ? [
          { node, path: `${at.pair}.crt`, mode: 0o644, content: { type: 'cert', cert: p.id } },
          { node, path: `${at.pair}.key`, mode: 0o600, content: { type: 'key', cert: p.id } },
        ]
      : [
          {
            node,
            path: at.kubeconfig,
            mode: 0o600,
            content: { type: 'kubeconfig', cert: p.id, caBundle: spec.ca, server: at.server(x), user: p.cn, cluster: x.c.clusterName },
          },
        ],
  );
}

function planNodes(c: ClusterConfig): Plan['nodes'] {
  const nodes: Plan['nodes'] = [];
  const add = (n: ClusterNode, r: 'control-plane' | 'worker' | 'etcd'): void => {
    const entry = nodes.find((e) => e.name === n.name);
    if (!entry) nodes.push({ name: n.name, roles: [r] });
    else if (!entry.roles.includes(r)) entry.roles.push(r);
  };
  for (const n of c.controlPlane) add(n, 'control-plane');
  for (const n of c.etcd.topology === 'external' ? c.etcd.members : c.controlPlane) add(n, 'etcd');
  for (const n of c.workers) add(n, 'worker');
  return nodes;
}

export function buildPlan(c: ClusterConfig): Plan {
  const layout = c.layout === 'kubeadm' ? KUBEADM : HARD_WAY;
  const external = externalCAs(c);
  const notes: string[] = [];
  if (c.keyAlgorithm === 'ed25519')
    notes.push('ed25519: Go TLS accepts it, but kubeadm does not and service-account tokens cannot use it; sa.key is ECDSA P-256');
  const root = c.rootCA?.enabled ? rootCert(c) : null;
  const certs: PlannedCert[] = root ? [root] : [];
  for (const [id, r] of layout.cas) certs.push(caCert(c, id, r, root?.id ?? null, external));
  const files: PlannedFile[] = [];
  const controlPlane = new Set(c.controlPlane.map((n) => n.name));
  for (const pass of layout.passes)
    pass.nodes(c).forEach((node, index) => {
      const x: NodeContext = { c, node, index, vars: nodeVars(c, node), controlPlane: controlPlane.has(node.name) };
      for (const item of pass.items) {
        if (item.when && !item.when(x)) continue;
        if ('path' in item) {
          files.push({ node: node.name, path: item.path, mode: item.mode, content: structuredClone(item.content) });
          continue;
        }
        const p = leafCert(item, x, external);
        certs.push(p);
        files.push(...placed(item, p, x));
      }
    });
  notes.push(...(layout.notes?.(c) ?? []));
  for (const p of certs)
    if (!p.ca && p.external)
      notes.push(
        `${p.id}: signed by the external ${p.signer}: Anchorage will not issue it; place it in the store (DIR/store/<id>.crt and .key)`,
      );
  return { config: c, certs, files, nodes: planNodes(c), notes };
}

function nodeVars(c: ClusterConfig, n: ClusterNode): TemplateVars {
  return { nodeName: n.name, dnsDomain: c.dnsDomain, serviceIP: serviceIP(c.serviceCIDR), advertiseAddress: n.ips[0] as string };
}
