// The Helm chart (deploy/helm/anchorage) against the real helm (built from its Go module, test/helm/build.sh)
// and a real control plane with RBAC on (test/cluster/harness.ts): `helm lint` clean, `helm template`
// stable and checked by values.schema.json, every object of the default and the all-on render accepted by
// the API server (server-side apply, dry run; pod templates under the restricted Pod Security Standard),
// deploy/manifests up to date; then parts run out of cluster with a kubeconfig holding only their own
// ServiceAccount's token (`kubectl create token`): each does its job and is refused (403) outside its RBAC.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ScanReport } from '../src/scan/scan.ts';
import { type Cluster, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { HELM_BUILD_TIMEOUT_MS, helmBin } from './support/helm.ts';
import { CHART, must, NODE, type Obj, objects, Release, ROOT, stopProc as stop } from './support/helm-release.ts';
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';

const ALL_ON = join(CHART, 'ci', 'all-on-values.yaml');
const NS = 'helm-anchorage';
const TARGET_NS = 'helm-target';
const SCAN_NS = 'helm-scan';
const WEBHOOK_NS = 'helm-webhook-pods';
const dir = mkdtempSync(join(tmpdir(), 'helm-anchorage-'));
const release = new Release(dir, NS);
const { run, kubectl, template, writeTmp, can, sar, saKubeconfig, api, start, openssl, makeCa } = release;

let c: Cluster;
let helm = '';
let caPem = '';

beforeAll(async () => {
  helm = await helmBin();
  c = await startCluster({
    apiserverArgs: ['--feature-gates=ClusterTrustBundle=true', '--runtime-config=certificates.k8s.io/v1beta1=true'],
  });
  caPem = readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt'), 'utf8');
  Object.assign(release, { c, helm, caPem });
  // The release namespace enforces the restricted Pod Security Standard, as docs/install.md advises.
  kubectl('create', 'namespace', NS);
  kubectl('label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted');
  await waitFor(
    'the default ServiceAccount of the release namespace',
    () => c.kubectl(['-n', NS, 'get', 'serviceaccount', 'default']).code === 0,
  );
}, K8S_BUILD_TIMEOUT_MS + HELM_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await release.stopAll();
  await c?.stop();
  if (process.env.ANCHORAGE_KEEP_CLUSTER !== '1') rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the chart', () => {
  it('helm lint --strict is clean for the default and the all-on values', () => {
    for (const extra of [[], ['-f', ALL_ON]]) {
      const r = run(helm, ['lint', '--strict', CHART, '--namespace', NS, ...extra]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('helm template is stable, and values.schema.json refuses what is not a value', () => {
    for (const extra of [[], ['-f', ALL_ON]]) expect(must(template(...extra), 'template')).toBe(must(template(...extra), 'template'));
    const typo = template('--set', 'controller.replica=3');
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/additional properties 'replica' not allowed|replica/);
    const policy = template('--set', 'webhook.failurePolicy=Sometimes');
    expect(policy.code).not.toBe(0);
    expect(policy.stderr).toContain('failurePolicy');
    const open = template('--set', 'server.enabled=true');
    expect(open.code).not.toBe(0);
    expect(open.stderr).toContain('server.auth.existingSecret');
    const sqliteHa = template('--set', 'caSigner.enabled=true', '--set', 'caSigner.replicas=2');
    expect(sqliteHa.code).not.toBe(0);
    expect(sqliteHa.stderr).toContain('PostgreSQL');
  });

  it('what the renders hold: one ServiceAccount per part, restricted pods with limits, PDB and anti-affinity for HA parts, the webhook registration', () => {
    const def = objects(must(template(), 'template'));
    const kinds = def.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toContain('CustomResourceDefinition/clusterbundles.trust.anchorage.dev');
    expect(kinds).toContain('CustomResourceDefinition/bundles.trust.anchorage.dev');
    expect(kinds).toContain('Deployment/anchorage-controller');
    expect(kinds).toContain('PodDisruptionBudget/anchorage-controller');
    expect(def.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual(['anchorage-controller']);
    // The CRDs are the ones in deploy/crds, kept on uninstall.
    for (const crd of def.filter((o) => o.kind === 'CustomResourceDefinition')) {
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      const file = join(ROOT, 'deploy', 'crds', `trust.anchorage.dev_${crd.metadata.name.split('.')[0]}.yaml`);
      const orig = objects(readFileSync(file, 'utf8'))[0] as Obj;
      expect(crd.spec).toEqual(orig.spec);
    }

    const all = objects(must(template('-f', ALL_ON), 'template all-on'));
    const deployments = all.filter((o) => o.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
      'anchorage-agent',
      'anchorage-ca-signer',
      'anchorage-controller',
      'anchorage-server',
      'anchorage-webhook',
    ]);
    const sas = new Set(all.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name));
    expect(sas.size).toBe(5);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(sas.has(pod.serviceAccountName), d.metadata.name).toBe(true);
      expect(pod.serviceAccountName).toBe(d.metadata.name);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const ct of pod.containers) {
        expect(ct.securityContext, d.metadata.name).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(Object.keys(ct.resources.requests).sort()).toEqual(['cpu', 'memory']);
        expect(ct.resources.limits.memory).toBeTruthy();
      }
      if (d.spec.replicas > 1) {
        expect(pod.affinity.podAntiAffinity, d.metadata.name).toBeTruthy();
        expect(all.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === d.metadata.name)).toBe(true);
      }
      expect(all.some((o) => o.kind === 'NetworkPolicy' && o.metadata.name === d.metadata.name)).toBe(true);
    }
    // Each binding names its own part's ServiceAccount and role.
    for (const b of all.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: b.subjects?.[0].name, namespace: NS }]);
      expect(b.roleRef.name.startsWith(b.subjects?.[0].name)).toBe(true);
    }
    // Nothing grants everything; the read-only parts only list and watch.
    for (const r of all.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role'))
      for (const rule of r.rules ?? []) {
        expect(rule.verbs, r.metadata.name).not.toContain('*');
        expect(rule.resources, r.metadata.name).not.toContain('*');
        if (/-(server|agent)$/.test(r.metadata.name)) expect(rule.verbs.every((v: string) => v === 'list' || v === 'watch')).toBe(true);
      }
    const mwc = all.find((o) => o.kind === 'MutatingWebhookConfiguration') as Obj;
    const hook = mwc.webhooks?.[0];
    expect(hook.failurePolicy).toBe('Ignore');
    expect(hook.timeoutSeconds).toBeLessThanOrEqual(10);
    expect(hook.sideEffects).toBe('None');
    expect(hook.namespaceSelector.matchExpressions[0]).toEqual({
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['kube-system', NS, 'monitoring', 'logging'],
    });
  });

  it('deploy/manifests and the chart’s copy of the CRDs are what the chart renders (npm run manifests -- --check)', () => {
    const r = run('bash', [join(ROOT, 'scripts', 'manifests.sh'), '--check'], { env: { ...process.env, HELM: helm } });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('the image', () => {
  it('the Dockerfile is multi-stage on Node 24 slim, ships the packed package and its SBOM, and runs as a numeric non-root user', () => {
    const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    expect(df.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3);
    expect(df).toContain('npm pack');
    expect(df).toMatch(/npm ci --omit dev/);
    expect(df).toContain('bash scripts/sbom.sh /out/sbom.cdx.json');
    expect(df).toContain('COPY --from=build /out/sbom.cdx.json /opt/anchorage/sbom.cdx.json');
    const user = df.match(/^USER (\d+):(\d+)$/m);
    expect(Number(user?.[1])).toBeGreaterThan(0);
    expect(
      df
        .trimEnd()
        .split('\n')
        .filter((l) => l.startsWith('USER ')).length,
    ).toBe(1);
  });

  it('npm run image without a container builder says so in one line and exits 1', () => {
    const r = run('bash', [join(ROOT, 'scripts', 'image.sh')], { env: { ...process.env, ANCHORAGE_IMAGE_BUILDER: 'no-such-builder' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('npm run image: no container builder here (no-such-builder: not a builder this script knows');
  });

  it('npm run sbom: CycloneDX listing every production dependency at its locked version, and no dev-only package', () => {
    const out = join(dir, 'sbom.cdx.json');
    must(run('bash', [join(ROOT, 'scripts', 'sbom.sh'), out]), 'sbom.sh');
    const sbom = JSON.parse(readFileSync(out, 'utf8')) as {
      bomFormat: string;
      specVersion: string;
      components: { name: string; version: string; purl: string }[];
    };
    expect(sbom.bomFormat).toBe('CycloneDX');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string; dev?: boolean }>;
    };
    // Exactly what `npm ci --omit dev` installs: the lockfile's entries npm does not flag dev.
    const installed = Object.entries(lock.packages)
      .filter(([k, v]) => k !== '' && !v.dev)
      .map(([k, v]) => `${k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${v.version}`);
    expect(sbom.components.map((x) => `${x.name}@${x.version}`).sort()).toEqual([...new Set(installed)].sort());
    for (const dep of Object.keys(pkg.dependencies))
      expect(sbom.components.find((x) => x.name === dep)?.purl, dep).toContain(`@${lock.packages[`node_modules/${dep}`]?.version}`);
    for (const d of Object.keys(pkg.devDependencies).filter((d) => !pkg.dependencies[d] && lock.packages[`node_modules/${d}`]?.dev))
      expect(
        sbom.components.some((x) => x.name === d),
        d,
      ).toBe(false);
  });
});

describe('against the API server (RBAC on)', () => {
  it('every object of the default and the all-on render is accepted (server-side apply, dry run), pods under the restricted standard', () => {
    for (const [name, extra] of [
      ['default', []],
      ['all-on', ['-f', ALL_ON]],
    ] as const) {
      const file = writeTmp(`${name}.yaml`, must(template(...extra), `template ${name}`));
      const r = c.kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=helm-test', '-f', file]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stderr, name).not.toMatch(/violate PodSecurity|Warning/);
      const applied = r.stdout.trim().split('\n');
      expect(applied.length).toBe(objects(readFileSync(file, 'utf8')).length);
      expect(
        applied.every((l) => /serverside-applied \(server dry run\)$/.test(l)),
        r.stdout,
      ).toBe(true);
      // Each pod template as a Pod in the namespace that enforces `restricted`: admitted.
      const pods = objects(readFileSync(file, 'utf8'))
        .filter((o) => o.kind === 'Deployment')
        .map((d) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${d.metadata.name}-pod`, namespace: NS },
          // The release's ServiceAccounts exist only in the dry run above.
          spec: { ...d.spec.template.spec, serviceAccountName: 'default' },
        }));
      const podFile = writeTmp(`${name}-pods.yaml`, pods.map((p) => stringify(p)).join('---\n'));
      const p = c.kubectl(['create', '--dry-run=server', '-f', podFile]);
      expect(p.code, `${name} pods: ${p.stderr}`).toBe(0);
      expect(p.stderr).not.toMatch(/violate/);
    }
  });
});

describe('each part with its own ServiceAccount token, out of cluster', () => {
  let applied = false;
  const apply = (...extra: string[]) => {
    const file = writeTmp(
      'release.yaml',
      must(template('--set', 'server.enabled=true', '--set', 'server.auth.existingSecret=x', ...extra), 'template'),
    );
    kubectl('apply', '--server-side', '--field-manager=helm-test', '--force-conflicts', '-f', file);
    applied = true;
  };
  beforeAll(() => {
    apply();
    kubectl(
      'wait',
      '--for=condition=Established',
      '--timeout=120s',
      'crd/clusterbundles.trust.anchorage.dev',
      'crd/bundles.trust.anchorage.dev',
    );
  }, 300_000);

  it('the scanner (anchorage serve’s ServiceAccount) reads what scan reads, watches it, and can write nothing', async () => {
    expect(applied).toBe(true);
    const sa = 'anchorage-server';
    kubectl('create', 'namespace', SCAN_NS);
    const ca = makeCa('helm-scan-ca');
    writeTmp('helm-scan-ca.pem', ca.pem);
    kubectl('-n', SCAN_NS, 'create', 'secret', 'generic', 'seeded', `--from-file=ca.crt=${join(dir, 'helm-scan-ca.pem')}`);
    // What RBAC says.
    expect(can(sa, 'list', 'secrets', '-A')).toBe(true);
    expect(can(sa, 'watch', 'configmaps', '-A')).toBe(true);
    expect(can(sa, 'list', 'certificatesigningrequests.certificates.k8s.io')).toBe(true);
    expect(can(sa, 'list', 'pods', '-n', 'kube-system'), 'the mirror pods').toBe(true);
    for (const denied of [
      ['list', 'pods', '-n', SCAN_NS],
      ['get', 'secrets', '-n', SCAN_NS],
      ['create', 'secrets', '-n', SCAN_NS],
      ['update', 'secrets', '-n', SCAN_NS],
      ['delete', 'secrets', '-n', SCAN_NS],
      ['patch', 'configmaps', '-n', SCAN_NS],
      ['create', 'pods', '-n', SCAN_NS],
      ['create', 'serviceaccounts', '--subresource=token', '-n', NS],
      ['*', '*'],
    ])
      expect(can(sa, ...denied), denied.join(' ')).toBe(false);

    const { path: kc, token } = saKubeconfig(sa);
    // Its job, one shot: `anchorage scan` with that kubeconfig finds the seeded CA, with no resource refused.
    const scan = run(NODE, [join(ROOT, 'src', 'cli', 'main.ts'), 'scan', '--kubeconfig', kc, '-o', 'json']);
    expect([0, 1], scan.stderr).toContain(scan.code);
    const report = JSON.parse(scan.stdout) as ScanReport;
    expect(scan.stderr).not.toMatch(/403|forbidden/i);
    expect(report.skipped.filter((s) => /403|forbidden/i.test(s.reason))).toEqual([]);
    const found = report.certificates.find((x) => x.sha256 === ca.sha256);
    expect(found, 'the seeded CA').toBeTruthy();
    expect(JSON.stringify(found?.locations)).toContain(`${SCAN_NS}/Secret/seeded`);

    // Its job, continuously: `anchorage serve` with that kubeconfig lists and watches every resource.
    const port = await freePort();
    const readToken = 'helm-test-read-token-0123456789';
    const serve = start(
      'serve',
      ['serve', '--kubeconfig', kc, '--listen', `127.0.0.1:${port}`, '--no-history', '--read-token', 'env:HELM_READ_TOKEN'],
      {
        HELM_READ_TOKEN: readToken,
      },
    );
    const get = async <T>(path: string): Promise<T> => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${readToken}` } });
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
      return (await r.json()) as T;
    };
    type Clusters = { items: { sources: { name: string; status: string; reason?: string }[] }[] };
    const has = async (sha: string): Promise<boolean> =>
      ((await get<{ total: number }>(`/api/v1/certificates?q=${sha.slice(0, 16)}`).catch(() => ({ total: 0 }))).total ?? 0) > 0;
    await waitFor(
      'serve: every source read and the seeded CA found',
      async () => {
        if (serve.proc.exitCode !== null) throw new Error(`serve exited: ${readFileSync(serve.log, 'utf8')}`);
        const cl = await get<Clusters>('/api/v1/clusters').catch(() => undefined);
        const sources = cl?.items[0]?.sources.filter((s) => !s.name.startsWith('endpoint:')) ?? [];
        return sources.length >= 7 && sources.every((s) => s.status === 'ok') && (await has(ca.sha256));
      },
      180_000,
      500,
    );
    // A Secret added while it watches shows up: the watch is allowed too.
    const later = makeCa('helm-scan-later');
    writeTmp('helm-scan-later.pem', later.pem);
    kubectl('-n', SCAN_NS, 'create', 'secret', 'generic', 'later', `--from-file=ca.crt=${join(dir, 'helm-scan-later.pem')}`);
    await waitFor('serve: the Secret created while watching', () => has(later.sha256), 180_000, 500);
    expect(readFileSync(serve.log, 'utf8')).not.toMatch(/forbidden|HTTP 403/i);
    await stop(serve.proc);

    // Refused by a real attempt: HTTP 403 for each write, and for a read by name.
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'scanner-was-here' }, stringData: { x: 'y' } };
    expect((await api(token, 'POST', `/api/v1/namespaces/${SCAN_NS}/secrets`, secret)).status).toBe(403);
    expect((await api(token, 'GET', `/api/v1/namespaces/${SCAN_NS}/secrets/seeded`)).status).toBe(403);
    expect((await api(token, 'DELETE', `/api/v1/namespaces/${SCAN_NS}/secrets/seeded`)).status).toBe(403);
    expect((await api(token, 'PATCH', `/api/v1/namespaces/${SCAN_NS}/configmaps/kube-root-ca.crt`, { data: { x: 'y' } })).status).toBe(403);
    expect((await api(token, 'GET', `/api/v1/namespaces/${SCAN_NS}/secrets?limit=1`)).status).toBe(200);
    const viaKubectl = c.kubectl(['-n', SCAN_NS, 'create', 'secret', 'generic', 'scanner-was-here', '--from-literal=x=y'], kc);
    expect(viaKubectl.code).not.toBe(0);
    expect(viaKubectl.stderr).toMatch(/forbidden.*cannot create resource "secrets"/i);
    expect(c.kubectl(['-n', SCAN_NS, 'get', 'secret', 'scanner-was-here']).code).not.toBe(0);
  }, 600_000);

  it('the bundles controller syncs a ClusterBundle to its targets with its own token, and is refused outside its RBAC', async () => {
    expect(applied).toBe(true);
    const sa = 'anchorage-controller';
    kubectl('create', 'namespace', TARGET_NS);
    kubectl('label', 'namespace', TARGET_NS, 'helm-test=target');
    const ca = makeCa('helm-bundle-ca');
    writeTmp('helm-bundle-ca.pem', ca.pem);
    kubectl('-n', NS, 'create', 'configmap', 'corp-roots', `--from-file=ca.crt=${join(dir, 'helm-bundle-ca.pem')}`);
    const bundle = {
      apiVersion: 'trust.anchorage.dev/v1alpha1',
      kind: 'ClusterBundle',
      metadata: { name: 'helm-corp' },
      spec: {
        sources: [{ configMap: { name: 'corp-roots' } }],
        target: {
          namespaceSelector: { matchLabels: { 'helm-test': 'target' } },
          configMap: { data: [{ key: 'ca.crt' }] },
          secret: { data: [{ key: 'ca.crt' }] },
        },
      },
    };
    kubectl('apply', '-f', writeTmp('bundle.yaml', stringify(bundle)));

    // What RBAC says: its targets and its own Lease, nothing else.
    expect(can(sa, 'create', 'configmaps', '-n', TARGET_NS)).toBe(true);
    expect(can(sa, 'create', 'secrets', '-n', TARGET_NS)).toBe(true);
    expect(can(sa, 'patch', 'clusterbundles.trust.anchorage.dev', '--subresource=status')).toBe(true);
    expect(can(sa, 'update', 'leases.coordination.k8s.io/anchorage-controller', '-n', NS)).toBe(true);
    for (const denied of [
      ['update', 'leases.coordination.k8s.io/anchorage-controller', '-n', 'default'],
      ['create', 'leases.coordination.k8s.io', '-n', 'default'],
      ['update', 'leases.coordination.k8s.io/someone-else', '-n', NS],
      ['update', 'clusterbundles.trust.anchorage.dev'],
      ['create', 'pods', '-n', TARGET_NS],
      ['patch', `namespaces/${TARGET_NS}`],
      ['update', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
      ['*', '*'],
    ])
      expect(can(sa, ...denied), denied.join(' ')).toBe(false);

    expect(sar(sa, { verb: 'attest', group: 'certificates.k8s.io', resource: 'signers', name: 'example.com/corp' })).toBe(false);
    // Its job: the chart's arguments, its token only.
    const { path: kc, token } = saKubeconfig(sa);
    const health = await freePort();
    const ctl = start('controller', [
      'controller',
      '--kubeconfig',
      kc,
      `--trust-namespace=${NS}`,
      `--lease-namespace=${NS}`,
      '--lease-name=anchorage-controller',
      '--identity=helm-test-controller',
      '--health-host=127.0.0.1',
      `--health-port=${health}`,
      '--no-trust-manager',
    ]);
    const flat = (pem: string | undefined): string => (pem ?? '').replace(/\s+/g, '');
    const getJson = <T>(...args: string[]): T | undefined => {
      const r = c.kubectl(['get', ...args, '-o', 'json']);
      return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
    };
    await waitFor(
      'the ClusterBundle Ready with both targets written',
      () => {
        if (ctl.proc.exitCode !== null) throw new Error(`controller exited: ${readFileSync(ctl.log, 'utf8')}`);
        const b = getJson<{ status?: { conditions?: { type: string; status: string }[] } }>('clusterbundle', 'helm-corp');
        const cm = getJson<Obj>('-n', TARGET_NS, 'configmap', 'helm-corp');
        const sec = getJson<Obj>('-n', TARGET_NS, 'secret', 'helm-corp');
        return (
          !!b?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') &&
          flat(cm?.data?.['ca.crt']) === flat(ca.pem) &&
          flat(Buffer.from(sec?.data?.['ca.crt'] ?? '', 'base64').toString('utf8')) === flat(ca.pem)
        );
      },
      180_000,
      500,
    );
    expect(kubectl('-n', NS, 'get', 'lease', 'anchorage-controller', '-o', 'jsonpath={.spec.holderIdentity}').trim()).toBe(
      'helm-test-controller',
    );
    // A target deleted by hand comes back (its watch and write rights at work).
    kubectl('-n', TARGET_NS, 'delete', 'configmap', 'helm-corp');
    await waitFor(
      'the deleted target restored',
      () => flat(getJson<Obj>('-n', TARGET_NS, 'configmap', 'helm-corp')?.data?.['ca.crt']) === flat(ca.pem),
      180_000,
      500,
    );
    expect(readFileSync(ctl.log, 'utf8')).not.toMatch(/forbidden|HTTP 403/i);

    // Refused by a real attempt (HTTP 403).
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'anchorage-controller' }, spec: {} };
    expect((await api(token, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', lease)).status).toBe(403);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    expect((await api(token, 'POST', `/api/v1/namespaces/${TARGET_NS}/pods`, pod)).status).toBe(403);
    expect((await api(token, 'PATCH', `/api/v1/namespaces/${TARGET_NS}`, { metadata: { labels: { x: 'y' } } })).status).toBe(403);
    expect(
      (await api(token, 'PATCH', '/apis/trust.anchorage.dev/v1alpha1/clusterbundles/helm-corp', { spec: { sources: [] } })).status,
    ).toBe(403);
    await stop(ctl.proc);

    // controller.secretTargets=false: the same ServiceAccount can no longer write any Secret.
    apply('--set', 'controller.secretTargets=false');
    expect(can(sa, 'create', 'secrets', '-n', TARGET_NS)).toBe(false);
    expect(can(sa, 'create', 'configmaps', '-n', TARGET_NS)).toBe(true);
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'controller-was-here' }, stringData: { x: 'y' } };
    expect((await api(token, 'POST', `/api/v1/namespaces/${TARGET_NS}/secrets`, secret)).status).toBe(403);
    expect((await api(token, 'DELETE', `/api/v1/namespaces/${TARGET_NS}/secrets/helm-corp`)).status).toBe(403);
    apply();
  }, 600_000);

  it('the CA signer signs an approved CSR for its CA with its own token, publishes the CA, and approves nothing', async () => {
    apply(
      '--set',
      'caSigner.enabled=true',
      '--set',
      'caSigner.cas[0]=web',
      '--set',
      `caSigner.publishNamespace=${NS}`,
      '--set',
      'caSigner.store.persistence.enabled=false',
    );
    const sa = 'anchorage-ca-signer';
    const cli = (...a: string[]) => must(run(NODE, [join(ROOT, 'src', 'cli', 'main.ts'), ...a]), `anchorage ${a.join(' ')}`);
    const kek = join(dir, 'kek');
    const db = `sqlite:${join(dir, 'ca.db')}`;
    cli('ca', 'kek', '--out', kek);
    cli('ca', 'create', 'web', '--db', db, '--kek', `file:${kek}`, '--allow-dns', '*.helm.svc');

    // What RBAC says: sign for anchorage.dev/web only, write CSR status, approve nothing.
    const signer = (verb: string, name: string) => sar(sa, { verb, group: 'certificates.k8s.io', resource: 'signers', name });
    expect(signer('sign', 'anchorage.dev/web')).toBe(true);
    expect(signer('sign', 'anchorage.dev/other')).toBe(false);
    expect(signer('sign', 'kubernetes.io/kube-apiserver-client')).toBe(false);
    expect(signer('approve', 'anchorage.dev/web')).toBe(false);
    expect(can(sa, 'update', 'certificatesigningrequests.certificates.k8s.io', '--subresource=status')).toBe(true);
    for (const denied of [
      ['update', 'certificatesigningrequests.certificates.k8s.io', '--subresource=approval'],
      ['create', 'certificatesigningrequests.certificates.k8s.io'],
      ['delete', 'certificatesigningrequests.certificates.k8s.io'],
      ['patch', 'configmaps/anchorage-ca-other', '-n', NS],
      ['create', 'configmaps', '-n', 'default'],
      ['get', 'secrets', '-n', NS],
      ['*', '*'],
    ])
      expect(can(sa, ...denied), denied.join(' ')).toBe(false);

    const { path: kc, token } = saKubeconfig(sa);
    const health = await freePort();
    const signerProc = start('ca-signer', [
      'ca',
      'k8s-signer',
      '--kubeconfig',
      kc,
      '--db',
      db,
      '--kek',
      `file:${kek}`,
      `--lease-namespace=${NS}`,
      '--lease-name=anchorage-ca-signer',
      `--publish-namespace=${NS}`,
      '--identity=helm-test-signer',
      '--health-host=127.0.0.1',
      `--health-port=${health}`,
    ]);
    openssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'web.key',
      '-out',
      'web.csr',
      '-subj',
      '/CN=web.helm.svc',
      '-addext',
      'subjectAltName=DNS:web.helm.svc',
    );
    const csr = {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'helm-web' },
      spec: {
        request: readFileSync(join(dir, 'web.csr')).toString('base64'),
        signerName: 'anchorage.dev/web',
        usages: ['digital signature', 'server auth'],
        expirationSeconds: 3600,
      },
    };
    kubectl('create', '-f', writeTmp('csr.json', JSON.stringify(csr)));
    // It approves nothing: its own attempt is refused; the cluster's admin approves.
    const selfApproval = await api(token, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/helm-web/approval', {
      ...csr,
      status: { conditions: [{ type: 'Approved', status: 'True', reason: 'Self', message: 'the signer approving' }] },
    });
    expect(selfApproval.status).toBe(403);
    kubectl('certificate', 'approve', 'helm-web');
    await waitFor(
      'the CSR signed and the CA published',
      () => {
        if (signerProc.proc.exitCode !== null) throw new Error(`signer exited: ${readFileSync(signerProc.log, 'utf8')}`);
        const cert = c.kubectl(['get', 'csr', 'helm-web', '-o', 'jsonpath={.status.certificate}']).stdout.trim();
        const cm = c.kubectl(['-n', NS, 'get', 'configmap', 'anchorage-ca-web', '-o', 'jsonpath={.data.ca\\.crt}']);
        if (!cert || cm.code !== 0 || !cm.stdout.includes('BEGIN CERTIFICATE')) return false;
        writeTmp('web.crt', Buffer.from(cert, 'base64').toString('utf8'));
        writeTmp('web-ca.crt', cm.stdout);
        return true;
      },
      180_000,
      500,
    );
    expect(openssl('verify', '-CAfile', join(dir, 'web-ca.crt'), join(dir, 'web.crt')).trim()).toBe(`${join(dir, 'web.crt')}: OK`);
    expect(openssl('x509', '-in', join(dir, 'web.crt'), '-noout', '-ext', 'subjectAltName')).toContain('DNS:web.helm.svc');
    expect(kubectl('-n', NS, 'get', 'lease', 'anchorage-ca-signer', '-o', 'jsonpath={.spec.holderIdentity}').trim()).toBe(
      'helm-test-signer',
    );
    expect(readFileSync(signerProc.log, 'utf8')).not.toMatch(/forbidden|HTTP 403/i);

    // Refused by a real attempt (HTTP 403).
    const own = { ...csr, metadata: { name: 'by-the-signer' } };
    expect((await api(token, 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', own)).status).toBe(403);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'anchorage-ca-web' }, data: { 'ca.crt': 'x' } };
    expect((await api(token, 'POST', '/api/v1/namespaces/default/configmaps', cm)).status).toBe(403);
    expect((await api(token, 'GET', `/api/v1/namespaces/${NS}/secrets`)).status).toBe(403);
    await stop(signerProc.proc);
  }, 600_000);

  it('the webhook keeps its serving CA, caBundle and Lease and reports a missed pod with its own token, and is refused outside its RBAC', async () => {
    apply('--set', 'webhook.enabled=true');
    const sa = 'anchorage-webhook';
    kubectl('create', 'namespace', WEBHOOK_NS);
    // What RBAC says (identity off, the default): its own Secret, Lease and webhook configuration only.
    expect(can(sa, 'update', 'secrets/anchorage-webhook-ca', '-n', NS)).toBe(true);
    expect(can(sa, 'update', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/anchorage-webhook')).toBe(true);
    expect(can(sa, 'watch', 'pods', '-A')).toBe(true);
    for (const denied of [
      ['get', 'secrets/other', '-n', NS],
      ['create', 'secrets', '-n', WEBHOOK_NS],
      ['list', 'secrets', '-A'],
      ['update', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/someone-else'],
      ['create', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'],
      ['update', 'pods', '-n', WEBHOOK_NS],
      ['create', 'certificatesigningrequests.certificates.k8s.io'],
      ['*', '*'],
    ])
      expect(can(sa, ...denied), denied.join(' ')).toBe(false);

    const { path: kc, token } = saKubeconfig(sa);
    const health = await freePort();
    const cfg = writeTmp(
      'webhook.yaml',
      stringify({
        trust: {
          mode: 'opt-out',
          defaultBundle: 'default',
          bundles: { default: { configMap: { name: 'anchorage-trust', key: 'ca.crt' } } },
        },
      }),
    );
    const hook = start('webhook', [
      'webhook',
      '--kubeconfig',
      kc,
      `--namespace=${NS}`,
      `--config=${cfg}`,
      '--host=127.0.0.1',
      '--port=0',
      '--health-host=127.0.0.1',
      `--health-port=${health}`,
      '--service-name=anchorage-webhook',
      '--ca-secret=anchorage-webhook-ca',
      '--webhook-configuration=anchorage-webhook',
      '--lease-name=anchorage-webhook',
      '--identity=helm-test-webhook',
      '--no-pod-certificates',
    ]);
    let last = '';
    await waitFor(
      'the webhook ready, its caBundle filled from its serving CA',
      async () => {
        if (hook.proc.exitCode !== null) throw new Error(`webhook exited: ${readFileSync(hook.log, 'utf8')}`);
        const r = await fetch(`http://127.0.0.1:${health}/readyz`).then(
          async (x) => `${x.status} ${await x.text()}`,
          (e: Error) => e.message,
        );
        const ready = r.startsWith('200');
        last = r;
        const bundle = c
          .kubectl(['get', 'mutatingwebhookconfiguration', 'anchorage-webhook', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])
          .stdout.trim();
        last += ` caBundle ${bundle.length}`;
        return ready && bundle.length > 0;
      },
      180_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last: ${last})`);
    });
    const bundle = Buffer.from(
      kubectl('get', 'mutatingwebhookconfiguration', 'anchorage-webhook', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'),
      'base64',
    ).toString();
    const caCrt = Buffer.from(
      kubectl('-n', NS, 'get', 'secret', 'anchorage-webhook-ca', '-o', 'jsonpath={.data.tls\\.crt}'),
      'base64',
    ).toString();
    expect(bundle.replace(/\s+/g, '')).toContain(caCrt.replace(/\s+/g, ''));
    expect(kubectl('-n', NS, 'get', 'lease', 'anchorage-webhook', '-o', 'jsonpath={.spec.holderIdentity}').trim()).toBe(
      'helm-test-webhook',
    );
    // A pod created while the API server cannot reach the webhook (its Service has no endpoints here):
    // admitted (failurePolicy Ignore), then reported by the leader with an Event (pods watch, events create).
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'missed', namespace: WEBHOOK_NS },
      spec: { containers: [{ name: 'c', image: 'x' }] },
    };
    kubectl('create', '-f', writeTmp('missed.json', JSON.stringify(pod)));
    await waitFor(
      'the missed pod reported with an Event',
      () =>
        c
          .kubectl([
            '-n',
            WEBHOOK_NS,
            'get',
            'events',
            '--field-selector',
            'reason=TrustNotInjected,involvedObject.name=missed',
            '-o',
            'name',
          ])
          .stdout.trim() !== '',
      180_000,
      500,
    );
    expect(readFileSync(hook.log, 'utf8')).not.toMatch(/forbidden|HTTP 403/i);

    // Refused by a real attempt (HTTP 403).
    expect((await api(token, 'GET', `/api/v1/namespaces/${NS}/secrets/anchorage-server-tokens`)).status).toBe(403);
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'webhook-was-here' }, stringData: { x: 'y' } };
    expect((await api(token, 'POST', `/api/v1/namespaces/${WEBHOOK_NS}/secrets`, secret)).status).toBe(403);
    expect((await api(token, 'PATCH', `/api/v1/namespaces/${WEBHOOK_NS}/pods/missed`, { metadata: { labels: { x: 'y' } } })).status).toBe(
      403,
    );
    expect(
      (await api(token, 'DELETE', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/anchorage-webhook')).status,
    ).toBe(403);
    await stop(hook.proc);
    // Leave no registration behind for the other tests' pods.
    kubectl('delete', 'mutatingwebhookconfiguration', 'anchorage-webhook');
  }, 600_000);
});
