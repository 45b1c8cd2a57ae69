// `pki adopt` and check-expiration on trees the real kubeadm v1.36.3 wrote: single and three control
// planes, RSA and ECDSA, a CA without its key (external-CA mode). kubeadm itself is the oracle for
// check-expiration and renew; openssl checks chains.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readKubeconfig } from '../src/k8s/kubeconfig.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { scanPem } from '../src/x509/pem.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';
import { tempDirs } from './support/temp.ts';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const NODE = process.execPath;
let kubeadm = '';

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function ok(args: string[]): string {
  const r = run(args);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.err}${r.out}`);
  return r.out;
}
function kadm(args: string[]): string {
  const r = spawnSync(kubeadm, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`kubeadm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

interface NodeSpec {
  name: string;
  ip: string;
}

/** A kubeadm config for one node; the tree goes to ROOT/etc/kubernetes like on a real node. */
function kubeadmConfig(root: string, n: NodeSpec, algo: string, extra: string[] = []): string {
  const file = join(root, 'kubeadm.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: InitConfiguration',
      `localAPIEndpoint: {advertiseAddress: ${n.ip}, bindPort: 6443}`,
      `nodeRegistration: {name: ${n.name}, criSocket: unix:///var/run/containerd/containerd.sock}`,
      '---',
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: ClusterConfiguration',
      'kubernetesVersion: v1.36.3',
      'clusterName: prod',
      'controlPlaneEndpoint: api.prod.example:6443',
      `certificatesDir: ${join(root, 'etc/kubernetes/pki')}`,
      `encryptionAlgorithm: ${algo}`,
      'networking: {serviceSubnet: 10.96.0.0/12, dnsDomain: cluster.local}',
      'apiServer: {certSANs: [api.prod.example, 192.0.2.10]}',
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

/** kubeadm's certs commands read kubeconfigs only from /etc/kubernetes: run them chrooted into the node's root. */
function kadmRootfs(root: string, args: string[]): string {
  const cfg = readFileSync(join(root, 'kubeadm.yaml'), 'utf8').replace(/^certificatesDir: .*$/m, 'certificatesDir: /etc/kubernetes/pki');
  writeFileSync(join(root, 'kubeadm-rootfs.yaml'), cfg);
  return kadm([...args, '--rootfs', root, '--config', '/kubeadm-rootfs.yaml']);
}

/** `kubeadm init phase certs all` + `kubeconfig all`, as on the first control plane (or a joining one sharing the CAs). */
function kubeadmNode(root: string, n: NodeSpec, algo: string, sharedFrom?: string): string {
  mkdirSync(join(root, 'etc/kubernetes/pki/etcd'), { recursive: true });
  if (sharedFrom) {
    // What `kubeadm join --control-plane` copies: the CAs, the front proxy CA, etcd's CA and sa.*.
    for (const f of ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'sa.key', 'sa.pub'])
      cpSync(join(sharedFrom, 'etc/kubernetes/pki', f), join(root, 'etc/kubernetes/pki', f));
  }
  const cfg = kubeadmConfig(root, n, algo);
  kadm(['init', 'phase', 'certs', 'all', '--config', cfg]);
  kadm(['init', 'phase', 'kubeconfig', 'all', '--config', cfg, '--kubeconfig-dir', join(root, 'etc/kubernetes')]);
  if (sharedFrom) rmSync(join(root, 'etc/kubernetes/super-admin.conf')); // only the init node has it
  return cfg;
}

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = `${statSync(p).mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

function certOf(path: string): Certificate {
  const text = readFileSync(path, 'latin1');
  if (path.endsWith('.conf') || path.endsWith('kubeconfig')) {
    const kc = readKubeconfig(text);
    const e = kc.embedded.find((x) => x.field === 'client-certificate-data');
    if (!e) throw new Error(`${path}: no client certificate`);
    return new Certificate((scanPem(Buffer.from(e.data).toString('latin1'))[0] as { der: Uint8Array }).der);
  }
  return new Certificate((scanPem(text)[0] as { der: Uint8Array }).der);
}

/** kubeadm's check-expiration rows as data: name, expiry, CA, externally managed (residual time left out: it ticks). */
function rows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => /^\S/.test(l) && !l.startsWith('CERTIFICATE') && !l.startsWith('[') && !l.includes('!MISSING!') === true)
    .map((l) => l.split(/\s{2,}/))
    .map((r) => (r.length === 5 ? [r[0], r[1], r[3], r[4]] : [r[0], r[1], r[3]]) as string[]);
}

const tempDir = tempDirs();
const tmp = (p: string) => tempDir(`adopt-${p}-`);

beforeAll(async () => {
  kubeadm = join(await kubeBinDir(), 'kubeadm');
}, K8S_BUILD_TIMEOUT_MS);

describe('one control plane, RSA-2048, made by the real kubeadm', () => {
  const base = tmp('rsa');
  const node = join(base, 'cp-1');
  const out = join(base, 'adopted');
  let before: Record<string, string> = {};
  beforeAll(() => {
    kubeadmNode(node, { name: 'cp-1', ip: '10.0.0.11' }, 'RSA-2048');
    before = hashTree(join(node, 'etc/kubernetes'));
  });

  it('check-expiration straight on the kubeadm folder matches `kubeadm certs check-expiration`', () => {
    const theirs = kadmRootfs(node, ['certs', 'check-expiration']);
    const mine = ok(['pki', 'check-expiration', '--dir', join(node, 'etc/kubernetes')]);
    expect(rows(mine)).toEqual(rows(theirs));
    expect(rows(mine).length).toBeGreaterThanOrEqual(14);
    expect(mine).not.toContain('MISSING');
  });

  it('adopt infers the config from the certificates and changes no file of the tree', () => {
    const text = ok(['pki', 'adopt', node, '--out', out]);
    expect(text).toContain('adopted');
    expect(text).toContain(`next: anchorage pki check-expiration --dir ${out}`);
    expect(hashTree(join(node, 'etc/kubernetes'))).toEqual(before);
    const c = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(c).toMatchObject({
      clusterName: 'prod',
      controlPlaneEndpoint: 'api.prod.example:6443',
      kubernetesVersion: 'v1.36.3',
      dnsDomain: 'cluster.local',
      serviceCIDR: '10.96.0.0/12',
      layout: 'kubeadm',
      keyAlgorithm: 'rsa-2048',
      certSANs: ['192.0.2.10'],
      kubeletServingCertificates: false,
      controlPlane: [{ name: 'cp-1', ips: ['10.0.0.11'], hostnames: [] }],
      etcd: { topology: 'stacked' },
      validity: { ca: '87600h', leaf: '8760h' },
    });
    // The store holds the very certificates and keys of the tree.
    expect(readFileSync(join(out, 'store/ca.crt'), 'latin1')).toBe(readFileSync(join(node, 'etc/kubernetes/pki/ca.crt'), 'latin1'));
    expect(statSync(join(out, 'store/ca.key')).mode & 0o777).toBe(0o600);
    const adopted = JSON.parse(readFileSync(join(out, 'adopted.json'), 'utf8'));
    expect(adopted.differences).toEqual([]);
    expect(adopted.externalCAs).toEqual([]);
  });

  it('check-expiration on the adopted directory matches kubeadm too', () => {
    const theirs = kadmRootfs(node, ['certs', 'check-expiration']);
    expect(rows(ok(['pki', 'check-expiration', '--dir', out]))).toEqual(rows(theirs));
  });

  it('a second adopt into the same directory is refused, and init never runs over a kubeadm folder', () => {
    const again = run(['pki', 'adopt', node, '--out', out]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already holds a PKI/);
    const init = run(['pki', 'init', '--config', join(out, 'cluster.yaml'), '--out', join(node, 'etc/kubernetes')]);
    expect(init.code).toBe(2);
    expect(init.err).toMatch(/holds an existing PKI \(kubeadm or the hard way\).*pki adopt/);
    // Nor into any other folder: the adopted config's CAs are the live cluster's.
    const elsewhere = run(['pki', 'init', '--config', join(out, 'cluster.yaml'), '--out', join(base, 'fresh')]);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.err).toMatch(/describes the cluster adopted in .*: init into .* would make new CAs for it/);
    expect(existsSync(join(base, 'fresh'))).toBe(false);
    // A copy of the config (no adopted.json beside it) still cannot run over the kubeadm folder.
    cpSync(join(out, 'cluster.yaml'), join(base, 'copy.yaml'));
    const over = run(['pki', 'init', '--config', join(base, 'copy.yaml'), '--out', join(node, 'etc/kubernetes')]);
    expect(over.code).toBe(2);
    expect(over.err).toMatch(/holds an existing PKI \(kubeadm or the hard way\).*pki adopt/);
    // check-expiration with a config on the kubeadm folder reads the folder, never reports it all missing.
    const ce = run(['pki', 'check-expiration', '--dir', join(node, 'etc/kubernetes'), '--config', join(base, 'copy.yaml')]);
    expect(ce.code).toBe(0);
    expect(ce.out).not.toContain('MISSING');
    expect(rows(ce.out)).toEqual(rows(kadmRootfs(node, ['certs', 'check-expiration'])));
    expect(hashTree(join(node, 'etc/kubernetes'))).toEqual(before);
  });

  it('renew all keeps every name and key type, like `kubeadm certs renew all` on a copy of the tree', () => {
    const copy = join(base, 'kubeadm-renewed');
    cpSync(node, copy, { recursive: true });
    kadmRootfs(copy, ['certs', 'renew', 'all']);
    const said = ok(['pki', 'renew', 'all', '--dir', out]);
    // The files each changed: kubeadm's (a diff of its copy) and ours (what renew says to distribute): the
    // same, plus kubelet.conf, which Anchorage renews and kubeadm leaves to the kubelet. No CA, bundle or sa key.
    const after = hashTree(join(copy, 'etc/kubernetes'));
    const byKubeadm = Object.keys(before).filter((f) => after[f] !== before[f]);
    const byUs = [...said.matchAll(/^ {2}cp-1: (.+)$/gm)].flatMap((m) =>
      (m[1] as string).split(', ').map((p) => p.slice('/etc/kubernetes'.length)),
    );
    expect(byUs.sort()).toEqual([...byKubeadm, '/kubelet.conf'].sort());
    expect(byKubeadm.length).toBeGreaterThanOrEqual(11);
    const mine = join(out, 'nodes/cp-1/etc/kubernetes');
    const theirs = join(copy, 'etc/kubernetes');
    for (const f of [
      'pki/apiserver.crt',
      'pki/apiserver-kubelet-client.crt',
      'pki/front-proxy-client.crt',
      'pki/apiserver-etcd-client.crt',
      'pki/etcd/server.crt',
      'pki/etcd/peer.crt',
      'pki/etcd/healthcheck-client.crt',
      'admin.conf',
      'super-admin.conf',
      'controller-manager.conf',
      'scheduler.conf',
    ]) {
      const a = certOf(join(mine, f));
      const b = certOf(join(theirs, f));
      const old = certOf(join(node, 'etc/kubernetes', f));
      expect({ f, s: a.subject, dns: a.sans.dns, ip: a.sans.ip, eku: a.extKeyUsage, key: a.keyInfo }).toEqual({
        f,
        s: b.subject,
        dns: b.sans.dns,
        ip: b.sans.ip,
        eku: b.extKeyUsage,
        key: b.keyInfo,
      });
      expect(a.serialNumber).not.toBe(old.serialNumber);
      // Signed by the cluster's own CA, checked by openssl.
      const ca = f.includes('etcd') ? 'pki/etcd/ca.crt' : f.includes('front-proxy') ? 'pki/front-proxy-ca.crt' : 'pki/ca.crt';
      const leaf = join(base, 'leaf.pem');
      writeFileSync(leaf, a.toPem());
      execFileSync('openssl', ['verify', '-CAfile', join(node, 'etc/kubernetes', ca), leaf], { stdio: 'pipe' });
    }
  });

  it('rotate-ca runs through every phase on the adopted PKI, and the old CA is trusted until done', () => {
    const oldCa = readFileSync(join(node, 'etc/kubernetes/pki/ca.crt'), 'latin1');
    ok(['pki', 'rotate-ca', 'ca', '--dir', out]); // new-ca: a new CA in the store, nothing on the nodes yet
    ok(['pki', 'rotate-ca', 'ca', '--dir', out]); // bundle: old + new everywhere
    const bundle = readFileSync(join(out, 'nodes/cp-1/etc/kubernetes/pki/ca.crt'), 'latin1');
    expect(bundle).toContain(oldCa.trim());
    expect(scanPem(bundle).length).toBe(2);
    ok(['pki', 'rotate-ca', 'ca', '--dir', out]); // reissue
    ok(['pki', 'rotate-ca', 'ca', '--dir', out]); // done
    const after = readFileSync(join(out, 'nodes/cp-1/etc/kubernetes/pki/ca.crt'), 'latin1');
    expect(scanPem(after).length).toBe(1);
    expect(after).not.toContain(oldCa.trim());
    const leaf = join(base, 'api.pem');
    writeFileSync(leaf, readFileSync(join(out, 'nodes/cp-1/etc/kubernetes/pki/apiserver.crt')));
    execFileSync('openssl', ['verify', '-CAfile', join(out, 'nodes/cp-1/etc/kubernetes/pki/ca.crt'), leaf], { stdio: 'pipe' });
  });
});

describe('three control planes, ECDSA P-256, made by the real kubeadm', () => {
  const base = tmp('ha');
  const nodes = [
    { name: 'cp-1', ip: '10.0.0.11' },
    { name: 'cp-2', ip: '10.0.0.12' },
    { name: 'cp-3', ip: '10.0.0.13' },
  ];
  const out = join(base, 'adopted');
  beforeAll(() => {
    kubeadmNode(join(base, 'cp-1'), nodes[0] as NodeSpec, 'ECDSA-P256');
    kubeadmNode(join(base, 'cp-2'), nodes[1] as NodeSpec, 'ECDSA-P256', join(base, 'cp-1'));
    kubeadmNode(join(base, 'cp-3'), nodes[2] as NodeSpec, 'ECDSA-P256', join(base, 'cp-1'));
  });

  it('adopts all three trees (given in any order) into one config, first control plane first', () => {
    ok(['pki', 'adopt', join(base, 'cp-3'), join(base, 'cp-1'), join(base, 'cp-2'), '--out', out]);
    const c = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(c.keyAlgorithm).toBe('ecdsa-p256');
    expect(c.controlPlane.map((n: { name: string }) => n.name)).toEqual(['cp-1', 'cp-3', 'cp-2']);
    expect(c.controlPlane.find((n: { name: string }) => n.name === 'cp-2').ips).toEqual(['10.0.0.12']);
    const adopted = JSON.parse(readFileSync(join(out, 'adopted.json'), 'utf8'));
    expect(adopted.differences).toEqual([]);
    expect(adopted.files.filter((f: { status: string }) => f.status === 'unknown')).toEqual([]);
  });

  it('renew apiserver renews it on every control plane with its own names and an ECDSA key', () => {
    ok(['pki', 'renew', 'apiserver', '--dir', out]);
    for (const n of nodes) {
      const a = certOf(join(out, `nodes/${n.name}/etc/kubernetes/pki/apiserver.crt`));
      const old = certOf(join(base, n.name, 'etc/kubernetes/pki/apiserver.crt'));
      expect(a.sans).toEqual(old.sans);
      expect(a.keyInfo).toEqual({ algorithm: 'EC', size: 256, curve: 'P-256' });
      expect(a.serialNumber).not.toBe(old.serialNumber);
    }
  });

  it("rotate-ca etcd-ca through every phase on all three: each member's certificates verify against the new etcd CA only (openssl)", () => {
    const oldCa = readFileSync(join(base, 'cp-1/etc/kubernetes/pki/etcd/ca.crt'), 'latin1').trim();
    for (const phase of ['new-ca', 'bundle', 'reissue', 'done'])
      expect(ok(['pki', 'rotate-ca', 'etcd-ca', '--dir', out])).toContain(`phase ${phase}`);
    for (const n of nodes) {
      const pki = join(out, `nodes/${n.name}/etc/kubernetes/pki`);
      const ca = readFileSync(join(pki, 'etcd/ca.crt'), 'latin1');
      expect(scanPem(ca)).toHaveLength(1);
      expect(ca).not.toContain(oldCa);
      for (const f of ['etcd/server.crt', 'etcd/peer.crt', 'etcd/healthcheck-client.crt', 'apiserver-etcd-client.crt']) {
        execFileSync('openssl', ['verify', '-CAfile', join(pki, 'etcd/ca.crt'), join(pki, f)], { stdio: 'pipe' });
        expect(certOf(join(pki, f)).sans).toEqual(certOf(join(base, n.name, 'etc/kubernetes/pki', f)).sans);
      }
    }
  });

  it('trees that disagree on the CA are refused with one line', () => {
    const rogue = join(base, 'rogue');
    kubeadmNode(rogue, { name: 'cp-9', ip: '10.0.0.19' }, 'ECDSA-P256');
    const r = run(['pki', 'adopt', join(base, 'cp-1'), rogue, '--out', join(base, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/different ca certificate than on another node/);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('a CA without its key: external-CA mode', () => {
  const base = tmp('ext');
  const node = join(base, 'cp-1');
  const out = join(base, 'adopted');
  beforeAll(() => {
    kubeadmNode(node, { name: 'cp-1', ip: '10.0.0.11' }, 'ECDSA-P256');
    rmSync(join(node, 'etc/kubernetes/pki/ca.key'));
  });

  it('adopts with ca external, and check-expiration says so like kubeadm', () => {
    const text = ok(['pki', 'adopt', node, '--out', out]);
    expect(text).toMatch(/no private key for ca: external-CA mode/);
    const c = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(c.externalCA).toEqual({ ca: 'external/ca.crt' });
    const mine = ok(['pki', 'check-expiration', '--dir', out]);
    expect(mine).toMatch(/^ca\s+.*\s+yes\s*$/m);
    expect(rows(mine)).toEqual(rows(kadmRootfs(node, ['certs', 'check-expiration'])));
  });

  it('renew skips what the external CA signs and never makes a new CA', () => {
    const r = ok(['pki', 'renew', 'all', '--dir', out]);
    expect(r).toMatch(/skipped apiserver@cp-1: its CA ca is externally managed/);
    expect(readdirSync(join(out, 'store')).filter((f) => f === 'ca.key')).toEqual([]);
  });
});

describe('bad trees', () => {
  it('a key that does not match its certificate: one line naming the file', () => {
    const base = tmp('bad');
    const node = join(base, 'cp-1');
    kubeadmNode(node, { name: 'cp-1', ip: '10.0.0.11' }, 'ECDSA-P256');
    cpSync(join(node, 'etc/kubernetes/pki/front-proxy-client.key'), join(node, 'etc/kubernetes/pki/apiserver.key'));
    const r = run(['pki', 'adopt', node, '--out', join(base, 'out')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/pki\/apiserver.key: private key does not match its certificate/);
    expect(() => statSync(join(base, 'out', 'cluster.yaml'))).toThrow();
  });

  it('not a kubeadm tree, and a missing one', () => {
    const d = tmp('empty');
    expect(run(['pki', 'adopt', d, '--out', join(d, 'x')]).err).toMatch(/not a kubeadm tree/);
    expect(run(['pki', 'adopt', join(d, 'nope'), '--out', join(d, 'x')]).err).toMatch(/no such directory/);
  });
});

describe('external etcd and a worker', () => {
  const base = tmp('extetcd');
  const cp = join(base, 'cp-1');
  const member = join(base, 'etcd-1');
  const worker = join(base, 'w-1');
  const out = join(base, 'adopted');
  beforeAll(() => {
    // The etcd member's own certificates, from kubeadm's etcd phases run for that node.
    mkdirSync(join(member, 'etc/kubernetes/pki/etcd'), { recursive: true });
    const mcfg = kubeadmConfig(member, { name: 'etcd-1', ip: '10.0.2.1' }, 'ECDSA-P256');
    for (const phase of ['etcd-ca', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client'])
      kadm(['init', 'phase', 'certs', phase, '--config', mcfg]);
    // The control plane with external etcd: kubeadm makes no etcd certificate; the operator places the
    // etcd CA and the apiserver's etcd client pair where the config says.
    mkdirSync(join(cp, 'etc/kubernetes/pki/etcd'), { recursive: true });
    const ccfg = kubeadmConfig(cp, { name: 'cp-1', ip: '10.0.0.11' }, 'ECDSA-P256', [
      'etcd:',
      '  external:',
      '    endpoints: [https://10.0.2.1:2379]',
      `    caFile: ${join(cp, 'etc/kubernetes/pki/etcd/ca.crt')}`,
      `    certFile: ${join(cp, 'etc/kubernetes/pki/apiserver-etcd-client.crt')}`,
      `    keyFile: ${join(cp, 'etc/kubernetes/pki/apiserver-etcd-client.key')}`,
    ]);
    for (const f of ['etcd/ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key'])
      cpSync(join(member, 'etc/kubernetes/pki', f), join(cp, 'etc/kubernetes/pki', f));
    rmSync(join(member, 'etc/kubernetes/pki/apiserver-etcd-client.crt'));
    rmSync(join(member, 'etc/kubernetes/pki/apiserver-etcd-client.key'));
    kadm(['init', 'phase', 'certs', 'all', '--config', ccfg]);
    kadm(['init', 'phase', 'kubeconfig', 'all', '--config', ccfg, '--kubeconfig-dir', join(cp, 'etc/kubernetes')]);
    // A worker: its kubelet.conf (what `kubeadm init phase kubeconfig kubelet` writes for it) and the CA.
    mkdirSync(join(worker, 'etc/kubernetes/pki'), { recursive: true });
    const wcfg = kubeadmConfig(cp, { name: 'w-1', ip: '10.0.1.1' }, 'ECDSA-P256');
    kadm(['init', 'phase', 'kubeconfig', 'kubelet', '--config', wcfg, '--kubeconfig-dir', join(worker, 'etc/kubernetes')]);
    cpSync(join(cp, 'etc/kubernetes/pki/ca.crt'), join(worker, 'etc/kubernetes/pki/ca.crt'));
  });

  it("a worker's tree carries no IP: adopt asks for it in one line", () => {
    const r = run(['pki', 'adopt', cp, member, worker, '--out', join(base, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/node w-1 carries no IP in its certificates; give it as --node w-1@IP=/);
  });

  it('adopts the control plane, the external member and the worker', () => {
    ok(['pki', 'adopt', cp, member, `w-1@10.0.1.1=${worker}`, '--out', out]);
    const c = parseYaml(readFileSync(join(out, 'cluster.yaml'), 'utf8'));
    expect(c.etcd).toMatchObject({ topology: 'external', members: [{ name: 'etcd-1', ips: ['10.0.2.1'] }] });
    expect(c.workers).toEqual([{ name: 'w-1', ips: ['10.0.1.1'], hostnames: [] }]);
    const adopted = JSON.parse(readFileSync(join(out, 'adopted.json'), 'utf8'));
    expect(adopted.externalCAs).toEqual([]);
    const ids = adopted.files.filter((f: { status: string }) => f.status === 'adopted').map((f: { id: string }) => f.id);
    expect(ids).toEqual(expect.arrayContaining(['etcd-server@etcd-1', 'apiserver-etcd-client@cp-1', 'kubelet.conf@w-1']));
    expect(adopted.files.filter((f: { status: string }) => f.status === 'unknown')).toEqual([]);
  });

  it("the control plane alone (etcd's CA key stays with whoever runs etcd): etcd-ca external, check-expiration beside kubeadm's", () => {
    const alone = join(base, 'alone');
    const text = ok(['pki', 'adopt', cp, '--out', alone]);
    expect(text).toMatch(/no private key for etcd-ca: external-CA mode/);
    const c = parseYaml(readFileSync(join(alone, 'cluster.yaml'), 'utf8'));
    expect(c.etcd).toMatchObject({ topology: 'external', members: [] });
    expect(c.externalCA).toEqual({ etcdCA: 'external/etcd-ca.crt' });
    // No etcd CA key is planned for the control plane (it is only etcd's client).
    expect(readdirSync(join(alone, 'nodes/cp-1/etc/kubernetes/pki/etcd'))).toEqual(['ca.crt']);
    // kubeadm with external etcd lists neither etcd's CA nor the apiserver's etcd client certificate; Anchorage
    // lists them too (marked externally managed): the rest is kubeadm's, row for row.
    const expiry = ok(['pki', 'check-expiration', '--dir', alone]);
    const mine = rows(expiry);
    // kubeadm told about the external etcd (the files as the control plane sees them).
    kubeadmConfig(cp, { name: 'cp-1', ip: '10.0.0.11' }, 'ECDSA-P256', [
      'etcd:',
      '  external:',
      '    endpoints: [https://10.0.2.1:2379]',
      '    caFile: /etc/kubernetes/pki/etcd/ca.crt',
      '    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt',
      '    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key',
    ]);
    const theirs = rows(kadmRootfs(cp, ['certs', 'check-expiration']));
    expect(mine.filter((r) => !['apiserver-etcd-client', 'etcd-ca'].includes(r[0] as string))).toEqual(theirs);
    expect(expiry).toMatch(/^apiserver-etcd-client\s.*\setcd-ca\s+yes\s*$/m);
    expect(expiry).toMatch(/^etcd-ca\s.*\s+yes\s*$/m);
    const renew = ok(['pki', 'renew', 'all', '--dir', alone]);
    expect(renew).toMatch(/skipped apiserver-etcd-client@cp-1: its CA etcd-ca is externally managed/);
    expect(readdirSync(join(alone, 'store')).filter((f) => f.startsWith('etcd-ca'))).toEqual(['etcd-ca.crt']);
    expect(run(['pki', 'rotate-ca', 'etcd-ca', '--dir', alone]).code).toBe(2);
  });

  it('renew etcd-server renews the member certificate, signed by the adopted etcd CA (openssl)', () => {
    ok(['pki', 'renew', 'etcd-server', '--dir', out]);
    const leaf = join(out, 'nodes/etcd-1/etc/kubernetes/pki/etcd/server.crt');
    const old = certOf(join(member, 'etc/kubernetes/pki/etcd/server.crt'));
    expect(certOf(leaf).sans).toEqual(old.sans);
    expect(certOf(leaf).serialNumber).not.toBe(old.serialNumber);
    execFileSync('openssl', ['verify', '-CAfile', join(member, 'etc/kubernetes/pki/etcd/ca.crt'), leaf], { stdio: 'pipe' });
  });
});

describe('hints never point at replacing trust', () => {
  it('renew and rotate-ca on a kubeadm folder say to adopt it, and change nothing', () => {
    const base = tmp('hint');
    const node = join(base, 'cp-1');
    kubeadmNode(node, { name: 'cp-1', ip: '10.0.0.11' }, 'ECDSA-P256');
    const before = hashTree(join(node, 'etc/kubernetes'));
    for (const args of [
      ['pki', 'renew', 'all', '--dir', join(node, 'etc/kubernetes')],
      ['pki', 'rotate-ca', 'ca', '--dir', join(node, 'etc/kubernetes')],
    ]) {
      const r = run(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/written by kubeadm or the hard way, not by Anchorage: adopt it first \(anchorage pki adopt /);
      expect(r.err).not.toMatch(/pki init/);
    }
    expect(hashTree(join(node, 'etc/kubernetes'))).toEqual(before);
  });
});
