// The webhook's deny policy against the real API server: `anchorage webhook` (its own process, out of cluster)
// registered from deploy/webhook/mutatingwebhookconfiguration.yaml with a loopback url, and a configuration whose
// policy refuses a pod that cannot get what it asks for. The real kube-apiserver then refuses the create
// (kubectl fails with the webhook's message, and no pod exists), a Deployment's ReplicaSet reports the same
// message, a pod that asks for nothing special is still created and mutated, and once the identity issuer's
// Secret exists the very same pod is admitted with its identity.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { type Cluster, Fatal, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';
import { opensslCa } from './support/openssl.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const NS = 'hookui-deny';
const WEBHOOK = 'pods.webhook.anchorage.dev';
const IDENTITY_REFUSED =
  'anchorage: pod refused: the pod asks for an identity (identity.anchorage.dev/enabled) and the identity issuer is not available (policy.identityUnavailable: deny)';

let cluster: Cluster;
let dir: string;
let proc: ChildProcess | undefined;
let logFile = '';

const kubectl = (args: string[], input?: string) => cluster.kubectl(args, undefined, input);
const apply = (yaml: string): void => cluster.apply(yaml);
const podYaml = (name: string, annotations: Record<string, string> = {}): string =>
  stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, annotations },
    spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
  });
const getPod = (
  name: string,
): { metadata: { annotations?: Record<string, string> }; spec: { volumes?: { name: string }[] } } | undefined => {
  const r = kubectl(['get', 'pod', '-n', NS, name, '-o', 'json']);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hookui-policy-'));
  logFile = join(dir, 'webhook.log');
  const configFile = join(dir, 'config.yaml');
  const [port, healthPort] = await Promise.all([freePort(), freePort()]);
  cluster = await startCluster();
  apply(`apiVersion: v1
kind: Namespace
metadata: {name: anchorage}
---
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
`);
  await waitFor(`${NS}/default SA`, () => kubectl(['get', 'sa', '-n', NS, 'default']).code === 0, 120_000);
  // The issuer names a Secret that does not exist yet: the issuer is down until the test creates it.
  writeFileSync(
    configFile,
    stringify({
      trust: { bundles: { default: { configMap: { name: 'anchorage-trust', key: 'ca.crt' } } } },
      identity: { issuer: { secret: { namespace: 'anchorage', name: 'identity-ca' } } },
      policy: { identityUnavailable: 'deny', unknownBundle: 'deny', malformedPod: 'deny' },
    }),
  );
  const reg = parseYaml(readFileSync(join(ROOT, 'deploy', 'webhook', 'mutatingwebhookconfiguration.yaml'), 'utf8')) as {
    webhooks: { name: string; clientConfig: Record<string, unknown> }[];
  };
  expect(reg.webhooks.map((w) => w.name)).toEqual([WEBHOOK]);
  for (const w of reg.webhooks) w.clientConfig = { url: `https://127.0.0.1:${port}/mutate` };
  apply(stringify(reg));
  const fd = openSync(logFile, 'a');
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
      String(port),
      '--serving-name',
      '127.0.0.1',
      '--health-host',
      '127.0.0.1',
      '--health-port',
      String(healthPort),
      '--resync',
      '1',
      '--no-leader-elect',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  proc = p;
  await waitFor(
    'webhook ready',
    async () => {
      if (p.exitCode !== null) throw new Fatal(`webhook exited:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
      return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200;
    },
    180_000,
  );
  // The API server calls it once the caBundle is in place (its webhook configuration cache is eventually consistent).
  let i = 0;
  await waitFor(
    'a pod comes back mutated',
    () => {
      const name = `probe-${i++}`;
      if (kubectl(['create', '-f', '-'], podYaml(name)).code !== 0) return false;
      return getPod(name)?.metadata.annotations?.['trust.anchorage.dev/injected'] === 'default';
    },
    180_000,
    500,
  );
}, K8S_BUILD_TIMEOUT_MS);

afterAll(async () => {
  const p = proc;
  if (p && p.exitCode === null) {
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await done;
  }
  await cluster?.stop();
  if (dir && !process.env.ANCHORAGE_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('anchorage webhook policy: deny, through the real API server', () => {
  it('refuses a pod that asks for an identity while the issuer is down: the create fails with the reason, no pod exists', () => {
    const r = kubectl(['create', '-f', '-'], podYaml('wants-identity', { 'identity.anchorage.dev/enabled': 'true' }));
    expect(r.code).not.toBe(0);
    // The API server's own wording around the webhook's message.
    expect(r.stderr).toContain(`admission webhook "${WEBHOOK}" denied the request: ${IDENTITY_REFUSED}`);
    expect(r.stderr).toMatch(/Forbidden/);
    expect(kubectl(['get', 'pod', '-n', NS, 'wants-identity']).stderr).toMatch(/NotFound/);
    // Logged as denied (no pod content), counted.
    expect(readFileSync(logFile, 'utf8')).toMatch(/"result":"denied"/);
  });

  it('refuses a pod naming a bundle the configuration does not have; a plain pod is still created and mutated', () => {
    const r = kubectl(['create', '-f', '-'], podYaml('odd-bundle', { 'trust.anchorage.dev/bundle': 'nope' }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `denied the request: anchorage: pod refused: no trust bundle named 'nope' is configured (policy.unknownBundle: deny)`,
    );
    expect(kubectl(['create', '-f', '-'], podYaml('plain')).code).toBe(0);
    const p = getPod('plain');
    expect(p?.metadata.annotations?.['trust.anchorage.dev/injected']).toBe('default');
    expect(p?.spec.volumes?.map((v) => v.name)).toContain('anchorage-trust');
  });

  it("a Deployment's ReplicaSet reports the refusal (kube-controller-manager's FailedCreate)", async () => {
    apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: ident, namespace: ${NS}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ident}}
  template:
    metadata: {labels: {app: ident}, annotations: {identity.anchorage.dev/enabled: "true"}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: app, image: registry.invalid/app:1}]
`);
    let message = '';
    await waitFor(
      'the ReplicaSet reports the refusal',
      () => {
        const r = kubectl(['get', 'replicasets', '-n', NS, '-l', 'app=ident', '-o', 'json']);
        if (r.code !== 0) return false;
        const rs = JSON.parse(r.stdout) as { items: { status?: { conditions?: { type: string; message?: string }[] } }[] };
        message = rs.items[0]?.status?.conditions?.find((c) => c.type === 'ReplicaFailure')?.message ?? '';
        return message !== '';
      },
      180_000,
      500,
    );
    expect(message).toContain(IDENTITY_REFUSED);
    expect(kubectl(['get', 'pods', '-n', NS, '-l', 'app=ident', '-o', 'name']).stdout.trim()).toBe('');
  }, 240_000);

  it('once the issuer is up, the same pod is admitted with its identity', async () => {
    opensslCa(dir, 'identity-ca', '/CN=Identity CA', 30);
    const s = kubectl([
      'create',
      'secret',
      'tls',
      'identity-ca',
      '-n',
      'anchorage',
      `--cert=${join(dir, 'identity-ca.crt')}`,
      `--key=${join(dir, 'identity-ca.key')}`,
    ]);
    expect(s.code).toBe(0);
    // The issuer is re-read every --resync (1 s); until then the create keeps being refused.
    let last = '';
    await waitFor(
      'the pod is admitted',
      () => {
        const r = kubectl(['create', '-f', '-'], podYaml('wants-identity', { 'identity.anchorage.dev/enabled': 'true' }));
        if (r.code !== 0) {
          last = r.stderr;
          expect(last).toContain(IDENTITY_REFUSED);
        }
        return r.code === 0;
      },
      120_000,
      1000,
    );
    const p = getPod('wants-identity');
    expect(p?.metadata.annotations?.['identity.anchorage.dev/secret']).toMatch(/^wants-identity-identity-[0-9a-f]{12}$/);
    expect(p?.spec.volumes?.map((v) => v.name)).toEqual(expect.arrayContaining(['anchorage-trust', 'anchorage-identity']));
  }, 180_000);
});
