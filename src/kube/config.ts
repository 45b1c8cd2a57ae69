// Where the runtime's client comes from: a kubeconfig as kubectl reads it, else the in-cluster service account.
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../k8s/client.ts';
import { type ClientOptions, KubeClient } from './client.ts';

export function clientFrom(o: { kubeconfig?: string; context?: string } & ClientOptions): KubeClient {
  let kc: KubeConfig;
  if (o.kubeconfig === undefined && !process.env.KUBECONFIG && process.env.KUBERNETES_SERVICE_HOST) {
    kc = new KubeConfig();
    kc.loadFromCluster();
  } else kc = loadKubeConfig(o);
  return new KubeClient(kc, o);
}
