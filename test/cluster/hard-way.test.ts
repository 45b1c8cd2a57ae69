// The hard-way layout booted for real: etcd, kube-apiserver, kube-controller-manager and kube-scheduler with
// Kubernetes the Hard Way's flags and file paths (harness.ts, hardWayArgs), from `pki init --layout hard-way`.
// The config names the API server's port only in controlPlaneEndpoint: every kubeconfig in the tree, the
// server-local ones included, must reach it as it was written.
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { type Cluster, HW_SERVICE_CIDR, startCluster, tlsGet, waitFor } from './harness.ts';

/** Every kubeconfig the hard way writes, with the identity the API server must see for it. */
const KUBECONFIGS = [
  { node: 'cp-1', path: 'var/lib/kubernetes/admin.kubeconfig', user: 'admin', group: 'system:masters' },
  {
    node: 'cp-1',
    path: 'var/lib/kubernetes/kube-controller-manager.kubeconfig',
    user: 'system:kube-controller-manager',
    group: 'system:kube-controller-manager',
  },
  { node: 'cp-1', path: 'var/lib/kubernetes/kube-scheduler.kubeconfig', user: 'system:kube-scheduler', group: 'system:kube-scheduler' },
  { node: 'worker-1', path: 'var/lib/kubelet/kubeconfig', user: 'system:node:worker-1', group: 'system:nodes' },
  { node: 'worker-1', path: 'var/lib/kube-proxy/kubeconfig', user: 'system:kube-proxy', group: 'system:node-proxier' },
] as const;

const openssl = (args: string[], input?: string): { code: number; out: string } => {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
};

describe('the hard-way layout boots a real control plane', () => {
  let c: Cluster;
  let HW: string;
  const selfReview = (o: { cert?: string; key?: string; token?: string }): Promise<{ status: number; body: string }> =>
    tlsGet(`${c.apiUrl}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
      ca: readFileSync(join(HW, 'ca.crt'), 'utf8'),
      cert: o.cert,
      key: o.key,
    });
  beforeAll(async () => {
    await kubeBinDir();
  }, K8S_BUILD_TIMEOUT_MS);
  // biome-ignore lint/suspicious/noDuplicateTestHooks: a cold build gets its own 45 minutes; starting the cluster keeps 10
  beforeAll(async () => {
    c = await startCluster({ layout: 'hard-way' });
    HW = join(c.nodeRoot, 'var/lib/kubernetes');
  }, 600_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('is ready, and etcd refuses a client without a certificate', async () => {
    expect(c.kubectl(['get', '--raw', '/readyz']).stdout.trim()).toBe('ok');
    const verbose = c.kubectl(['get', '--raw', '/readyz?verbose']).stdout;
    expect(verbose).toContain('[+]etcd ok');
    await expect(tlsGet(`${c.etcd.url}/health`, { ca: readFileSync(c.etcd.ca, 'utf8') })).rejects.toThrow(/certificate|socket|reset/i);
  });

  it('every kubeconfig in the tree reaches the API server at the endpoint port, as the identity its certificate names', () => {
    for (const k of KUBECONFIGS) {
      const path = join(c.pkiDir, 'nodes', k.node, k.path);
      const kc = parseYaml(readFileSync(path, 'utf8'));
      // Regression: the server-local ones (admin, controller-manager, scheduler) said 127.0.0.1:6443.
      expect(kc.clusters[0].cluster.server, k.path).toBe(`https://127.0.0.1:${c.apiPort}`);
      const r = c.kubectl(['auth', 'whoami', '-o', 'json'], path);
      expect(r.code, `${k.path}: ${r.stderr}`).toBe(0);
      const who = JSON.parse(r.stdout).status.userInfo;
      expect(who.username).toBe(k.user);
      expect(who.groups).toContain(k.group);
    }
  });

  it('admin (system:masters) can do anything through kubectl', () => {
    expect(c.kubectl(['auth', 'can-i', '*', '*', '--all-namespaces']).stdout.trim()).toBe('yes');
    expect(c.kubectl(['create', 'namespace', 'hard-way']).code).toBe(0);
    expect(c.kubectl(['get', 'namespaces', '-o', 'name']).stdout).toContain('namespace/hard-way');
    // In-cluster clients check the kubernetes Service's IP against the serving certificate.
    const ip = c.kubectl(['get', 'service', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    expect(ip).toBe(`${HW_SERVICE_CIDR.split('.').slice(0, 3).join('.')}.1`);
    expect(c.kubectl([`--tls-server-name=${ip}`, 'get', 'namespaces', '-o', 'name']).code).toBe(0);
  });

  it('stores Secrets encrypted with the aescbc key of encryption-config.yaml (read from etcd directly)', async () => {
    const plaintext = 'hard-way-plaintext-7f3a';
    expect(c.kubectl(['create', 'secret', 'generic', 'hw-secret', '-n', 'default', `--from-literal=value=${plaintext}`]).code).toBe(0);
    expect(c.kubectl(['get', 'secret', 'hw-secret', '-n', 'default', '-o', 'jsonpath={.data.value}']).stdout).toBe(
      Buffer.from(plaintext).toString('base64'),
    );
    // etcd v3's JSON gateway (no etcdctl here), over mTLS with the only etcd client certificate the hard way has.
    const r = await tlsGet(`${c.etcd.url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/registry/secrets/default/hw-secret').toString('base64') }),
      headers: { 'content-type': 'application/json' },
      ca: readFileSync(c.etcd.ca, 'utf8'),
      cert: readFileSync(c.etcd.cert, 'utf8'),
      key: readFileSync(c.etcd.key, 'utf8'),
    });
    expect(r.status).toBe(200);
    const kvs = JSON.parse(r.body).kvs as { value: string }[];
    expect(kvs).toHaveLength(1);
    const stored = Buffer.from((kvs[0] as { value: string }).value, 'base64');
    const config = parseYaml(readFileSync(join(HW, 'encryption-config.yaml'), 'utf8'));
    const keyName = config.resources[0].providers[0].aescbc.keys[0].name as string;
    expect(stored.toString('latin1').startsWith(`k8s:enc:aescbc:v1:${keyName}:`)).toBe(true);
    expect(stored.includes(Buffer.from(plaintext))).toBe(false);
  });

  it('the controller-manager signs an approved CSR with the hard-way CA', async () => {
    const dir = c.dir;
    expect(
      openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'alice.key'),
        '-subj',
        '/O=dev/CN=alice',
        '-out',
        join(dir, 'alice.csr'),
      ]).code,
    ).toBe(0);
    const manifest = JSON.stringify({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'alice' },
      spec: {
        request: readFileSync(join(dir, 'alice.csr')).toString('base64'),
        signerName: 'kubernetes.io/kube-apiserver-client',
        usages: ['client auth'],
        expirationSeconds: 3600,
      },
    });
    const created = spawnSync(join(c.bin, 'kubectl'), ['--kubeconfig', c.admin, 'create', '-f', '-'], {
      input: manifest,
      encoding: 'utf8',
    });
    expect(created.status, created.stderr).toBe(0);
    expect(c.kubectl(['certificate', 'approve', 'alice']).code).toBe(0);
    let issued = '';
    await waitFor('the CSR to be signed', () => {
      issued = c.kubectl(['get', 'csr', 'alice', '-o', 'jsonpath={.status.certificate}']).stdout.trim();
      return issued !== '';
    });
    const pem = Buffer.from(issued, 'base64').toString('utf8');
    writeFileSync(join(dir, 'alice.crt'), pem);
    const v = openssl(['verify', '-CAfile', join(HW, 'ca.crt'), '-purpose', 'sslclient', join(dir, 'alice.crt')]);
    expect(v.out, v.out).toContain(': OK');
    expect(openssl(['x509', '-in', join(dir, 'alice.crt'), '-noout', '-subject', '-nameopt', 'RFC2253']).out.trim()).toBe(
      'subject=CN=alice,O=dev',
    );
    const r = await selfReview({ cert: pem, key: readFileSync(join(dir, 'alice.key'), 'utf8') });
    expect(JSON.parse(r.body).status.userInfo.username).toBe('alice');
  });

  it('service-account tokens are signed with service-accounts.key and accepted', async () => {
    // The controller-manager's service-account controller makes `default` in every namespace.
    expect(c.kubectl(['create', 'namespace', 'tokens']).code).toBe(0);
    await waitFor('the default service account', () => c.kubectl(['get', 'serviceaccount', 'default', '-n', 'tokens']).code === 0);
    const token = c.kubectl(['create', 'token', 'default', '-n', 'tokens']).stdout.trim();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString()).alg).toBe('ES256');
    const saPublic = createPublicKey(readFileSync(join(HW, 'service-accounts.crt')));
    expect(
      verify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        { key: saPublic, dsaEncoding: 'ieee-p1363' },
        Buffer.from(signature, 'base64url'),
      ),
    ).toBe(true);
    const r = await selfReview({ token });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body).status.userInfo.username).toBe('system:serviceaccount:tokens:default');
  });

  it('the controller-manager and the scheduler hold their leader leases', () => {
    for (const lease of ['kube-controller-manager', 'kube-scheduler']) {
      const holder = c.kubectl(['get', 'lease', '-n', 'kube-system', lease, '-o', 'jsonpath={.spec.holderIdentity}']);
      expect(holder.stdout).toMatch(/.+_/);
    }
  });
});
