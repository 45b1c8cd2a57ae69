// `npm run cluster:up`: a real control plane from Anchorage's PKI for a person to use; Ctrl-C stops it.
// LAYOUT=hard-way boots the hard-way layout instead of kubeadm's.
import { startCluster } from './harness.ts';

const t0 = Date.now();
const c = await startCluster({
  workers: Number(process.env.WORKERS ?? 2),
  layout: process.env.LAYOUT === 'hard-way' ? 'hard-way' : 'kubeadm',
});
process.stdout.write(
  [
    `Control plane up in ${((Date.now() - t0) / 1000).toFixed(1)}s (etcd, kube-apiserver, kube-controller-manager, kube-scheduler).`,
    `  API server:   ${c.apiUrl}`,
    `  kubeconfig:   export KUBECONFIG=${c.admin}`,
    `  kubectl:      ${c.bin}/kubectl get namespaces`,
    `  PKI:          ${c.pkiDir}  (try: npx anchorage pki check-expiration --dir ${c.pkiDir})`,
    `  logs:         ${c.dir}/logs`,
    'Ctrl-C stops it and removes the folder.',
    '',
  ].join('\n'),
);
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping...\n');
  await c.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
