// The admission webhook (`anchorage webhook`, run out of cluster as a user would) against a real control plane:
// the real kube-apiserver calls it over TLS (registered from deploy/webhook/ with a loopback url, caBundle kept by
// the webhook), pods created directly and through a Deployment (kube-controller-manager's ReplicaSet controller)
// come back mutated, nothing the pod had is replaced, opt-outs hold, the config file reloads; per-pod identities
// checked with openssl and the trust engine, renewed and garbage-collected with their pod; the serving CA rotated
// under load; a PodCertificateRequest created as a kubelet signed; the webhook killed: pods still created, and
// reported as missed once it is back; bad input answered, never a crash.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { verifyChain } from '../src/trust/verify.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { scanPem } from '../src/x509/pem.ts';
import { type Cluster, Fatal, freePort, startCluster, tlsGet, waitFor } from './cluster/harness.ts';
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';
import { openssl, opensslCa } from './support/openssl.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const TRUST = '/etc/anchorage/trust';
const FILE = `${TRUST}/ca-certificates.crt`;

let cluster: Cluster;
let dir: string;
let port = 0;
let healthPort = 0;
let proc: ChildProcess | undefined;
let logFile = '';
let configFile = '';

interface Env {
  name: string;
  value?: string;
}
interface Container {
  name: string;
  env?: Env[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Pod {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes?: { name: string; projected?: unknown; secret?: { secretName: string } }[];
  };
}

const kubectl = (args: string[], input?: string, kubeconfig?: string) => cluster.kubectl(args, kubeconfig, input);
const apply = (yaml: string, kubeconfig?: string): void => cluster.apply(yaml, kubeconfig);
const getJson = <T = Record<string, unknown>>(...args: string[]): T | undefined => cluster.getJson<T>(...args);
const pod = (ns: string, name: string): Pod => getJson<Pod>('pod', '-n', ns, name) as Pod;
const envOf = (c: Container): Record<string, string | undefined> => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
const mountsOf = (c: Container): string[] => (c.volumeMounts ?? []).map((m) => `${m.name}:${m.mountPath}`);
function podYaml(
  ns: string,
  name: string,
  o: { annotations?: Record<string, string>; labels?: Record<string, string>; sa?: string; extra?: string } = {},
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations: o.annotations ?? {}, labels: o.labels ?? {} },
    spec: {
      ...(o.sa ? { serviceAccountName: o.sa } : {}),
      automountServiceAccountToken: false,
      containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
    },
  });
}
function createPod(yaml: string): void {
  const r = kubectl(['create', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`kubectl create: ${r.stderr}`);
}

function writeConfig(extra: Record<string, unknown> = {}): void {
  const c = {
    trust: {
      bundles: {
        default: { configMap: { name: 'anchorage-trust', key: 'ca.crt', jksKey: 'truststore.jks' } },
        other: { configMap: { name: 'other-trust', key: 'bundle.pem' } },
        ...((extra.bundles as object) ?? {}),
      },
      excludeNamespaces: ['skipped'],
    },
    identity: {
      trustDomain: 'example.org',
      clusterDomain: 'cluster.local',
      lifetimeSeconds: 60,
      issuer: (extra.issuer as object) ?? { secret: { namespace: 'anchorage', name: 'identity-ca' } },
    },
  };
  writeFileSync(configFile, stringify(c));
}

async function spawnReplica(o: { port: number; healthPort: number; log: string; identity: string }): Promise<ChildProcess> {
  const fd = openSync(o.log, 'a');
  const p = spawn(
    NODE,
    [
      join(ROOT, 'src', 'cli', 'main.ts'),
      'webhook',
      '--kubeconfig',
      cluster.admin,
      '--namespace',
      'anchorage',
      '--config',
      configFile,
      '--host',
      '127.0.0.1',
      '--port',
      String(o.port),
      '--serving-name',
      '127.0.0.1',
      '--health-host',
      '127.0.0.1',
      '--health-port',
      String(o.healthPort),
      '--identity',
      o.identity,
      '--resync',
      '1',
      '--ca-lifetime',
      '150s',
      '--leaf-lifetime',
      '120s',
      '--lease-duration',
      '4',
      '--renew-deadline',
      '3',
      '--retry-period',
      '0.5',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  await waitFor(
    'webhook ready',
    async () => {
      if (p.exitCode !== null) throw new Fatal(`webhook exited:\n${readFileSync(o.log, 'utf8').slice(-3000)}`);
      return (await fetch(`http://127.0.0.1:${o.healthPort}/readyz`)).status === 200;
    },
    120_000,
  );
  return p;
}
let starts = 0;
async function startWebhook(): Promise<void> {
  proc = await spawnReplica({ port, healthPort, log: logFile, identity: `r1-${starts++}` });
}
async function stopWebhook(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const p = proc;
  if (!p || p.exitCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await done;
}
const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
const caBundle = (): string =>
  Buffer.from(
    getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>('mutatingwebhookconfiguration', 'anchorage-webhook')?.webhooks[0]
      ?.clientConfig.caBundle ?? '',
    'base64',
  ).toString();
const servingCa = (): string =>
  Buffer.from(
    getJson<{ data: Record<string, string> }>('secret', '-n', 'anchorage', 'anchorage-webhook-ca')?.data['tls.crt'] ?? '',
    'base64',
  ).toString();
/** Has the real API server called the webhook successfully since `before` (a pod created now comes back mutated)? */
async function mutatedProbe(ns: string, name: string): Promise<boolean> {
  createPod(podYaml(ns, name));
  return pod(ns, name).metadata.annotations?.['trust.anchorage.dev/injected'] === 'default';
}
const sa = (ns: string, name: string): void => {
  if (kubectl(['get', 'sa', '-n', ns, name]).code !== 0) expect(kubectl(['create', 'sa', '-n', ns, name]).code).toBe(0);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webhook-'));
  logFile = join(dir, 'webhook.log');
  configFile = join(dir, 'config.yaml');
  [port, healthPort] = await Promise.all([freePort(), freePort()]);
  cluster = await startCluster({
    apiserverArgs: [
      '--feature-gates=PodCertificateRequest=true,ClusterTrustBundle=true,ClusterTrustBundleProjection=true',
      '--runtime-config=certificates.k8s.io/v1beta1=true',
    ],
  });
  // The identity CA, made by openssl, held in a kubernetes.io/tls Secret.
  opensslCa(dir, 'identity-ca', '/CN=Identity CA', 30);
  opensslCa(dir, 'bundle-ca', '/CN=Bundle CA', 30);
  apply(`apiVersion: v1
kind: Namespace
metadata: {name: anchorage}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {identity.anchorage.dev/enabled: "true"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: quiet, labels: {trust.anchorage.dev/inject: disabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: skipped}
`);
  expect(
    kubectl([
      'create',
      'secret',
      'tls',
      'identity-ca',
      '-n',
      'anchorage',
      `--cert=${join(dir, 'identity-ca.crt')}`,
      `--key=${join(dir, 'identity-ca.key')}`,
    ]).code,
  ).toBe(0);
  for (const ns of ['team-a', 'team-b', 'quiet', 'skipped', 'kube-system'])
    await waitFor(`${ns}/default SA`, () => kubectl(['get', 'sa', '-n', ns, 'default']).code === 0, 60_000);
  const reg = parseYaml(readFileSync(join(ROOT, 'deploy', 'webhook', 'mutatingwebhookconfiguration.yaml'), 'utf8')) as {
    webhooks: { clientConfig: Record<string, unknown>; namespaceSelector: { matchExpressions: { values: string[] }[] } }[];
  };
  // Out of cluster: the API server reaches the webhook on loopback by url instead of the Service.
  for (const w of reg.webhooks) {
    w.clientConfig = { url: `https://127.0.0.1:${port}/mutate` };
    w.namespaceSelector.matchExpressions[0]?.values.push('skipped');
  }
  apply(stringify(reg));
  writeConfig();
  await startWebhook();
}, K8S_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await stopWebhook();
  await cluster?.stop();
  if (dir && !process.env.ANCHORAGE_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('anchorage webhook against the real API server', () => {
  it('fills the caBundle, and the API server calls it over TLS', async () => {
    await waitFor('caBundle set', () => caBundle().includes('BEGIN CERTIFICATE'), 60_000);
    // The bundle holds exactly the serving CA in the Secret, and the webhook's serving chain verifies against it (openssl).
    writeFileSync(join(dir, 'bundle.pem'), caBundle());
    const served = execFileSync(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-showcerts',
        '-verify_return_error',
        '-CAfile',
        join(dir, 'bundle.pem'),
        '-verify_ip',
        '127.0.0.1',
      ],
      {
        input: '',
        timeout: 20_000,
      },
    ).toString();
    expect(served).toMatch(/Verify return code: 0 \(ok\)/);
    let i = 0;
    await waitFor('a pod comes back mutated', () => mutatedProbe('team-a', `probe-${i++}`), 60_000, 500);
  }, 120_000);

  it('mutates a pod created directly: every container, init containers too; what it had stays', () => {
    createPod(
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'direct', namespace: 'team-a' },
        spec: {
          automountServiceAccountToken: false,
          initContainers: [{ name: 'init', image: 'registry.invalid/init:1' }],
          containers: [
            {
              name: 'app',
              image: 'registry.invalid/app:1',
              env: [
                { name: 'SSL_CERT_FILE', value: '/custom/ca.pem' },
                { name: 'JAVA_TOOL_OPTIONS', value: '-Xmx64m' },
                { name: 'REQUESTS_CA_BUNDLE', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
            { name: 'side', image: 'registry.invalid/side:1', volumeMounts: [{ name: 'data', mountPath: TRUST }] },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      }),
    );
    const p = pod('team-a', 'direct');
    const [app, side] = p.spec.containers as [Container, Container];
    const init = p.spec.initContainers?.[0] as Container;
    expect(envOf(app)).toEqual({
      SSL_CERT_FILE: '/custom/ca.pem',
      JAVA_TOOL_OPTIONS: '-Xmx64m',
      REQUESTS_CA_BUNDLE: undefined,
      SSL_CERT_DIR: TRUST,
      NODE_EXTRA_CA_CERTS: FILE,
      CURL_CA_BUNDLE: FILE,
      GIT_SSL_CAINFO: FILE,
    });
    expect(app.env?.find((e) => e.name === 'REQUESTS_CA_BUNDLE')).toMatchObject({
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    expect(mountsOf(app)).toEqual(['data:/data', `anchorage-trust:${TRUST}`]);
    // side already mounts something at the trust path: left alone, but it gets the variables.
    expect(mountsOf(side)).toEqual([`data:${TRUST}`]);
    expect(envOf(side).SSL_CERT_FILE).toBe(FILE);
    expect(envOf(init)).toMatchObject({ SSL_CERT_FILE: FILE, NODE_EXTRA_CA_CERTS: FILE });
    expect(envOf(init).JAVA_TOOL_OPTIONS).toBe(
      `-Djavax.net.ssl.trustStore=${TRUST}/truststore.jks -Djavax.net.ssl.trustStoreType=JKS -Djavax.net.ssl.trustStorePassword=changeit`,
    );
    expect(mountsOf(init)).toEqual([`anchorage-trust:${TRUST}`]);
    expect(p.spec.volumes?.find((v) => v.name === 'anchorage-trust')?.projected).toMatchObject({
      sources: [
        { configMap: { name: 'anchorage-trust', items: [{ key: 'ca.crt', path: 'ca-certificates.crt' }] } },
        { configMap: { name: 'anchorage-trust', optional: true, items: [{ key: 'truststore.jks', path: 'truststore.jks' }] } },
      ],
    });
    expect(p.spec.volumes?.find((v) => v.name === 'data')).toBeDefined();
    expect(p.metadata.annotations?.['trust.anchorage.dev/injected']).toBe('default');
  });

  it('mutates the pods of a Deployment (created by the controller-manager)', async () => {
    apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: web, image: registry.invalid/web:1}]
`);
    let pods: Pod[] = [];
    await waitFor(
      'two pods of the Deployment',
      () => {
        pods = getJson<{ items: Pod[] }>('pods', '-n', 'team-a', '-l', 'app=web')?.items ?? [];
        return pods.length === 2;
      },
      90_000,
    );
    for (const p of pods) {
      expect(envOf(p.spec.containers[0] as Container)).toMatchObject({ SSL_CERT_FILE: FILE, GIT_SSL_CAINFO: FILE });
      expect(mountsOf(p.spec.containers[0] as Container)).toEqual([`anchorage-trust:${TRUST}`]);
    }
  }, 120_000);

  it('honours opt-outs: pod annotation, namespace label, excluded namespaces; container and bundle choice', () => {
    createPod(podYaml('team-a', 'optout', { annotations: { 'trust.anchorage.dev/inject': 'disabled' } }));
    createPod(podYaml('quiet', 'quiet'));
    createPod(podYaml('quiet', 'optin', { annotations: { 'trust.anchorage.dev/inject': 'enabled' } }));
    createPod(podYaml('skipped', 'skipped'));
    createPod(podYaml('kube-system', 'system'));
    for (const [ns, n] of [
      ['team-a', 'optout'],
      ['quiet', 'quiet'],
      ['skipped', 'skipped'],
      ['kube-system', 'system'],
    ] as const) {
      const p = pod(ns, n);
      expect(p.spec.containers[0]?.env, `${ns}/${n}`).toBeUndefined();
      expect(p.spec.volumes?.some((v) => v.name === 'anchorage-trust') ?? false, `${ns}/${n}`).toBe(false);
    }
    // A pod annotation wins over its namespace's label.
    expect(envOf(pod('quiet', 'optin').spec.containers[0] as Container).SSL_CERT_FILE).toBe(FILE);
    // Only the containers named; another bundle.
    createPod(
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'picky',
          namespace: 'team-a',
          annotations: { 'trust.anchorage.dev/containers': 'b', 'trust.anchorage.dev/bundle': 'other' },
        },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            { name: 'a', image: 'registry.invalid/a:1' },
            { name: 'b', image: 'registry.invalid/b:1' },
          ],
        },
      }),
    );
    const p = pod('team-a', 'picky');
    expect(p.spec.containers[0]?.env).toBeUndefined();
    expect(envOf(p.spec.containers[1] as Container).SSL_CERT_FILE).toBe(FILE);
    // No JKS in that bundle: JAVA_TOOL_OPTIONS is not set.
    expect(envOf(p.spec.containers[1] as Container).JAVA_TOOL_OPTIONS).toBeUndefined();
    expect(JSON.stringify(p.spec.volumes)).toContain('"name":"other-trust"');
  });

  it('reloads its configuration file when it changes', async () => {
    writeConfig({ bundles: { ctb: { clusterTrustBundle: { signerName: 'example.com/corp' } } } });
    let i = 0;
    await waitFor(
      'the new bundle in use',
      () => {
        const n = `reload-${i++}`;
        createPod(podYaml('team-a', n, { annotations: { 'trust.anchorage.dev/bundle': 'ctb' } }));
        return pod('team-a', n).metadata.annotations?.['trust.anchorage.dev/injected'] === 'ctb';
      },
      30_000,
      500,
    );
    const p = pod('team-a', `reload-${i - 1}`);
    expect(p.spec.volumes?.find((v) => v.name === 'anchorage-trust')?.projected).toMatchObject({
      sources: [{ clusterTrustBundle: { signerName: 'example.com/corp', labelSelector: {}, path: 'ca-certificates.crt' } }],
    });
    expect(readFileSync(logFile, 'utf8')).toMatch(/configuration reloaded/);
  }, 60_000);
});

describe('per-pod identity', () => {
  let secretName = '';
  let uid = '';
  const secretPem = (name: string, key: string): string =>
    Buffer.from(getJson<{ data: Record<string, string> }>('secret', '-n', 'team-b', name)?.data[key] ?? '', 'base64').toString();

  it('issues key + certificate + bundle in a Secret owned by the pod: names, SPIFFE URI, EKU, chain (openssl, trust engine)', async () => {
    sa('team-b', 'api');
    apply(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: team-b}
spec: {selector: {app: web}, ports: [{port: 443}]}
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: team-b}
spec: {selector: {app: other}, ports: [{port: 443}]}
`);
    createPod(podYaml('team-b', 'web-1', { labels: { app: 'web' }, sa: 'api' }));
    const p = pod('team-b', 'web-1');
    uid = p.metadata.uid;
    secretName = p.metadata.annotations?.['identity.anchorage.dev/secret'] ?? '';
    expect(secretName).toMatch(/^web-1-identity-[0-9a-f]{12}$/);
    expect(p.spec.volumes?.find((v) => v.name === 'anchorage-identity')?.secret?.secretName).toBe(secretName);
    expect(mountsOf(p.spec.containers[0] as Container)).toContain('anchorage-identity:/var/run/anchorage/identity');
    await waitFor('the identity Secret', () => secretPem(secretName, 'tls.crt').includes('BEGIN'), 60_000);
    const s = getJson<{ type: string; metadata: { ownerReferences: { kind: string; name: string; uid: string }[] } }>(
      'secret',
      '-n',
      'team-b',
      secretName,
    );
    expect(s?.type).toBe('kubernetes.io/tls');
    expect(s?.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Pod', name: 'web-1', uid })]);
    writeFileSync(join(dir, 'id.crt'), secretPem(secretName, 'tls.crt'));
    writeFileSync(join(dir, 'id.key'), secretPem(secretName, 'tls.key'));
    writeFileSync(join(dir, 'id-ca.crt'), secretPem(secretName, 'ca.crt'));
    expect(openssl(dir, 'verify', '-CAfile', 'identity-ca.crt', '-purpose', 'sslserver', 'id.crt').trim()).toBe('id.crt: OK');
    expect(openssl(dir, 'verify', '-CAfile', 'id-ca.crt', '-purpose', 'sslclient', 'id.crt').trim()).toBe('id.crt: OK');
    const text = openssl(dir, 'x509', '-in', 'id.crt', '-noout', '-subject', '-ext', 'subjectAltName,extendedKeyUsage');
    expect(text).toMatch(/subject=CN\s?=\s?web-1/);
    const sans = (/Subject Alternative Name:\s*\n\s*(.+)/.exec(text)?.[1] ?? '').split(', ').sort();
    expect(sans).toEqual(
      [
        'DNS:web',
        'DNS:web.team-b',
        'DNS:web.team-b.svc',
        'DNS:web.team-b.svc.cluster.local',
        'URI:spiffe://example.org/ns/team-b/sa/api',
      ].sort(),
    );
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    // The key is the certificate's.
    expect(openssl(dir, 'pkey', '-in', 'id.key', '-pubout')).toBe(openssl(dir, 'x509', '-in', 'id.crt', '-noout', '-pubkey'));
    // The trust engine: a server for web.team-b.svc and a client, chained to the identity CA.
    const anchor = new Certificate(scanPem(readFileSync(join(dir, 'identity-ca.crt'), 'utf8'))[0]?.der as Uint8Array);
    const leaf = new Certificate(scanPem(readFileSync(join(dir, 'id.crt'), 'utf8'))[0]?.der as Uint8Array);
    expect(verifyChain({ leaf, anchors: [anchor], purpose: 'server', host: 'web.team-b.svc' }).trusted).toBe(true);
    expect(verifyChain({ leaf, anchors: [anchor], purpose: 'client' }).trusted).toBe(true);
    expect(verifyChain({ leaf, anchors: [anchor], purpose: 'server', host: 'other.team-b.svc' }).trusted).toBe(false);
  }, 120_000);

  it('a pod that does not ask gets none; a pod selected by no Service gets only its SPIFFE URI', async () => {
    createPod(podYaml('team-a', 'plain'));
    expect(pod('team-a', 'plain').metadata.annotations?.['identity.anchorage.dev/secret']).toBeUndefined();
    createPod(podYaml('team-a', 'lonely', { annotations: { 'identity.anchorage.dev/enabled': 'true' } }));
    const name = pod('team-a', 'lonely').metadata.annotations?.['identity.anchorage.dev/secret'] ?? '';
    expect(name).not.toBe('');
    await waitFor('lonely identity', () => kubectl(['get', 'secret', '-n', 'team-a', name]).code === 0, 60_000);
    writeFileSync(
      join(dir, 'lonely.crt'),
      Buffer.from(getJson<{ data: Record<string, string> }>('secret', '-n', 'team-a', name)?.data['tls.crt'] ?? '', 'base64'),
    );
    expect(openssl(dir, 'x509', '-in', 'lonely.crt', '-noout', '-ext', 'subjectAltName')).toMatch(
      /URI:spiffe:\/\/example\.org\/ns\/team-a\/sa\/default\s*$/,
    );
  }, 90_000);

  it('follows the Services: a new Service selecting the pod adds its names', async () => {
    apply(`apiVersion: v1
kind: Service
metadata: {name: api, namespace: team-b}
spec: {selector: {app: web}, ports: [{port: 80}]}
`);
    await waitFor(
      'api names added',
      () => {
        writeFileSync(join(dir, 'id2.crt'), secretPem(secretName, 'tls.crt'));
        return openssl(dir, 'x509', '-in', 'id2.crt', '-noout', '-ext', 'subjectAltName').includes('DNS:api.team-b.svc.cluster.local');
      },
      60_000,
    );
  }, 90_000);

  it('renews before 2/3 of the lifetime, and removes the Secret with the pod', async () => {
    // The configured lifetime is 60 s: renewal is due ~40 s after issuance.
    const serial = (): string => {
      writeFileSync(join(dir, 'id3.crt'), secretPem(secretName, 'tls.crt'));
      return openssl(dir, 'x509', '-in', 'id3.crt', '-noout', '-serial', '-enddate');
    };
    const first = serial();
    await waitFor('renewed', () => serial() !== first, 90_000, 1000);
    const end = new Date(/notAfter=(.+)/.exec(serial())?.[1] ?? '').getTime();
    expect(end).toBeGreaterThan(Date.now() + 20_000);
    expect(kubectl(['delete', 'pod', '-n', 'team-b', 'web-1', '--wait=false']).code).toBe(0);
    await waitFor('identity Secret garbage-collected', () => kubectl(['get', 'secret', '-n', 'team-b', secretName]).code !== 0, 90_000);
  }, 200_000);

  it('signs a PodCertificateRequest created the way a kubelet creates it', async () => {
    expect(kubectl(['api-resources', '--api-group=certificates.k8s.io']).stdout).toMatch(/podcertificaterequests/);
    const kubelet = join(cluster.pkiDir, 'nodes', 'worker-1', 'etc', 'kubernetes', 'kubelet.conf');
    // The node registers itself with its own credentials.
    const node = kubectl(['create', '-f', '-'], 'apiVersion: v1\nkind: Node\nmetadata: {name: worker-1}\n', kubelet);
    expect(node.code, node.stderr).toBe(0);
    apply(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: team-b}
spec: {selector: {app: web}, ports: [{port: 443}]}
`);
    const nodeUid = getJson<{ metadata: { uid: string } }>('node', 'worker-1')?.metadata.uid ?? '';
    sa('team-b', 'api');
    createPod(
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'bound', namespace: 'team-b', labels: { app: 'web' } },
        spec: {
          nodeName: 'worker-1',
          serviceAccountName: 'api',
          automountServiceAccountToken: false,
          containers: [{ name: 'c', image: 'registry.invalid/c:1' }],
        },
      }),
    );
    const p = pod('team-b', 'bound');
    const saUid = getJson<{ metadata: { uid: string } }>('sa', '-n', 'team-b', 'api')?.metadata.uid ?? '';
    // The kubelet's key and its stub CSR (empty subject), made by openssl.
    openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'pcr.key');
    openssl(dir, 'req', '-new', '-key', 'pcr.key', '-subj', '/', '-outform', 'DER', '-out', 'pcr.csr');
    const r = kubectl(
      ['create', '-f', '-'],
      stringify({
        apiVersion: 'certificates.k8s.io/v1beta1',
        kind: 'PodCertificateRequest',
        metadata: { name: 'bound-1', namespace: 'team-b' },
        spec: {
          signerName: 'anchorage.dev/identity',
          podName: 'bound',
          podUID: p.metadata.uid,
          serviceAccountName: 'api',
          serviceAccountUID: saUid,
          nodeName: 'worker-1',
          nodeUID: nodeUid,
          maxExpirationSeconds: 3600,
          stubPKCS10Request: readFileSync(join(dir, 'pcr.csr')).toString('base64'),
        },
      }),
      kubelet,
    );
    expect(r.code, r.stderr).toBe(0);
    let status: { certificateChain?: string; notAfter?: string; beginRefreshAt?: string; conditions?: { type: string }[] } = {};
    await waitFor(
      'the request signed',
      () => {
        status = getJson<{ status?: typeof status }>('podcertificaterequest', '-n', 'team-b', 'bound-1')?.status ?? {};
        if (!status.certificateChain && /PodCertificateRequest (denied|failed|not signed)/.test(readFileSync(logFile, 'utf8')))
          throw new Fatal(
            readFileSync(logFile, 'utf8')
              .split('\n')
              .filter((l) => l.includes('PodCertificate'))
              .join('\n'),
          );
        return !!status.certificateChain;
      },
      60_000,
    );
    expect(status.conditions?.map((c) => c.type)).toEqual(['Issued']);
    writeFileSync(join(dir, 'pcr.crt'), status.certificateChain ?? '');
    expect(openssl(dir, 'verify', '-CAfile', 'identity-ca.crt', 'pcr.crt').trim()).toBe('pcr.crt: OK');
    expect(openssl(dir, 'pkey', '-in', 'pcr.key', '-pubout')).toBe(openssl(dir, 'x509', '-in', 'pcr.crt', '-noout', '-pubkey'));
    const text = openssl(dir, 'x509', '-in', 'pcr.crt', '-noout', '-subject', '-ext', 'subjectAltName', '-enddate');
    expect(text).toMatch(/URI:spiffe:\/\/example\.org\/ns\/team-b\/sa\/api/);
    expect(text).toMatch(/DNS:web\.team-b\.svc/);
    expect(new Date(/notAfter=(.+)/.exec(text)?.[1] ?? '').toISOString().replace(/\.\d{3}Z$/, 'Z')).toBe(status.notAfter);
  }, 120_000);
});

describe('identity through the Kubernetes CSR API', () => {
  it('creates a CSR with its signer name, approves it, waits for the certificate (signed here by openssl as the signer)', async () => {
    const reloads = () => (readFileSync(logFile, 'utf8').match(/configuration reloaded/g) ?? []).length;
    const before = reloads();
    writeConfig({ issuer: { csr: { signerName: 'example.com/pods', timeoutSeconds: 30 } } });
    await waitFor('config reloaded', () => reloads() > before, 30_000);
    createPod(podYaml('team-a', 'via-csr', { annotations: { 'identity.anchorage.dev/enabled': 'true' } }));
    const name = pod('team-a', 'via-csr').metadata.annotations?.['identity.anchorage.dev/secret'] ?? '';
    expect(name).not.toBe('');
    let signed = 0;
    await waitFor(
      'the identity via the CSR API',
      () => {
        // The external signer: every approved, unsigned CSR for example.com/pods, signed by openssl.
        const list = getJson<{
          items: {
            metadata: { name: string };
            spec: { signerName: string; request: string; usages: string[] };
            status?: { certificate?: string; conditions?: { type: string }[] };
          }[];
        }>('csr');
        for (const c of list?.items ?? []) {
          if (
            c.spec.signerName !== 'example.com/pods' ||
            c.status?.certificate ||
            !c.status?.conditions?.some((x) => x.type === 'Approved')
          )
            continue;
          expect(c.spec.usages.sort()).toEqual(['client auth', 'digital signature', 'server auth']);
          writeFileSync(join(dir, 'ext.csr'), Buffer.from(c.spec.request, 'base64'));
          openssl(
            dir,
            'x509',
            '-req',
            '-in',
            'ext.csr',
            '-CA',
            'identity-ca.crt',
            '-CAkey',
            'identity-ca.key',
            '-days',
            '1',
            '-copy_extensions',
            'copy',
            '-out',
            'ext.crt',
          );
          const body = { ...c, status: { ...c.status, certificate: readFileSync(join(dir, 'ext.crt')).toString('base64') } };
          writeFileSync(join(dir, 'ext.json'), JSON.stringify(body));
          const r = kubectl([
            'replace',
            '--raw',
            `/apis/certificates.k8s.io/v1/certificatesigningrequests/${c.metadata.name}/status`,
            '-f',
            join(dir, 'ext.json'),
          ]);
          if (r.code === 0) signed++;
        }
        return kubectl(['get', 'secret', '-n', 'team-a', name]).code === 0;
      },
      90_000,
      500,
    );
    expect(signed).toBeGreaterThan(0);
    const data = getJson<{ data: Record<string, string> }>('secret', '-n', 'team-a', name)?.data ?? {};
    writeFileSync(join(dir, 'via.crt'), Buffer.from(data['tls.crt'] ?? '', 'base64'));
    writeFileSync(join(dir, 'via.key'), Buffer.from(data['tls.key'] ?? '', 'base64'));
    expect(openssl(dir, 'verify', '-CAfile', 'identity-ca.crt', 'via.crt').trim()).toBe('via.crt: OK');
    expect(openssl(dir, 'pkey', '-in', 'via.key', '-pubout')).toBe(openssl(dir, 'x509', '-in', 'via.crt', '-noout', '-pubkey'));
    expect(openssl(dir, 'x509', '-in', 'via.crt', '-noout', '-subject', '-ext', 'subjectAltName')).toMatch(
      /CN\s?=\s?via-csr[\s\S]*URI:spiffe:\/\/example\.org\/ns\/team-a\/sa\/default/,
    );
    // The webhook deletes its CSRs once it has the certificate.
    await waitFor('CSRs cleaned up', () => !kubectl(['get', 'csr', '-o', 'name']).stdout.includes('anchorage-identity-via-csr'), 30_000);
    writeConfig();
  }, 150_000);
});

describe('serving certificate rotation, kill, bad input', () => {
  it('rotates its serving CA (two steps) while the API server keeps calling it', async () => {
    // --ca-lifetime 150s: rotation starts at 100 s; pods created meanwhile are all mutated.
    const first = servingCa();
    let i = 0;
    await waitFor(
      'the serving CA rotated',
      async () => {
        expect(await mutatedProbe('team-a', `rot-${i++}`)).toBe(true);
        return servingCa() !== first;
      },
      150_000,
      1000,
    );
    expect(caBundle()).toContain(servingCa().trim());
    for (let k = 0; k < 5; k++) expect(await mutatedProbe('team-a', `after-rot-${k}`)).toBe(true);
    expect(readFileSync(logFile, 'utf8')).toMatch(/serving CA rotated/);
  }, 200_000);

  it('a second replica serves from the same CA as a standby, and takes over when the leader is killed', async () => {
    const [port2, health2] = await Promise.all([freePort(), freePort()]);
    const log2 = join(dir, 'webhook-2.log');
    const lease = () =>
      kubectl(['get', 'lease', '-n', 'anchorage', 'anchorage-webhook', '-o', 'jsonpath={.spec.holderIdentity}']).stdout.trim();
    const second = await spawnReplica({ port: port2, healthPort: health2, log: log2, identity: 'r2' });
    try {
      expect(lease()).toMatch(/^r1-/);
      // Its serving chain verifies against the caBundle the leader keeps, and it answers reviews.
      const review = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'r2',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          operation: 'CREATE',
          namespace: 'team-a',
          object: { spec: { containers: [{ name: 'a' }] } },
        },
      });
      const r = await tlsGet(`https://127.0.0.1:${port2}/mutate`, { ca: caBundle(), method: 'POST', body: review });
      expect(JSON.parse(r.body).response).toMatchObject({ uid: 'r2', allowed: true, patchType: 'JSONPatch' });
      await stopWebhook('SIGKILL');
      createPod(podYaml('team-a', 'leader-gone'));
      await waitFor('r2 leads', () => lease() === 'r2', 30_000);
      await waitFor(
        'r2 reports the missed pod',
        () => /missed pod[^\n]*team-a\/leader-gone|team-a\/leader-gone[^\n]*missed pod/.test(readFileSync(log2, 'utf8')),
        60_000,
      );
    } finally {
      const done = new Promise((res) => second.once('exit', res));
      second.kill('SIGTERM');
      await done;
    }
    // A graceful stop releases the Lease.
    await waitFor('lease released', () => lease() === '', 10_000);
    await startWebhook();
  }, 180_000);

  it('killed: pods are still created (failurePolicy Ignore); back, it reports them', async () => {
    await stopWebhook('SIGKILL');
    createPod(podYaml('team-a', 'while-down'));
    expect(pod('team-a', 'while-down').metadata.annotations?.['trust.anchorage.dev/injected']).toBeUndefined();
    await startWebhook();
    await waitFor(
      'missed pod reported',
      () =>
        /missed pod: admitted without trust[^\n]*team-a\/while-down|team-a\/while-down[^\n]*missed pod/.test(readFileSync(logFile, 'utf8')),
      60_000,
    );
    await waitFor(
      'the event',
      () =>
        kubectl([
          'get',
          'events',
          '-n',
          'team-a',
          '--field-selector',
          'involvedObject.name=while-down,reason=TrustNotInjected',
          '-o',
          'name',
        ]).stdout.trim() !== '',
      30_000,
    );
    expect(await metrics()).toMatch(/anchorage_webhook_missed_pods [1-9]/);
    // The opted-out pods are not reported.
    expect(readFileSync(logFile, 'utf8')).not.toMatch(/team-a\/optout/);
  }, 120_000);

  it('answers bad input without crashing', async () => {
    const ca = caBundle();
    const post = (body: string) =>
      tlsGet(`https://127.0.0.1:${port}/mutate`, { ca, method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await post('{not json')).status).toBe(400);
    expect((await post('{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{}}')).status).toBe(400);
    const review = (request: unknown) => JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request });
    const cm = JSON.parse(
      (
        await post(
          review({
            uid: 'u1',
            kind: { group: '', version: 'v1', kind: 'ConfigMap' },
            operation: 'CREATE',
            namespace: 'team-a',
            object: {},
          }),
        )
      ).body,
    );
    expect(cm.response).toMatchObject({ uid: 'u1', allowed: true });
    expect(cm.response.patch).toBeUndefined();
    expect(cm.response.warnings[0]).toMatch(/pod CREATE only/);
    const bad = JSON.parse(
      (
        await post(
          review({
            uid: 'u2',
            kind: { group: '', version: 'v1', kind: 'Pod' },
            operation: 'CREATE',
            namespace: 'team-a',
            object: { spec: { containers: 'x' } },
          }),
        )
      ).body,
    );
    expect(bad.response).toMatchObject({ uid: 'u2', allowed: true });
    expect(bad.response.warnings[0]).toMatch(/malformed pod/);
    // Too large: refused before it is read.
    const big = await post(review({ uid: 'u3', pad: 'x'.repeat(5 << 20) })).catch((e: Error) => ({ status: -1, body: e.message }));
    expect([413, -1]).toContain(big.status);
    // Still healthy, and the real API server still gets answers.
    expect((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status).toBe(200);
    expect(await mutatedProbe('team-a', 'after-bad')).toBe(true);
    expect(await metrics()).toMatch(/anchorage_webhook_admissions_total\{result="invalid"\} [1-9]/);
  }, 60_000);
});
