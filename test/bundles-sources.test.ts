// The trust bundles controller (`anchorage controller`, one replica run out of cluster) against a real control plane:
// what test/bundles.test.ts leaves unproven. A missing source and a source that is not PEM (condition, Warning event,
// the controller's log line, the error metric, the previous targets kept); a ConfigMap source by label selector, a
// Secret source by name created later and updated, a selected ConfigMap deleted, another bundle as a source (its
// change propagates, its deletion is SourceNotFound with the targets kept), a target kind dropped from the spec;
// `anchorage_bundle_pem_bytes`; the targets' managedFields (server-side apply); a tenant with only a namespaced Role.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { type Cluster, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';
import { bundleFingerprints, opensslCa, opensslFingerprint } from './support/openssl.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const CB = 'clusterbundles.trust.anchorage.dev';

let cluster: Cluster;
let dir: string;
let proc: ChildProcess;
let port = 0;
let logFile: string;

const pem = (n: string): string => readFileSync(join(dir, `root-${n}.crt`), 'utf8');
const fps = (bundle: string): string[] => bundleFingerprints(bundle).sort();
const want = (...names: string[]): string[] => names.map((n) => opensslFingerprint(pem(n))).sort();
const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b);
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
  metadata: { labels?: Record<string, string>; managedFields?: { manager: string; operation: string; fieldsV1?: unknown }[] };
  data?: Record<string, string>;
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[]; caCount?: number };
}
const cmPem = (ns: string, name: string, key = 'ca.crt'): string | undefined => getJson<Obj>('configmap', '-n', ns, name)?.data?.[key];
const secretPem = (ns: string, name: string, key = 'ca.crt'): string | undefined => {
  const v = getJson<Obj>('secret', '-n', ns, name)?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};
const ready = (kind: string, name: string, ns?: string) =>
  getJson<Obj>(kind, ...(ns ? ['-n', ns] : []), name)?.status?.conditions?.find((c) => c.type === 'Ready');
const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
/** One sample of a metric with exactly these labels (in prom-client's order), or undefined. */
const sample = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};
const eventReasons = (ns: string, name: string): string[] =>
  kubectl(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name},type=Warning`, '-o', 'jsonpath={.items[*].reason}'])
    .stdout.trim()
    .split(/\s+/)
    .filter(Boolean);
/** The controller's JSON log lines about `bundle`. */
const logLines = (bundle: string): { msg: string; reason?: string; bundle?: string; level: number }[] =>
  readFileSync(logFile, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg: string; reason?: string; bundle?: string; level: number }];
      } catch {
        return []; // not JSON, or the last line still being written
      }
    })
    .filter((l) => l.bundle === bundle);

/** A kubeconfig holding only a ServiceAccount's token (kubectl create token), mode 0600. */
function tokenKubeconfig(ns: string, sa: string): string {
  const token = kubectl(['create', 'token', sa, '-n', ns, '--duration=1h']);
  expect(token.code).toBe(0);
  const caData = kubectl([
    'config',
    'view',
    '--raw',
    '--minify',
    '-o',
    'jsonpath={.clusters[0].cluster.certificate-authority-data}',
  ]).stdout.trim();
  expect(caData).not.toBe('');
  const kc = join(dir, `${sa}.kubeconfig`);
  writeFileSync(
    kc,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${cluster.apiUrl}", certificate-authority-data: ${caData}}}]
users: [{name: ${sa}, user: {token: ${token.stdout.trim()}}}]
contexts: [{name: t, context: {cluster: c, user: ${sa}, namespace: ${ns}}}]
current-context: t
`,
    { mode: 0o600 },
  );
  return kc;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bundles15-'));
  for (const n of ['a', 'b', 'c', 'd', 'e', 't']) opensslCa(dir, `root-${n}`, `/CN=Root ${n.toUpperCase()}`, 30 + n.charCodeAt(0) - 96);
  cluster = await startCluster();
  for (const f of ['trust.anchorage.dev_clusterbundles.yaml', 'trust.anchorage.dev_bundles.yaml'])
    apply(readFileSync(join(ROOT, 'deploy', 'crds', f), 'utf8'));
  for (const crd of [CB, 'bundles.trust.anchorage.dev'])
    expect(kubectl(['wait', '--for=condition=Established', `crd/${crd}`, '--timeout=60s']).code).toBe(0);
  apply(`apiVersion: v1
kind: Namespace
metadata: {name: anchorage}
---
apiVersion: v1
kind: Namespace
metadata: {name: bundles15-a, labels: {bundles15: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: bundles15-b, labels: {bundles15: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: bundles15-team}
`);
  port = await freePort();
  logFile = join(dir, 'controller.log');
  const fd = openSync(logFile, 'a');
  proc = spawn(
    NODE,
    [
      join(ROOT, 'src', 'cli', 'main.ts'),
      'controller',
      '--kubeconfig',
      cluster.admin,
      '--identity',
      'bundles15',
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
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  await waitFor('the controller ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 120_000, 250);
  await waitFor(
    'the controller leads',
    () =>
      kubectl(['get', 'lease', '-n', 'anchorage', 'anchorage-controller', '-o', 'jsonpath={.spec.holderIdentity}']).stdout.trim() ===
      'bundles15',
    60_000,
  );
}, K8S_BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  await cluster?.stop();
  if (dir && !process.env.ANCHORAGE_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
}, 120_000);

const cm = (name: string, value: string, labels = ''): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: anchorage${labels ? `, labels: {${labels}}` : ''}}
data:
  ca.crt: |
${indent(value, 4)}
`;

describe('anchorage controller: sources, bad input, metrics, apply, tenants', () => {
  it('a missing source (SourceNotFound) and a non-PEM source (InvalidPEM): condition, Warning event, log line, error metric, targets kept', async () => {
    apply(`${cm('bad-src', pem('a'))}---
apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: bad}
spec:
  sources: [{configMap: {name: bad-src}}]
  target:
    namespaceSelector: {matchLabels: {bundles15: "on"}}
    configMap: {data: [{key: ca.crt}]}
    secret: {data: [{key: ca.crt}]}
`);
    await waitFor('bad synced', () => same(fps(cmPem('bundles15-a', 'bad') ?? ''), want('a')), 90_000);
    await waitFor('bad Ready', () => ready(CB, 'bad')?.status === 'True', 60_000);
    const before = { cm: cmPem('bundles15-a', 'bad'), secret: secretPem('bundles15-a', 'bad') };
    expect(fps(before.secret ?? '')).toEqual(want('a'));
    const errors = async (reason: string): Promise<number> =>
      sample(await metrics(), 'anchorage_bundle_sync_errors_total', `bundle="ClusterBundle/bad",reason="${reason}"`) ?? 0;

    const cases: [string, () => void, RegExp][] = [
      ['SourceNotFound', () => expect(kubectl(['delete', 'configmap', '-n', 'anchorage', 'bad-src']).code).toBe(0), /bad-src not found/],
      ['InvalidPEM', () => apply(cm('bad-src', 'this is not a certificate\n')), /no PEM certificate found/],
    ];
    for (const [reason, breakIt, message] of cases) {
      const errorsBefore = await errors(reason);
      breakIt();
      await waitFor(reason, () => ready(CB, 'bad')?.reason === reason, 60_000);
      const cond = ready(CB, 'bad');
      expect(cond?.status).toBe('False');
      expect(cond?.message).toMatch(message);
      // A Warning event on the ClusterBundle (in default), with that reason.
      await waitFor(`the ${reason} event`, () => eventReasons('default', 'bad').includes(reason), 30_000);
      // The controller's log line: a warning (pino level 40) naming the bundle and the reason.
      await waitFor(
        `the ${reason} log line`,
        () => logLines('ClusterBundle/bad').some((l) => l.msg === 'bundle not synced: previous targets kept' && l.reason === reason),
        30_000,
      );
      expect(
        logLines('ClusterBundle/bad').find((l) => l.msg === 'bundle not synced: previous targets kept' && l.reason === reason)?.level,
      ).toBe(40);
      // The error counter went up for that reason.
      await waitFor(`anchorage_bundle_sync_errors_total{reason=${reason}} up`, async () => (await errors(reason)) > errorsBefore, 30_000);
      // The previous targets, byte for byte.
      expect(cmPem('bundles15-a', 'bad')).toBe(before.cm);
      expect(secretPem('bundles15-a', 'bad')).toBe(before.secret);
      expect(cmPem('bundles15-b', 'bad')).toBe(before.cm);
    }
    // Fixed: synced again with the new content.
    apply(cm('bad-src', pem('b')));
    await waitFor(
      'bad synced again',
      () => ready(CB, 'bad')?.status === 'True' && same(fps(cmPem('bundles15-a', 'bad') ?? ''), want('b')),
      60_000,
    );
    expect(kubectl(['delete', CB, 'bad']).code).toBe(0);
  }, 300_000);

  const sel = (withSecretTarget = true): string => `apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: sel}
spec:
  sources:
  - configMap: {selector: {matchLabels: {bundles15-src: "yes"}}, keys: ["*.crt"]}
  - secret: {name: later, keys: [ca.crt]}
  target:
    namespaceSelector: {matchLabels: {bundles15: "on"}}
    configMap: {data: [{key: ca.crt}]}
${withSecretTarget ? '    secret: {data: [{key: ca.crt}]}\n' : ''}`;
  const selRight =
    (...names: string[]) =>
    () =>
      ['bundles15-a', 'bundles15-b'].every(
        (ns) => same(fps(cmPem(ns, 'sel') ?? ''), want(...names)) && same(fps(secretPem(ns, 'sel') ?? ''), want(...names)),
      );
  const secret = (value: string): string => `apiVersion: v1
kind: Secret
metadata: {name: later, namespace: anchorage}
stringData:
  ca.crt: |
${indent(value, 4)}
`;

  it('a ConfigMap source by label selector and a Secret source by name created later: created, updated, deleted', async () => {
    apply(`${cm('sel-1', pem('a'), 'bundles15-src: "yes"')}---
${cm('sel-unlabelled', pem('e'))}---
${sel()}`);
    // The Secret does not exist yet: not synced, no target.
    await waitFor('SourceNotFound for the Secret', () => ready(CB, 'sel')?.reason === 'SourceNotFound', 60_000);
    expect(ready(CB, 'sel')?.message).toMatch(/Secret anchorage\/later not found/);
    expect(getJson('configmap', '-n', 'bundles15-a', 'sel')).toBeUndefined();
    // The Secret created: both sources in every target.
    apply(secret(pem('b')));
    await waitFor('A and B', selRight('a', 'b'), 90_000);
    // A second ConfigMap matching the selector: added.
    apply(cm('sel-2', pem('c'), 'bundles15-src: "yes"'));
    await waitFor('A, B and C', selRight('a', 'b', 'c'), 60_000);
    // The Secret updated: B replaced by D.
    apply(secret(pem('d')));
    await waitFor('A, C and D', selRight('a', 'c', 'd'), 60_000);
    // A selected ConfigMap deleted: its CA leaves.
    expect(kubectl(['delete', 'configmap', '-n', 'anchorage', 'sel-1']).code).toBe(0);
    await waitFor('C and D', selRight('c', 'd'), 60_000);
    // A ConfigMap that stops matching the selector leaves too; one that starts matching joins.
    expect(kubectl(['label', 'configmap', '-n', 'anchorage', 'sel-2', 'bundles15-src-']).code).toBe(0);
    expect(kubectl(['label', 'configmap', '-n', 'anchorage', 'sel-unlabelled', 'bundles15-src=yes']).code).toBe(0);
    await waitFor('D and E', selRight('d', 'e'), 60_000);
    expect(ready(CB, 'sel')?.status).toBe('True');
  }, 300_000);

  it('anchorage_bundle_pem_bytes is the PEM target byte length; targets are written by server-side apply', async () => {
    const text = cmPem('bundles15-a', 'sel') as string;
    await waitFor(
      'pem bytes',
      async () => sample(await metrics(), 'anchorage_bundle_pem_bytes', 'bundle="ClusterBundle/sel"') === Buffer.byteLength(text),
      30_000,
    );
    expect(sample(await metrics(), 'anchorage_bundle_pem_bytes', 'bundle="ClusterBundle/sel"')).toBe(Buffer.byteLength(text));
    expect(Buffer.byteLength(secretPem('bundles15-b', 'sel') as string)).toBe(Buffer.byteLength(text));
    for (const kind of ['configmap', 'secret']) {
      const o = getJson<Obj>(kind, '-n', 'bundles15-a', 'sel', '--show-managed-fields');
      const mine = o?.metadata.managedFields?.filter((f) => f.manager === 'anchorage-bundles') ?? [];
      expect(mine.map((f) => f.operation)).toEqual(['Apply']);
      // The applied fields include the data key and the ownership label.
      expect(JSON.stringify(mine[0]?.fieldsV1)).toContain('"f:ca.crt"');
      expect(JSON.stringify(mine[0]?.fieldsV1)).toContain('"f:trust.anchorage.dev/bundle"');
    }
  }, 120_000);

  it('another bundle as a source: its change propagates, its deletion is SourceNotFound with the targets kept', async () => {
    apply(`apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: parent}
spec:
  sources:
  - bundle: {name: sel}
  - inLine: |
${indent(pem('t'), 6)}
  target:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: bundles15-a}}
    configMap: {data: [{key: all.pem}]}
`);
    await waitFor('parent: D, E and T', () => same(fps(cmPem('bundles15-a', 'parent', 'all.pem') ?? ''), want('d', 'e', 't')), 90_000);
    // The source bundle's own source changes: the parent follows.
    apply(secret(pem('b')));
    await waitFor('sel: B and E', selRight('b', 'e'), 60_000);
    await waitFor('parent: B, E and T', () => same(fps(cmPem('bundles15-a', 'parent', 'all.pem') ?? ''), want('b', 'e', 't')), 60_000);
    // The source bundle's spec changes (another ConfigMap selected): the parent follows.
    apply(cm('sel-3', pem('c'), 'bundles15-src: "yes"'));
    await waitFor(
      'parent: B, C, E and T',
      () => same(fps(cmPem('bundles15-a', 'parent', 'all.pem') ?? ''), want('b', 'c', 'e', 't')),
      60_000,
    );
    const before = cmPem('bundles15-a', 'parent', 'all.pem');
    // The source bundle deleted (docs/bundles.md: a missing source is SourceNotFound, the previous targets are kept).
    expect(kubectl(['delete', CB, 'sel']).code).toBe(0);
    await waitFor('parent SourceNotFound', () => ready(CB, 'parent')?.reason === 'SourceNotFound', 60_000);
    expect(ready(CB, 'parent')?.message).toMatch(/ClusterBundle sel not found/);
    await waitFor('the event', () => eventReasons('default', 'parent').includes('SourceNotFound'), 30_000);
    // sel's own targets are deleted with it; the parent's stay as they were.
    await waitFor(
      "sel's targets deleted",
      () => kubectl(['get', 'configmaps,secrets', '-A', '-l', 'trust.anchorage.dev/bundle=c.sel', '-o', 'name']).stdout.trim() === '',
      60_000,
    );
    expect(cmPem('bundles15-a', 'parent', 'all.pem')).toBe(before);
    // Recreated: the parent syncs again.
    apply(sel());
    await waitFor('parent synced again', () => ready(CB, 'parent')?.status === 'True', 60_000);
    expect(fps(cmPem('bundles15-a', 'parent', 'all.pem') ?? '')).toEqual(want('b', 'c', 'e', 't'));
  }, 300_000);

  it('a target kind dropped from the spec: those targets are removed, the others kept', async () => {
    await waitFor('sel: B, C and E', selRight('b', 'c', 'e'), 60_000);
    const cmBefore = cmPem('bundles15-a', 'sel');
    apply(sel(false));
    await waitFor(
      'the Secret targets removed',
      () => kubectl(['get', 'secrets', '-A', '-l', 'trust.anchorage.dev/bundle=c.sel', '-o', 'name']).stdout.trim() === '',
      60_000,
    );
    await waitFor(
      'Ready with 2 targets',
      () => getJson<{ status?: { targetCount?: number } }>(CB, 'sel')?.status?.targetCount === 2,
      60_000,
    );
    expect(cmPem('bundles15-a', 'sel')).toBe(cmBefore);
    expect(cmPem('bundles15-b', 'sel')).toBe(cmBefore);
  }, 120_000);

  it('a tenant with only a namespaced Role on bundles creates a Bundle that syncs, and cannot create a ClusterBundle', async () => {
    apply(`apiVersion: v1
kind: ServiceAccount
metadata: {name: tenant, namespace: bundles15-team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bundles, namespace: bundles15-team}
rules:
- apiGroups: [trust.anchorage.dev]
  resources: [bundles]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: tenant-bundles, namespace: bundles15-team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bundles}
subjects: [{kind: ServiceAccount, name: tenant, namespace: bundles15-team}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: team-roots, namespace: bundles15-team}
data:
  ca.crt: |
${indent(pem('t'), 4)}
`);
    const kc = tokenKubeconfig('bundles15-team', 'tenant');
    const asTenant = (args: string[], input?: string) => cluster.kubectl(args, kc, input);
    expect(asTenant(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']).stdout).toBe(
      'system:serviceaccount:bundles15-team:tenant',
    );
    // A namespaced Bundle: created by the tenant, synced by the controller.
    const created = asTenant(
      ['create', '-f', '-'],
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: mine, namespace: bundles15-team}
spec:
  sources: [{configMap: {name: team-roots}}]
  target: {configMap: {data: [{key: ca.crt}]}, secret: {data: [{key: ca.crt}]}}
`,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    await waitFor(
      'the tenant targets',
      () => same(fps(cmPem('bundles15-team', 'mine') ?? ''), want('t')) && same(fps(secretPem('bundles15-team', 'mine') ?? ''), want('t')),
      90_000,
    );
    await waitFor('Ready', () => ready('bundles.trust.anchorage.dev', 'mine', 'bundles15-team')?.status === 'True', 60_000);
    // The tenant reads its Bundle's status through its own rights.
    const own = asTenant(['get', 'bundles.trust.anchorage.dev', 'mine', '-o', 'jsonpath={.status.caCount}']);
    expect(own.stdout).toBe('1');
    // A ClusterBundle: refused by the API server (403), nothing created.
    const cluster403 = asTenant(
      ['create', '-f', '-'],
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: bundles15-tenant}
spec:
  sources: [{inLine: "x"}]
  target: {configMap: {data: [{key: ca.crt}]}}
`,
    );
    expect(cluster403.code).not.toBe(0);
    expect(cluster403.stderr).toMatch(/\(Forbidden\).*clusterbundles\.trust\.anchorage\.dev.*forbidden/);
    expect(getJson(CB, 'bundles15-tenant')).toBeUndefined();
    // Nor a Bundle in another namespace.
    const elsewhere = asTenant(
      ['create', '-f', '-'],
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: mine, namespace: bundles15-a}
spec:
  sources: [{configMap: {name: team-roots}}]
  target: {configMap: {data: [{key: ca.crt}]}}
`,
    );
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/\(Forbidden\)/);
    // Deleted by the tenant: its targets go.
    expect(asTenant(['delete', 'bundles.trust.anchorage.dev', 'mine']).code).toBe(0);
    await waitFor(
      'the tenant targets deleted',
      () => !getJson('configmap', '-n', 'bundles15-team', 'mine') && !getJson('secret', '-n', 'bundles15-team', 'mine'),
      60_000,
    );
  }, 180_000);

  it("the chart's aggregated roles: a user bound to edit in a namespace manages Bundles there, view only reads them", async () => {
    // The ClusterRoles as deploy/manifests ships them (rendered from the chart).
    const shipped = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'manifests', 'controller.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
      .filter((o) => o?.kind === 'ClusterRole' && /-bundles-(edit|view)$/.test(o.metadata?.name ?? ''));
    expect(shipped.map((o) => o?.metadata?.name).sort()).toEqual([
      'anchorage-controller-bundles-edit',
      'anchorage-controller-bundles-view',
    ]);
    apply(shipped.map((o) => stringify(o)).join('---\n'));
    apply(`apiVersion: v1
kind: Namespace
metadata: {name: bundles15-edit}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: editor, namespace: bundles15-edit}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer, namespace: bundles15-edit}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: editor-edit, namespace: bundles15-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: ServiceAccount, name: editor, namespace: bundles15-edit}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-view, namespace: bundles15-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: viewer, namespace: bundles15-edit}]
`);
    // The controller-manager's aggregation controller folds the rules into edit and view.
    const can = (who: string, verb: string, resource: string): string =>
      kubectl(['auth', 'can-i', verb, resource, '-n', 'bundles15-edit', `--as=system:serviceaccount:bundles15-edit:${who}`]).stdout.trim();
    await waitFor('edit aggregated', () => can('editor', 'create', 'bundles.trust.anchorage.dev') === 'yes', 60_000);
    await waitFor('view aggregated', () => can('viewer', 'list', 'bundles.trust.anchorage.dev') === 'yes', 60_000);
    const editor = tokenKubeconfig('bundles15-edit', 'editor');
    const viewer = tokenKubeconfig('bundles15-edit', 'viewer');
    const bundle = (name: string, ns = 'bundles15-edit') => `apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: ${name}, namespace: ${ns}}
spec:
  sources:
  - inLine: |
${indent(pem('t'), 6)}
  target: {configMap: {data: [{key: ca.crt}]}}
`;
    const made = cluster.kubectl(['create', '-f', '-'], editor, bundle('edited'));
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    await waitFor("the editor's target", () => same(fps(cmPem('bundles15-edit', 'edited') ?? ''), want('t')), 90_000);
    expect(cluster.kubectl(['get', 'bundles.trust.anchorage.dev', 'edited', '-o', 'name'], viewer).stdout.trim()).toBe(
      'bundle.trust.anchorage.dev/edited',
    );
    const viewerCreate = cluster.kubectl(['create', '-f', '-'], viewer, bundle('viewed'));
    expect(viewerCreate.code).not.toBe(0);
    expect(viewerCreate.stderr).toMatch(/\(Forbidden\)/);
    // edit in one namespace is not edit elsewhere, nor a ClusterBundle.
    const elsewhere = cluster.kubectl(['create', '-f', '-'], editor, bundle('edited', 'bundles15-team'));
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/\(Forbidden\)/);
    expect(can('editor', 'create', 'clusterbundles.trust.anchorage.dev')).toBe('no');
    expect(cluster.kubectl(['delete', 'bundles.trust.anchorage.dev', 'edited'], editor).code).toBe(0);
    await waitFor("the editor's target deleted", () => !getJson('configmap', '-n', 'bundles15-edit', 'edited'), 60_000);
  }, 180_000);
});
