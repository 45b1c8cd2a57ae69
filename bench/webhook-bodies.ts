// The bench's AdmissionReview bodies without a control plane: the bench's pod (a Deployment-style pod with two
// containers and an init container) written out as the API server defaults it, wrapped as the API server wraps
// it for a mutating webhook; 64 bodies that differ in request.uid. `withDryRun` bodies (bench/webhook.bench.ts)
// come from the real API server instead.

const container = (name: string, image: string, extra: Record<string, unknown> = {}) => ({
  name,
  image,
  ...extra,
  resources: {},
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  imagePullPolicy: 'IfNotPresent',
  volumeMounts: [{ name: 'kube-api-access-bench', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
});

/** The bench's pod, defaulted as the API server does, with these annotations. */
export const benchPod = (annotations: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    generateName: 'web-7d4b9c8f5-',
    namespace: 'bench',
    labels: { app: 'web', 'pod-template-hash': '7d4b9c8f5' },
    ...(Object.keys(annotations).length ? { annotations } : {}),
  },
  spec: {
    volumes: [
      {
        name: 'kube-api-access-bench',
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
          defaultMode: 420,
        },
      },
    ],
    initContainers: [container('migrate', 'registry.invalid/migrate:1')],
    containers: [
      container('web', 'registry.invalid/web:1.2.3', {
        ports: [{ containerPort: 8080, protocol: 'TCP' }],
        env: [{ name: 'MODE', value: 'prod' }],
      }),
      container('proxy', 'registry.invalid/proxy:2', { args: ['--port=9090'] }),
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: 'default',
    serviceAccount: 'default',
    securityContext: {},
    schedulerName: 'default-scheduler',
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    priority: 0,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
  },
  status: {},
});

/** 64 AdmissionReviews of `object`, as the API server sends them (they differ in request.uid). */
export const reviewBodies = (object: unknown): string[] =>
  Array.from({ length: 64 }, (_, i) =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        requestKind: { group: '', version: 'v1', kind: 'Pod' },
        requestResource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'bench',
        operation: 'CREATE',
        userInfo: {
          username: 'system:serviceaccount:kube-system:replicaset-controller',
          groups: ['system:serviceaccounts', 'system:authenticated'],
        },
        object,
        oldObject: null,
        dryRun: false,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    }),
  );
