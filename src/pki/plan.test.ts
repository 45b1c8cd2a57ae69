// The plan against kubeadm and the hard way: every certificate the real kubeadm v1.36.3 writes
// (`init phase certs all` + `kubeconfig all`, read back with openssl) with kubeadm's name, CN, O, SANs,
// usages, validity, key type, CA and file mode; the hard way's ca.conf profiles minus its two typos.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HARD_WAY_PARITY,
  HARD_WAY_PARITY_CONFIG,
  HARD_WAY_PARITY_INPUT,
  type HardWayCert,
  KUBEADM_PARITY_CONFIG,
  KUBEADM_PARITY_INPUT,
  KUBELET_SERVING,
  type KubeadmCert,
  type KubeadmTree,
  kubeadmBinary,
  kubeadmTree,
  normIp,
} from '../../test/support/kubeadm-parity.ts';
import { type ClusterConfig, parseClusterConfig } from './config.ts';
import { buildPlan, type Plan, type PlannedCert } from './plan.ts';

const I = KUBEADM_PARITY_INPUT;
const KUBEADM_INPUT_YAML = KUBEADM_PARITY_CONFIG;

const sorted = (a: readonly string[]): string[] => [...a].sort();

/** The plan entry behind the file at `path` on cp-1. */
function plannedAt(plan: Plan, path: string): PlannedCert {
  const file = plan.files.find((f) => f.node === I.nodeName && f.path === path);
  if (!file) throw new Error(`no planned file ${path}`);
  const c = file.content;
  const id = c.type === 'bundle' ? c.certs[0] : c.type === 'cert' || c.type === 'kubeconfig' ? c.cert : undefined;
  const p = plan.certs.find((x) => x.id === id);
  if (!p) throw new Error(`${path}: no certificate behind it`);
  return p;
}

describe('kubeadm layout against the tree the real kubeadm writes', () => {
  const config = parseClusterConfig(KUBEADM_INPUT_YAML);
  const plan = buildPlan(config);
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-plan-kubeadm-'));
  let ref: KubeadmTree;
  beforeAll(async () => {
    ref = kubeadmTree(await kubeadmBinary(), dir);
  }, 1_800_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the config is the fixed input kubeadm is given', () => {
    expect(config.controlPlane).toEqual([{ name: I.nodeName, ips: [I.advertiseAddress], hostnames: [] }]);
    expect(config.controlPlaneEndpoint).toBe(I.controlPlaneEndpoint);
    expect([
      config.serviceCIDR,
      config.dnsDomain,
      config.certSANs,
      config.kubernetesVersion,
      config.keyAlgorithm,
      config.clusterName,
    ]).toEqual([I.serviceSubnet, I.dnsDomain, I.certSANs, I.kubernetesVersion, I.keyType, I.clusterName]);
    expect(config.rootCA).toBeUndefined();
    expect(config.workers).toEqual([]);
  });

  it("plans every certificate kubeadm writes with kubeadm's name, subject, SANs, usages, validity, key type, CA and mode", () => {
    // ca, front-proxy-ca, etcd-ca; 7 PEM leaves; admin, super-admin, kubelet, controller-manager, scheduler .conf.
    expect(ref.certs).toHaveLength(3 + 7 + 5);
    const nameOf = (file: string): string => (ref.certs.find((x) => x.file === file) as KubeadmCert).name;
    for (const row of ref.certs) {
      const p = plannedAt(plan, row.file);
      const r = row.profile;
      // In whole hours: kubeadm fixes a kubeconfig certificate's NotAfter before it signs it, seconds apart.
      const validity = Math.round((r.notAfter.getTime() - r.notBefore.getTime()) / 1000 / 3600) * 3600;
      expect({
        file: row.file,
        kubeadmName: p.kubeadmName,
        ca: p.ca,
        pathLen: p.pathLen,
        signer: p.signer,
        cn: p.cn,
        o: p.o,
        dns: sorted(p.sans.dns),
        ip: sorted(p.sans.ip.map(normIp)),
        keyUsage: sorted(p.keyUsage),
        extKeyUsage: sorted(p.extKeyUsage),
        validitySeconds: p.validitySeconds,
        keyType: p.keyType,
        external: p.external,
        offline: p.offline,
        mode: plan.files.find((f) => f.path === row.file)?.mode,
      }).toEqual({
        file: row.file,
        // kubelet.conf is missing from check-expiration (the kubelet rotates it): kubeadm calls it by its file name.
        kubeadmName: row.name || row.file.split('/').at(-1),
        ca: r.ca,
        pathLen: r.pathLen,
        signer: row.issuer === row.file ? null : nameOf(row.issuer),
        cn: r.cn,
        o: r.o,
        dns: r.dns,
        ip: r.ip,
        keyUsage: r.keyUsage,
        extKeyUsage: r.eku,
        validitySeconds: validity,
        keyType: r.keyType,
        external: false,
        offline: false,
        mode: row.mode,
      });
    }
  });

  it('plans the kubelet serving certificate kubeadm leaves to the kubelet', () => {
    const p = plannedAt(plan, KUBELET_SERVING.file);
    expect({ name: p.kubeadmName, signer: p.signer, cn: p.cn, o: p.o, sans: p.sans, ku: p.keyUsage, eku: p.extKeyUsage }).toEqual({
      name: KUBELET_SERVING.name,
      signer: plannedAt(plan, KUBELET_SERVING.issuer).id,
      cn: KUBELET_SERVING.cn,
      o: KUBELET_SERVING.o,
      sans: KUBELET_SERVING.sans,
      ku: KUBELET_SERVING.keyUsage,
      eku: KUBELET_SERVING.extKeyUsage,
    });
  });

  it('plans no other certificate, and the same keys and sa pair with the same modes', () => {
    const certFiles = plan.files.filter((f) => ['cert', 'bundle', 'kubeconfig'].includes(f.content.type)).map((f) => f.path);
    expect(sorted(certFiles)).toEqual(sorted([...ref.certs.map((r) => r.file), KUBELET_SERVING.file]));
    expect(plan.certs).toHaveLength(ref.certs.length + 1);
    const others = plan.files
      .filter((f) => !['cert', 'bundle', 'kubeconfig'].includes(f.content.type) && f.path !== '/var/lib/kubelet/pki/kubelet.key')
      .map((f) => [f.path, f.mode]);
    // One deliberate difference: kubeadm writes the public sa.pub 0600 (keyutil.WriteKey); Anchorage 0644, a public key.
    const theirs = ref.others.map((x) => `${x.file} ${(x.file === '/etc/kubernetes/pki/sa.pub' ? 0o644 : x.mode).toString(8)}`);
    expect(ref.others.find((x) => x.file === '/etc/kubernetes/pki/sa.pub')?.mode).toBe(0o600);
    expect(sorted(others.map(([f, m]) => `${f} ${(m as number).toString(8)}`))).toEqual(sorted(theirs));
    expect(plan.files.filter((f) => f.content.type === 'sa-key' || f.content.type === 'sa-pub').map((f) => f.path)).toEqual([
      '/etc/kubernetes/pki/sa.key',
      '/etc/kubernetes/pki/sa.pub',
    ]);
  });

  it('gives every leaf a private key file 0600 beside its certificate and every CA key to the control plane only', () => {
    for (const f of plan.files.filter((x) => x.content.type === 'cert')) {
      const key = plan.files.find((x) => x.path === f.path.replace(/\.crt$/, '.key'));
      expect(key?.content).toEqual({ type: 'key', cert: (f.content as { cert: string }).cert });
      expect(key?.mode).toBe(0o600);
    }
  });

  it('before 1.29 puts admin and apiserver-kubelet-client in system:masters and makes no super-admin.conf, as kubeadm did', () => {
    const old = buildPlan(
      parseClusterConfig(`${KUBEADM_INPUT_YAML}\nkubernetesVersion: v1.28.9`.replace(`kubernetesVersion: ${I.kubernetesVersion}\n`, '')),
    );
    const by = (id: string): PlannedCert | undefined => old.certs.find((c) => c.id === id);
    expect(by('admin.conf@cp-1')?.o).toEqual(['system:masters']);
    expect(by('apiserver-kubelet-client@cp-1')?.o).toEqual(['system:masters']);
    expect(by('super-admin.conf@cp-1')).toBeUndefined();
    expect(old.files.some((f) => f.path.endsWith('super-admin.conf'))).toBe(false);
  });

  it.each([
    ['v1.28.15', ['system:masters']],
    ['v1.29.0', ['kubeadm:cluster-admins']],
    ['v1.36', ['kubeadm:cluster-admins']],
    ['v1.36.0', ['kubeadm:cluster-admins']],
    ['v1.36.1', []],
    ['v1.37.0', []],
  ])("kubernetesVersion %s: apiserver-kubelet-client has O %j, as that kubeadm's certlist.go", (version, o) => {
    const p = buildPlan(
      parseClusterConfig(KUBEADM_INPUT_YAML.replace(`kubernetesVersion: ${I.kubernetesVersion}`, `kubernetesVersion: ${version}`)),
    );
    expect(p.certs.find((c) => c.id === 'apiserver-kubelet-client@cp-1')?.o).toEqual(o);
  });

  it('puts an IP endpoint into the IP SANs, and extra etcd SANs into etcd only', () => {
    const c = parseClusterConfig(
      `${KUBEADM_INPUT_YAML.replace(`controlPlaneEndpoint: ${I.controlPlaneEndpoint}`, 'controlPlaneEndpoint: 192.0.2.1:8443')}\netcd: {serverCertSANs: [etcd.example.com], peerCertSANs: [10.9.9.9]}`,
    );
    const p = buildPlan(c);
    const by = (id: string): PlannedCert => p.certs.find((x) => x.id === id) as PlannedCert;
    expect(sorted(by('apiserver@cp-1').sans.ip)).toEqual(['10.0.0.10', '10.96.0.1', '192.0.2.1']);
    expect(by('apiserver@cp-1').sans.dns).not.toContain('cp.example.com');
    expect(by('etcd-server@cp-1').sans.dns).toEqual(['cp-1', 'localhost', 'etcd.example.com']);
    expect(by('etcd-peer@cp-1').sans.ip).toEqual(['10.0.0.10', '127.0.0.1', '::1', '10.9.9.9']);
    expect(by('etcd-peer@cp-1').sans.dns).toEqual(['cp-1', 'localhost']);
  });
});

describe('node trees of a multi-node cluster', () => {
  const c = parseClusterConfig(
    [
      KUBEADM_INPUT_YAML.replace(/^controlPlane:.*$/m, 'controlPlane: [{name: cp-1, ips: [10.0.0.10]}, {name: cp-2, ips: [10.0.0.11]}]'),
      'rootCA: {enabled: true, commonName: Test Root}',
      'workers: [{name: w-1, ips: [10.0.1.1]}]',
      'encryptionAtRest: {enabled: true}',
    ].join('\n'),
  );
  const plan = buildPlan(c);

  it('never plans a CA key on a worker, nor the offline root key on any node', () => {
    const caIds = new Set(plan.certs.filter((p) => p.ca).map((p) => p.id));
    const keysOf = (node: string): string[] =>
      plan.files.filter((f) => f.node === node && f.content.type === 'key').map((f) => (f.content as { cert: string }).cert);
    expect(keysOf('w-1').filter((id) => caIds.has(id))).toEqual([]);
    expect(sorted(keysOf('cp-1').filter((id) => caIds.has(id)))).toEqual(['ca', 'etcd-ca', 'front-proxy-ca']);
    expect(plan.files.some((f) => JSON.stringify(f.content).includes('root-ca'))).toBe(false);
    expect(plan.certs.find((p) => p.id === 'root-ca')).toMatchObject({ offline: true, signer: null, ca: true });
    for (const id of ['ca', 'etcd-ca', 'front-proxy-ca'])
      expect(plan.certs.find((p) => p.id === id)).toMatchObject({ signer: 'root-ca', pathLen: 0 });
  });

  it('never plans etcd-ca.key on a control plane when etcd is external, nor on its members', () => {
    const ext = buildPlan({
      ...c,
      etcd: { topology: 'external', members: [{ name: 'etcd-1', ips: ['10.0.2.1'], hostnames: [] }], serverCertSANs: [], peerCertSANs: [] },
    });
    const etcdFiles = (node: string): string[] =>
      ext.files.filter((f) => f.node === node && f.path.startsWith('/etc/kubernetes/pki/etcd/ca.')).map((f) => f.path);
    expect(etcdFiles('cp-1')).toEqual(['/etc/kubernetes/pki/etcd/ca.crt']);
    expect(etcdFiles('cp-2')).toEqual(['/etc/kubernetes/pki/etcd/ca.crt']);
    expect(etcdFiles('etcd-1')).toEqual(['/etc/kubernetes/pki/etcd/ca.crt']);
    // Stacked etcd: kubeadm keeps etcd's CA key on every control plane (join copies it there).
    expect(plan.files.filter((f) => f.node === 'cp-2' && f.path.startsWith('/etc/kubernetes/pki/etcd/ca.')).map((f) => f.path)).toEqual([
      '/etc/kubernetes/pki/etcd/ca.crt',
      '/etc/kubernetes/pki/etcd/ca.key',
    ]);
  });

  it('gives workers only the cluster CA bundle, their kubelet.conf and their kubelet serving pair', () => {
    expect(plan.files.filter((f) => f.node === 'w-1').map((f) => [f.path, f.content.type, f.mode])).toEqual([
      ['/etc/kubernetes/pki/ca.crt', 'bundle', 0o644],
      ['/etc/kubernetes/kubelet.conf', 'kubeconfig', 0o600],
      ['/var/lib/kubelet/pki/kubelet.crt', 'cert', 0o644],
      ['/var/lib/kubelet/pki/kubelet.key', 'key', 0o600],
    ]);
  });

  it('points kubeconfigs where kubeadm does: control-plane kubelets and components at the local apiserver', () => {
    const server = (p: Plan, node: string, file: string): string | undefined => {
      const c = p.files.find((f) => f.node === node && f.path === `/etc/kubernetes/${file}`)?.content;
      return c?.type === 'kubeconfig' ? c.server : undefined;
    };
    for (const [file, want] of [
      ['admin.conf', 'https://cp.example.com:6443'],
      ['controller-manager.conf', 'https://10.0.0.11:6443'],
      ['scheduler.conf', 'https://10.0.0.11:6443'],
      ['kubelet.conf', 'https://10.0.0.11:6443'],
    ] as const)
      expect(server(plan, 'cp-2', file)).toBe(want);
    expect(server(plan, 'w-1', 'kubelet.conf')).toBe('https://cp.example.com:6443');
    // Before ControlPlaneKubeletLocalMode was on by default (1.33), kubelet.conf used the control-plane endpoint.
    const old = buildPlan({ ...c, kubernetesVersion: 'v1.32.9' });
    expect(server(old, 'cp-2', 'kubelet.conf')).toBe('https://cp.example.com:6443');
  });

  it('makes super-admin.conf on the first control-plane node only and the encryption config on each', () => {
    expect(plan.files.filter((f) => f.path.endsWith('super-admin.conf')).map((f) => f.node)).toEqual(['cp-1']);
    expect(plan.files.filter((f) => f.content.type === 'encryption-config').map((f) => [f.node, f.mode])).toEqual([
      ['cp-1', 0o600],
      ['cp-2', 0o600],
    ]);
  });
});

/** Upstream with its typos corrected and the documented deviations applied. */
function derived(row: HardWayCert): { o: string[]; dns: string[]; ip: string[] } {
  let o = [...row.upstreamO];
  let dns = [...row.upstreamSans.dns];
  const ip = [...row.upstreamSans.ip];
  for (const t of row.typoFixes ?? []) {
    if (t.field === 'O') o = o.map((v) => (v === t.from ? t.to : v));
    else dns = dns.map((v) => (v === t.from ? t.to : v));
  }
  for (const d of row.deviations ?? []) {
    if (d.drop) dns = dns.filter((v) => v !== d.drop);
    dns.push(...(d.add?.dns ?? []));
    ip.push(...(d.add?.ip ?? []));
  }
  return { o, dns: sorted(dns), ip: sorted(ip) };
}

const H = HARD_WAY_PARITY_INPUT;

describe('hard-way layout against ca.conf', () => {
  const config: ClusterConfig = parseClusterConfig(HARD_WAY_PARITY_CONFIG);
  const plan = buildPlan(config);

  it('the config is the tutorial environment of the table', () => {
    expect(config.controlPlane).toEqual([{ name: H.server.name, ips: [H.server.ip], hostnames: [H.server.hostname] }]);
    expect(config.workers).toEqual(H.workers.map((w) => ({ name: w.name, ips: [w.ip], hostnames: [] })));
    expect([config.controlPlaneEndpoint, config.serviceCIDR, config.certSANs, config.validity.leaf, config.validity.ca]).toEqual([
      H.controlPlaneEndpoint,
      H.serviceCIDR,
      H.certSANs,
      H.validity,
      H.validity,
    ]);
  });

  it.each(HARD_WAY_PARITY.map((r) => [r.name, r] as const))(
    "%s: the table's Anchorage values are ca.conf's, typos fixed, deviations applied",
    (_n, row) => {
      expect(derived(row)).toEqual({ o: [...row.anchorage.o], dns: sorted(row.anchorage.sans.dns), ip: sorted(row.anchorage.sans.ip) });
    },
  );

  it.each(HARD_WAY_PARITY.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const file = plan.files.find((f) => f.node === row.node && f.path === row.file);
    if (!file) throw new Error(`no planned file ${row.node}:${row.file}`);
    const c = file.content;
    const id = c.type === 'bundle' ? c.certs[0] : c.type === 'cert' || c.type === 'kubeconfig' ? c.cert : '';
    const p = plan.certs.find((x) => x.id === id) as PlannedCert;
    expect(p.ca).toBe(row.ca);
    expect(p.cn).toBe(row.cn);
    expect(p.o).toEqual(row.anchorage.o);
    expect(sorted(p.sans.dns)).toEqual(sorted(row.anchorage.sans.dns));
    expect(sorted(p.sans.ip)).toEqual(sorted(row.anchorage.sans.ip));
    expect(sorted(p.extKeyUsage)).toEqual(sorted(row.eku));
    expect(sorted(p.keyUsage)).toEqual(sorted(row.keyUsage));
    expect(p.validitySeconds).toBe(3653 * 86400);
    expect(p.signer).toBe(row.ca ? null : 'ca');
  });

  it('does not reproduce either upstream typo', () => {
    const all = plan.certs;
    expect(all.flatMap((p) => p.o)).not.toContain('system:system:kube-scheduler');
    expect(all.flatMap((p) => p.sans.dns)).not.toContain('kubernetes.svc.cluster.local');
    expect(all.find((p) => p.id === 'kube-scheduler@server')?.o).toEqual(['system:kube-scheduler']);
    expect(all.find((p) => p.id === 'kube-api-server@server')?.sans.dns).toContain('kubernetes.default.svc.cluster.local');
  });

  it('has one CA and exactly the certificates of the table', () => {
    expect(plan.certs.filter((p) => p.ca).map((p) => p.id)).toEqual(['ca']);
    expect(plan.certs).toHaveLength(HARD_WAY_PARITY.length);
  });
});
