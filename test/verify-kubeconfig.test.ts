// `verify` on a kubeconfig checks its client certificate (not the CA inside it), with openssl as the peer.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readKubeconfig } from '../src/k8s/kubeconfig.ts';
import { tempDirs } from './support/temp.ts';

const tempDir = tempDirs();

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const d = tempDir('vkc-');
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};
const node = join(d, 'out', 'nodes', 'cp-1', 'etc', 'kubernetes');

beforeAll(() => {
  writeFileSync(
    join(d, 'cluster.yaml'),
    'apiVersion: anchorage.dev/v1alpha1\nkind: ClusterPKI\ncontrolPlaneEndpoint: 10.0.0.11:6443\nkeyAlgorithm: ecdsa-p256\ncontrolPlane: [{name: cp-1, ips: [10.0.0.11]}]\n',
  );
  const r = run(['pki', 'init', '--config', join(d, 'cluster.yaml'), '--out', join(d, 'out')]);
  if (r.code !== 0) throw new Error(r.err);
});

describe('verify a kubeconfig', () => {
  it("checks the user's client certificate for client use, not the CA embedded beside it", () => {
    const r = run(['verify', join(node, 'admin.conf'), '--roots', join(node, 'pki', 'ca.crt'), '-o', 'json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.bestPath[0].subject).toMatch(/CN=kubernetes-admin/);
    expect(doc.purpose).toBe('clientAuth');
    expect(doc.kubeconfig).toMatchObject({ user: 'kubernetes-admin', cluster: 'kubernetes', serverCA: { isCA: true, inRoots: true } });
    // openssl agrees on the same client certificate.
    const kc = readKubeconfig(readFileSync(join(node, 'admin.conf'), 'utf8'));
    const cert = kc.embedded.find((e) => e.field === 'client-certificate-data')?.data as Uint8Array;
    writeFileSync(join(d, 'admin.pem'), cert);
    execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(node, 'pki', 'ca.crt'), join(d, 'admin.pem')], {
      stdio: 'pipe',
    });
  });

  it('the table says which user and which server CA', () => {
    const r = run(['verify', join(node, 'admin.conf')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^TRUSTED: CN=kubernetes-admin/);
    expect(r.out).toMatch(/Kubeconfig: client certificate of user kubernetes-admin, cluster kubernetes \(https:\/\/10\.0\.0\.11:6443\)/);
    expect(r.out).toMatch(/roots: the kubeconfig's cluster CA/);
  });

  it('a client certificate from another CA is NOT TRUSTED against the real CA (openssl agrees)', () => {
    const r = run(['verify', join(node, 'admin.conf'), '--roots', join(node, 'pki', 'front-proxy-ca.crt')]);
    expect(r.code).toBe(1);
    const o = spawnSync('openssl', ['verify', '-CAfile', join(node, 'pki', 'front-proxy-ca.crt'), join(d, 'admin.pem')]);
    expect(o.status).not.toBe(0);
  });

  it('--user and --cluster must name what is there', () => {
    expect(run(['verify', join(node, 'admin.conf'), '--user', 'nobody']).err).toMatch(
      /no user 'nobody' with a client certificate \(kubernetes-admin\)/,
    );
    expect(run(['verify', join(node, 'admin.conf'), '--cluster', 'elsewhere']).err).toMatch(/no cluster 'elsewhere'/);
    expect(run(['verify', join(node, 'pki', 'apiserver.crt'), '--user', 'x']).err).toMatch(/is not a kubeconfig/);
  });
});
