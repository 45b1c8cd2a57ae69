// A real control plane booted from `anchorage pki init`: the strongest proof that the PKI is right.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { verifyChain } from '../../src/trust/verify.ts';
import type { Certificate } from '../../src/x509/certificate.ts';
import { createCsr } from '../../src/x509/csr.ts';
import { generateKey } from '../../src/x509/keys.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { type ClientCreds, certsOf, kubeconfigCreds, LiveClients, servedCertificate } from '../support/live-clients.ts';
import { anchorage, type Cluster, startCluster, tlsGet, waitFor } from './harness.ts';

describe('a control plane booted from anchorage pki init', () => {
  let c: Cluster;
  beforeAll(async () => {
    await kubeBinDir();
  }, K8S_BUILD_TIMEOUT_MS);
  // biome-ignore lint/suspicious/noDuplicateTestHooks: a cold build gets its own 45 minutes; starting the cluster keeps 10
  beforeAll(async () => {
    c = await startCluster();
  }, 600_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('answers kubectl with admin.conf, and the controller-manager and scheduler hold their leases', () => {
    const ns = c.kubectl(['get', 'namespaces', '-o', 'name']);
    expect(ns.stdout).toContain('namespace/kube-system');
    for (const lease of ['kube-controller-manager', 'kube-scheduler']) {
      const holder = c.kubectl(['get', 'lease', '-n', 'kube-system', lease, '-o', 'jsonpath={.spec.holderIdentity}']);
      expect(holder.stdout).toMatch(/.+_/);
    }
    // What in-cluster clients check: the service IP of `kubernetes.default` is in the serving certificate.
    expect(c.kubectl(['--tls-server-name=10.96.0.1', 'get', 'namespaces', '-o', 'name']).code).toBe(0);
    const who = JSON.parse(c.kubectl(['auth', 'whoami', '-o', 'json']).stdout);
    expect(who.status.userInfo.username).toBe('kubernetes-admin');
    expect(who.status.userInfo.groups).toContain('kubeadm:cluster-admins');
  });

  it('stores Secrets encrypted with the aescbc key of encryption-config.yaml (read from etcd directly)', async () => {
    const plaintext = 'kubeadm-plaintext-51c9';
    expect(c.kubectl(['create', 'secret', 'generic', 'enc', '-n', 'default', `--from-literal=value=${plaintext}`]).code).toBe(0);
    // etcd v3's JSON gateway (there is no etcdctl here), over mTLS.
    const r = await tlsGet(`${c.etcd.url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/registry/secrets/default/enc').toString('base64') }),
      headers: { 'content-type': 'application/json' },
      ca: readFileSync(c.etcd.ca, 'utf8'),
      cert: readFileSync(c.etcd.cert, 'utf8'),
      key: readFileSync(c.etcd.key, 'utf8'),
    });
    const kvs = JSON.parse(r.body).kvs as { value: string }[];
    expect(kvs).toHaveLength(1);
    const stored = Buffer.from((kvs[0] as { value: string }).value, 'base64');
    const config = parseYaml(readFileSync(join(c.nodeRoot, 'etc/kubernetes/encryption-config.yaml'), 'utf8'));
    expect(stored.toString('latin1').startsWith(`k8s:enc:aescbc:v1:${config.resources[0].providers[0].aescbc.keys[0].name}:`)).toBe(true);
    expect(stored.includes(Buffer.from(plaintext))).toBe(false);
  });

  it('signs an approved CSR with the cluster CA through the controller-manager', async () => {
    const kp = generateKey('ecdsa-p256');
    const csr = createCsr({ subject: 'O=dev,CN=alice', privateKey: kp.privateKey });
    const manifest = JSON.stringify({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'alice' },
      spec: {
        request: Buffer.from(csr.toPem()).toString('base64'),
        signerName: 'kubernetes.io/kube-apiserver-client',
        usages: ['client auth'],
        expirationSeconds: 3600,
      },
    });
    const { spawnSync } = await import('node:child_process');
    const created = spawnSync(join(c.bin, 'kubectl'), ['--kubeconfig', c.admin, 'create', '-f', '-'], {
      input: manifest,
      encoding: 'utf8',
    });
    expect(created.status).toBe(0);
    expect(c.kubectl(['certificate', 'approve', 'alice']).code).toBe(0);
    let issued = '';
    await waitFor('the CSR to be signed', () => {
      issued = c.kubectl(['get', 'csr', 'alice', '-o', 'jsonpath={.status.certificate}']).stdout.trim();
      return issued !== '';
    });
    const cert = certsOf(Buffer.from(issued, 'base64').toString('utf8'))[0] as Certificate;
    expect(cert.subject).toBe('CN=alice,O=dev');
    const ca = certsOf(readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt'), 'utf8'));
    const v = verifyChain({ leaf: cert, anchors: ca, purpose: 'client' });
    expect(v.trusted).toBe(true);
    // And the API server accepts it as alice.
    const pki = join(c.nodeRoot, 'etc/kubernetes/pki');
    const r = await tlsGet(`${c.apiUrl}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      headers: { 'content-type': 'application/json' },
      ca: readFileSync(join(pki, 'ca.crt'), 'utf8'),
      cert: cert.toPem(),
      key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    });
    expect(JSON.parse(r.body).status.userInfo.username).toBe('alice');
  });

  it('issues service-account tokens that the API server accepts', async () => {
    await waitFor('the default service account', () => c.kubectl(['get', 'serviceaccount', 'default', '-n', 'default']).code === 0);
    const token = c.kubectl(['create', 'token', 'default', '-n', 'default']).stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const r = await tlsGet(`${c.apiUrl}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      ca: readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt'), 'utf8'),
    });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body).status.userInfo.username).toBe('system:serviceaccount:default:default');
  });

  it('authenticates through the front proxy with the front-proxy client certificate', async () => {
    const pki = join(c.nodeRoot, 'etc/kubernetes/pki');
    const r = await tlsGet(`${c.apiUrl}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      headers: { 'content-type': 'application/json', 'X-Remote-User': 'proxied-bob', 'X-Remote-Group': 'system:authenticated' },
      ca: readFileSync(join(pki, 'ca.crt'), 'utf8'),
      cert: readFileSync(join(pki, 'front-proxy-client.crt'), 'utf8'),
      key: readFileSync(join(pki, 'front-proxy-client.key'), 'utf8'),
    });
    expect(JSON.parse(r.body).status.userInfo.username).toBe('proxied-bob');
  });

  it('is healthy again after `pki renew all` and a restart, with new certificates', async () => {
    const apiBefore = readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/apiserver.crt'), 'utf8');
    const r = anchorage(['pki', 'renew', 'all', '--dir', c.pkiDir]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/apiserver.crt'), 'utf8')).not.toBe(apiBefore);
    await c.restartAll();
    expect(c.kubectl(['get', 'namespaces', '-o', 'name']).stdout).toContain('namespace/default');
    const served = await servedCertificate(c.apiPort);
    expect(served).toBe(certsOf(readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/apiserver.crt'), 'utf8'))[0]?.sha256);
  }, 300_000);

  it('rotates the cluster CA through every phase while clients keep talking: no request fails on trust', async () => {
    const kcPath = join(c.nodeRoot, 'etc/kubernetes/admin.conf');
    // Two clients: one holds the kubeconfig of the previous phase, one the current: both must keep working.
    const live = new LiveClients(`${c.apiUrl}/api/v1/namespaces/default`, [kubeconfigCreds(kcPath)]);
    for (const phase of ['new-ca', 'bundle', 'reissue', 'done']) {
      await live.pausedWhile(() => {
        const r = anchorage(['pki', 'rotate-ca', 'ca', '--dir', c.pkiDir]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`phase ${phase}`);
        live.clients = [live.clients.at(-1) as ClientCreds, kubeconfigCreds(kcPath)];
      });
      // The API server reloads its serving certificate and client CA from disk; a restart also makes
      // the controller-manager and scheduler load their re-issued kubeconfigs.
      await new Promise((r) => setTimeout(r, 1500));
      await c.restartAll();
      await new Promise((r) => setTimeout(r, 1500));
    }
    const { failures, requests } = await live.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(20);
    // The controller-manager and scheduler came back with their re-issued kubeconfigs.
    expect(c.kubectl(['get', 'lease', '-n', 'kube-system', 'kube-scheduler']).code).toBe(0);
    const bundle = certsOf(readFileSync(join(c.nodeRoot, 'etc/kubernetes/pki/ca.crt'), 'utf8'));
    expect(bundle).toHaveLength(1);
    // Four restarts of the whole control plane: on a loaded 2-core machine well past the 60 s default.
  }, 600_000);
});
