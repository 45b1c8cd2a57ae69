// The chart's RBAC for the webhook's identity path and for the agent, exercised live (issue 20's proof; the
// rest is test/helm.test.ts): the chart rendered by the real helm and applied to a real control plane with RBAC
// on and the PodCertificateRequest API served (feature gate + certificates.k8s.io/v1beta1, this file's cluster
// only), then each part run out of cluster with a kubeconfig holding only its own ServiceAccount's token
// (`kubectl create token`) and the chart's own arguments:
// - `anchorage webhook` (identity and podCertificates on): the real API server calls it, a pod asking for an
//   identity gets its Secret (owned by the pod, verified by openssl), a PodCertificateRequest created as a
//   kubelet would for anchorage.dev/identity is signed; it is refused (HTTP 403 from the API server) outside its
//   RBAC, and without the identity grant its refusal is in its log, naming the resource;
// - `anchorage agent` pushes the cluster's inventory to an `anchorage serve --accept-agents` on loopback, and
//   cannot write a Secret or read one by name.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Fatal, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { HELM_BUILD_TIMEOUT_MS, helmBin } from './support/helm.ts';
import { must, type Obj, objects, Release, stopProc } from './support/helm-release.ts';
import { K8S_BUILD_TIMEOUT_MS } from './support/k8s.ts';
import { startCli } from './support/serve.ts';

const NS = 'rbac20-anchorage';
const PODS_NS = 'rbac20-pods';
const SCAN_NS = 'rbac20-scan';
const ISSUER = 'anchorage-identity-ca';
const dir = mkdtempSync(join(tmpdir(), 'rbac20-helm-parts-'));
const r = new Release(dir, NS);
const { kubectl, template, writeTmp, can, sar, saKubeconfig, api, start, openssl, makeCa } = r;

const getJson = <T>(...args: string[]): T | undefined => {
  const x = r.c.kubectl(['get', ...args, '-o', 'json']);
  return x.code === 0 ? (JSON.parse(x.stdout) as T) : undefined;
};
const logOf = (p: { log: string }): string => readFileSync(p.log, 'utf8');

/** Render the release with these values and apply every object (server-side), as `helm install` would. */
function apply(values: Record<string, unknown>, only?: (o: Obj) => boolean): Obj[] {
  const file = writeTmp('values.yaml', stringify(values));
  const all = objects(must(template('-f', file), 'helm template'));
  const chosen = only ? all.filter(only) : all;
  kubectl(
    'apply',
    '--server-side',
    '--field-manager=helm-test',
    '--force-conflicts',
    '-f',
    writeTmp('release.yaml', chosen.map((o) => stringify(o)).join('---\n')),
  );
  return all;
}

beforeAll(async () => {
  r.helm = await helmBin();
  r.c = await startCluster({
    apiserverArgs: [
      '--feature-gates=PodCertificateRequest=true,ClusterTrustBundle=true,ClusterTrustBundleProjection=true',
      '--runtime-config=certificates.k8s.io/v1beta1=true',
    ],
  });
  r.caPem = readFileSync(join(r.c.nodeRoot, 'etc/kubernetes/pki/ca.crt'), 'utf8');
  for (const ns of [NS, PODS_NS, SCAN_NS]) kubectl('create', 'namespace', ns);
  kubectl('label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted');
  for (const ns of [NS, PODS_NS])
    await waitFor(`the default ServiceAccount of ${ns}`, () => r.c.kubectl(['-n', ns, 'get', 'serviceaccount', 'default']).code === 0);
}, K8S_BUILD_TIMEOUT_MS + HELM_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await r.stopAll();
  await r.c?.stop();
  if (process.env.ANCHORAGE_KEEP_CLUSTER !== '1') rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the webhook with identity and PodCertificateRequests on, with its own token', () => {
  const sa = 'anchorage-webhook';
  const values = (identity: boolean) => ({
    webhook: {
      enabled: true,
      identity: { enabled: identity },
      podCertificates: true,
      config: {
        trust: {
          mode: 'opt-out',
          defaultBundle: 'default',
          bundles: { default: { configMap: { name: 'anchorage-trust', key: 'ca.crt' } } },
        },
        identity: {
          trustDomain: 'example.org',
          clusterDomain: 'cluster.local',
          lifetimeSeconds: 7200,
          issuer: { secret: { namespace: NS, name: ISSUER } },
        },
      },
    },
  });
  let hook: { proc: ChildProcess; log: string };
  let webhookArgs: string[] = [];
  let health = 0;
  /** The webhook's /readyz as "<status> <body>" (or the connection error); a webhook that exited stops the wait. */
  const readyz = (): Promise<string> => {
    if (hook.proc.exitCode !== null) throw new Fatal(`webhook exited: ${logOf(hook)}`);
    return fetch(`http://127.0.0.1:${health}/readyz`).then(
      async (x) => `${x.status} ${await x.text()}`,
      (e: Error) => e.message,
    );
  };
  let token = '';
  let secretName = '';
  type Pcr = { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> };
  let pcr: (name: string, signerName: string) => Pcr;
  const kubeletKubeconfig = (): string => join(r.c.pkiDir, 'nodes', 'worker-1', 'etc', 'kubernetes', 'kubelet.conf');
  const asKubelet = (...args: string[]): string =>
    must(r.c.kubectl(['--request-timeout=60s', ...args], kubeletKubeconfig()), `kubectl (kubelet) ${args.join(' ')}`);
  type Status = { certificateChain?: string; conditions?: { type: string }[] };
  /** Wait for the webhook to sign the PodCertificateRequest; its status. */
  const signed = async (name: string): Promise<Status> => {
    let status: Status = {};
    await waitFor(
      `PodCertificateRequest ${name} signed`,
      () => {
        if (hook.proc.exitCode !== null) throw new Fatal(`webhook exited: ${logOf(hook)}`);
        status = getJson<{ status?: Status }>('-n', PODS_NS, 'podcertificaterequest', name)?.status ?? {};
        if (status.conditions?.some((c) => c.type !== 'Issued')) throw new Fatal(`not issued: ${JSON.stringify(status)}`);
        return !!status.certificateChain;
      },
      180_000,
      500,
    );
    return status;
  };

  it('its identity Secrets: the API server calls it, a pod asking for an identity gets a Secret it owns, signed by the issuer', async () => {
    expect(r.c.kubectl(['api-resources', '--api-group=certificates.k8s.io']).stdout).toMatch(/podcertificaterequests/);
    // The identity issuer: a CA made by openssl, in a kubernetes.io/tls Secret of the release namespace.
    makeCa('identity-ca');
    kubectl('-n', NS, 'create', 'secret', 'tls', ISSUER, `--cert=${join(dir, 'identity-ca.crt')}`, `--key=${join(dir, 'identity-ca.key')}`);
    const rendered = apply(values(true));
    // What RBAC says.
    expect(can(sa, 'create', 'secrets', '-n', PODS_NS)).toBe(true);
    expect(can(sa, 'get', `secrets/${ISSUER}`, '-n', NS)).toBe(true);
    expect(can(sa, 'update', 'podcertificaterequests.certificates.k8s.io', '--subresource=status', '-n', PODS_NS)).toBe(true);
    expect(sar(sa, { verb: 'sign', group: 'certificates.k8s.io', resource: 'signers', name: 'anchorage.dev/identity' })).toBe(true);
    expect(sar(sa, { verb: 'sign', group: 'certificates.k8s.io', resource: 'signers', name: 'example.com/other' })).toBe(false);
    for (const denied of [
      ['list', 'secrets', '-n', PODS_NS],
      ['delete', 'secrets', '-n', PODS_NS],
      ['create', 'configmaps', '-n', PODS_NS],
      ['update', 'pods', '-n', PODS_NS],
      ['create', 'certificatesigningrequests.certificates.k8s.io'],
      ['update', 'certificatesigningrequests.certificates.k8s.io', '--subresource=status'],
      ['create', 'podcertificaterequests.certificates.k8s.io', '-n', PODS_NS],
      ['*', '*'],
    ])
      expect(can(sa, ...denied), denied.join(' ')).toBe(false);

    // Out of cluster: the API server reaches the webhook on loopback by url instead of the Service (the admin
    // changes that; the webhook keeps only the caBundle).
    const port = await freePort();
    health = await freePort();
    kubectl(
      'patch',
      'mutatingwebhookconfiguration',
      'anchorage-webhook',
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/webhooks/0/clientConfig', value: { url: `https://127.0.0.1:${port}/mutate` } }]),
    );
    // The chart's own configuration file and arguments; the paths and ports are this machine's.
    const cm = rendered.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'anchorage-webhook-config');
    const cfg = writeTmp('webhook.yaml', cm?.data?.['config.yaml'] ?? '');
    const deployment = rendered.find((o) => o.kind === 'Deployment' && o.metadata.name === 'anchorage-webhook');
    const chartArgs = (deployment?.spec.template.spec.containers[0].args ?? []) as string[];
    expect(chartArgs[0]).toBe('webhook');
    expect(chartArgs).not.toContain('--no-pod-certificates');
    const args = chartArgs.map((a) =>
      a.startsWith('--config=')
        ? `--config=${cfg}`
        : a.startsWith('--port=')
          ? `--port=${port}`
          : a.startsWith('--health-port=')
            ? `--health-port=${health}`
            : a,
    );
    const kc = saKubeconfig(sa);
    token = kc.token;
    webhookArgs = [
      ...args,
      '--kubeconfig',
      kc.path,
      '--host=127.0.0.1',
      '--health-host=127.0.0.1',
      '--serving-name=127.0.0.1',
      '--identity=rbac20-webhook',
    ];
    hook = start('webhook', webhookArgs);
    let last = '';
    await waitFor(
      'the webhook ready, its caBundle filled',
      async () => {
        last = await readyz();
        const bundle = r.c
          .kubectl(['get', 'mutatingwebhookconfiguration', 'anchorage-webhook', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])
          .stdout.trim();
        return last.startsWith('200') && bundle.length > 0;
      },
      180_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last: ${last})`);
    });

    // A Service selecting the pod: its names go into the certificate.
    kubectl(
      'apply',
      '-f',
      writeTmp(
        'svc.yaml',
        stringify({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: PODS_NS },
          spec: { selector: { app: 'web' }, ports: [{ port: 443 }] },
        }),
      ),
    );
    const podYaml = (name: string) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: PODS_NS, labels: { app: 'web' }, annotations: { 'identity.anchorage.dev/enabled': 'true' } },
        spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      });
    type Pod = { metadata: { uid: string; annotations?: Record<string, string> } };
    // The new caBundle reaches the API server's webhook client a moment after it is written: retry with new pods
    // until one comes back mutated.
    let n = 0;
    let pod: Pod | undefined;
    await waitFor(
      'a pod asking for an identity comes back with its identity Secret named',
      () => {
        if (hook.proc.exitCode !== null) throw new Fatal(`webhook exited: ${logOf(hook)}`);
        const name = `web-${n++}`;
        kubectl('create', '-f', writeTmp('pod.yaml', podYaml(name)));
        pod = getJson<Pod>('-n', PODS_NS, 'pod', name);
        return !!pod?.metadata.annotations?.['identity.anchorage.dev/secret'];
      },
      180_000,
      1000,
    );
    secretName = pod?.metadata.annotations?.['identity.anchorage.dev/secret'] ?? '';
    type Secret = { data?: Record<string, string>; metadata: { ownerReferences?: { kind: string; uid: string; name: string }[] } };
    let secret: Secret | undefined;
    await waitFor(
      'the identity Secret',
      () => {
        if (hook.proc.exitCode !== null) throw new Fatal(`webhook exited: ${logOf(hook)}`);
        secret = getJson<Secret>('-n', PODS_NS, 'secret', secretName);
        return !!secret?.data?.['tls.crt'];
      },
      180_000,
      500,
    );
    expect(secret?.metadata.ownerReferences?.map((o) => `${o.kind}/${o.uid}`)).toEqual([`Pod/${pod?.metadata.uid}`]);
    writeTmp('id.crt', Buffer.from(secret?.data?.['tls.crt'] ?? '', 'base64').toString());
    writeTmp('id.key', Buffer.from(secret?.data?.['tls.key'] ?? '', 'base64').toString());
    expect(openssl('verify', '-CAfile', 'identity-ca.crt', '-purpose', 'sslserver', 'id.crt').trim()).toBe('id.crt: OK');
    expect(openssl('pkey', '-in', 'id.key', '-pubout')).toBe(openssl('x509', '-in', 'id.crt', '-noout', '-pubkey'));
    const text = openssl('x509', '-in', 'id.crt', '-noout', '-ext', 'subjectAltName');
    expect(text).toContain(`URI:spiffe://example.org/ns/${PODS_NS}/sa/default`);
    expect(text).toContain(`DNS:web.${PODS_NS}.svc`);
    expect(logOf(hook)).not.toMatch(/forbidden|HTTP 403/i);
  }, 600_000);

  it('its PodCertificateRequest signer: a request made the way a kubelet makes it for anchorage.dev/identity is signed', async () => {
    expect(token).not.toBe('');
    asKubelet('create', '-f', writeTmp('node.yaml', 'apiVersion: v1\nkind: Node\nmetadata: {name: worker-1}\n'));
    const nodeUid = getJson<{ metadata: { uid: string } }>('node', 'worker-1')?.metadata.uid ?? '';
    kubectl('-n', PODS_NS, 'create', 'serviceaccount', 'api');
    kubectl(
      'create',
      '-f',
      writeTmp(
        'bound.yaml',
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'bound', namespace: PODS_NS, labels: { app: 'web' } },
          spec: {
            nodeName: 'worker-1',
            serviceAccountName: 'api',
            automountServiceAccountToken: false,
            containers: [{ name: 'c', image: 'registry.invalid/c:1' }],
          },
        }),
      ),
    );
    const podUid = getJson<{ metadata: { uid: string } }>('-n', PODS_NS, 'pod', 'bound')?.metadata.uid ?? '';
    const saUid = getJson<{ metadata: { uid: string } }>('-n', PODS_NS, 'sa', 'api')?.metadata.uid ?? '';
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'pcr.key');
    openssl('req', '-new', '-key', 'pcr.key', '-subj', '/', '-outform', 'DER', '-out', 'pcr.csr');
    pcr = (name: string, signerName: string): Pcr => ({
      apiVersion: 'certificates.k8s.io/v1beta1',
      kind: 'PodCertificateRequest',
      metadata: { name, namespace: PODS_NS },
      spec: {
        signerName,
        podName: 'bound',
        podUID: podUid,
        serviceAccountName: 'api',
        serviceAccountUID: saUid,
        nodeName: 'worker-1',
        nodeUID: nodeUid,
        maxExpirationSeconds: 3600,
        stubPKCS10Request: readFileSync(join(dir, 'pcr.csr')).toString('base64'),
      },
    });
    asKubelet('create', '-f', writeTmp('pcr.yaml', stringify(pcr('bound-1', 'anchorage.dev/identity'))));
    const status = await signed('bound-1');
    expect(status.conditions?.map((c) => c.type)).toEqual(['Issued']);
    writeTmp('pcr.crt', status.certificateChain ?? '');
    expect(openssl('verify', '-CAfile', 'identity-ca.crt', 'pcr.crt').trim()).toBe('pcr.crt: OK');
    expect(openssl('pkey', '-in', 'pcr.key', '-pubout')).toBe(openssl('x509', '-in', 'pcr.crt', '-noout', '-pubkey'));
    expect(openssl('x509', '-in', 'pcr.crt', '-noout', '-ext', 'subjectAltName')).toContain(
      `URI:spiffe://example.org/ns/${PODS_NS}/sa/api`,
    );
    expect(logOf(hook)).not.toMatch(/forbidden|HTTP 403/i);

    // Another signer's request: left alone by the webhook, and its own attempt to sign it is refused by the
    // API server (no `sign` on that signer name).
    asKubelet('create', '-f', writeTmp('pcr-other.yaml', stringify(pcr('other-1', 'example.com/other'))));
    const other = getJson<ReturnType<typeof pcr> & { metadata: { resourceVersion: string } }>(
      '-n',
      PODS_NS,
      'podcertificaterequest',
      'other-1',
    );
    const forged = await api(
      token,
      'PUT',
      `/apis/certificates.k8s.io/v1beta1/namespaces/${PODS_NS}/podcertificaterequests/other-1/status`,
      {
        ...other,
        status: {
          conditions: [
            {
              type: 'Denied',
              status: 'True',
              reason: 'NotMine',
              message: 'signed by the wrong signer',
              lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
              observedGeneration: 1,
            },
          ],
        },
      },
    );
    // The API server's signer check on the status (the same as for CSRs' `sign`): the request is refused as
    // invalid, its cause naming the missing permission.
    expect(forged.status, forged.body).toBe(422);
    const cause = (JSON.parse(forged.body) as { details?: { causes?: { reason: string; field: string; message: string }[] } }).details
      ?.causes?.[0];
    expect(cause).toMatchObject({ reason: 'FieldValueForbidden', field: 'spec.signerName' });
    expect(cause?.message).toContain(`User "system:serviceaccount:${NS}:${sa}" is not permitted to "sign" for signer "example.com/other"`);
    expect(getJson<{ status?: Status }>('-n', PODS_NS, 'podcertificaterequest', 'other-1')?.status ?? {}).toEqual({});
  }, 600_000);

  it('is refused (HTTP 403) outside its RBAC; without the identity grant its refusal is in its log, naming the Secret', async () => {
    expect(token).not.toBe('');
    expect(secretName).not.toBe('');
    const refused = async (method: string, path: string, body?: unknown) => {
      const x = await api(token, method, path, body);
      expect(x.status, `${method} ${path}: ${x.body}`).toBe(403);
      expect(JSON.parse(x.body)).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    };
    await refused('GET', `/api/v1/namespaces/${PODS_NS}/secrets`);
    await refused('GET', `/api/v1/secrets`);
    await refused('DELETE', `/api/v1/namespaces/${PODS_NS}/secrets/${secretName}`);
    await refused('POST', `/api/v1/namespaces/${PODS_NS}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'webhook-was-here' },
      data: { x: 'y' },
    });
    await refused('PATCH', `/api/v1/namespaces/${PODS_NS}/pods/bound`, { metadata: { labels: { x: 'y' } } });
    await refused('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'webhook-was-here' },
      spec: { request: readFileSync(join(dir, 'pcr.csr')).toString('base64'), signerName: 'example.com/other', usages: ['client auth'] },
    });
    await refused('DELETE', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/anchorage-webhook');

    // The same release without identity (its default): the rule for Secrets in other namespaces goes, and a pod
    // asking for an identity is admitted; the webhook's attempt is refused by the API server and says so.
    // Its RBAC objects only: the webhook configuration keeps the loopback url the admin gave it.
    apply(values(false), (o) => /Role|RoleBinding/.test(o.kind));
    expect(can(sa, 'create', 'secrets', '-n', PODS_NS)).toBe(false);
    expect(can(sa, 'get', `secrets/${secretName}`, '-n', PODS_NS)).toBe(false);
    expect(can(sa, 'get', 'secrets/anchorage-webhook-other', '-n', NS)).toBe(false);
    // The PodCertificateRequest signer still reads its issuer, by name only (the chart's -issuer Role), and signs.
    // A fresh process, so that what it signs with is read under this RBAC, not held from before.
    expect(can(sa, 'get', `secrets/${ISSUER}`, '-n', NS)).toBe(true);
    await stopProc(hook.proc);
    hook = start('webhook-2', webhookArgs);
    await waitFor('the restarted webhook ready', async () => (await readyz()).startsWith('200'), 180_000, 500);
    asKubelet('create', '-f', writeTmp('pcr-2.yaml', stringify(pcr('bound-2', 'anchorage.dev/identity'))));
    writeTmp('pcr-2.crt', (await signed('bound-2')).certificateChain ?? '');
    expect(openssl('verify', '-CAfile', 'identity-ca.crt', 'pcr-2.crt').trim()).toBe('pcr-2.crt: OK');
    // Its issuer read fine; what it is refused now is only the pods' identity Secrets (it re-reads those of the
    // pods it issued for before, as the new leader).
    expect(logOf(hook)).not.toMatch(/issuer not ready/);
    const refusedPaths = logOf(hook)
      .split('\n')
      .filter((l) => /\b403\b|forbidden/i.test(l)) // not a 403 inside a serial number or a hash
      .map((l) => / (\/api\S*): 403/.exec(l)?.[1] ?? l);
    for (const path of refusedPaths)
      expect(path).toMatch(new RegExp(`^/api/v1/namespaces/${PODS_NS}/secrets/[a-z0-9-]+-identity-[0-9a-f]{12}$`));
    kubectl(
      'create',
      '-f',
      writeTmp(
        'late.yaml',
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'late', namespace: PODS_NS, annotations: { 'identity.anchorage.dev/enabled': 'true' } },
          spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
        }),
      ),
    );
    // Admitted with its identity Secret named (the issuer is readable); writing it is what the API server refuses.
    const late = kubectl(
      '-n',
      PODS_NS,
      'get',
      'pod',
      'late',
      '-o',
      'jsonpath={.metadata.annotations.identity\\.anchorage\\.dev/secret}',
    ).trim();
    expect(late).toMatch(/^late-identity-/);
    let refusal: { msg?: string; pod?: string; err?: string } | undefined;
    await waitFor(
      'the refusal in the webhook log',
      () => {
        if (hook.proc.exitCode !== null) throw new Fatal(`webhook exited: ${logOf(hook)}`);
        refusal = logOf(hook)
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; pod?: string; err?: string })
          .find((x) => x.pod === `${PODS_NS}/late` && /403/.test(x.err ?? ''));
        return !!refusal;
      },
      180_000,
      500,
    );
    expect(refusal?.msg).toBe('identity not issued: retrying');
    expect(refusal?.err).toContain(`/api/v1/namespaces/${PODS_NS}/secrets/${late}: 403`);
    expect(refusal?.err).toContain(`User "system:serviceaccount:${NS}:${sa}" cannot get resource "secrets"`);
    expect(r.c.kubectl(['-n', PODS_NS, 'get', 'secret', late]).code).not.toBe(0);
    console.log(`helm-parts: the webhook's refusal, as logged: ${refusal?.err}`);
    await r.stopAll();
    kubectl('delete', 'mutatingwebhookconfiguration', 'anchorage-webhook');
  }, 600_000);
});

describe('the agent with its own token', () => {
  it('pushes the cluster’s inventory to anchorage serve (loopback), and cannot write a Secret', async () => {
    const sa = 'anchorage-agent';
    apply({ agent: { enabled: true, serverUrl: 'https://127.0.0.1:8443', cluster: 'rbac20' } });
    const ca = makeCa('rbac20-agent-ca');
    kubectl('-n', SCAN_NS, 'create', 'secret', 'generic', 'seeded', `--from-file=ca.crt=${join(dir, 'rbac20-agent-ca.crt')}`);
    // What RBAC says: list and watch, nothing else.
    expect(can(sa, 'list', 'secrets', '-A')).toBe(true);
    expect(can(sa, 'watch', 'configmaps', '-A')).toBe(true);
    expect(can(sa, 'list', 'pods', '-n', 'kube-system')).toBe(true);
    for (const denied of [
      ['get', 'secrets', '-n', SCAN_NS],
      ['create', 'secrets', '-n', SCAN_NS],
      ['update', 'secrets', '-n', SCAN_NS],
      ['list', 'pods', '-n', SCAN_NS],
      ['create', 'configmaps', '-n', SCAN_NS],
      ['*', '*'],
    ])
      expect(can(sa, ...denied), denied.join(' ')).toBe(false);

    const pushToken = 'rbac20-agent-push-token-0123456789';
    const readToken = 'rbac20-reader-token-0123456789';
    const central = await startCli([
      'serve',
      '--accept-agents',
      '--agent-token',
      `pass:${pushToken}`,
      '--read-token',
      `pass:${readToken}`,
      '--listen',
      '127.0.0.1:0',
      '--no-history',
    ]);
    try {
      const get = async <T>(path: string): Promise<T> => {
        const x = await fetch(`${central.url}${path}`, { headers: { authorization: `Bearer ${readToken}` } });
        if (x.status !== 200) throw new Error(`${path}: ${x.status}`);
        return (await x.json()) as T;
      };
      const { path: kc, token } = saKubeconfig(sa);
      const agent = await startCli(
        ['agent', '--kubeconfig', kc, '--server', central.url, '--token', `pass:${pushToken}`, '--cluster', 'rbac20', '--once'],
        { waitUrl: false },
      );
      const code = await agent.exited;
      expect(code, agent.err() + agent.out()).toBe(0);
      expect(agent.err() + agent.out()).not.toMatch(/forbidden|HTTP 403|push failed/i);
      type Cl = { name: string; kind: string; sources: { name: string; status: string; reason?: string }[] };
      const cl = (await get<{ items: Cl[] }>('/api/v1/clusters')).items.find((x) => x.name === 'rbac20');
      expect(cl?.kind).toBe('agent');
      const sources = cl?.sources.filter((s) => !s.name.startsWith('endpoint:')) ?? [];
      expect(sources.length).toBeGreaterThanOrEqual(7);
      expect(sources.filter((s) => s.status !== 'ok')).toEqual([]);
      const shas = new Set(
        (await get<{ items: { sha256: string }[] }>('/api/v1/certificates?cluster=rbac20&limit=1000')).items.map((x) => x.sha256),
      );
      expect(shas.has(ca.sha256), 'the seeded CA').toBe(true);
      const clusterCa = openssl('x509', '-in', join(r.c.nodeRoot, 'etc/kubernetes/pki/ca.crt'), '-noout', '-fingerprint', '-sha256');
      expect(shas.has((clusterCa.split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase()), 'the cluster CA').toBe(true);

      // Refused by the API server (HTTP 403): any write, a read by name.
      const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'agent-was-here' }, stringData: { x: 'y' } };
      for (const [method, path, body] of [
        ['POST', `/api/v1/namespaces/${SCAN_NS}/secrets`, secret],
        ['GET', `/api/v1/namespaces/${SCAN_NS}/secrets/seeded`, undefined],
        ['PUT', `/api/v1/namespaces/${SCAN_NS}/secrets/seeded`, { ...secret, metadata: { name: 'seeded' } }],
        ['DELETE', `/api/v1/namespaces/${SCAN_NS}/secrets/seeded`, undefined],
        ['PATCH', `/api/v1/namespaces/${SCAN_NS}/configmaps/kube-root-ca.crt`, { data: { x: 'y' } }],
      ] as const) {
        const x = await api(token, method, path, body);
        expect(x.status, `${method} ${path}: ${x.body}`).toBe(403);
      }
      const viaKubectl = r.c.kubectl(['-n', SCAN_NS, 'create', 'secret', 'generic', 'agent-was-here', '--from-literal=x=y'], kc);
      expect(viaKubectl.code).not.toBe(0);
      expect(viaKubectl.stderr).toMatch(/forbidden.*cannot create resource "secrets"/i);
      expect(r.c.kubectl(['-n', SCAN_NS, 'get', 'secret', 'agent-was-here']).code).not.toBe(0);
    } finally {
      await central.stop();
    }
  }, 600_000);
});
