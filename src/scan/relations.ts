// The control plane's own TLS connections, predicted from the certificates a scan found in node trees:
// kube-apiserver → etcd (etcd's serving certificate against the apiserver's --etcd-cafile and the name in
// --etcd-servers; the apiserver's etcd client certificate against etcd's --trusted-ca-file), kube-apiserver →
// kubelet (its kubelet client certificate against each kubelet's client CA; each kubelet's serving
// certificate against --kubelet-certificate-authority when the apiserver checks one), and the front proxy
// (--proxy-client-cert-file against --requestheader-client-ca-file and its allowed names, and against the
// CA aggregated API servers read from kube-system/extension-apiserver-authentication), and the kubeconfigs'
// client certificates in the node trees against the apiserver's --client-ca-file. Files come from the
// components' flags (the kube-system mirror pods when the cluster was read, else a static pod manifest or
// systemd unit that was scanned), else kubeadm's defaults; a relation judged with flags says where they came from.
import { type CertEntry, type Inventory, type Location, showLocation } from '../inventory/inventory.ts';
import { safeSubject } from '../lint/types.ts';
import { parseHost } from '../trust/names.ts';
import { TrustIndex } from '../trust/pool.ts';
import type { SignatureCache } from '../trust/sigcache.ts';
import { verifyChain } from '../trust/verify.ts';
import type { Certificate } from '../x509/certificate.ts';
import { DerError } from '../x509/der.ts';
import type { ComponentFlags } from './components.ts';
import type { ScanRelation } from './scan.ts';

/** A predicted connection, and when it fails, the certificate at fault and where. */
export interface ControlPlaneRelation {
  relation: ScanRelation;
  failed?: { cert: Certificate; locations: string[]; why: string };
}

const PKI = '/etc/kubernetes/pki';
/** kubeadm's files (cmd/kubeadm/app/phases/controlplane/manifests.go, etcd/local.go, the kubelet config). */
const KUBEADM_APISERVER: Record<string, string> = {
  'etcd-cafile': `${PKI}/etcd/ca.crt`,
  'etcd-certfile': `${PKI}/apiserver-etcd-client.crt`,
  'etcd-servers': 'https://127.0.0.1:2379',
  'kubelet-client-certificate': `${PKI}/apiserver-kubelet-client.crt`,
  'client-ca-file': `${PKI}/ca.crt`,
  'tls-cert-file': `${PKI}/apiserver.crt`,
  'proxy-client-cert-file': `${PKI}/front-proxy-client.crt`,
  'requestheader-client-ca-file': `${PKI}/front-proxy-ca.crt`,
  'requestheader-allowed-names': 'front-proxy-client',
};
const KUBEADM_ETCD: Record<string, string> = { 'cert-file': `${PKI}/etcd/server.crt`, 'trusted-ca-file': `${PKI}/etcd/ca.crt` };
const KUBEADM_KUBELET_CLIENT_CA = `${PKI}/ca.crt`;
const KUBELET_SERVING = ['/var/lib/kubelet/pki/kubelet-server-current.pem', '/var/lib/kubelet/pki/kubelet.crt'];
/** What aggregated API servers trust for the front proxy (kube-apiserver publishes it). */
const EXTENSION_AUTH = 'kube-system/ConfigMap/extension-apiserver-authentication[requestheader-client-ca-file]';

const TIME_CODES = new Set(['EXPIRED', 'NOT_YET_VALID']);

interface Placed {
  e: CertEntry;
  l: Location;
}

export function controlPlaneRelations(
  inv: Inventory,
  components: readonly ComponentFlags[],
  now: Date,
  sigCache: SignatureCache,
): ControlPlaneRelation[] {
  // Certificates by node and path on the node (files only, not kubeconfig positions).
  const at = new Map<string, Placed[]>();
  const bySource = new Map<string, Placed[]>();
  const nodes = new Set<string>();
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      if (l.at?.startsWith('clusters[') || l.at?.startsWith('users[')) continue;
      if (l.node !== undefined && l.nodePath !== undefined) {
        nodes.add(l.node);
        const k = `${l.node}\u0000${l.nodePath}`;
        pushTo(at, k, { e, l });
      }
      if (l.source === EXTENSION_AUTH) pushTo(bySource, l.source, { e, l });
    }
  const componentOf = (node: string, component: ComponentFlags['component']): ComponentFlags | undefined =>
    components.find((c) => c.node === node && c.component === component);
  const flagsOf = (node: string, component: ComponentFlags['component']): Map<string, string> | undefined =>
    componentOf(node, component)?.flags;
  // Kubeconfig client certificates in the node trees (users[...].client-certificate-data), for --client-ca-file.
  const kubeconfigClients: Placed[] = [];
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      if (l.node !== undefined && l.nodePath !== undefined && /^users\[.*\]\.client-certificate-data/.test(l.at ?? ''))
        kubeconfigClients.push({ e, l });
    }
  kubeconfigClients.sort((a, b) => showLocation(a.l).localeCompare(showLocation(b.l)));
  const certsAt = (node: string, path: string | undefined): Placed[] => (path ? (at.get(`${node}\u0000${path}`) ?? []) : []);
  const cas = [...inv.certificates.values()].filter((e) => safe(() => e.cert.isCA, false)).map((e) => e.cert);
  const out: ControlPlaneRelation[] = [];

  const check = (
    consumer: string,
    server: string,
    anchors: Placed[],
    leaf: Placed,
    purpose: 'server' | 'client',
    host: string | undefined,
    what: string,
    /** The components whose flags named the files (their sources go into the why). */
    flagged: (ComponentFlags | undefined)[] = [],
  ): void => {
    let ok = false;
    let why = '';
    try {
      const r = verifyChain({
        leaf: leaf.e.cert,
        index: new TrustIndex(
          anchors.map((a) => a.e.cert),
          cas,
        ),
        at: now,
        purpose,
        ...(host !== undefined && { host }),
        sigCache,
      });
      const best = r.candidates[0];
      ok = r.trusted || (best?.complete === true && best.failures.every((f) => TIME_CODES.has(f.code)));
      if (!ok) why = `${r.code}: ${(best?.failures ?? []).map((f) => f.message).join('; ') || r.reasons.join('; ')}`;
    } catch (err) {
      if (!(err instanceof DerError)) throw err;
      why = `unreadable certificate: ${err.message}`;
    }
    const anchorNames = anchors.map((a) => safeSubject(a.e.cert)).join(', ');
    const sources = [...new Set(flagged.flatMap((f) => (f ? [f.source] : [])))];
    const from = sources.length ? ` (flags from ${sources.join(', ')})` : '';
    const relation: ScanRelation = {
      consumer,
      server,
      anchors: anchors.map((a) => a.e.sha256),
      basis: 'predicted',
      verdict: ok ? 'ok' : 'fails',
      why: ok
        ? `${anchorNames} verifies ${what} ${safeSubject(leaf.e.cert)}${host ? ` for ${host}` : ''}${from}`
        : `${anchorNames} does not verify ${what} ${safeSubject(leaf.e.cert)}${host ? ` for ${host}` : ''}: ${why}${from}`,
    };
    out.push({
      relation,
      ...(!ok && {
        failed: { cert: leaf.e.cert, locations: [showLocation(leaf.l), ...anchors.map((a) => showLocation(a.l))], why: relation.why },
      }),
    });
  };

  const where = (node: string, path: string): string => `${node}:${path}`;
  for (const cp of [...nodes].sort()) {
    const apiComponent = componentOf(cp, 'kube-apiserver');
    const api = apiComponent?.flags;
    // A control-plane node: the apiserver's flags were scanned, or kubeadm's apiserver certificate is there.
    if (!api && !certsAt(cp, `${PKI}/apiserver.crt`).length) continue;
    const flag = (name: string): string | undefined => api?.get(name) ?? (api ? undefined : KUBEADM_APISERVER[name]);

    // kube-apiserver → etcd (kubeadm's local etcd: the same node).
    const etcdComponent = componentOf(cp, 'etcd');
    const etcd = etcdComponent?.flags;
    const etcdFlag = (name: string): string | undefined => etcd?.get(name) ?? (etcd ? undefined : KUBEADM_ETCD[name]);
    const etcdUrl = (flag('etcd-servers') ?? '').split(',')[0] ?? '';
    let etcdHost: string | undefined;
    try {
      etcdHost = etcdUrl ? new URL(etcdUrl).hostname.replace(/^\[|\]$/g, '') : undefined;
    } catch {
      etcdHost = undefined;
    }
    const etcdServer = certsAt(cp, etcdFlag('cert-file'))[0];
    const etcdCaForApi = certsAt(cp, flag('etcd-cafile'));
    if (etcdServer && etcdCaForApi.length && hostOk(etcdHost))
      check(
        `kube-apiserver on ${cp} (--etcd-cafile ${flag('etcd-cafile')})`,
        `etcd on ${cp} (${etcdUrl}, ${where(cp, etcdFlag('cert-file') as string)})`,
        etcdCaForApi,
        etcdServer,
        'server',
        etcdHost,
        "etcd's serving certificate",
        [apiComponent, etcdComponent],
      );
    const etcdClient = certsAt(cp, flag('etcd-certfile'))[0];
    const etcdClientCa = certsAt(cp, etcdFlag('trusted-ca-file'));
    if (etcdClient && etcdClientCa.length)
      check(
        `etcd on ${cp} (--trusted-ca-file ${etcdFlag('trusted-ca-file')})`,
        `kube-apiserver on ${cp} as etcd client (${where(cp, flag('etcd-certfile') as string)})`,
        etcdClientCa,
        etcdClient,
        'client',
        undefined,
        "the apiserver's etcd client certificate",
        [apiComponent, etcdComponent],
      );

    // kube-apiserver → each kubelet: its client certificate against the kubelet's client CA; the kubelet's
    // serving certificate against --kubelet-certificate-authority, when the apiserver is given one.
    const kubeletClient = certsAt(cp, flag('kubelet-client-certificate'))[0];
    const kubeletCa = api?.get('kubelet-certificate-authority');
    for (const n of [...nodes].sort()) {
      const kubeletFlags = flagsOf(n, 'kubelet');
      const clientCaFile = kubeletFlags?.get('client-ca-file') ?? KUBEADM_KUBELET_CLIENT_CA;
      const clientCa = certsAt(n, clientCaFile);
      if (kubeletClient && clientCa.length)
        check(
          `kubelet on ${n} (clientCAFile ${clientCaFile})`,
          `kube-apiserver on ${cp} as kubelet client (${where(cp, flag('kubelet-client-certificate') as string)})`,
          clientCa,
          kubeletClient,
          'client',
          undefined,
          "the apiserver's kubelet client certificate",
          [apiComponent, componentOf(n, 'kubelet')],
        );
      const serving = KUBELET_SERVING.map((p) => certsAt(n, p)[0]).find((x) => x !== undefined);
      if (!serving) continue;
      const servingAt = where(n, serving.l.nodePath as string);
      if (kubeletCa === undefined) {
        out.push({
          relation: {
            consumer: `kube-apiserver on ${cp}`,
            server: `kubelet on ${n} (${servingAt})`,
            anchors: [],
            basis: 'predicted',
            verdict: 'unchecked',
            why: 'the API server does not verify kubelet serving certificates (no --kubelet-certificate-authority)',
          },
        });
        continue;
      }
      const anchors = certsAt(cp, kubeletCa);
      if (anchors.length && hostOk(n))
        check(
          `kube-apiserver on ${cp} (--kubelet-certificate-authority ${kubeletCa})`,
          `kubelet on ${n} (${servingAt})`,
          anchors,
          serving,
          'server',
          n,
          "the kubelet's serving certificate",
          [apiComponent],
        );
    }

    // The front proxy: the apiserver's proxy client certificate, checked by the apiserver itself
    // (--requestheader-client-ca-file, --requestheader-allowed-names) and by aggregated API servers.
    const proxy = certsAt(cp, flag('proxy-client-cert-file'))[0];
    const requestCa = certsAt(cp, flag('requestheader-client-ca-file'));
    if (proxy && requestCa.length) {
      check(
        `kube-apiserver on ${cp} (--requestheader-client-ca-file ${flag('requestheader-client-ca-file')})`,
        `front proxy client (${where(cp, flag('proxy-client-cert-file') as string)})`,
        requestCa,
        proxy,
        'client',
        undefined,
        'the front-proxy client certificate',
        [apiComponent],
      );
      const allowed = (flag('requestheader-allowed-names') ?? '').split(',').filter(Boolean);
      const cn = safe(() => proxy.e.cert.commonName, undefined);
      if (allowed.length && (cn === undefined || !allowed.includes(cn))) {
        const why = `the front-proxy client certificate's CN ${cn ?? '(none)'} is not in --requestheader-allowed-names (${allowed.join(', ')}): aggregated API servers reject the proxied requests`;
        out.push({
          relation: {
            consumer: `kube-apiserver on ${cp} (--requestheader-allowed-names)`,
            server: `front proxy client (${where(cp, flag('proxy-client-cert-file') as string)})`,
            anchors: requestCa.map((a) => a.e.sha256),
            basis: 'predicted',
            verdict: 'fails',
            why,
          },
          failed: { cert: proxy.e.cert, locations: [showLocation(proxy.l)], why },
        });
      }
    }
    const published = bySource.get(EXTENSION_AUTH) ?? [];
    if (proxy && published.length)
      check(
        `aggregated API servers (${EXTENSION_AUTH})`,
        `front proxy client (${where(cp, flag('proxy-client-cert-file') as string)})`,
        published,
        proxy,
        'client',
        undefined,
        'the front-proxy client certificate',
        [apiComponent],
      );

    // Kubeconfig users with a client certificate: the apiserver checks it against --client-ca-file.
    const clientCa = certsAt(cp, flag('client-ca-file'));
    if (clientCa.length)
      for (const k of kubeconfigClients)
        check(
          `kube-apiserver on ${cp} (--client-ca-file ${flag('client-ca-file')})`,
          `kubeconfig user ${where(k.l.node as string, k.l.nodePath as string)} (${k.l.at})`,
          clientCa,
          k,
          'client',
          undefined,
          "the kubeconfig's client certificate",
          [apiComponent],
        );
  }
  return out;
}

function hostOk(h: string | undefined): boolean {
  if (h === undefined) return true;
  try {
    parseHost(h);
    return true;
  } catch {
    return false;
  }
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) return fallback;
    throw e;
  }
}

/** Append to the list kept under `k` (a new list for a new key): linear, where a spread per insert is quadratic. */
function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
