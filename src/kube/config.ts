// Where the runtime's client comes from: a kubeconfig as kubectl reads it, else the in-cluster service account
// (src/kube/kubeconfig.ts; @kubernetes/client-node only for exec and auth-provider users).
import { type ClientOptions, KubeClient } from './client.ts';
import { LiteKubeConfig } from './kubeconfig.ts';

export function clientFrom(o: { kubeconfig?: string; context?: string } & ClientOptions): KubeClient {
  const kc =
    o.kubeconfig === undefined && !process.env.KUBECONFIG && process.env.KUBERNETES_SERVICE_HOST
      ? LiteKubeConfig.fromCluster()
      : LiteKubeConfig.load(o);
  return new KubeClient(kc, o);
}
