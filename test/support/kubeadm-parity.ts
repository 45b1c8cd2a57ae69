// What kubeadm (and Kubernetes the Hard Way) put in every certificate, for one fixed input: data only,
// the yardstick the cluster-PKI tests hold `anchorage pki init` to. Nothing in the product reads it.
//
// kubeadm facts from kubernetes v1.36.3 cmd/kubeadm/app:
//   phases/certs/certlist.go     KubeadmCertRootCA, KubeadmCertAPIServer, ... (CN, O, usages, CA name);
//                                GetConfig: NotBefore = start - CertificateBackdate (5m), NotAfter = start + period
//   phases/kubeconfig/kubeconfig.go  getKubeConfigSpecsBase (client CN/O of the five kubeconfigs, clientAuth only)
//   util/pkiutil/pki_helpers.go  NewSelfSignedCACert (KU keyEncipherment|digitalSignature|certSign, CA:TRUE, DNS=CN),
//                                NewSignedCert (KU keyEncipherment|digitalSignature, CA:FALSE), GetAPIServerAltNames,
//                                getAltNames (etcd server/peer)
//   constants/constants.go       CertificateValidityPeriod 365d, CACertificateValidityPeriod 10y, CertificateBackdate 5m
// and ../shared/reference/kubernetes-pki.md (its kubeadm and hard-way tables).
import type { KeyUsage } from '../../src/x509/oids.ts';

export interface ParityCert {
  /** kubeadm's name (check-expiration, renew), or the hard way's file stem. */
  name: string;
  /** Where the certificate is on the node: a PEM file, or a kubeconfig that embeds it. */
  file: string;
  kind: 'certificate' | 'kubeconfig';
  /** Issuer: another entry's name, or null for self-signed. */
  signer: string | null;
  cn: string;
  o: readonly string[];
  sans: { readonly dns: readonly string[]; readonly ip: readonly string[] };
  keyUsage: readonly KeyUsage[];
  extKeyUsage: readonly ('serverAuth' | 'clientAuth')[];
  /** basicConstraints, critical (Go always marks it so); pathLen absent. */
  basicConstraints: { ca: boolean };
  validityHours: number;
  /** NotBefore = issuance time minus this. */
  backdateSeconds: number;
  /** In the config's key algorithm (kubeadm: encryptionAlgorithm), or a note on upstream's choice. */
  keyType: string;
  /** Where the values come from. */
  source: string;
  /** Present when kubeadm itself does not issue it (Anchorage adds it; the kubeadm comparison skips it). */
  notKubeadm?: string;
}

/** The fixed input every value below is computed for. */
export const KUBEADM_PARITY_INPUT = {
  nodeName: 'cp-1',
  advertiseAddress: '10.0.0.10',
  controlPlaneEndpoint: 'cp.example.com',
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
  certSANs: ['extra.example.com'],
  kubernetesVersion: 'v1.36.3',
  clusterName: 'kubernetes',
  /** kubeadm's default encryptionAlgorithm. */
  keyType: 'rsa-2048',
} as const;

/** KUBEADM_PARITY_INPUT as an Anchorage cluster config. */
export const KUBEADM_PARITY_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
clusterName: kubernetes
controlPlaneEndpoint: cp.example.com
kubernetesVersion: v1.36.3
dnsDomain: cluster.local
serviceCIDR: 10.96.0.0/12
keyAlgorithm: rsa-2048
certSANs: [extra.example.com]
controlPlane: [{name: cp-1, ips: [10.0.0.10]}]
`;

const LEAF_KU: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment'];
const CA_KU: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment', 'keyCertSign'];
const PKI = '/etc/kubernetes/pki';
const NONE = { dns: [], ip: [] } as const;
const ETCD_SANS = { dns: ['cp-1', 'localhost'], ip: ['10.0.0.10', '127.0.0.1', '::1'] } as const;

const ca = (name: string, file: string, cn: string, source: string): ParityCert => ({
  name,
  file,
  kind: 'certificate',
  signer: null,
  cn,
  o: [],
  sans: { dns: [cn], ip: [] },
  keyUsage: CA_KU,
  extKeyUsage: [],
  basicConstraints: { ca: true },
  validityHours: 87600,
  backdateSeconds: 300,
  keyType: 'rsa-2048',
  source: `certlist.go ${source}; pki_helpers.go NewSelfSignedCACert`,
});

const leaf = (
  name: string,
  file: string,
  signer: string,
  cn: string,
  o: readonly string[],
  eku: ParityCert['extKeyUsage'],
  sans: ParityCert['sans'],
  source: string,
  kind: ParityCert['kind'] = 'certificate',
): ParityCert => ({
  name,
  file,
  kind,
  signer,
  cn,
  o,
  sans,
  keyUsage: LEAF_KU,
  extKeyUsage: eku,
  basicConstraints: { ca: false },
  validityHours: 8760,
  backdateSeconds: 300,
  keyType: 'rsa-2048',
  source: `${source}; pki_helpers.go NewSignedCert`,
});

/** Every certificate `kubeadm init phase certs all` + `kubeadm init phase kubeconfig all` writes on cp-1, and the one Anchorage adds. */
export const KUBEADM_PARITY: readonly ParityCert[] = [
  ca('ca', `${PKI}/ca.crt`, 'kubernetes', 'KubeadmCertRootCA'),
  leaf(
    'apiserver',
    `${PKI}/apiserver.crt`,
    'ca',
    'kube-apiserver',
    [],
    ['serverAuth'],
    {
      dns: [
        'cp-1',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
        'cp.example.com',
        'extra.example.com',
      ],
      ip: ['10.96.0.1', '10.0.0.10'],
    },
    'certlist.go KubeadmCertAPIServer; pki_helpers.go GetAPIServerAltNames (node name, kubernetes.default.svc.<dnsDomain>, first service IP, advertise address, endpoint host, certSANs)',
  ),
  leaf(
    'apiserver-kubelet-client',
    `${PKI}/apiserver-kubelet-client.crt`,
    'ca',
    'kube-apiserver-kubelet-client',
    [],
    ['clientAuth'],
    NONE,
    'certlist.go KubeadmCertKubeletClient: no O from v1.36.1 (kubernetes/kubernetes#138957, cherry-picked as #138958;' +
      ' phases/bootstraptoken/node/tlsbootstrap.go AllowAPIServerToAccessKubeletAPI binds the user to system:kubelet-api-admin).' +
      " kubernetes-pki.md's kubeadm:cluster-admins is 1.29 to 1.36.0",
  ),
  ca('front-proxy-ca', `${PKI}/front-proxy-ca.crt`, 'front-proxy-ca', 'KubeadmCertFrontProxyCA'),
  leaf(
    'front-proxy-client',
    `${PKI}/front-proxy-client.crt`,
    'front-proxy-ca',
    'front-proxy-client',
    [],
    ['clientAuth'],
    NONE,
    'certlist.go KubeadmCertFrontProxyClient',
  ),
  ca('etcd-ca', `${PKI}/etcd/ca.crt`, 'etcd-ca', 'KubeadmCertEtcdCA'),
  leaf(
    'etcd-server',
    `${PKI}/etcd/server.crt`,
    'etcd-ca',
    'cp-1',
    [],
    ['serverAuth', 'clientAuth'],
    ETCD_SANS,
    'certlist.go KubeadmCertEtcdServer (CN = node name); pki_helpers.go getAltNames',
  ),
  leaf(
    'etcd-peer',
    `${PKI}/etcd/peer.crt`,
    'etcd-ca',
    'cp-1',
    [],
    ['serverAuth', 'clientAuth'],
    ETCD_SANS,
    'certlist.go KubeadmCertEtcdPeer (CN = node name); pki_helpers.go getAltNames',
  ),
  leaf(
    'etcd-healthcheck-client',
    `${PKI}/etcd/healthcheck-client.crt`,
    'etcd-ca',
    'kube-etcd-healthcheck-client',
    [],
    ['clientAuth'],
    NONE,
    'certlist.go KubeadmCertEtcdHealthcheck',
  ),
  leaf(
    'apiserver-etcd-client',
    `${PKI}/apiserver-etcd-client.crt`,
    'etcd-ca',
    'kube-apiserver-etcd-client',
    [],
    ['clientAuth'],
    NONE,
    'certlist.go KubeadmCertEtcdAPIClient',
  ),
  leaf(
    'admin.conf',
    '/etc/kubernetes/admin.conf',
    'ca',
    'kubernetes-admin',
    ['kubeadm:cluster-admins'],
    ['clientAuth'],
    NONE,
    'kubeconfig.go getKubeConfigSpecsBase AdminKubeConfigFileName',
    'kubeconfig',
  ),
  leaf(
    'super-admin.conf',
    '/etc/kubernetes/super-admin.conf',
    'ca',
    'kubernetes-super-admin',
    ['system:masters'],
    ['clientAuth'],
    NONE,
    'kubeconfig.go getKubeConfigSpecsBase SuperAdminKubeConfigFileName',
    'kubeconfig',
  ),
  leaf(
    'kubelet.conf',
    '/etc/kubernetes/kubelet.conf',
    'ca',
    'system:node:cp-1',
    ['system:nodes'],
    ['clientAuth'],
    NONE,
    'kubeconfig.go getKubeConfigSpecsBase KubeletKubeConfigFileName',
    'kubeconfig',
  ),
  leaf(
    'controller-manager.conf',
    '/etc/kubernetes/controller-manager.conf',
    'ca',
    'system:kube-controller-manager',
    [],
    ['clientAuth'],
    NONE,
    'kubeconfig.go getKubeConfigSpecsBase ControllerManagerKubeConfigFileName',
    'kubeconfig',
  ),
  leaf(
    'scheduler.conf',
    '/etc/kubernetes/scheduler.conf',
    'ca',
    'system:kube-scheduler',
    [],
    ['clientAuth'],
    NONE,
    'kubeconfig.go getKubeConfigSpecsBase SchedulerKubeConfigFileName',
    'kubeconfig',
  ),
  {
    ...leaf(
      'kubelet-serving',
      '/var/lib/kubelet/pki/kubelet.crt',
      'ca',
      'system:node:cp-1',
      ['system:nodes'],
      ['serverAuth'],
      { dns: ['cp-1'], ip: ['10.0.0.10'] },
      'kubernetes-pki.md: kubelet-serving signer (subject O=system:nodes, CN=system:node:<name>, DNS/IP SANs, serverAuth)',
    ),
    notKubeadm: 'kubeadm leaves the kubelet serving certificate self-signed by the kubelet; Anchorage signs it with the cluster CA',
  },
];

/** kubeadm's service-account key pair: no certificate (pki_helpers.go / certs.go CreateServiceAccountKeyAndPublicKeyFiles). */
export const KUBEADM_SA_FILES = { key: `${PKI}/sa.key`, pub: `${PKI}/sa.pub`, keyType: 'rsa-2048' } as const;

// ---- Kubernetes the Hard Way (kelseyhightower/kubernetes-the-hard-way ca.conf; kubernetes-pki.md) ----

/** The tutorial's environment, mapped onto an Anchorage config: controller `server`, workers node-0 and node-1. */
export const HARD_WAY_PARITY_INPUT = {
  server: { name: 'server', ip: '10.0.0.10', hostname: 'server.kubernetes.local' },
  workers: [
    { name: 'node-0', ip: '10.0.1.10' },
    { name: 'node-1', ip: '10.0.1.11' },
  ],
  controlPlaneEndpoint: 'server.kubernetes.local:6443',
  serviceCIDR: '10.32.0.0/24',
  certSANs: ['api-server.kubernetes.local'],
  /** ca.conf signs for 3653 days. */
  validity: '3653d',
} as const;

/** HARD_WAY_PARITY_INPUT as an Anchorage cluster config (ECDSA keys to keep tests fast; upstream uses RSA-4096). */
export const HARD_WAY_PARITY_CONFIG = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
layout: hard-way
keyAlgorithm: ecdsa-p256
controlPlaneEndpoint: server.kubernetes.local:6443
serviceCIDR: 10.32.0.0/24
certSANs: [api-server.kubernetes.local]
validity: {ca: 3653d, leaf: 3653d}
controlPlane: [{name: server, ips: [10.0.0.10], hostnames: [server.kubernetes.local]}]
workers: [{name: node-0, ips: [10.0.1.10]}, {name: node-1, ips: [10.0.1.11]}]
`;

export interface HardWayCert {
  name: string;
  /** Node (in HARD_WAY_PARITY_INPUT) and path where the layout keeps it. */
  node: string;
  file: string;
  kind: 'certificate' | 'kubeconfig';
  ca: boolean;
  cn: string;
  /** O exactly as ca.conf writes it, typos included. */
  upstreamO: readonly string[];
  eku: readonly ('serverAuth' | 'clientAuth')[];
  keyUsage: readonly KeyUsage[];
  /** SANs exactly as ca.conf writes them, typos included. */
  upstreamSans: { readonly dns: readonly string[]; readonly ip: readonly string[] };
  /** The upstream typos Anchorage corrects: each `from` must be absent and each `to` present. */
  typoFixes?: readonly { field: 'O' | 'DNS'; from: string; to: string }[];
  /** Other deliberate differences from ca.conf, with the reason. */
  deviations?: readonly { drop?: string; add?: { dns?: readonly string[]; ip?: readonly string[] }; why: string }[];
  /** What Anchorage issues: upstream with the typo fixes and deviations applied (a test checks the derivation). */
  anchorage: { o: readonly string[]; sans: { readonly dns: readonly string[]; readonly ip: readonly string[] } };
}

const HW_LEAF_KU: readonly KeyUsage[] = ['digitalSignature', 'keyEncipherment'];
const BOTH = ['clientAuth', 'serverAuth'] as const;
const nodeCert = (n: { name: string; ip: string }): HardWayCert => ({
  name: `kubelet@${n.name}`,
  node: n.name,
  file: '/var/lib/kubelet/kubelet.crt',
  kind: 'certificate',
  ca: false,
  cn: `system:node:${n.name}`,
  upstreamO: ['system:nodes'],
  eku: BOTH,
  keyUsage: HW_LEAF_KU,
  upstreamSans: { dns: [n.name], ip: ['127.0.0.1'] },
  deviations: [{ add: { ip: [n.ip] }, why: "the node's address from the config: the apiserver reaches kubelets by InternalIP" }],
  anchorage: { o: ['system:nodes'], sans: { dns: [n.name], ip: ['127.0.0.1', n.ip] } },
});
const proxyCert = (node: string): HardWayCert => ({
  name: `kube-proxy@${node}`,
  node,
  file: '/var/lib/kube-proxy/kubeconfig',
  kind: 'kubeconfig',
  ca: false,
  cn: 'system:kube-proxy',
  upstreamO: ['system:node-proxier'],
  eku: BOTH,
  keyUsage: HW_LEAF_KU,
  upstreamSans: { dns: ['kube-proxy'], ip: ['127.0.0.1'] },
  anchorage: { o: ['system:node-proxier'], sans: { dns: ['kube-proxy'], ip: ['127.0.0.1'] } },
});

/** ca.conf's profiles (subject C/ST/L attributes are not reproduced: Anchorage writes CN and O only). RSA-4096 upstream; here the config's key algorithm. */
export const HARD_WAY_PARITY: readonly HardWayCert[] = [
  {
    name: 'ca',
    node: 'server',
    file: '/var/lib/kubernetes/ca.crt',
    kind: 'certificate',
    ca: true,
    cn: 'CA',
    upstreamO: [],
    eku: [],
    keyUsage: ['keyCertSign', 'cRLSign'],
    upstreamSans: NONE,
    anchorage: { o: [], sans: NONE },
  },
  {
    name: 'kube-api-server',
    node: 'server',
    file: '/var/lib/kubernetes/kube-api-server.crt',
    kind: 'certificate',
    ca: false,
    cn: 'kubernetes',
    upstreamO: [],
    eku: BOTH,
    keyUsage: HW_LEAF_KU,
    upstreamSans: {
      dns: [
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster',
        'kubernetes.svc.cluster.local',
        'server.kubernetes.local',
        'api-server.kubernetes.local',
      ],
      ip: ['127.0.0.1', '10.32.0.1'],
    },
    typoFixes: [{ field: 'DNS', from: 'kubernetes.svc.cluster.local', to: 'kubernetes.default.svc.cluster.local' }],
    deviations: [
      {
        drop: 'kubernetes.default.svc.cluster',
        why: 'a partial name no cluster resolver answers; the FQDN kubernetes.default.svc.<dnsDomain> replaces it',
      },
      { add: { ip: ['10.0.0.10'] }, why: "the controller's address from the config" },
    ],
    anchorage: {
      o: [],
      sans: {
        dns: [
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
          'server.kubernetes.local',
          'api-server.kubernetes.local',
        ],
        ip: ['127.0.0.1', '10.32.0.1', '10.0.0.10'],
      },
    },
  },
  {
    name: 'service-accounts',
    node: 'server',
    file: '/var/lib/kubernetes/service-accounts.crt',
    kind: 'certificate',
    ca: false,
    cn: 'service-accounts',
    upstreamO: [],
    eku: ['clientAuth'],
    keyUsage: HW_LEAF_KU,
    upstreamSans: NONE,
    anchorage: { o: [], sans: NONE },
  },
  {
    name: 'kube-controller-manager',
    node: 'server',
    file: '/var/lib/kubernetes/kube-controller-manager.kubeconfig',
    kind: 'kubeconfig',
    ca: false,
    cn: 'system:kube-controller-manager',
    upstreamO: ['system:kube-controller-manager'],
    eku: BOTH,
    keyUsage: HW_LEAF_KU,
    upstreamSans: { dns: ['kube-controller-manager'], ip: ['127.0.0.1'] },
    anchorage: { o: ['system:kube-controller-manager'], sans: { dns: ['kube-controller-manager'], ip: ['127.0.0.1'] } },
  },
  {
    name: 'kube-scheduler',
    node: 'server',
    file: '/var/lib/kubernetes/kube-scheduler.kubeconfig',
    kind: 'kubeconfig',
    ca: false,
    cn: 'system:kube-scheduler',
    upstreamO: ['system:system:kube-scheduler'],
    eku: BOTH,
    keyUsage: HW_LEAF_KU,
    upstreamSans: { dns: ['kube-scheduler'], ip: ['127.0.0.1'] },
    typoFixes: [{ field: 'O', from: 'system:system:kube-scheduler', to: 'system:kube-scheduler' }],
    anchorage: { o: ['system:kube-scheduler'], sans: { dns: ['kube-scheduler'], ip: ['127.0.0.1'] } },
  },
  {
    name: 'admin',
    node: 'server',
    file: '/var/lib/kubernetes/admin.kubeconfig',
    kind: 'kubeconfig',
    ca: false,
    cn: 'admin',
    upstreamO: ['system:masters'],
    eku: ['clientAuth'],
    keyUsage: HW_LEAF_KU,
    upstreamSans: NONE,
    anchorage: { o: ['system:masters'], sans: NONE },
  },
  ...HARD_WAY_PARITY_INPUT.workers.flatMap((n) => [nodeCert(n), proxyCert(n.name)]),
];
