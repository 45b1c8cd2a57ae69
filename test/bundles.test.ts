// The trust bundles controller (`anchorage controller`, run out of cluster as a user would) against a real control
// plane with ClusterTrustBundles on: every source and target kind, namespaces added and unselected later, targets
// edited or deleted by hand and restored, a bad source that keeps the previous targets, the tenant rules,
// trust-manager's own Bundle, PKCS#12/JKS opened by openssl and keytool, two replicas with one leader and a failover.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';
import { bundleFingerprints, openssl, opensslCa, opensslFingerprint, opensslIssue } from './support/openssl.ts';
import { TRUST_MANAGER_BUILD_TIMEOUT_MS, trustManager } from './support/trust-manager.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;

let cluster: Cluster;
let dir: string;
let https: Server;
let httpsPort = 0;
const replicas = new Map<string, { proc: ChildProcess; port: number; log: string }>();

const pem = (n: string): string => readFileSync(join(dir, `${n}.crt`), 'utf8');
const fp = (certPem: string): string => opensslFingerprint(certPem);
const fps = (bundle: string): string[] => bundleFingerprints(bundle).sort();
const want = (...names: string[]): string[] => names.map((n) => fp(pem(`root-${n}`))).sort();
const indent = (s: string, n: number): string =>
  s
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

const kubectl = (args: string[], input?: string) => cluster.kubectl(args, undefined, input);
const apply = (yaml: string): void => cluster.apply(yaml);
const getJson = <T = Record<string, unknown>>(...args: string[]): T | undefined => cluster.getJson<T>(...args);
interface Obj {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    caCount?: number;
    soonestExpiry?: string;
    defaultCAsVersion?: string;
  };
}
const cmPem = (ns: string, name: string, key = 'ca.crt'): string | undefined => getJson<Obj>('configmap', '-n', ns, name)?.data?.[key];
const secretPem = (ns: string, name: string, key = 'ca.crt'): string | undefined => {
  const v = getJson<Obj>('secret', '-n', ns, name)?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};
const ready = (
  kind: string,
  name: string,
  ns?: string,
): NonNullable<Obj['status']>['conditions'] extends (infer C)[] | undefined ? C | undefined : never =>
  getJson<Obj>(kind, ...(ns ? ['-n', ns] : []), name)?.status?.conditions?.find((c) => c.type === 'Ready');

function startReplica(id: string, extra: string[] = []): Promise<void> {
  return (async () => {
    const port = await freePort();
    const log = join(dir, `controller-${id}.log`);
    const fd = openSync(log, 'a');
    const proc = spawn(
      NODE,
      [
        join(ROOT, 'src', 'cli', 'main.ts'),
        'controller',
        '--kubeconfig',
        cluster.admin,
        '--identity',
        id,
        '--health-host',
        '127.0.0.1',
        '--health-port',
        String(port),
        '--lease-duration',
        '4',
        '--renew-deadline',
        '3',
        '--retry-period',
        '0.5',
        '--allow-https-sources',
        ...extra,
      ],
      { stdio: ['ignore', fd, fd], env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'web-ca.crt') } },
    );
    closeSync(fd);
    replicas.set(id, { proc, port, log });
  })();
}
async function health(id: string, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${replicas.get(id)?.port}${path}`);
  return { status: r.status, body: await r.text() };
}
const holder = (): string =>
  kubectl(['get', 'lease', '-n', 'anchorage', 'anchorage-controller', '-o', 'jsonpath={.spec.holderIdentity}']).stdout.trim();

/**
 * What a cluster switching from trust-manager holds: the real trust-manager v0.25.0 runs first (out of cluster, one
 * replica) on a Bundle, writes its target, and is stopped; beside the Bundle, the v1alpha2 ClusterBundle copy.
 */
async function trustManagerFirst(bin: string): Promise<void> {
  const tls = join(dir, 'tm-tls');
  execFileSync('mkdir', ['-p', tls]);
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(tls, 'tls.key'),
    '-out',
    join(tls, 'tls.crt'),
    '-subj',
    '/CN=trust-manager',
    '-days',
    '1',
  );
  const [readyPort, metricsPort, webhookPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const fd = openSync(join(dir, 'trust-manager.log'), 'a');
  const p = spawn(
    bin,
    [
      `--kubeconfig=${cluster.admin}`,
      '--trust-namespace=anchorage',
      `--readiness-probe-port=${readyPort}`,
      `--metrics-port=${metricsPort}`,
      '--webhook-host=127.0.0.1',
      `--webhook-port=${webhookPort}`,
      `--webhook-certificate-dir=${tls}`,
      '--leader-elect=false',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  try {
    apply(`apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: legacy}
spec:
  sources: [{configMap: {name: roots, key: a.crt}}]
  target:
    configMap: {key: ca.pem}
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-c}}
`);
    await waitFor(
      "trust-manager's target",
      () => getJson<Obj>('configmap', '-n', 'ns-c', 'legacy')?.metadata.labels?.['trust.cert-manager.io/bundle'] === 'legacy',
      180_000,
    );
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
  // trust-manager's source has a controller that copies each Bundle into a v1alpha2 ClusterBundle it controls (the
  // v0.25.0 binary does not run it yet): that copy, as it writes it (the converted spec, a controller reference).
  const uid = getJson<{ metadata: { uid: string } }>('bundles.trust.cert-manager.io', 'legacy')?.metadata.uid;
  apply(`apiVersion: trust-manager.io/v1alpha2
kind: ClusterBundle
metadata:
  name: legacy
  ownerReferences:
  - {apiVersion: trust.cert-manager.io/v1alpha1, kind: Bundle, name: legacy, uid: ${uid}, controller: true, blockOwnerDeletion: true}
spec:
  sourceRefs: [{kind: ConfigMap, name: roots, key: a.crt}]
  target:
    configMap: {data: [{key: ca.pem}]}
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-c}}
`);
}

beforeAll(
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'bundles-'));
    for (const n of ['a', 'b', 'c', 'd', 'e', 't']) opensslCa(dir, `root-${n}`, `/CN=Root ${n.toUpperCase()}`, 30 + n.charCodeAt(0) - 96);
    // The HTTPS source's server certificate, trusted by the controller through NODE_EXTRA_CA_CERTS.
    opensslCa(dir, 'web-ca', '/CN=Web CA', 30);
    opensslIssue(
      dir,
      'web-ca',
      'web',
      '/CN=127.0.0.1',
      'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth',
      30,
    );
    const served = pem('root-e');
    https = createServer({ cert: readFileSync(join(dir, 'web.crt')), key: readFileSync(join(dir, 'web.key')) }, (_q, s) => s.end(served));
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
    httpsPort = (https.address() as { port: number }).port;
    const [c, tm] = await Promise.all([
      startCluster({
        apiserverArgs: ['--feature-gates=ClusterTrustBundle=true', '--runtime-config=certificates.k8s.io/v1beta1/clustertrustbundles=true'],
      }),
      trustManager(),
    ]);
    cluster = c;
    for (const f of ['trust.anchorage.dev_clusterbundles.yaml', 'trust.anchorage.dev_bundles.yaml'])
      apply(readFileSync(join(ROOT, 'deploy', 'crds', f), 'utf8'));
    apply(readFileSync(join(tm.crds, 'trust.cert-manager.io_bundles.yaml'), 'utf8'));
    apply(readFileSync(join(tm.crds, 'trust-manager.io_clusterbundles.yaml'), 'utf8'));
    for (const crd of [
      'clusterbundles.trust.anchorage.dev',
      'bundles.trust.anchorage.dev',
      'bundles.trust.cert-manager.io',
      'clusterbundles.trust-manager.io',
    ])
      expect(kubectl(['wait', '--for=condition=Established', `crd/${crd}`, '--timeout=60s']).code).toBe(0);
    apply(`apiVersion: v1
kind: Namespace
metadata: {name: anchorage}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-a, labels: {bundle: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-b, labels: {bundle: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-c}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: roots, namespace: anchorage}
data:
  a.crt: |
${indent(pem('root-a'), 4)}
  readme.txt: not a certificate
---
apiVersion: v1
kind: Secret
metadata: {name: more, namespace: anchorage, labels: {trust: "yes"}}
stringData:
  ca.crt: |
${indent(pem('root-b'), 4)}
`);
    await trustManagerFirst(tm.bin);
    await Promise.all([startReplica('r1'), startReplica('r2')]);
  },
  Math.max(K8S_BUILD_TIMEOUT_MS, TRUST_MANAGER_BUILD_TIMEOUT_MS),
);

afterAll(async () => {
  for (const r of replicas.values()) if (r.proc.exitCode === null) r.proc.kill('SIGTERM');
  await Promise.all(
    [...replicas.values()].map((r) => (r.proc.exitCode === null ? new Promise((res) => r.proc.once('exit', res)) : undefined)),
  );
  https?.close();
  await cluster?.stop();
  if (dir && !process.env.ANCHORAGE_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
}, 120_000);

const corp = (extraSources = ''): string => `apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: corp}
spec:
  sources:
  - configMap: {name: roots, keys: ["*.crt"]}
  - secret: {selector: {matchLabels: {trust: "yes"}}, keys: [ca.crt]}
  - inLine: |
${indent(pem('root-c'), 6)}
${extraSources}
  target:
    namespaceSelector: {matchLabels: {bundle: "on"}}
    configMap:
      data: [{key: ca.crt}, {key: truststore.p12, format: PKCS12, password: pw}, {key: truststore.jks, format: JKS}]
    secret:
      data: [{key: ca.crt}]
    clusterTrustBundle: {signerName: example.com/corp}
`;

describe('anchorage controller', () => {
  it('runs two replicas, both ready, one leader', async () => {
    await waitFor(
      'both replicas ready',
      async () => (await health('r1', '/readyz')).status === 200 && (await health('r2', '/readyz')).status === 200,
      120_000,
      250,
    );
    await waitFor('a leader', () => ['r1', 'r2'].includes(holder()), 60_000, 250);
    expect((await health('r1', '/healthz')).body).toBe('ok');
  }, 180_000);

  it('writes ConfigMap, Secret and ClusterTrustBundle targets to the selected namespaces, with status and metrics', async () => {
    apply(corp());
    const expected = want('a', 'b', 'c');
    await waitFor(
      'targets in ns-a and ns-b',
      () => ['ns-a', 'ns-b'].every((ns) => JSON.stringify(fps(cmPem(ns, 'corp') ?? '')) === JSON.stringify(expected)),
      90_000,
    );
    expect(fps(secretPem('ns-a', 'corp') ?? '')).toEqual(expected);
    expect(getJson('configmap', '-n', 'ns-c', 'corp')).toBeUndefined();
    const cm = getJson<Obj>('configmap', '-n', 'ns-a', 'corp') as Obj;
    expect(cm.metadata.labels?.['trust.anchorage.dev/bundle']).toBe('c.corp');
    expect(cm.metadata.annotations?.['trust.anchorage.dev/hash']).toMatch(/^[0-9a-f]{64}$/);
    // PKCS#12 and JKS from binaryData, opened by openssl and keytool.
    writeFileSync(join(dir, 't.p12'), Buffer.from(cm.binaryData?.['truststore.p12'] ?? '', 'base64'));
    writeFileSync(join(dir, 't.jks'), Buffer.from(cm.binaryData?.['truststore.jks'] ?? '', 'base64'));
    expect(fps(openssl(dir, 'pkcs12', '-in', 't.p12', '-passin', 'pass:pw', '-nokeys'))).toEqual(expected);
    const ks = execFileSync('keytool', ['-list', '-keystore', join(dir, 't.jks'), '-storepass', 'changeit']).toString();
    expect(ks).toMatch(/Your keystore contains 3 entries/);
    const ks12 = execFileSync('keytool', ['-list', '-keystore', join(dir, 't.p12'), '-storetype', 'PKCS12', '-storepass', 'pw']).toString();
    expect(ks12).toMatch(/Your keystore contains 3 entries/);
    // The ClusterTrustBundle, read back through the real API.
    await waitFor('the ClusterTrustBundle', () => kubectl(['get', 'clustertrustbundle', 'example.com:corp:corp']).code === 0, 60_000);
    const ctb = getJson<{ spec: { signerName: string; trustBundle: string } }>('clustertrustbundle', 'example.com:corp:corp');
    expect(ctb?.spec.signerName).toBe('example.com/corp');
    expect(fps(ctb?.spec.trustBundle ?? '')).toEqual(expected);
    // Status: Ready, the CA count and the soonest expiry (Root A: 31 days, the shortest).
    await waitFor('status', () => getJson<Obj>('clusterbundles.trust.anchorage.dev', 'corp')?.status?.caCount === 3, 30_000);
    const st = getJson<Obj>('clusterbundles.trust.anchorage.dev', 'corp')?.status;
    expect(ready('clusterbundles.trust.anchorage.dev', 'corp')).toMatchObject({ status: 'True', reason: 'Synced' });
    const notAfter = new Date(openssl(dir, 'x509', '-in', 'root-a.crt', '-noout', '-enddate').split('=')[1]?.trim() ?? '');
    expect(new Date(st?.soonestExpiry ?? '').getTime()).toBe(notAfter.getTime());
    const leader = holder();
    const m = (await health(leader, '/metrics')).body;
    expect(m).toMatch(/anchorage_bundle_certificates\{bundle="ClusterBundle\/corp"\} 3/);
    expect(m).toMatch(
      new RegExp(`anchorage_bundle_soonest_expiry_timestamp_seconds\\{bundle="ClusterBundle/corp"\\} ${notAfter.getTime() / 1000}`),
    );
    expect(m).toMatch(/anchorage_bundle_sync_duration_seconds_count\{kind="ClusterBundle"\} \d+/);
  }, 180_000);

  it('follows namespaces: a new selected one gets its targets, an unselected one loses them', async () => {
    apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-d, labels: {bundle: "on"}}\n');
    expect(kubectl(['label', 'namespace', 'ns-b', 'bundle-']).code).toBe(0);
    await waitFor('ns-d target', () => fps(cmPem('ns-d', 'corp') ?? '').length === 3, 60_000);
    await waitFor(
      'ns-b targets removed',
      () => !getJson('configmap', '-n', 'ns-b', 'corp') && !getJson('secret', '-n', 'ns-b', 'corp'),
      60_000,
    );
  }, 120_000);

  it('follows its sources: an update, a deleted selected Secret, an HTTPS source pinned by SHA-256', async () => {
    apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: roots, namespace: anchorage}
data:
  a.crt: |
${indent(pem('root-a'), 4)}
  d.crt: |
${indent(pem('root-d'), 4)}
`);
    await waitFor(
      'root D added',
      () => JSON.stringify(fps(cmPem('ns-a', 'corp') ?? '')) === JSON.stringify(want('a', 'b', 'c', 'd')),
      60_000,
    );
    expect(kubectl(['delete', 'secret', '-n', 'anchorage', 'more']).code).toBe(0);
    await waitFor(
      'root B removed',
      () => JSON.stringify(fps(secretPem('ns-d', 'corp') ?? '')) === JSON.stringify(want('a', 'c', 'd')),
      60_000,
    );
    const sha = createHash('sha256').update(pem('root-e')).digest('hex');
    apply(corp(`  - https: {url: "https://127.0.0.1:${httpsPort}/roots.pem", sha256: ${sha}}`));
    await waitFor(
      'root E from HTTPS',
      () => JSON.stringify(fps(cmPem('ns-a', 'corp') ?? '')) === JSON.stringify(want('a', 'c', 'd', 'e')),
      60_000,
    );
    // A wrong pin: not synced, the previous targets kept.
    apply(corp(`  - https: {url: "https://127.0.0.1:${httpsPort}/roots.pem", sha256: "${'0'.repeat(64)}"}`));
    await waitFor('PinMismatch', () => ready('clusterbundles.trust.anchorage.dev', 'corp')?.reason === 'PinMismatch', 60_000);
    expect(fps(cmPem('ns-a', 'corp') ?? '')).toEqual(want('a', 'c', 'd', 'e'));
    apply(corp());
    await waitFor('back without E', () => JSON.stringify(fps(cmPem('ns-a', 'corp') ?? '')) === JSON.stringify(want('a', 'c', 'd')), 60_000);
  }, 240_000);

  it('restores targets edited, extended or deleted by hand', async () => {
    const right = cmPem('ns-a', 'corp');
    expect(
      kubectl(['patch', 'configmap', '-n', 'ns-a', 'corp', '--type=merge', '-p', '{"data":{"ca.crt":"tampered","extra":"x"}}']).code,
    ).toBe(0);
    await waitFor(
      'ConfigMap restored',
      () => {
        const o = getJson<Obj>('configmap', '-n', 'ns-a', 'corp');
        return o?.data?.['ca.crt'] === right && o?.data?.extra === undefined;
      },
      60_000,
    );
    expect(kubectl(['delete', 'secret', '-n', 'ns-a', 'corp']).code).toBe(0);
    await waitFor('Secret restored', () => secretPem('ns-a', 'corp') === right, 60_000);
    expect(kubectl(['delete', 'clustertrustbundle', 'example.com:corp:corp']).code).toBe(0);
    await waitFor('ClusterTrustBundle restored', () => kubectl(['get', 'clustertrustbundle', 'example.com:corp:corp']).code === 0, 60_000);
  }, 180_000);

  it('refuses a bad source with a condition and an event, and keeps the previous targets', async () => {
    const before = cmPem('ns-a', 'corp');
    apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: roots, namespace: anchorage}
data:
  a.crt: |
${indent(pem('root-a') + readFileSync(join(dir, 'root-a.key'), 'utf8'), 4)}
`);
    await waitFor('PrivateKeyInSource', () => ready('clusterbundles.trust.anchorage.dev', 'corp')?.reason === 'PrivateKeyInSource', 60_000);
    expect(ready('clusterbundles.trust.anchorage.dev', 'corp')?.status).toBe('False');
    expect(cmPem('ns-a', 'corp')).toBe(before);
    const key = readFileSync(join(dir, 'root-a.key'), 'utf8').split('\n')[1] as string;
    expect(getJson<Obj>('configmap', '-n', 'ns-a', 'corp')?.data?.['ca.crt']).not.toContain(key);
    await waitFor(
      'the event',
      () =>
        kubectl([
          'get',
          'events',
          '-n',
          'default',
          '--field-selector',
          'reason=PrivateKeyInSource,involvedObject.name=corp',
          '-o',
          'name',
        ]).stdout.trim() !== '',
      30_000,
    );
    // Fixed: synced again.
    apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: roots, namespace: anchorage}
data:
  a.crt: |
${indent(pem('root-a'), 4)}
`);
    await waitFor(
      'synced again',
      () =>
        ready('clusterbundles.trust.anchorage.dev', 'corp')?.status === 'True' &&
        JSON.stringify(fps(cmPem('ns-a', 'corp') ?? '')) === JSON.stringify(want('a', 'c')),
      60_000,
    );
  }, 180_000);

  it("keeps tenants' Bundles in their namespace; another bundle as a source; trust-manager's Bundle", async () => {
    // Refused by the API server (the CRD's CEL rule): a Bundle naming another namespace.
    const cross = kubectl(
      ['apply', '-f', '-'],
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: steal, namespace: ns-c}
spec:
  sources: [{secret: {name: more, namespace: anchorage}}]
  target: {configMap: {data: [{key: ca.crt}]}}
`,
    );
    expect(cross.code).not.toBe(0);
    expect(cross.stderr).toMatch(/a Bundle reads only its own namespace/);
    apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: team-roots, namespace: ns-c}
data:
  ca.crt: |
${indent(pem('root-t'), 4)}
---
apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: team, namespace: ns-c}
spec:
  sources: [{configMap: {name: team-roots}}]
  target: {configMap: {data: [{key: ca.crt}]}}
---
apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: derived}
spec:
  sources: [{bundle: {name: corp}}, {defaultCAs: {}}]
  target:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-c}}
    configMap: {data: [{key: all.pem}]}
---
apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: tm}
spec:
  sources: [{configMap: {name: roots, key: a.crt}}]
  target:
    configMap: {key: tm.pem}
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns-c}}
`);
    await waitFor('the tenant target', () => JSON.stringify(fps(cmPem('ns-c', 'team') ?? '')) === JSON.stringify(want('t')), 60_000);
    // Over a hundred public roots: compared by their base64 bodies rather than one openssl run each.
    const bodies = (text: string): string[] =>
      [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END/g)].map((m) => (m[1] as string).replace(/\s/g, ''));
    await waitFor('the derived target', () => bodies(cmPem('ns-c', 'derived', 'all.pem') ?? '').length > 100, 90_000);
    const derived = bodies(cmPem('ns-c', 'derived', 'all.pem') ?? '');
    for (const n of ['a', 'c']) expect(derived).toContain(bodies(pem(`root-${n}`))[0]);
    expect(derived).toContain(bodies(readFileSync('/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt', 'utf8'))[0]);
    expect(getJson<Obj>('clusterbundles.trust.anchorage.dev', 'derived')?.status?.defaultCAsVersion).toMatch(
      /^debian-ca-certificates\/\S+\+sha256:[0-9a-f]{12}$/,
    );
    await waitFor(
      "trust-manager's Bundle target",
      () => JSON.stringify(fps(cmPem('ns-c', 'tm', 'tm.pem') ?? '')) === JSON.stringify(want('a')),
      60_000,
    );
  }, 240_000);

  it('keeps a removed CA for the rotation grace period', async () => {
    apply(`apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: rot, namespace: ns-c}
spec:
  sources:
  - inLine: |
${indent(pem('root-a') + pem('root-b'), 6)}
  rotation: {gracePeriodSeconds: 30}
  target: {configMap: {data: [{key: ca.crt}]}}
`);
    await waitFor('rot with A and B', () => JSON.stringify(fps(cmPem('ns-c', 'rot') ?? '')) === JSON.stringify(want('a', 'b')), 60_000);
    apply(`apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: rot, namespace: ns-c}
spec:
  sources:
  - inLine: |
${indent(pem('root-a'), 6)}
  rotation: {gracePeriodSeconds: 30}
  target: {configMap: {data: [{key: ca.crt}]}}
`);
    // B is retiring: listed in status and still in the target, then gone once the grace period is over.
    await waitFor(
      'B retiring',
      () =>
        (
          getJson<{ status?: { retiring?: { sha256: string }[] } }>('bundles.trust.anchorage.dev', '-n', 'ns-c', 'rot')?.status?.retiring ??
          []
        ).some((r) => r.sha256 === fp(pem('root-b'))),
      60_000,
    );
    expect(fps(cmPem('ns-c', 'rot') ?? '')).toEqual(want('a', 'b'));
    await waitFor(
      'B gone after the grace period',
      () => JSON.stringify(fps(cmPem('ns-c', 'rot') ?? '')) === JSON.stringify(want('a')),
      60_000,
    );
  }, 180_000);

  it('fails over to the standby when the leader stops, and deletes the targets of a deleted bundle', async () => {
    const leader = holder();
    const standby = leader === 'r1' ? 'r2' : 'r1';
    const p = replicas.get(leader)?.proc as ChildProcess;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
    expect(p.exitCode).toBe(0);
    expect(readFileSync(replicas.get(leader)?.log ?? '', 'utf8')).toMatch(/"msg":"stopped"/);
    await waitFor('the standby leads', () => holder() === standby, 60_000);
    apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-e, labels: {bundle: "on"}}\n');
    await waitFor('ns-e target from the new leader', () => fps(cmPem('ns-e', 'corp') ?? '').length === 2, 60_000);
    expect(kubectl(['delete', 'clusterbundles.trust.anchorage.dev', 'corp']).code).toBe(0);
    await waitFor(
      'targets deleted',
      () =>
        kubectl(['get', 'configmaps,secrets', '-A', '-l', 'trust.anchorage.dev/bundle=c.corp', '-o', 'name']).stdout.trim() === '' &&
        kubectl(['get', 'clustertrustbundle', 'example.com:corp:corp']).code !== 0,
      60_000,
    );
    // No key material in any log line.
    const keyLine = readFileSync(join(dir, 'root-a.key'), 'utf8').split('\n')[1] as string;
    for (const r of replicas.values()) {
      const log = readFileSync(r.log, 'utf8');
      expect(log).not.toContain(keyLine.slice(0, 40));
      expect(log).not.toContain('BEGIN');
    }
  }, 180_000);

  it("takes over from trust-manager: its Bundle's target, the v1alpha2 ClusterBundle once migrated, a new ClusterBundle", async () => {
    // The Bundle trust-manager reconciled: its target is now Anchorage's (same name, same key, same content) and
    // trust-manager's ClusterBundle copy is left to the Bundle (no conflict, no status of Anchorage's on it).
    await waitFor(
      'legacy taken over',
      () => getJson<Obj>('configmap', '-n', 'ns-c', 'legacy')?.metadata.labels?.['trust.anchorage.dev/bundle'] === 'tm.legacy',
      60_000,
    );
    const legacy = getJson<Obj & { metadata: { ownerReferences?: { kind: string; apiVersion: string }[] } }>(
      'configmap',
      '-n',
      'ns-c',
      'legacy',
    );
    expect(fps(legacy?.data?.['ca.pem'] ?? '')).toEqual(want('a'));
    expect(legacy?.metadata.ownerReferences?.map((r) => `${r.apiVersion} ${r.kind}`)).toEqual(['trust.cert-manager.io/v1alpha1 Bundle']);
    const copy = getJson<Obj>('clusterbundles.trust-manager.io', 'legacy');
    expect(copy?.status?.conditions?.some((c) => c.reason === 'TargetConflict')).not.toBe(true);
    // Migrated by the user (trust-manager's annotation): the ClusterBundle is reconciled, its Synced condition set,
    // the targets move to it; the Bundle, now superseded, deletes nothing.
    expect(kubectl(['annotate', 'clusterbundles.trust-manager.io', 'legacy', 'trust-manager.io/migrated=true']).code).toBe(0);
    await waitFor(
      'legacy moved to the ClusterBundle',
      () => getJson<Obj>('configmap', '-n', 'ns-c', 'legacy')?.metadata.labels?.['trust.anchorage.dev/bundle'] === 'tmc.legacy',
      60_000,
    );
    await waitFor(
      'Synced',
      () =>
        getJson<Obj>('clusterbundles.trust-manager.io', 'legacy')?.status?.conditions?.find((c) => c.type === 'Synced')?.status === 'True',
      60_000,
    );
    expect(fps(cmPem('ns-c', 'legacy', 'ca.pem') ?? '')).toEqual(want('a'));
    // A ClusterBundle of trust-manager's v1alpha2 API written afresh: sourceRefs with a key wildcard, inLineCAs,
    // PEM and PKCS12 (trust-manager's default LegacyDES, no password) targets in every namespace it selects.
    apply(`apiVersion: v1
kind: Secret
metadata: {name: tm2-src, namespace: anchorage, labels: {tm2: "yes"}}
stringData:
  ca.crt: |
${indent(pem('root-b'), 4)}
  readme.txt: not read (the key does not match)
---
apiVersion: trust-manager.io/v1alpha2
kind: ClusterBundle
metadata: {name: tm2}
spec:
  sourceRefs:
  - {kind: Secret, selector: {matchLabels: {tm2: "yes"}}, key: "ca.*"}
  inLineCAs: |
${indent(pem('root-d'), 4)}
  target:
    namespaceSelector: {matchLabels: {bundle: "on"}}
    configMap:
      data: [{key: ca.pem}, {key: store.p12, format: PKCS12}]
`);
    await waitFor(
      'tm2 targets',
      () => JSON.stringify(fps(cmPem('ns-a', 'tm2', 'ca.pem') ?? '')) === JSON.stringify(want('b', 'd')),
      60_000,
    );
    const p12 = Buffer.from(getJson<Obj>('configmap', '-n', 'ns-a', 'tm2')?.binaryData?.['store.p12'] ?? '', 'base64');
    writeFileSync(join(dir, 'tm2.p12'), p12);
    const subjects = execFileSync('openssl', ['pkcs12', '-in', join(dir, 'tm2.p12'), '-passin', 'pass:', '-nokeys'])
      .toString()
      .match(/subject=.*$/gm);
    expect(subjects?.map((x) => x.replace(/ /g, '')).sort()).toEqual(['subject=CN=RootB', 'subject=CN=RootD']);
    await waitFor(
      'tm2 Synced',
      () =>
        getJson<Obj>('clusterbundles.trust-manager.io', 'tm2')?.status?.conditions?.find((c) => c.type === 'Synced')?.reason === 'Synced',
      60_000,
    );
  }, 240_000);
});
