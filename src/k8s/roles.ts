// The Kubernetes certificate roles, as data: one table the linter checks against and the cluster-PKI
// generator issues from. Facts from kubeadm's certlist.go/kubeconfig.go, the kubelet's CSR signers and
// Kubernetes the Hard Way's ca.conf.
//
// Templates: {nodeName}, {dnsDomain}, {serviceIP} (first host of the service CIDR) and {advertiseAddress}.
// The linter resolves what it can ({nodeName} from the CN, the rest from the policy) and skips the rest.
import type { KeyUsage } from '../x509/oids.ts';

export type RoleEku = 'serverAuth' | 'clientAuth';
export type RoleProfile = 'kubeadm' | 'kubelet' | 'hard-way';

export interface K8sRole {
  /** Stable key; kubeadm's own certificate name where it has one. */
  name: string;
  profile: RoleProfile;
  description: string;
  ca: boolean;
  /** Role name of the issuing CA, or 'self' for a root. */
  signer: string;
  /** Path suffixes where the profile keeps it (`*` matches within one path segment). A kubeconfig embeds the client certificate. */
  files: readonly string[];
  /** Expected CN (template). A CA's CN is only the generator's default: the linter does not enforce it. */
  cn: string;
  /** Expected O values, in the order the generator writes them. Empty: no O. */
  o: readonly string[];
  /** Older O sets still accepted (kubeadm gave system:masters before 1.29). */
  legacyO?: readonly (readonly string[])[];
  /** Extended key usages the role needs: exactly these are issued. */
  eku: readonly RoleEku[];
  /** Required SANs (templates). An entry that parses as an IP is an IP SAN, otherwise DNS. */
  sans: readonly string[];
  /** At least this many DNS/IP SANs (the kubelet-serving signer demands one). */
  minSans?: number;
  /** SAN types the role's signer rejects. */
  forbiddenSanTypes?: readonly ('email' | 'uri')[];
  keyUsage: readonly KeyUsage[];
  /** Default lifetime the profile issues. */
  validityDays: number;
}

const LEAF_KU: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment'];
const KUBEADM_CA_KU: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment', 'keyCertSign'];
const APISERVER_DNS = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.{dnsDomain}'];
const ETCD_SANS = ['{nodeName}', 'localhost', '{advertiseAddress}', '127.0.0.1', '::1'];
const BOTH: readonly RoleEku[] = ['serverAuth', 'clientAuth'];

function kubeadmCa(name: string, cn: string, file: string, description: string): K8sRole {
  return {
    name,
    profile: 'kubeadm',
    description,
    ca: true,
    signer: 'self',
    files: [file],
    cn,
    o: [],
    eku: [],
    sans: [cn],
    keyUsage: KUBEADM_CA_KU,
    validityDays: 3650,
  };
}

function kubeadmClient(
  name: string,
  cn: string,
  o: readonly string[],
  files: readonly string[],
  signer: string,
  description: string,
): K8sRole {
  return {
    name,
    profile: 'kubeadm',
    description,
    ca: false,
    signer,
    files,
    cn,
    o,
    eku: ['clientAuth'],
    sans: [],
    keyUsage: LEAF_KU,
    validityDays: 365,
  };
}

function hardWay(
  name: string,
  cn: string,
  o: readonly string[],
  file: string,
  eku: readonly RoleEku[],
  sans: readonly string[],
  description: string,
): K8sRole {
  return {
    name,
    profile: 'hard-way',
    description,
    ca: false,
    signer: 'hard-way-ca',
    files: [file],
    cn,
    o,
    eku,
    sans,
    keyUsage: LEAF_KU,
    validityDays: 3653,
  };
}

const ROLES: readonly K8sRole[] = [
  // ---- kubeadm (/etc/kubernetes/pki and /etc/kubernetes/*.conf) ----
  kubeadmCa('ca', 'kubernetes', 'ca.crt', 'cluster CA: signs the apiserver, kubeconfig clients and kubelets'),
  {
    name: 'apiserver',
    profile: 'kubeadm',
    description: 'kube-apiserver serving certificate',
    ca: false,
    signer: 'ca',
    files: ['apiserver.crt'],
    cn: 'kube-apiserver',
    o: [],
    eku: ['serverAuth'],
    sans: ['{nodeName}', ...APISERVER_DNS, '{serviceIP}', '{advertiseAddress}'],
    keyUsage: LEAF_KU,
    validityDays: 365,
  },
  {
    ...kubeadmClient(
      'apiserver-kubelet-client',
      'kube-apiserver-kubelet-client',
      // No O since kubeadm 1.36.1 (RBAC binds the user to system:kubelet-api-admin instead).
      [],
      ['apiserver-kubelet-client.crt'],
      'ca',
      'kube-apiserver client certificate for kubelets',
    ),
    legacyO: [['system:masters'], ['kubeadm:cluster-admins']],
  },
  kubeadmCa('front-proxy-ca', 'front-proxy-ca', 'front-proxy-ca.crt', 'front-proxy CA: signs the aggregation-layer client'),
  kubeadmClient(
    'front-proxy-client',
    'front-proxy-client',
    [],
    ['front-proxy-client.crt'],
    'front-proxy-ca',
    'kube-apiserver client certificate for aggregated API servers',
  ),
  kubeadmCa('etcd-ca', 'etcd-ca', 'etcd/ca.crt', 'etcd CA: signs etcd serving, peer and client certificates'),
  {
    name: 'etcd-server',
    profile: 'kubeadm',
    description: 'etcd serving certificate',
    ca: false,
    signer: 'etcd-ca',
    files: ['etcd/server.crt'],
    cn: '{nodeName}',
    o: [],
    eku: BOTH,
    sans: ETCD_SANS,
    keyUsage: LEAF_KU,
    validityDays: 365,
  },
  {
    name: 'etcd-peer',
    profile: 'kubeadm',
    description: 'etcd peer certificate',
    ca: false,
    signer: 'etcd-ca',
    files: ['etcd/peer.crt'],
    cn: '{nodeName}',
    o: [],
    eku: BOTH,
    sans: ETCD_SANS,
    keyUsage: LEAF_KU,
    validityDays: 365,
  },
  kubeadmClient(
    'etcd-healthcheck-client',
    'kube-etcd-healthcheck-client',
    [],
    ['etcd/healthcheck-client.crt'],
    'etcd-ca',
    'etcd liveness-probe client',
  ),
  kubeadmClient(
    'apiserver-etcd-client',
    'kube-apiserver-etcd-client',
    [],
    ['apiserver-etcd-client.crt'],
    'etcd-ca',
    'kube-apiserver client certificate for etcd',
  ),
  {
    ...kubeadmClient('admin.conf', 'kubernetes-admin', ['kubeadm:cluster-admins'], ['admin.conf'], 'ca', 'admin kubeconfig client'),
    legacyO: [['system:masters']],
  },
  kubeadmClient(
    'super-admin.conf',
    'kubernetes-super-admin',
    ['system:masters'],
    ['super-admin.conf'],
    'ca',
    'break-glass kubeconfig client (bypasses RBAC)',
  ),
  kubeadmClient(
    'controller-manager.conf',
    'system:kube-controller-manager',
    [],
    ['controller-manager.conf'],
    'ca',
    'kube-controller-manager kubeconfig client',
  ),
  kubeadmClient('scheduler.conf', 'system:kube-scheduler', [], ['scheduler.conf'], 'ca', 'kube-scheduler kubeconfig client'),

  // ---- kubelet (signers kubernetes.io/kube-apiserver-client-kubelet and kubernetes.io/kubelet-serving) ----
  {
    name: 'kubelet-client',
    profile: 'kubelet',
    description: 'kubelet client certificate (kubelet.conf, rotated kubelet-client-current.pem)',
    ca: false,
    signer: 'ca',
    files: ['kubelet.conf', 'kubelet-client-current.pem', 'kubelet-client-*.pem'],
    cn: 'system:node:{nodeName}',
    o: ['system:nodes'],
    eku: ['clientAuth'],
    sans: [],
    keyUsage: LEAF_KU,
    validityDays: 365,
  },
  {
    name: 'kubelet-serving',
    profile: 'kubelet',
    description: 'kubelet serving certificate from the kubelet-serving signer (serverTLSBootstrap)',
    ca: false,
    signer: 'ca',
    files: ['kubelet-server-current.pem', 'kubelet-server-*.pem'],
    cn: 'system:node:{nodeName}',
    o: ['system:nodes'],
    eku: ['serverAuth'],
    sans: [],
    minSans: 1,
    forbiddenSanTypes: ['email', 'uri'],
    keyUsage: LEAF_KU,
    validityDays: 365,
  },

  // ---- Kubernetes the Hard Way (one CA for everything) ----
  {
    name: 'hard-way-ca',
    profile: 'hard-way',
    description: 'the single CA of Kubernetes the Hard Way',
    ca: true,
    signer: 'self',
    files: ['ca.crt'],
    cn: 'CA',
    o: [],
    eku: [],
    sans: [],
    keyUsage: ['cRLSign', 'keyCertSign'],
    validityDays: 3653,
  },
  hardWay('hard-way-admin', 'admin', ['system:masters'], 'admin.crt', ['clientAuth'], [], 'admin client'),
  hardWay(
    'hard-way-node',
    'system:node:{nodeName}',
    ['system:nodes'],
    'node-*.crt',
    BOTH,
    ['{nodeName}', '127.0.0.1'],
    'kubelet client and serving certificate',
  ),
  hardWay(
    'hard-way-kube-proxy',
    'system:kube-proxy',
    ['system:node-proxier'],
    'kube-proxy.crt',
    BOTH,
    ['kube-proxy', '127.0.0.1'],
    'kube-proxy client',
  ),
  hardWay(
    'hard-way-controller-manager',
    'system:kube-controller-manager',
    ['system:kube-controller-manager'],
    'kube-controller-manager.crt',
    BOTH,
    ['kube-controller-manager', '127.0.0.1'],
    'kube-controller-manager client',
  ),
  // Upstream writes O=system:system:kube-scheduler, a typo: this table holds the intended value so the typo is reported.
  hardWay(
    'hard-way-scheduler',
    'system:kube-scheduler',
    ['system:kube-scheduler'],
    'kube-scheduler.crt',
    BOTH,
    ['kube-scheduler', '127.0.0.1'],
    'kube-scheduler client',
  ),
  hardWay(
    'hard-way-apiserver',
    'kubernetes',
    [],
    'kube-api-server.crt',
    BOTH,
    ['127.0.0.1', '{serviceIP}', ...APISERVER_DNS],
    'kube-apiserver serving certificate, also its kubelet client',
  ),
  hardWay(
    'hard-way-service-accounts',
    'service-accounts',
    [],
    'service-accounts.crt',
    ['clientAuth'],
    [],
    'service-account token signing key holder',
  ),
];

/** All roles keyed by name, in detection-preference order (kubeadm first). */
export const K8S_ROLES: Readonly<Record<string, K8sRole>> = Object.freeze(Object.fromEntries(ROLES.map((r) => [r.name, r])));

export const K8S_ROLE_LIST: readonly K8sRole[] = ROLES;

/** Roles whose SAN set is the apiserver's (checked by k8s.apiserver.missing-san). */
export const APISERVER_ROLES: ReadonlySet<string> = new Set(['apiserver', 'hard-way-apiserver']);

/** Roles whose identity is a node (system:node:<name> in system:nodes). */
export const NODE_CLIENT_ROLES: ReadonlySet<string> = new Set(['kubelet-client', 'hard-way-node']);
export const NODE_SERVING_ROLES: ReadonlySet<string> = new Set(['kubelet-serving']);

export type TemplateVars = Partial<Record<'nodeName' | 'dnsDomain' | 'serviceIP' | 'advertiseAddress', string>>;

const PLACEHOLDER = /\{(nodeName|dnsDomain|serviceIP|advertiseAddress)\}/g;

/** Fill a template; undefined when a placeholder has no value. */
export function fillTemplate(template: string, vars: TemplateVars): string | undefined {
  if (!template.includes('{')) return template;
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_, k: keyof TemplateVars) => {
    const v = vars[k];
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}

/** A template read once (the role table's few dozen: every caller passes a role's template). */
interface CompiledTemplate {
  re: RegExp;
  names: (keyof TemplateVars)[];
  /** The literal text before the first placeholder and after the last (the whole template when it has none). */
  prefix: string;
  suffix: string;
  /** Only placeholders, no literal text (isPureTemplate). */
  pure: boolean;
}
const templateCache = new Map<string, CompiledTemplate>();

function compiled(template: string): CompiledTemplate {
  let t = templateCache.get(template);
  if (t) return t;
  const names: (keyof TemplateVars)[] = [];
  const src = template
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\\\{(nodeName|dnsDomain|serviceIP|advertiseAddress)\\\}/g, (_, k) => {
      names.push(k as keyof TemplateVars);
      return '(.+)';
    });
  // With its capturing group, split gives the literal pieces at the even indexes, the placeholders' names between.
  const parts = template.split(PLACEHOLDER);
  t = {
    re: new RegExp(`^${src}$`),
    names,
    prefix: parts[0] as string,
    suffix: parts.length > 1 ? (parts[parts.length - 1] as string) : '',
    pure: parts.every((p, i) => i % 2 === 1 || p === ''),
  };
  templateCache.set(template, t);
  return t;
}

/** Match a value against a template; the captured placeholders, or undefined when it does not match. */
export function matchTemplate(template: string, value: string): TemplateVars | undefined {
  const t = compiled(template);
  // The pattern is ^prefix(.+)...suffix$: a value without the literal ends cannot match (most roles, per certificate).
  if (!t.names.length) return value === template ? {} : undefined;
  if (!value.startsWith(t.prefix) || !value.endsWith(t.suffix)) return undefined;
  const m = t.re.exec(value);
  if (!m) return undefined;
  const out: TemplateVars = {};
  t.names.forEach((k, i) => {
    out[k] = m[i + 1] as string;
  });
  return out;
}

/** True when the template is only a placeholder (its CN says nothing about the role). */
export function isPureTemplate(template: string): boolean {
  return compiled(template).pure;
}
