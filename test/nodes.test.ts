// `anchorage nodes` against real machines: Debian's OpenSSH server in network namespaces, each with its
// own /etc and /var/lib (test/support/sshd.ts). The oracle is each node's file system, read directly
// through its mount namespace, compared byte for byte with what `pki init` wrote.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliResult, cli, dirFile, manifestOf, nodeFiles, plant } from './support/nodes-cli.ts';
import { type Lab, type LabNode, startLab } from './support/sshd.ts';

vi.setConfig({ testTimeout: 300_000 });

// 8 machines: cp-1, cp-2, w-1..w-3 (the healthy five), w-full (its disk is filled), w-deny (our key is
// not authorized), w-user (we log in as a non-root user); w-gone's address answers nothing.
const NAMES = ['cp-1', 'cp-2', 'w-1', 'w-2', 'w-3', 'w-full', 'w-deny', 'w-user'];
const GOOD = ['cp-1', 'cp-2', 'w-1', 'w-2', 'w-3'];
const PKI_DIRS = ['/etc/kubernetes', '/var/lib/kubelet'];
let lab: Lab;
let work: string;
let dirA: string;
let dirB: string;
const byName = (n: string): LabNode => lab.nodes[NAMES.indexOf(n)] as LabNode;
const outputs: string[] = [];

async function nodes(args: string[]): Promise<CliResult> {
  const r = await cli(['nodes', ...args]);
  outputs.push(r.stdout, r.stderr);
  return r;
}
const json = (r: CliResult) => JSON.parse(r.stdout) as { nodes: { node: string; ok: boolean; error?: string; [k: string]: unknown }[] };

/** What a node holds under the PKI folders is exactly its manifest files: bytes, modes, root-owned. */
function expectExactly(dir: string, name: string): void {
  const want = manifestOf(dir).filter((f) => f.node === name);
  const have = nodeFiles(lab, byName(name), PKI_DIRS);
  expect([...have.keys()].sort()).toEqual(want.map((f) => f.path).sort());
  for (const f of want) {
    const h = have.get(f.path);
    expect(h?.data.equals(dirFile(dir, name, f.path)), `${name}:${f.path}`).toBe(true);
    expect(`0${h?.mode.toString(8)}`, `${name}:${f.path}`).toBe(f.mode);
    expect([h?.uid, h?.gid]).toEqual([0, 0]);
  }
}

function config(extra = ''): string {
  const ip = (n: string) => byName(n).ip;
  const node = (n: string, more = '') => `  - {name: ${n}, ips: [${ip(n)}]${more}}`;
  return [
    'apiVersion: anchorage.dev/v1alpha1',
    'kind: ClusterPKI',
    `controlPlaneEndpoint: ${ip('cp-1')}:6443`,
    'keyAlgorithm: ecdsa-p256',
    `ssh: {identityFile: ${lab.clientKey}, knownHosts: ${lab.knownHosts}${extra}}`,
    'controlPlane:',
    node('cp-1'),
    node('cp-2'),
    'workers:',
    ...['w-1', 'w-2'].map((n) => node(n)),
    // The post-push hook runs only where files changed.
    node('w-3', ", ssh: {postPushHook: 'echo ran >> /var/lib/hook.log'}"),
    ...['w-full', 'w-deny'].map((n) => node(n)),
    node('w-user', ', ssh: {user: anc}'),
    `  - {name: w-gone, ips: [10.251.${lab.subnet}.250]}`,
    '',
  ].join('\n');
}

beforeAll(async () => {
  lab = await startLab({
    id: 'np',
    subnet: 201,
    count: NAMES.length,
    diskBytes: (i) => (NAMES[i] === 'w-full' ? 2 * 1024 * 1024 : 32 * 1024 * 1024),
    denyAuth: [NAMES.indexOf('w-deny')],
  });
  work = mkdtempSync(join(tmpdir(), 'anc-np-work-'));
  // Fill w-full's disk (its own tmpfs): writes there fail with ENOSPC.
  lab.exec(byName('w-full'), ['sh', '-c', 'dd if=/dev/zero of=/var/lib/filler bs=64k 2>/dev/null; true']);
  writeFileSync(join(work, 'cluster.yaml'), config());
  dirA = join(work, 'a');
  dirB = join(work, 'b');
  const [a, b] = await Promise.all([
    cli(['pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dirA]),
    cli(['pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dirB]),
  ]);
  expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
}, 600_000);

afterAll(async () => {
  await lab?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('nodes push', () => {
  it('plans every manifest file as new, and names each unusable node in one line', async () => {
    const r = await nodes(['plan', '--dir', dirA, '-o', 'json']);
    expect(r.code).toBe(1);
    const res = json(r);
    for (const n of GOOD) {
      const files = (res.nodes.find((x) => x.node === n)?.files ?? []) as { path: string; state: string }[];
      expect(files.map((f) => f.path).sort()).toEqual(
        manifestOf(dirA)
          .filter((f) => f.node === n)
          .map((f) => f.path)
          .sort(),
      );
      expect(new Set(files.map((f) => f.state))).toEqual(new Set(['new']));
    }
    const err = Object.fromEntries(res.nodes.filter((x) => !x.ok).map((x) => [x.node, x.error]));
    expect(err['w-deny']).toMatch(/^authentication failed for root@10\.251\.201\.\d+ \(publickey\)$/);
    expect(err['w-gone']).toMatch(/^unreachable: root@10\.251\.201\.250: /);
    expect(Object.keys(err).sort()).toEqual(['w-deny', 'w-gone']);
    // one line per failed node on stderr, and a count
    expect(r.stderr).toMatch(/^error: w-deny: authentication failed/m);
    expect(r.stderr).toMatch(/^2 of 9 node\(s\) failed$/m);
  });

  it('pushes exactly each node its manifest; unreachable, auth failure, permission denied and a full disk are one line each while the others succeed', async () => {
    const r = await nodes(['push', '--dir', dirA, '-o', 'json']);
    expect(r.code).toBe(1);
    const res = json(r);
    const err = Object.fromEntries(res.nodes.filter((x) => !x.ok).map((x) => [x.node, x.error]));
    expect(Object.keys(err).sort()).toEqual(['w-deny', 'w-full', 'w-gone', 'w-user']);
    expect(err['w-full']).toMatch(/^no space left on device: (write|mkdir) \/\S+ \(\d+ bytes free\)$/);
    expect(err['w-user']).toMatch(/^permission denied: /);
    for (const e of Object.values(err)) expect(e).not.toMatch(/\n/);
    for (const n of GOOD) expectExactly(dirA, n);
    // Workers never receive a CA key.
    for (const n of ['w-1', 'w-2', 'w-3'])
      for (const f of manifestOf(dirA).filter((x) => x.node === n)) expect(f.path).not.toMatch(/ca\.key$/);
    // Nothing half-written where the push failed: no managed file, no temp.
    for (const n of ['w-full', 'w-user']) {
      const have = [...nodeFiles(lab, byName(n), PKI_DIRS).keys()];
      expect(have.filter((p) => /\.tmp$/.test(p))).toEqual([]);
      for (const p of have) {
        const want = manifestOf(dirA).find((f) => f.node === n && f.path === p);
        expect(want, p).toBeDefined();
        expect(readFileSync(lab.path(byName(n), p)).equals(dirFile(dirA, n, p))).toBe(true);
      }
    }
  });

  it('a second push changes nothing', async () => {
    const r = await nodes(['push', '--dir', dirA, ...GOOD.flatMap((n) => ['--node', n])]);
    expect(r.code, r.stderr).toBe(0);
    for (const n of GOOD) expect(r.stdout).toMatch(new RegExp(`^${n}\\s+unchanged\\s`, 'm'));
    expect(readFileSync(lab.path(byName('w-3'), '/var/lib/hook.log'), 'utf8')).toBe('ran\n');
  });

  it('status finds drift, unknown files and a CA key where it must not be; history records it', async () => {
    const kubeconfig = '/etc/kubernetes/kubelet.conf';
    plant(lab, byName('w-1'), kubeconfig, 'apiVersion: v1\nkind: Config\n');
    chmodSync(lab.path(byName('cp-1'), '/etc/kubernetes/pki/apiserver.key'), 0o644);
    // What Starquill does: the CA key on a worker.
    plant(lab, byName('w-2'), '/etc/kubernetes/pki/ca.key', readFileSync(join(dirA, 'store', 'ca.key')));
    const sel = GOOD.flatMap((n) => ['--node', n]);
    const r = await nodes(['status', '--dir', dirA, ...sel, '-o', 'json']);
    expect(r.code).toBe(1);
    const res = json(r);
    const st = (n: string) =>
      res.nodes.find((x) => x.node === n) as unknown as {
        counts: Record<string, number>;
        files: { path: string; state: string; why?: string }[];
        findings: { id: string; path: string }[];
      };
    expect(st('w-1').files.filter((f) => f.state !== 'ok')).toEqual([
      { path: kubeconfig, state: 'drift', why: 'content', certs: [], sha256: expect.any(String) },
    ]);
    expect(
      st('cp-1')
        .files.filter((f) => f.state !== 'ok')
        .map((f) => [f.path, f.state, f.why]),
    ).toEqual([['/etc/kubernetes/pki/apiserver.key', 'drift', 'mode 0644']]);
    expect(
      st('w-2')
        .files.filter((f) => f.state !== 'ok')
        .map((f) => [f.path, f.state]),
    ).toEqual([['/etc/kubernetes/pki/ca.key', 'unknown']]);
    expect(st('w-2').findings.map((f) => [f.id, f.path])).toEqual([['ca-key-misplaced', '/etc/kubernetes/pki/ca.key']]);
    expect(st('w-3').counts).toEqual({ ok: 4, drift: 0, missing: 0, unknown: 0 });
    // Key material never appears in the output, only hashes.
    expect(r.stdout).not.toMatch(/PRIVATE KEY|BEGIN/);
    const h = await nodes(['history', '--dir', dirA, '--node', 'w-1', '-o', 'json']);
    const rows = (JSON.parse(h.stdout) as { history: { node: string; drift: number }[] }).history;
    expect(rows[0]).toMatchObject({ node: 'w-1', drift: 1 });
    // plan says the same per file
    const p = json(await nodes(['plan', '--dir', dirA, '--node', 'cp-1', '--node', 'w-2', '-o', 'json']));
    const files = (n: string) => (p.nodes.find((x) => x.node === n)?.files ?? []) as { path: string; state: string; why?: string }[];
    expect(files('cp-1').filter((f) => f.state !== 'same')).toEqual([
      { path: '/etc/kubernetes/pki/apiserver.key', state: 'changed', why: 'mode 0644' },
    ]);
    expect(files('w-2').filter((f) => f.state !== 'same')).toEqual([{ path: '/etc/kubernetes/pki/ca.key', state: 'stale' }]);
  });

  it('push repairs the drift, --prune removes the stale CA key; rollback restores exactly what the push replaced', async () => {
    const before = new Map(GOOD.map((n) => [n, nodeFiles(lab, byName(n), PKI_DIRS)]));
    const r = await nodes(['push', '--dir', dirA, '--prune', ...GOOD.flatMap((n) => ['--node', n])]);
    expect(r.code, r.stderr).toBe(0);
    for (const n of GOOD) expectExactly(dirA, n);
    // The push changed cp-1, w-1 and w-2 (the others' last push is the first one).
    const changed = ['cp-1', 'w-1', 'w-2'];
    const rb = await nodes(['rollback', '--dir', dirA, ...changed.flatMap((n) => ['--node', n]), '-o', 'json']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(Object.fromEntries(json(rb).nodes.map((x) => [x.node, [x.restored, x.removed]]))).toEqual({
      'cp-1': [1, 0],
      'w-1': [1, 0],
      'w-2': [1, 0],
    });
    for (const n of GOOD) {
      const now = nodeFiles(lab, byName(n), PKI_DIRS);
      const was = before.get(n) as typeof now;
      expect([...now.keys()].sort()).toEqual([...was.keys()].sort());
      for (const [p, f] of was) {
        expect(now.get(p)?.data.equals(f.data), `${n}:${p}`).toBe(true);
        expect(now.get(p)?.mode).toBe(f.mode);
      }
    }
    // A second rollback has nothing to restore: one line per node.
    const again = await nodes(['rollback', '--dir', dirA, '--node', 'w-1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: w-1: nothing to roll back: push \S+ was already rolled back$/m);
    expect((await nodes(['push', '--dir', dirA, '--prune', ...GOOD.flatMap((n) => ['--node', n])])).code).toBe(0);
    for (const n of GOOD) expectExactly(dirA, n);
  });

  it('refuses a changed host key always, an unknown one unless --accept-new (which records it)', async () => {
    const w3 = byName('w-3');
    const known = readFileSync(lab.knownHosts, 'utf8');
    // unknown: w-3's line removed
    writeFileSync(
      lab.knownHosts,
      known
        .split('\n')
        .filter((l) => !l.startsWith(`${w3.ip} `))
        .join('\n'),
    );
    let r = await nodes(['plan', '--dir', dirA, '--node', 'w-3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: w-3: host key of ${w3.ip.replace(/\./g, '\\.')} is not in \\S+: REFUSED`, 'm'));
    r = await nodes(['plan', '--dir', dirA, '--node', 'w-3', '--accept-new']);
    expect(r.code, r.stderr).toBe(0);
    const hostPub = readFileSync(`${w3.hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    expect(readFileSync(lab.knownHosts, 'utf8')).toContain(`${w3.ip} ${hostPub}`);
    // changed: a new host key on the same address
    await lab.rekey(w3);
    const withKnown = readFileSync(lab.knownHosts, 'utf8');
    for (const [extra, w2] of [
      [[], 'pushed'],
      [['--accept-new'], 'unchanged'],
    ] as const) {
      r = await nodes(['push', '--dir', dirB, '--node', 'w-3', '--node', 'w-2', ...extra]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: w-3: host key changed for 10\.251\.201\.\d+: REFUSED \(\S+:\d+ has a different ssh-ed25519 key/m);
      expect(r.stdout).toMatch(new RegExp(`^w-2\\s+${w2}\\s`, 'm'));
    }
    expect(readFileSync(lab.knownHosts, 'utf8')).toBe(withKnown);
    // w-3 was never written
    expectExactly(dirA, 'w-3');
    expectExactly(dirB, 'w-2');
    writeFileSync(lab.knownHosts, lab.knownHostsText());
  });

  it('reaches a node through a jump host', async () => {
    const cfg = join(work, 'jump.yaml');
    writeFileSync(cfg, config(`, jump: {address: ${byName('cp-2').ip}, identityFile: ${lab.clientKey}}`));
    const r = await nodes(['plan', '--dir', dirA, '--config', cfg, '--node', 'w-1', '--node', 'w-2', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const cfgBad = join(work, 'jump-bad.yaml');
    writeFileSync(cfgBad, config(`, jump: {address: 10.251.${lab.subnet}.251, identityFile: ${lab.clientKey}}`));
    const bad = await nodes(['plan', '--dir', dirA, '--config', cfgBad, '--node', 'w-1', '--timeout', '5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: w-1: unreachable: root@10\.251\.201\.251: /m);
  });

  it('a node whose sshd is alive but never answers (stopped): one line after --timeout, the others are planned', async () => {
    const stuck = byName('w-2');
    // SIGSTOP: the kernel still completes TCP connections to its port, nothing ever sends the SSH banner.
    process.kill(stuck.pid as number, 'SIGSTOP');
    try {
      const r = await nodes(['plan', '--dir', dirA, '--node', 'w-1', '--node', 'w-2', '--node', 'cp-1', '--timeout', '5', '-o', 'json']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^error: w-2: unreachable: root@\S+: timed out$/),
        '1 of 3 node(s) failed',
      ]);
      const planned = (JSON.parse(r.stdout) as { nodes: { node: string; error?: string }[] }).nodes;
      expect(
        planned
          .filter((n) => !n.error)
          .map((n) => n.node)
          .sort(),
      ).toEqual(['cp-1', 'w-1']);
    } finally {
      process.kill(stuck.pid as number, 'SIGCONT');
    }
  });

  it('pull copies what each node holds, keys 0600, for anchorage scan', async () => {
    const out = join(work, 'pulled');
    const r = await nodes(['pull', '--dir', dirA, '--node', 'w-1', '--node', 'cp-1', '--out', out, '--no-history']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of manifestOf(dirA).filter((x) => x.node === 'w-1' || x.node === 'cp-1')) {
      const p = join(out, 'nodes', f.node, ...f.path.split('/').filter(Boolean));
      expect(readFileSync(p).equals(dirFile(dirA, f.node, f.path))).toBe(true);
    }
    const scan = await cli(['scan', join(out, 'nodes', 'cp-1'), '-o', 'json']);
    expect(scan.stdout).toContain('"schema"');
  });

  it('refuses, before connecting, a DIR that would give a worker a CA key or whose files do not match the manifest', async () => {
    const { cpSync } = await import('node:fs');
    const bad = join(work, 'bad');
    cpSync(dirA, bad, { recursive: true });
    const m = JSON.parse(readFileSync(join(bad, 'manifest.json'), 'utf8')) as { files: Record<string, unknown>[] };
    const key = readFileSync(join(bad, 'store', 'ca.key'));
    writeFileSync(join(bad, 'nodes', 'w-1', 'etc', 'kubernetes', 'pki', 'ca.key'), key);
    const { createHash } = await import('node:crypto');
    m.files.push({
      node: 'w-1',
      path: '/etc/kubernetes/pki/ca.key',
      role: 'ca',
      kind: 'private-key',
      mode: '0600',
      sha256: createHash('sha256').update(key).digest('hex'),
    });
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify(m));
    const before = nodeFiles(lab, byName('w-1'), PKI_DIRS);
    let r = await nodes(['push', '--dir', bad, '--node', 'w-1']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: refusing to push: w-1 (worker) must not hold the ca private key (/etc/kubernetes/pki/ca.key)\n',
    ]);
    cpSync(join(dirA, 'manifest.json'), join(bad, 'manifest.json'));
    writeFileSync(join(bad, 'nodes', 'w-1', 'etc', 'kubernetes', 'kubelet.conf'), 'tampered');
    r = await nodes(['push', '--dir', bad, '--node', 'w-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: \S+kubelet\.conf: does not match manifest\.json \(SHA-256 /);
    const after = nodeFiles(lab, byName('w-1'), PKI_DIRS);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [p, f] of before) expect(after.get(p)?.data.equals(f.data)).toBe(true);
  });

  it('never prints key material', () => {
    const keys = [readFileSync(lab.clientKey, 'utf8'), readFileSync(join(dirA, 'store', 'ca.key'), 'utf8')];
    for (const o of outputs) {
      expect(o).not.toMatch(/PRIVATE KEY/);
      for (const k of keys) expect(o).not.toContain(k.split('\n')[1]);
    }
  });
});

// keep imports used when tests are filtered
void mkdirSync;
