// From a cluster config to the full list of CAs, leaves, keys and files: pure, no I/O.
// Subjects, usages and SANs come from the one role table (src/k8s/roles.ts); this module only
// decides which roles each node needs and where each file goes.
import { isIP } from 'node:net';
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

const K = '/etc/kubernetes';
const P = `${K}/pki`;
const HW = '/var/lib/kubernetes';

function nodeVars(c: ClusterConfig, n: ClusterNode): TemplateVars {
  return { nodeName: n.name, dnsDomain: c.dnsDomain, serviceIP: serviceIP(c.serviceCIDR), advertiseAddress: n.ips[0] as string };
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

function fill(role: K8sRole, t: string, vars: TemplateVars): string {
  const v = fillTemplate(t, vars);
  if (v === undefined) throw new Error(`role ${role.name}: template '${t}' has no value`);
  return v;
}

/** kubeadm before 1.29 put admin and apiserver-kubelet-client in system:masters. */
function minor(version: string): number {
  return Number(/^v?1\.(\d+)/.exec(version)?.[1] ?? 99);
}

/**
 * apiserver-kubelet-client's O: system:masters before 1.29, kubeadm:cluster-admins from 1.29, none from 1.36.1
 * (kubernetes/kubernetes#138957: RBAC binds the user kube-apiserver-kubelet-client to system:kubelet-api-admin instead).
 */
/** undefined: the role table's current value. */
function kubeletClientO(version: string): string[] | undefined {
  const m = /^v?1\.(\d+)(?:\.(\d+))?/.exec(version);
  const mi = Number(m?.[1] ?? 99);
  if (mi < 29) return ['system:masters'];
  if (mi > 36 || (mi === 36 && Number(m?.[2] ?? 0) >= 1)) return undefined;
  return ['kubeadm:cluster-admins'];
}

export function buildPlan(c: ClusterConfig): Plan {
  const certs: PlannedCert[] = [];
  const files: PlannedFile[] = [];
  const notes: string[] = [];
  const caSeconds = durationSeconds(c.validity.ca);
  const leafSeconds = durationSeconds(c.validity.leaf);
  const keyType = c.keyAlgorithm;
  const legacyAdmins = minor(c.kubernetesVersion) < 29;
  const apiHost = endpointHost(c.controlPlaneEndpoint);
  const apiUrl = endpointUrl(c.controlPlaneEndpoint, c.apiServerPort);
  if (keyType === 'ed25519')
    notes.push('ed25519: Go TLS accepts it, but kubeadm does not and service-account tokens cannot use it; sa.key is ECDSA P-256');
  const external = new Set<string>();
  if (c.externalCA?.ca) external.add('ca');
  if (c.externalCA?.frontProxyCA) external.add('front-proxy-ca');
  if (c.externalCA?.etcdCA) external.add('etcd-ca');

  const root = c.rootCA?.enabled ? 'root-ca' : null;
  const addCa = (role: K8sRole, id: string, cn: string): PlannedCert => {
    const p: PlannedCert = {
      id,
      role: role.name,
      kubeadmName: id,
      ca: true,
      signer: external.has(id) ? null : root,
      cn,
      o: [...role.o],
      sans: splitSans(role.sans.map((s) => fill(role, s, { nodeName: cn }))),
      keyUsage: [...role.keyUsage],
      extKeyUsage: [],
      validitySeconds: caSeconds,
      keyType,
      external: external.has(id),
      offline: false,
    };
    // Under an offline root the cluster CAs are intermediates that may sign only leaves.
    if (root && !p.external) p.pathLen = 0;
    certs.push(p);
    return p;
  };
  if (root) {
    certs.push({
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
      keyType,
      external: false,
      offline: true,
    });
  }

  const leaf = (
    role: K8sRole,
    id: string,
    signer: string,
    vars: TemplateVars,
    extraSans: string[] = [],
    oOverride?: string[],
  ): PlannedCert => {
    const p: PlannedCert = {
      id,
      role: role.name,
      kubeadmName: role.name,
      ca: false,
      signer,
      ...(vars.nodeName ? { node: vars.nodeName } : {}),
      cn: fill(role, role.cn, vars),
      o: oOverride ?? [...role.o],
      sans: splitSans([...role.sans.map((s) => fill(role, s, vars)), ...extraSans]),
      keyUsage: [...role.keyUsage],
      extKeyUsage: [...role.eku],
      validitySeconds: leafSeconds,
      keyType,
      external: external.has(signer),
      offline: false,
    };
    certs.push(p);
    return p;
  };
  const put = (node: string, path: string, content: FileContent, mode = 0o644): void => {
    files.push({ node, path, mode, content });
  };
  const putPair = (node: string, base: string, certId: string): void => {
    put(node, `${base}.crt`, { type: 'cert', cert: certId });
    put(node, `${base}.key`, { type: 'key', cert: certId }, 0o600);
  };

  const etcdNodes = c.etcd.topology === 'external' ? c.etcd.members : c.controlPlane;
  const nodes: Plan['nodes'] = [];
  const roleOf = new Map<string, Plan['nodes'][number]['roles']>();
  const addNode = (n: string, r: 'control-plane' | 'worker' | 'etcd'): void => {
    const list = roleOf.get(n) ?? [];
    if (!list.length) nodes.push({ name: n, roles: list });
    if (!list.includes(r)) list.push(r);
    roleOf.set(n, list);
  };
  for (const n of c.controlPlane) addNode(n.name, 'control-plane');
  if (c.etcd.topology === 'external') for (const n of c.etcd.members) addNode(n.name, 'etcd');
  else for (const n of c.controlPlane) addNode(n.name, 'etcd');
  for (const n of c.workers) addNode(n.name, 'worker');

  if (c.layout === 'kubeadm') {
    addCa(K8S_ROLES.ca as K8sRole, 'ca', 'kubernetes');
    addCa(K8S_ROLES['front-proxy-ca'] as K8sRole, 'front-proxy-ca', 'front-proxy-ca');
    addCa(K8S_ROLES['etcd-ca'] as K8sRole, 'etcd-ca', 'etcd-ca');
    const adminO = legacyAdmins ? ['system:masters'] : undefined;
    c.controlPlane.forEach((n, i) => {
      const v = nodeVars(c, n);
      const at = (r: string): string => `${r}@${n.name}`;
      const R = (name: string): K8sRole => K8S_ROLES[name] as K8sRole;
      const localUrl = endpointUrl(isIP(n.ips[0] as string) === 6 ? `[${n.ips[0]}]:${c.apiServerPort}` : `${n.ips[0]}:${c.apiServerPort}`);
      leaf(R('apiserver'), at('apiserver'), 'ca', v, [
        ...(isIP(apiHost) || apiHost !== n.name ? [apiHost] : []),
        ...n.hostnames,
        ...n.ips.slice(1),
        ...c.certSANs,
      ]);
      leaf(R('apiserver-kubelet-client'), at('apiserver-kubelet-client'), 'ca', v, [], kubeletClientO(c.kubernetesVersion));
      leaf(R('front-proxy-client'), at('front-proxy-client'), 'front-proxy-ca', v);
      leaf(R('apiserver-etcd-client'), at('apiserver-etcd-client'), 'etcd-ca', v);
      leaf(R('admin.conf'), at('admin.conf'), 'ca', v, [], adminO);
      if (i === 0 && !legacyAdmins) leaf(R('super-admin.conf'), at('super-admin.conf'), 'ca', v);
      leaf(R('controller-manager.conf'), at('controller-manager.conf'), 'ca', v);
      leaf(R('scheduler.conf'), at('scheduler.conf'), 'ca', v);
      for (const [ca, base] of [
        ['ca', 'ca'],
        ['front-proxy-ca', 'front-proxy-ca'],
        ['etcd-ca', 'etcd/ca'],
      ] as const) {
        put(n.name, `${P}/${base}.crt`, { type: 'bundle', certs: [ca] });
        if (!external.has(ca)) put(n.name, `${P}/${base}.key`, { type: 'key', cert: ca }, 0o600);
      }
      for (const r of ['apiserver', 'apiserver-kubelet-client', 'front-proxy-client', 'apiserver-etcd-client'])
        putPair(n.name, `${P}/${r}`, at(r));
      put(n.name, `${P}/sa.key`, { type: 'sa-key' }, 0o600);
      put(n.name, `${P}/sa.pub`, { type: 'sa-pub' });
      const kc = (file: string, id: string, user: string, server: string): void =>
        put(n.name, `${K}/${file}`, { type: 'kubeconfig', cert: id, caBundle: 'ca', server, user, cluster: c.clusterName }, 0o600);
      kc('admin.conf', at('admin.conf'), 'kubernetes-admin', apiUrl);
      if (i === 0 && !legacyAdmins) kc('super-admin.conf', at('super-admin.conf'), 'kubernetes-super-admin', apiUrl);
      kc('controller-manager.conf', at('controller-manager.conf'), 'system:kube-controller-manager', localUrl);
      kc('scheduler.conf', at('scheduler.conf'), 'system:kube-scheduler', localUrl);
      if (c.encryptionAtRest?.enabled) put(n.name, `${K}/encryption-config.yaml`, { type: 'encryption-config' }, 0o600);
    });
    for (const n of etcdNodes) {
      const v = nodeVars(c, n);
      const at = (r: string): string => `${r}@${n.name}`;
      leaf(K8S_ROLES['etcd-server'] as K8sRole, at('etcd-server'), 'etcd-ca', v, [
        ...n.hostnames,
        ...n.ips.slice(1),
        ...c.etcd.serverCertSANs,
      ]);
      leaf(K8S_ROLES['etcd-peer'] as K8sRole, at('etcd-peer'), 'etcd-ca', v, [...n.hostnames, ...n.ips.slice(1), ...c.etcd.peerCertSANs]);
      leaf(K8S_ROLES['etcd-healthcheck-client'] as K8sRole, at('etcd-healthcheck-client'), 'etcd-ca', v);
      putPair(n.name, `${P}/etcd/server`, at('etcd-server'));
      putPair(n.name, `${P}/etcd/peer`, at('etcd-peer'));
      putPair(n.name, `${P}/etcd/healthcheck-client`, at('etcd-healthcheck-client'));
      if (c.etcd.topology === 'external') put(n.name, `${P}/etcd/ca.crt`, { type: 'bundle', certs: ['etcd-ca'] });
    }
    for (const n of [...c.controlPlane, ...c.workers]) {
      const v = nodeVars(c, n);
      const at = (r: string): string => `${r}@${n.name}`;
      leaf(K8S_ROLES['kubelet-client'] as K8sRole, at('kubelet.conf'), 'ca', v).kubeadmName = 'kubelet.conf';
      // kubeadm leaves the serving certificate to the kubelet (self-signed); a CA-signed one lets the
      // apiserver verify kubelets (--kubelet-certificate-authority).
      if (c.kubeletServingCertificates)
        leaf(K8S_ROLES['kubelet-serving'] as K8sRole, at('kubelet-serving'), 'ca', v, [n.name, ...n.hostnames, ...n.ips]);
      const controlPlane = roleOf.get(n.name)?.includes('control-plane');
      if (!controlPlane) put(n.name, `${P}/ca.crt`, { type: 'bundle', certs: ['ca'] });
      // kubeadm's ControlPlaneKubeletLocalMode (default from 1.33, GA 1.35): a control-plane kubelet talks to its local apiserver.
      const local = isIP(n.ips[0] as string) === 6 ? `[${n.ips[0]}]:${c.apiServerPort}` : `${n.ips[0]}:${c.apiServerPort}`;
      put(
        n.name,
        `${K}/kubelet.conf`,
        {
          type: 'kubeconfig',
          cert: at('kubelet.conf'),
          caBundle: 'ca',
          server: controlPlane && minor(c.kubernetesVersion) >= 33 ? endpointUrl(local) : apiUrl,
          user: `system:node:${n.name}`,
          cluster: c.clusterName,
        },
        0o600,
      );
      if (c.kubeletServingCertificates) putPair(n.name, '/var/lib/kubelet/pki/kubelet', at('kubelet-serving'));
    }
  } else {
    // Kubernetes the Hard Way: one CA; upstream's two typos (scheduler O, apiserver DNS) corrected.
    addCa(K8S_ROLES['hard-way-ca'] as K8sRole, 'ca', 'CA');
    const R = (name: string): K8sRole => K8S_ROLES[name] as K8sRole;
    const first = c.controlPlane[0] as ClusterNode;
    c.controlPlane.forEach((n) => {
      const v = nodeVars(c, n);
      const at = (r: string): string => `${r}@${n.name}`;
      leaf(R('hard-way-apiserver'), at('kube-api-server'), 'ca', v, [apiHost, ...n.hostnames, ...n.ips, ...c.certSANs]).kubeadmName =
        'kube-api-server';
      leaf(R('hard-way-service-accounts'), at('service-accounts'), 'ca', v).kubeadmName = 'service-accounts';
      leaf(R('hard-way-controller-manager'), at('kube-controller-manager'), 'ca', v).kubeadmName = 'kube-controller-manager';
      leaf(R('hard-way-scheduler'), at('kube-scheduler'), 'ca', v).kubeadmName = 'kube-scheduler';
      leaf(R('hard-way-admin'), at('admin'), 'ca', v).kubeadmName = 'admin';
      put(n.name, `${HW}/ca.crt`, { type: 'bundle', certs: ['ca'] });
      put(n.name, `${HW}/ca.key`, { type: 'key', cert: 'ca' }, 0o600);
      putPair(n.name, `${HW}/kube-api-server`, at('kube-api-server'));
      putPair(n.name, `${HW}/service-accounts`, at('service-accounts'));
      const local = `https://127.0.0.1:${c.apiServerPort}`;
      const kc = (file: string, id: string, user: string, server: string): void =>
        put(n.name, `${HW}/${file}`, { type: 'kubeconfig', cert: id, caBundle: 'ca', server, user, cluster: c.clusterName }, 0o600);
      kc('kube-controller-manager.kubeconfig', at('kube-controller-manager'), 'system:kube-controller-manager', local);
      kc('kube-scheduler.kubeconfig', at('kube-scheduler'), 'system:kube-scheduler', local);
      kc('admin.kubeconfig', at('admin'), 'admin', local);
      if (c.encryptionAtRest?.enabled) put(n.name, `${HW}/encryption-config.yaml`, { type: 'encryption-config' }, 0o600);
    });
    void first;
    for (const n of c.workers) {
      const v = nodeVars(c, n);
      const at = (r: string): string => `${r}@${n.name}`;
      leaf(R('hard-way-node'), at('kubelet'), 'ca', v, [...n.hostnames, ...n.ips]).kubeadmName = 'kubelet';
      leaf(R('hard-way-kube-proxy'), at('kube-proxy'), 'ca', v).kubeadmName = 'kube-proxy';
      put(n.name, '/var/lib/kubelet/ca.crt', { type: 'bundle', certs: ['ca'] });
      putPair(n.name, '/var/lib/kubelet/kubelet', at('kubelet'));
      put(
        n.name,
        '/var/lib/kubelet/kubeconfig',
        { type: 'kubeconfig', cert: at('kubelet'), caBundle: 'ca', server: apiUrl, user: `system:node:${n.name}`, cluster: c.clusterName },
        0o600,
      );
      put(
        n.name,
        '/var/lib/kube-proxy/kubeconfig',
        { type: 'kubeconfig', cert: at('kube-proxy'), caBundle: 'ca', server: apiUrl, user: 'system:kube-proxy', cluster: c.clusterName },
        0o600,
      );
    }
    if (c.etcd.topology === 'external')
      notes.push('hard-way layout: etcd uses the apiserver certificate, as upstream does; external members get it too');
  }
  for (const p of certs)
    if (!p.ca && p.external)
      notes.push(
        `${p.id}: signed by the external ${p.signer}: Anchorage will not issue it; place it in the store (DIR/store/<id>.crt and .key)`,
      );
  return { config: c, certs, files, nodes, notes };
}
