// Adopt a PKI that already runs: read the node trees kubeadm wrote (one per node), recognise every
// file's role, infer the cluster config, and hand back the material for the store. Pure: the caller
// reads the trees (service.ts) and writes the store. Nothing here ever creates a certificate.
//
// The config is inferred so that `buildPlan(config)` lays out the very files that were read: the plan
// is then the one description of the cluster for renew, rotate-ca and check-expiration, exactly as for
// a cluster Anchorage created.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { stringify } from 'yaml';
import { InputError } from '../common/errors.ts';
import { isIP } from '../common/ip.ts';
import { readKubeconfig } from '../k8s/kubeconfig.ts';
import { Certificate } from '../x509/certificate.ts';
import { keyMatchesSpki, keyTypeFromInfo } from '../x509/keys.ts';
import { nameGetAll } from '../x509/name.ts';
import { OID } from '../x509/oids.ts';
import { scanPem } from '../x509/pem.ts';
import { type ClusterConfig, clusterConfigSchema, serviceIP } from './config.ts';
import { type MaterialMap, misfit } from './materialize.ts';
import { buildPlan, type Plan } from './plan.ts';

/** One node's files, keyed by their absolute path on the node (e.g. /etc/kubernetes/pki/ca.crt). */
export interface NodeTree {
  /** Where it was read from (shown in messages). */
  source: string;
  /** Node name given by the user; inferred from the certificates otherwise. */
  node?: string;
  /** Node IP given by the user (needed for workers, whose files carry none). */
  ip?: string;
  /** The name of the folder it was read from (DIR/nodes/<node>/ of `pki init`): a last guess at the node's name. */
  nameHint?: string;
  files: Map<string, Uint8Array>;
}

export interface AdoptOptions {
  /** Overrides for what cannot be read off the certificates exactly. */
  kubernetesVersion?: string;
  serviceCIDR?: string;
  podCIDR?: string;
  /** Node IPs by node name, for nodes whose files carry none (the hard way's certificates name only 127.0.0.1). */
  nodeIPs?: Record<string, string>;
  /** Give a node without a known IP 127.0.0.1 instead of refusing (check-expiration: no IP matters there). */
  anyIP?: boolean;
  now?: Date;
}

export interface AdoptedFile {
  node: string;
  path: string;
  /** Certificate id (role@node), sa-key, sa-pub; or undefined for a file the plan does not know. */
  id?: string;
  status: 'adopted' | 'unknown';
}

export interface AdoptResult {
  config: ClusterConfig;
  /** The config as YAML, with comments saying what was inferred. */
  configText: string;
  plan: Plan;
  material: MaterialMap;
  saKey?: KeyObject;
  files: AdoptedFile[];
  /** Certificates of the plan that no tree holds (they would be issued by `pki init`, never a CA). */
  missing: string[];
  /** Existing certificates that differ from what the inferred config would issue (renew keeps theirs). */
  differences: { id: string; why: string }[];
  /** CA ids whose private key was not found: external-CA mode for them. */
  externalCAs: string[];
  notes: string[];
  /** Each node's tree, by node name. */
  trees: Map<string, NodeTree>;
}

const K = '/etc/kubernetes';
const P = `${K}/pki`;
const LOOPBACK = new Set(['127.0.0.1', '::1']);
const MAX_TREE_FILES = 10_000;

function certsIn(data: Uint8Array | undefined, where: string): Certificate[] {
  if (!data) return [];
  const text = Buffer.from(data).toString('latin1');
  const out: Certificate[] = [];
  for (const b of scanPem(text)) {
    if (b.label !== 'CERTIFICATE') continue;
    try {
      out.push(new Certificate(b.der));
    } catch (e) {
      throw new InputError(`${where}: ${(e as Error).message}`);
    }
  }
  return out;
}

function keyIn(data: Uint8Array | undefined, where: string): KeyObject | undefined {
  if (!data) return undefined;
  try {
    return createPrivateKey({ key: Buffer.from(data) });
  } catch {
    throw new InputError(`${where}: not a readable private key (encrypted keys are not adopted)`);
  }
}

interface KubeconfigCreds {
  server?: string;
  cluster?: string;
  ca: Certificate[];
  cert?: Certificate;
  key?: KeyObject;
  /** client-certificate given as a file reference (e.g. kubelet's rotated kubelet-client-current.pem). */
  certRef?: string;
}

function kubeconfigIn(data: Uint8Array | undefined, where: string): KubeconfigCreds | undefined {
  if (!data) return undefined;
  const s = readKubeconfig(Buffer.from(data).toString('utf8'));
  const out: KubeconfigCreds = { ca: [] };
  const first = s.servers[0];
  if (first) {
    out.server = first.server;
    out.cluster = first.cluster;
  }
  for (const e of s.embedded) {
    if (e.field === 'certificate-authority-data') out.ca.push(...certsIn(e.data, `${where} ${e.location}`));
    else if (e.field === 'client-certificate-data') out.cert ??= certsIn(e.data, `${where} ${e.location}`)[0];
    else if (e.field === 'client-key-data') out.key ??= keyIn(e.data, `${where} ${e.location}`);
  }
  const ref = s.references.find((r) => r.location.endsWith('client-certificate'));
  if (ref) out.certRef = ref.path;
  return out;
}

function hours(c: Certificate): string {
  return `${Math.max(1, Math.round((c.notAfter.getTime() - c.notBefore.getTime()) / 3_600_000))}h`;
}

function hostPort(url: string): { host: string; port: number; endpoint: string } | undefined {
  try {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || 443);
    return { host, port, endpoint: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` };
  } catch {
    return undefined;
  }
}

interface TreeFacts {
  tree: NodeTree;
  name: string;
  ips: string[];
  controlPlane: boolean;
  etcd: boolean;
  apiserver?: Certificate;
  etcdServer?: Certificate;
  admin?: KubeconfigCreds;
  kubelet?: KubeconfigCreds;
  controllerManager?: KubeconfigCreds;
}

function nodeNameOf(
  t: NodeTree,
  apiserver: Certificate | undefined,
  etcdServer: Certificate | undefined,
  kubelet?: KubeconfigCreds,
): string {
  if (t.node) return t.node;
  if (etcdServer?.commonName) return etcdServer.commonName;
  const cn = kubelet?.cert?.commonName;
  if (cn?.startsWith('system:node:')) return cn.slice('system:node:'.length);
  const dns = apiserver?.sans.dns.find((d) => !d.startsWith('kubernetes'));
  if (dns) return dns;
  throw new InputError(`${t.source}: cannot tell which node this is; name it with --node NAME=${t.source}`);
}

function factsOf(t: NodeTree): TreeFacts {
  if (t.files.size > MAX_TREE_FILES) throw new InputError(`${t.source}: too large (more than ${MAX_TREE_FILES} files)`);
  const get = (p: string) => t.files.get(p);
  const apiserver = certsIn(get(`${P}/apiserver.crt`), `${t.source}: pki/apiserver.crt`)[0];
  const etcdServer = certsIn(get(`${P}/etcd/server.crt`), `${t.source}: pki/etcd/server.crt`)[0];
  const kubelet = kubeconfigIn(get(`${K}/kubelet.conf`), `${t.source}: kubelet.conf`);
  const admin = kubeconfigIn(get(`${K}/admin.conf`), `${t.source}: admin.conf`);
  const controllerManager = kubeconfigIn(get(`${K}/controller-manager.conf`), `${t.source}: controller-manager.conf`);
  const name = nodeNameOf(t, apiserver, etcdServer, kubelet);
  const ips: string[] = [];
  const add = (ip: string) => {
    if (!LOOPBACK.has(ip) && !ips.includes(ip)) ips.push(ip);
  };
  if (t.ip) add(t.ip);
  if (etcdServer) for (const ip of etcdServer.sans.ip) add(ip);
  const out: TreeFacts = { tree: t, name, ips, controlPlane: !!apiserver, etcd: !!etcdServer };
  if (apiserver) out.apiserver = apiserver;
  if (etcdServer) out.etcdServer = etcdServer;
  if (admin) out.admin = admin;
  if (kubelet) out.kubelet = kubelet;
  if (controllerManager) out.controllerManager = controllerManager;
  return out;
}

const minus = <T>(a: readonly T[], b: Iterable<T>): T[] => {
  const s = new Set(b);
  return a.filter((x) => !s.has(x));
};

/**
 * kubeadm's release line, from what it writes: apiserver-kubelet-client's O (system:masters up to 1.28,
 * kubeadm:cluster-admins 1.29 to 1.36.0, none from 1.36.1) and, from 1.33, a control-plane kubelet.conf
 * that points at the local apiserver. The caller can say it exactly.
 */
function versionOf(first: TreeFacts, endpoint: string | undefined): string | undefined {
  const client = certsIn(first.tree.files.get(`${P}/apiserver-kubelet-client.crt`), first.tree.source)[0];
  if (!client) return undefined;
  const o = nameGetAll(client.subjectRdns, OID.O);
  if (o.includes('system:masters')) return 'v1.28.0';
  if (o.length === 0) return 'v1.36.3';
  const kubeletServer = first.kubelet?.server ? hostPort(first.kubelet.server) : undefined;
  const localKubelet = !!kubeletServer && !!endpoint && kubeletServer.endpoint !== endpoint;
  return localKubelet ? 'v1.35.0' : 'v1.32.0';
}

function cidrFor(ip: string): string {
  // The service IP is the first host of the service CIDR: its network address is ip - 1.
  if (isIP(ip) === 4) {
    const n = ip.split('.').reduce((a, p) => a * 256 + Number(p), 0) - 1;
    if (n === (10 << 24) + (96 << 16)) return '10.96.0.0/12';
    let prefix = 32;
    while (prefix > 8 && n % 2 ** (32 - prefix + 1) === 0) prefix--;
    const net = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    return `${net}/${Math.max(prefix, 12)}`;
  }
  return `${ip.replace(/::1$/, '::').replace(/:1$/, ':0')}/112`;
}

/** Infer the cluster config from kubeadm node trees, then match every file against the plan. */
export function adoptKubeadm(trees: NodeTree[], o: AdoptOptions = {}): AdoptResult {
  if (trees.length === 0) throw new InputError('nothing to adopt: give at least one node tree');
  const facts = trees.map(factsOf);
  const seen = new Map<string, string>();
  for (const f of facts) {
    const prev = seen.get(f.name);
    if (prev) throw new InputError(`${f.tree.source} and ${prev} are both node ${f.name}; name them with --node NAME=PATH`);
    seen.set(f.name, f.tree.source);
  }
  const cps = facts.filter((f) => f.controlPlane);
  if (cps.length === 0)
    throw new InputError(`no control-plane tree among ${trees.map((t) => t.source).join(', ')} (none has pki/apiserver.crt)`);
  // The first control plane is the one with super-admin.conf (kubeadm init wrote it there).
  cps.sort((a, b) => Number(b.tree.files.has(`${K}/super-admin.conf`)) - Number(a.tree.files.has(`${K}/super-admin.conf`)));
  const first = cps[0] as TreeFacts;
  const api = first.apiserver as Certificate;
  const notes: string[] = [];

  const admin = cps.find((f) => f.admin?.server)?.admin;
  const ep = admin?.server ? hostPort(admin.server) : undefined;
  const local = first.controllerManager?.server ? hostPort(first.controllerManager.server) : undefined;
  const svcDomain = api.sans.dns.find((d) => d.startsWith('kubernetes.default.svc.'));
  const dnsDomain = svcDomain ? svcDomain.slice('kubernetes.default.svc.'.length) : 'cluster.local';

  // Node IPs: from etcd's serving certificate (advertise address) or, failing that, the apiserver's.
  const cpIps = new Set(cps.flatMap((f) => f.ips));
  for (const f of cps) {
    if (f.ips.length) continue;
    const own = f.apiserver?.sans.ip.filter((ip) => ip !== ep?.host) ?? [];
    // kubeadm writes [serviceIP, advertiseAddress, ...]: the second one is the node's.
    const adv = own[1] ?? own[0];
    if (adv) f.ips.push(adv);
  }
  for (const f of cps) for (const ip of f.ips) cpIps.add(ip);
  const svcIp = o.serviceCIDR ? serviceIP(o.serviceCIDR) : api.sans.ip.find((ip) => !cpIps.has(ip) && ip !== ep?.host);
  if (!svcIp) throw new InputError(`${first.tree.source}: cannot find the service IP among the apiserver's SANs; give --service-cidr`);
  for (const f of facts) if (f.ips.length === 0) f.ips.push(...(f.tree.ip ? [f.tree.ip] : []));
  const noIp = facts.find((f) => f.ips.length === 0);
  if (noIp)
    throw new InputError(
      `${noIp.tree.source}: node ${noIp.name} carries no IP in its certificates; give it as --node ${noIp.name}@IP=${noIp.tree.source}`,
    );

  // Extra apiserver SANs: common to every control plane → certSANs; per node → that node's hostnames/IPs.
  const defaultsFor = (f: TreeFacts): Set<string> =>
    new Set([f.name, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', svcDomain ?? '', svcIp, f.ips[0] ?? '', ep?.host ?? '']);
  const extras = cps.map((f) => {
    const d = defaultsFor(f);
    const c = f.apiserver as Certificate;
    return [...c.sans.dns, ...c.sans.ip].filter((s) => !d.has(s));
  });
  const common = (extras[0] ?? []).filter((s) => extras.every((e) => e.includes(s)));
  const perNode = new Map(cps.map((f, i) => [f.name, minus(extras[i] ?? [], common)]));

  const etcdTrees = facts.filter((f) => f.etcd && !f.controlPlane);
  const stacked = cps.some((f) => f.etcd);
  // External etcd run by someone else (kubeadm's usual external setup): no member tree and no etcd CA key
  // here, so etcd's CA is external and its members are not Anchorage's to list.
  const etcdKeyHere = facts.some((f) => f.tree.files.has(`${P}/etcd/ca.key`));
  if (!stacked && etcdTrees.length === 0 && etcdKeyHere)
    throw new InputError(
      'external etcd: no etcd member tree given (none of the trees has pki/etcd/server.crt); add each member with NAME=PATH',
    );
  if (!stacked && etcdTrees.length === 0)
    notes.push(
      'external etcd managed elsewhere: no member tree and no etcd CA key; etcd-ca is external and apiserver-etcd-client is kept as placed',
    );
  const etcdSans = (f: TreeFacts) => {
    const c = f.etcdServer as Certificate;
    const d = new Set([f.name, 'localhost', f.ips[0] ?? '', '127.0.0.1', '::1']);
    return [...c.sans.dns, ...c.sans.ip].filter((s) => !d.has(s));
  };
  const etcdHolders = stacked ? cps.filter((f) => f.etcd) : etcdTrees;
  const etcdExtra = etcdHolders.map(etcdSans);
  const etcdCommon = (etcdExtra[0] ?? []).filter((s) => etcdExtra.every((e) => e.includes(s)));

  const keyAlgorithm = keyTypeFromInfo(api.keyInfo) ?? 'rsa-2048';
  const caCert = certsIn(first.tree.files.get(`${P}/ca.crt`), `${first.tree.source}: pki/ca.crt`)[0];
  if (!caCert) throw new InputError(`${first.tree.source}: pki/ca.crt is missing`);
  if (!caCert.selfSigned)
    throw new InputError(
      `${first.tree.source}: pki/ca.crt is an intermediate of ${caCert.issuer}: adopting a cluster CA under an outside root is not supported yet`,
    );

  const externalCAs: string[] = [];
  const caFiles = [
    ['ca', 'ca', 'ca'],
    ['front-proxy-ca', 'front-proxy-ca', 'frontProxyCA'],
    ['etcd-ca', 'etcd/ca', 'etcdCA'],
  ] as const;
  for (const [id, base] of caFiles) {
    const holder = facts.find((f) => f.tree.files.has(`${P}/${base}.key`));
    if (!holder) externalCAs.push(id);
  }
  const workers = facts.filter((f) => !f.controlPlane && !f.etcd);
  const inferredVersion = versionOf(first, ep?.endpoint);
  const kubeVersion = o.kubernetesVersion ?? inferredVersion ?? 'v1.36.3';
  const doc: Record<string, unknown> = {
    apiVersion: 'anchorage.dev/v1alpha1',
    kind: 'ClusterPKI',
    clusterName: admin?.cluster ?? 'kubernetes',
    controlPlaneEndpoint: ep?.endpoint ?? `${first.ips[0]}:${local?.port ?? 6443}`,
    kubernetesVersion: kubeVersion,
    apiServerPort: local?.port ?? ep?.port ?? 6443,
    dnsDomain,
    serviceCIDR: o.serviceCIDR ?? cidrFor(svcIp),
    ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}),
    layout: 'kubeadm',
    keyAlgorithm,
    validity: { ca: hours(caCert), leaf: hours(api), root: '175200h' },
    certSANs: common,
    kubeletServingCertificates: facts.some((f) => f.tree.files.has('/var/lib/kubelet/pki/kubelet.crt') && isCaSigned(f, caCert)),
    controlPlane: cps.map((f) => ({
      name: f.name,
      ips: [...f.ips, ...(perNode.get(f.name) ?? []).filter((s) => isIP(s) && !f.ips.includes(s))],
      hostnames: (perNode.get(f.name) ?? []).filter((s) => !isIP(s)),
    })),
    workers: workers.map((f) => ({ name: f.name, ips: f.ips, hostnames: [] })),
    etcd: {
      topology: stacked ? 'stacked' : 'external',
      members: stacked ? [] : etcdTrees.map((f) => ({ name: f.name, ips: f.ips, hostnames: [] })),
      serverCertSANs: etcdCommon,
      peerCertSANs: etcdCommon,
    },
    ...(externalCAs.length
      ? {
          externalCA: Object.fromEntries(
            caFiles.filter(([id]) => externalCAs.includes(id)).map(([id, , field]) => [field, `external/${id}.crt`]),
          ),
        }
      : {}),
    encryptionAtRest: { enabled: false, provider: 'aescbc' },
  };
  const parsed = clusterConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new InputError(`the inferred config is not valid (${i?.path.join('.')}: ${i?.message}); give the missing facts as options`);
  }
  const config = parsed.data;
  if (!o.kubernetesVersion)
    notes.push(
      `kubernetesVersion ${kubeVersion} inferred from the groups kubeadm wrote (it decides admin groups and kubelet.conf's server); set it with --kubernetes-version`,
    );
  return matchPlan(
    config,
    facts.map((f) => ({ name: f.name, tree: f.tree })),
    trees,
    notes,
    caFiles.map(([id, base]) => [id, `${P}/${base}.key`] as const),
    o,
  );
}

/**
 * Walk the plan of the inferred config: every file it lays out, looked up in that node's tree, gives the
 * material (certificates, their keys, sa.key); any other certificate or key file is listed as unknown.
 * `caKeys`: each CA and where its key lies (it may sit on a node the plan does not put it on).
 */
export function matchPlan(
  config: ClusterConfig,
  facts: { name: string; tree: NodeTree }[],
  trees: NodeTree[],
  notes: string[],
  caKeys: readonly (readonly [string, string])[],
  o: AdoptOptions,
): AdoptResult {
  const plan = buildPlan(config);
  const externalCAs = plan.certs.filter((p) => p.ca && p.external).map((p) => p.id);
  const byNode = new Map(facts.map((f) => [f.name, f]));
  const material: MaterialMap = new Map();
  const files: AdoptedFile[] = [];
  const claimed = new Map<string, Set<string>>();
  const claim = (node: string, path: string) => {
    const s = claimed.get(node) ?? new Set<string>();
    s.add(path);
    claimed.set(node, s);
  };
  const setCert = (id: string, cert: Certificate, where: string) => {
    const have = material.get(id);
    if (have && !Buffer.from(have.cert.der).equals(Buffer.from(cert.der))) {
      if (id === 'ca' || id.endsWith('-ca'))
        throw new InputError(
          `${where}: a different ${id} certificate than on another node (${have.cert.subject}): the trees disagree on the CA`,
        );
      return;
    }
    if (!have) material.set(id, { cert });
  };
  const setKey = (id: string, key: KeyObject, where: string) => {
    const m = material.get(id);
    if (!m) return;
    if (!keyMatchesSpki(key, m.cert.spki)) throw new InputError(`${where}: private key does not match its certificate (${id})`);
    m.key = key;
  };
  let saKey: KeyObject | undefined;
  // CAs first so that bundles and keys resolve.
  const ordered = [...plan.files].sort((a, b) => rank(a.content.type) - rank(b.content.type));
  for (const pf of ordered) {
    const f = byNode.get(pf.node);
    // A kubeconfig may be given as its certificate and key pair (the hard way's jumpbox folder before its kubeconfig step).
    const data = f?.tree.files.get(pf.path) ?? (pf.content.type === 'kubeconfig' ? pairAsKubeconfig(f?.tree, pf.path) : undefined);
    if (!f || !data) continue;
    const where = `${f.tree.source}: ${pf.path}`;
    const c = pf.content;
    if (c.type === 'cert' || c.type === 'bundle') {
      const certs = certsIn(data, where);
      const id = c.type === 'cert' ? c.cert : (c.certs[0] as string);
      const cert = certs[0];
      if (!cert) throw new InputError(`${where}: no certificate`);
      // A bundle may carry old+new CAs mid-rotation: the CA is the one whose key the tree holds, else the first.
      setCert(id, cert, where);
      files.push({ node: f.name, path: pf.path, id, status: 'adopted' });
    } else if (c.type === 'key') {
      const key = keyIn(data, where);
      if (key) setKey(c.cert, key, where);
      files.push({ node: f.name, path: pf.path, id: c.cert, status: 'adopted' });
    } else if (c.type === 'kubeconfig') {
      const kc = kubeconfigIn(data, where);
      if (kc?.cert) {
        setCert(c.cert, kc.cert, where);
        if (kc.key) setKey(c.cert, kc.key, where);
      } else if (kc?.certRef) notes.push(`${where}: the client certificate is ${kc.certRef} (rotated by the kubelet); not adopted`);
      files.push({ node: f.name, path: pf.path, id: c.cert, status: 'adopted' });
    } else if (c.type === 'sa-key') {
      const key = keyIn(data, where);
      if (saKey && key && !key.export({ type: 'pkcs8', format: 'der' }).equals(saKey.export({ type: 'pkcs8', format: 'der' })))
        throw new InputError(`${where}: a different sa.key than on another control-plane node`);
      saKey ??= key;
      files.push({ node: f.name, path: pf.path, id: 'sa-key', status: 'adopted' });
    } else if (c.type === 'sa-pub') {
      files.push({ node: f.name, path: pf.path, id: 'sa-pub', status: 'adopted' });
    } else continue;
    claim(f.name, pf.path);
  }
  // A CA's key may sit on a node the plan does not put it on (external etcd: the member holds etcd's CA key).
  for (const [id, path] of caKeys) {
    const m = material.get(id);
    if (!m || m.key) continue;
    for (const f of facts) {
      const data = f.tree.files.get(path);
      if (!data || claimed.get(f.name)?.has(path)) continue;
      const key = keyIn(data, `${f.tree.source}: ${path}`);
      if (key) setKey(id, key, `${f.tree.source}: ${path}`);
      files.push({ node: f.name, path, id, status: 'adopted' });
      claim(f.name, path);
      break;
    }
  }
  // Any other certificate or key file in the trees: listed, never silently ignored.
  for (const f of facts) {
    const mine = claimed.get(f.name) ?? new Set();
    for (const path of [...f.tree.files.keys()].sort()) {
      if (mine.has(path)) continue;
      if (/\.(crt|key|pem|conf|pub|kubeconfig)$/.test(path) || path.endsWith('/kubeconfig'))
        files.push({ node: f.name, path, status: 'unknown' });
    }
  }
  for (const [id] of caKeys) {
    const m = material.get(id);
    if (!m) throw new InputError(`no tree holds the ${id} certificate`);
  }
  const now = o.now ?? new Date();
  const differences: { id: string; why: string }[] = [];
  const missing: string[] = [];
  for (const p of plan.certs) {
    const m = material.get(p.id);
    if (!m) {
      missing.push(p.id);
      continue;
    }
    const signer = p.signer ? material.get(p.signer) : undefined;
    const why = misfit(p, m, signer?.key || p.signer ? signer : undefined, now);
    if (why && !(p.external && why === 'private key missing')) differences.push({ id: p.id, why });
  }
  const configText = renderConfig(config, trees, notes);
  const r: AdoptResult = {
    config,
    configText,
    plan,
    material,
    files,
    missing,
    differences,
    externalCAs,
    notes,
    trees: new Map(facts.map((f) => [f.name, f.tree])),
  };
  if (saKey) r.saKey = saKey;
  return r;
}

/** A kubeconfig's certificate and key given as a pair: stored by the reader at PATH#crt and PATH#key. */
function pairAsKubeconfig(t: NodeTree | undefined, path: string): Uint8Array | undefined {
  const cert = t?.files.get(`${path}#crt`);
  const key = t?.files.get(`${path}#key`);
  if (!cert || !key) return undefined;
  const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64');
  return Buffer.from(
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [],
      users: [{ name: 'u', user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) } }],
      contexts: [],
    }),
  );
}

function isCaSigned(f: TreeFacts, ca: Certificate): boolean {
  const c = certsIn(f.tree.files.get('/var/lib/kubelet/pki/kubelet.crt'), f.tree.source)[0];
  return !!c && Buffer.from(c.issuerRaw).equals(Buffer.from(ca.subjectRaw));
}

function rank(t: string): number {
  return t === 'bundle' ? 0 : t === 'cert' ? 1 : t === 'kubeconfig' ? 2 : 3;
}

function renderConfig(c: ClusterConfig, trees: NodeTree[], notes: string[]): string {
  const head = [
    '# Adopted by `anchorage pki adopt` from:',
    ...trees.map((t) => `#   ${t.source}`),
    '# Every value was read off the existing certificates; check it before renewing.',
    ...notes.map((n) => `# note: ${n}`),
  ];
  return `${head.join('\n')}\n${stringify(c)}`;
}

// ---------------------------------------------------------------- Kubernetes the Hard Way

const HW = '/var/lib/kubernetes';

/** A tree in the hard way's layout: the controller's /var/lib/kubernetes, or a worker's /var/lib/kubelet. */
export function isHardWayTree(t: NodeTree): boolean {
  return (
    !t.files.has(`${P}/apiserver.crt`) &&
    (t.files.has(`${HW}/kube-api-server.crt`) || t.files.has('/var/lib/kubelet/kubeconfig') || t.files.has('/var/lib/kubelet/kubelet.crt'))
  );
}

/** Infer a hard-way config (one CA; the controller's and each worker's files) from the trees, then match every file. */
export function adoptHardWay(trees: NodeTree[], o: AdoptOptions = {}): AdoptResult {
  const notes: string[] = [];
  const cps = trees.filter((t) => t.files.has(`${HW}/kube-api-server.crt`));
  if (cps.length === 0)
    throw new InputError(
      `no controller tree among ${trees.map((t) => t.source).join(', ')} (none has var/lib/kubernetes/kube-api-server.crt)`,
    );
  const workers = trees.filter((t) => !cps.includes(t));
  const api = certsIn(cps[0]?.files.get(`${HW}/kube-api-server.crt`), `${cps[0]?.source}: kube-api-server.crt`)[0] as Certificate;
  const caTree = trees.find((t) => t.files.has(`${HW}/ca.crt`)) ?? trees.find((t) => t.files.has('/var/lib/kubelet/ca.crt'));
  const caCert = certsIn(caTree?.files.get(`${HW}/ca.crt`) ?? caTree?.files.get('/var/lib/kubelet/ca.crt'), `${caTree?.source}: ca.crt`)[0];
  if (!caCert) throw new InputError('no tree holds the CA certificate (var/lib/kubernetes/ca.crt)');
  if (!caCert.selfSigned)
    throw new InputError(`ca.crt is an intermediate of ${caCert.issuer}: adopting a cluster CA under an outside root is not supported yet`);

  // Kubeconfigs: the workers' name the endpoint; the controller's local ones the API server's own port.
  const kc = (t: NodeTree, path: string) => kubeconfigIn(t.files.get(path), `${t.source}: ${path}`);
  const workerServer = workers
    .map((t) => kc(t, '/var/lib/kubelet/kubeconfig') ?? kc(t, '/var/lib/kube-proxy/kubeconfig'))
    .find((k) => k?.server);
  const local = cps.flatMap((t) => ['admin', 'kube-controller-manager', 'kube-scheduler'].map((n) => kc(t, `${HW}/${n}.kubeconfig`)));
  const anyKc = [workerServer, ...local].find((k) => k?.cluster);
  const localPort = local.map((k) => (k?.server ? hostPort(k.server) : undefined)).find((h) => h && LOOPBACK.has(h.host))?.port;
  const remote = workerServer?.server
    ? hostPort(workerServer.server)
    : local.map((k) => (k?.server ? hostPort(k.server) : undefined)).find((h) => h && !LOOPBACK.has(h.host));

  // The service IP is the first address after 127.0.0.1 in kube-api-server.crt (ca.conf's IP.1, `pki init`'s too).
  const svcIp = o.serviceCIDR ? serviceIP(o.serviceCIDR) : api.sans.ip.find((ip) => !LOOPBACK.has(ip));
  if (!svcIp) throw new InputError(`${cps[0]?.source}: cannot find the service IP among kube-api-server.crt's SANs; give --service-cidr`);
  if (!o.serviceCIDR)
    notes.push(
      `serviceCIDR ${cidrFor(svcIp)} inferred from the service IP ${svcIp} (only that address is in a certificate); set it with --service-cidr`,
    );
  const svcDomain = api.sans.dns.find((d) => d.startsWith('kubernetes.default.svc.'));

  const nameOfCp = (t: NodeTree): string => {
    const n = t.node ?? t.nameHint;
    if (n) return n;
    throw new InputError(`${t.source}: cannot tell the controller's node name from its files; name it with NAME=${t.source}`);
  };
  const nameOfWorker = (t: NodeTree): string => {
    if (t.node) return t.node;
    const c = certsIn(t.files.get('/var/lib/kubelet/kubelet.crt'), t.source)[0] ?? kc(t, '/var/lib/kubelet/kubeconfig')?.cert;
    const cn = c?.commonName;
    if (cn?.startsWith('system:node:')) return cn.slice('system:node:'.length);
    if (t.nameHint) return t.nameHint;
    throw new InputError(`${t.source}: cannot tell which node this is; name it with NAME=${t.source}`);
  };
  const endpointHostIp = remote && isIP(remote.host) ? remote.host : undefined;
  const ipsOf = (t: NodeTree, name: string, fromCert: string[]): string[] => {
    const given = t.ip ?? o.nodeIPs?.[name];
    const ips = given ? [given] : [];
    for (const ip of fromCert) if (!ips.includes(ip)) ips.push(ip);
    if (ips.length === 0 && o.anyIP) ips.push('127.0.0.1');
    if (ips.length === 0)
      throw new InputError(
        `${t.source}: node ${name} carries no IP in its certificates; give it as ${name}@IP=${t.source} or --node-ip ${name}=IP`,
      );
    return ips;
  };
  const cpNodes = cps.map((t) => {
    const name = nameOfCp(t);
    const own = api.sans.ip.filter((ip) => !LOOPBACK.has(ip) && ip !== svcIp && ip !== endpointHostIp);
    const c = certsIn(t.files.get(`${HW}/kube-api-server.crt`), t.source)[0] as Certificate;
    return {
      t,
      name,
      ips: ipsOf(t, name, t === cps[0] ? own : c.sans.ip.filter((ip) => !LOOPBACK.has(ip) && ip !== svcIp && ip !== endpointHostIp)),
    };
  });
  const workerNodes = workers.map((t) => {
    const name = nameOfWorker(t);
    const c = certsIn(t.files.get('/var/lib/kubelet/kubelet.crt'), t.source)[0] ?? kc(t, '/var/lib/kubelet/kubeconfig')?.cert;
    return {
      t,
      name,
      ips: ipsOf(
        t,
        name,
        (c?.sans.ip ?? []).filter((ip) => !LOOPBACK.has(ip)),
      ),
    };
  });
  const first = cpNodes[0] as (typeof cpNodes)[number];
  const endpoint = remote?.endpoint ?? `${first.ips[0]}:${localPort ?? 6443}`;
  const port = localPort ?? remote?.port ?? 6443;
  const externalCAs = trees.some((t) => t.files.has(`${HW}/ca.key`)) ? [] : ['ca'];
  const doc = (certSANs: string[], hostnames: Map<string, string[]>): Record<string, unknown> => ({
    apiVersion: 'anchorage.dev/v1alpha1',
    kind: 'ClusterPKI',
    clusterName: anyKc?.cluster ?? 'kubernetes',
    controlPlaneEndpoint: endpoint,
    kubernetesVersion: o.kubernetesVersion ?? 'v1.36.3',
    apiServerPort: port,
    dnsDomain: svcDomain ? svcDomain.slice('kubernetes.default.svc.'.length) : 'cluster.local',
    serviceCIDR: o.serviceCIDR ?? cidrFor(svcIp),
    ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}),
    layout: 'hard-way',
    keyAlgorithm: keyTypeFromInfo(api.keyInfo) ?? 'rsa-2048',
    validity: { ca: hours(caCert), leaf: hours(api), root: '175200h' },
    certSANs,
    kubeletServingCertificates: false,
    controlPlane: cpNodes.map((n) => ({ name: n.name, ips: n.ips, hostnames: hostnames.get(n.name) ?? [] })),
    workers: workerNodes.map((n) => ({ name: n.name, ips: n.ips, hostnames: hostnames.get(n.name) ?? [] })),
    etcd: { topology: 'stacked', members: [], serverCertSANs: [], peerCertSANs: [] },
    ...(externalCAs.length ? { externalCA: { ca: 'external/ca.crt' } } : {}),
    // An existing encryption config is left as it is: its key is not in any certificate.
    encryptionAtRest: { enabled: false, provider: 'aescbc' },
  });
  const parse = (d: Record<string, unknown>): ClusterConfig => {
    const r = clusterConfigSchema.safeParse(d);
    if (r.success) return r.data;
    const i = r.error.issues[0];
    throw new InputError(`the inferred config is not valid (${i?.path.join('.')}: ${i?.message}); give the missing facts as options`);
  };
  // SANs beyond what the plan would write: the apiserver's become certSANs, a kubelet's its node's hostnames.
  const bare = buildPlan(parse(doc([], new Map())));
  const extra = (id: string, c: Certificate | undefined): string[] => {
    const p = bare.certs.find((x) => x.id === id);
    if (!p || !c) return [];
    const have = new Set([...p.sans.dns, ...p.sans.ip]);
    return [...c.sans.dns, ...c.sans.ip].filter((s) => !have.has(s));
  };
  const certSANs = extra(`kube-api-server@${first.name}`, api);
  const hostnames = new Map(
    workerNodes.map((n) => {
      const c = certsIn(n.t.files.get('/var/lib/kubelet/kubelet.crt'), n.t.source)[0] ?? kc(n.t, '/var/lib/kubelet/kubeconfig')?.cert;
      return [n.name, extra(`kubelet@${n.name}`, c).filter((s) => !isIP(s))];
    }),
  );
  const config = parse(doc(certSANs, hostnames));
  for (const t of cps)
    if (t.files.has(`${HW}/encryption-config.yaml`))
      notes.push(`${t.source}: encryption-config.yaml is left as it is (its key is in no certificate; encryptionAtRest stays off here)`);
  for (const k of local)
    if (k?.server && !LOOPBACK.has(hostPort(k.server)?.host ?? ''))
      notes.push(`a controller kubeconfig points at ${k.server}; renewed ones point at the local API server (https://127.0.0.1:${port})`);
  const facts = [...cpNodes, ...workerNodes].map((n) => ({ name: n.name, tree: n.t }));
  const seen = new Set<string>();
  for (const f of facts) {
    if (seen.has(f.name)) throw new InputError(`two trees are node ${f.name}; name them with NAME=PATH`);
    seen.add(f.name);
  }
  const r = matchPlan(config, facts, trees, [...new Set(notes)], [['ca', `${HW}/ca.key`]], o);
  // The hard way signs service-account tokens with service-accounts.key: the store's sa.key is that key.
  const sa = r.material.get(`service-accounts@${first.name}`)?.key;
  if (sa) r.saKey ??= sa;
  return r;
}

/** Adopt kubeadm trees or hard-way trees, whichever they are. */
export function adoptTrees(trees: NodeTree[], o: AdoptOptions = {}): AdoptResult {
  const hw = trees.filter(isHardWayTree);
  if (hw.length > 0 && hw.length === trees.length) return adoptHardWay(trees, o);
  if (hw.length > 0 && trees.some((t) => t.files.has(`${P}/apiserver.crt`)))
    throw new InputError(
      `${hw[0]?.source} is a hard-way tree and ${trees.find((t) => !hw.includes(t))?.source} a kubeadm one: adopt one cluster at a time`,
    );
  return adoptKubeadm(trees, o);
}
