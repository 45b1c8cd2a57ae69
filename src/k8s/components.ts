// Which Kubernetes component reads a node file: what to restart after the file changes. Paths are the
// kubeadm layout (/etc/kubernetes, /var/lib/kubelet) and Kubernetes the Hard Way's (/var/lib/kubernetes, ...).

export type Component = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'etcd' | 'kubelet' | 'kube-proxy';

const K = '/etc/kubernetes';
const P = `${K}/pki`;

/** The components that load this file at start-up (and need a restart to pick up a new one). */
export function componentsReading(path: string): Component[] {
  // kubeadm layout
  if (path === `${K}/admin.conf` || path === `${K}/super-admin.conf`) return []; // clients (kubectl), read on every use
  if (path === `${K}/controller-manager.conf`) return ['kube-controller-manager'];
  if (path === `${K}/scheduler.conf`) return ['kube-scheduler'];
  if (path === `${K}/kubelet.conf` || path.startsWith('/var/lib/kubelet/')) return ['kubelet'];
  if (path === `${K}/encryption-config.yaml`) return ['kube-apiserver'];
  if (path === `${P}/etcd/healthcheck-client.crt` || path === `${P}/etcd/healthcheck-client.key`) return []; // read by probes
  if (path.startsWith(`${P}/etcd/`)) return path.startsWith(`${P}/etcd/ca.`) ? ['etcd', 'kube-apiserver'] : ['etcd'];
  if (path === `${P}/ca.crt`) return ['kube-apiserver', 'kube-controller-manager', 'kubelet'];
  if (path === `${P}/ca.key`) return ['kube-controller-manager']; // the CSR signer
  if (path === `${P}/sa.key`) return ['kube-controller-manager', 'kube-apiserver'];
  if (path === `${P}/sa.pub`) return ['kube-apiserver'];
  if (path.startsWith(`${P}/front-proxy-ca.`)) return ['kube-apiserver', 'kube-controller-manager'];
  if (path.startsWith(`${P}/`)) return ['kube-apiserver'];
  // the hard way
  const HW = '/var/lib/kubernetes';
  if (path === `${HW}/kube-controller-manager.kubeconfig`) return ['kube-controller-manager'];
  if (path === `${HW}/kube-scheduler.kubeconfig`) return ['kube-scheduler'];
  if (path === `${HW}/admin.kubeconfig`) return [];
  if (path === `${HW}/ca.key` || path.startsWith(`${HW}/service-accounts.`)) return ['kube-apiserver', 'kube-controller-manager'];
  if (path === `${HW}/ca.crt`) return ['kube-apiserver', 'kube-controller-manager', 'etcd'];
  if (path.startsWith(`${HW}/kube-api-server.`)) return ['kube-apiserver', 'etcd'];
  if (path.startsWith(`${HW}/`)) return ['kube-apiserver'];
  if (path.startsWith('/var/lib/kube-proxy/')) return ['kube-proxy'];
  return [];
}

const ALL: readonly Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'];

/** Per component, the nodes where it must restart, for files changed on nodes. */
export function restartsFor(
  changed: readonly { node: string; paths: readonly string[] }[],
  /** The components each node runs (a worker runs no apiserver); default: all. */
  runs: (node: string) => readonly Component[] = () => ALL,
): { component: Component; nodes: string[] }[] {
  const by = new Map<Component, Set<string>>();
  for (const n of changed)
    for (const p of n.paths)
      for (const c of componentsReading(p).filter((x) => runs(n.node).includes(x))) {
        const s = by.get(c) ?? new Set<string>();
        s.add(n.node);
        by.set(c, s);
      }
  const order: Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'];
  return order.filter((c) => by.has(c)).map((c) => ({ component: c, nodes: [...(by.get(c) as Set<string>)].sort() }));
}
