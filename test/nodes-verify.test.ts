// `anchorage nodes verify` against real TLS servers (openssl s_server) started on the nodes with the
// certificates `nodes push` put there, each requiring a client certificate. The expected matrix is
// kubeadm's trust relations (who holds a client credential for what); openssl s_client, run on the
// source node with that node's files, is the oracle for the planted wrong-CA certificate.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliResult, cli } from './support/nodes-cli.ts';
import { opensslCa, opensslIssue } from './support/openssl.ts';
import { type Lab, type LabNode, startLab } from './support/sshd.ts';

vi.setConfig({ testTimeout: 300_000 });

const NAMES = ['cp-1', 'cp-2', 'w-1', 'w-2', 'w-3'];
const CP = ['cp-1', 'cp-2'];
let lab: Lab;
let work: string;
let dir: string;
const byName = (n: string): LabNode => lab.nodes[NAMES.indexOf(n)] as LabNode;
const servers = new Map<string, ChildProcess>();

type Cell = { service: string; port: number; result: string; reason?: string; tls?: string };
type Row = { from: string; ok: boolean; error?: string; to: { node: string; cells: Cell[] }[] };

const PKI = '/etc/kubernetes/pki';
/** The TLS servers of a node: service → [port, cert, key, client CA]. */
function endpoints(n: string): [string, number, string, string, string][] {
  const kubelet: [string, number, string, string, string] = [
    'kubelet',
    10250,
    '/var/lib/kubelet/pki/kubelet.crt',
    '/var/lib/kubelet/pki/kubelet.key',
    `${PKI}/ca.crt`,
  ];
  if (!CP.includes(n)) return [kubelet];
  return [
    ['apiserver', 6443, `${PKI}/apiserver.crt`, `${PKI}/apiserver.key`, `${PKI}/ca.crt`],
    kubelet,
    ['etcd-client', 2379, `${PKI}/etcd/server.crt`, `${PKI}/etcd/server.key`, `${PKI}/etcd/ca.crt`],
    ['etcd-peer', 2380, `${PKI}/etcd/peer.crt`, `${PKI}/etcd/peer.key`, `${PKI}/etcd/ca.crt`],
  ];
}

function waitListen(host: string, port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`${host}:${port} never listened`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** openssl s_server on a node's endpoint; `tls`: only that version (`-tls1_2`, `-tls1_3`), else either. */
async function startServer(n: string, svc: string, tls?: '-tls1_2' | '-tls1_3'): Promise<void> {
  const [, port, cert, key, ca] = endpoints(n).find((e) => e[0] === svc) as [string, number, string, string, string];
  const node = byName(n);
  const p = lab.spawnIn(node, [
    'openssl',
    's_server',
    ...(tls ? [tls] : []),
    '-quiet',
    '-www',
    '-accept',
    `${node.ip}:${port}`,
    '-cert',
    cert,
    '-key',
    key,
    '-CAfile',
    ca,
    '-Verify',
    '1',
    '-verify_return_error',
  ]);
  servers.set(`${n}/${svc}`, p);
  await waitListen(node.ip, port);
}

async function stopServer(k: string): Promise<void> {
  const p = servers.get(k);
  if (!p) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
  servers.delete(k);
}

async function verify(args: string[] = []): Promise<{ r: CliResult; rows: Row[] }> {
  // --timeout: a bound on each SSH connection, generous for a loaded test machine.
  const r = await cli(['nodes', 'verify', '--dir', dir, '-o', 'json', '--timeout', '60', ...args]);
  return { r, rows: r.stdout ? (JSON.parse(r.stdout) as { matrix: Row[] }).matrix : [] };
}

/** kubeadm's relations: which services a node can reach on another (it holds the client credential for them). */
function expectedServices(from: string, to: string): string[] {
  if (from === to) return [];
  const toCp = CP.includes(to);
  if (!CP.includes(from)) return toCp ? ['apiserver'] : [];
  return toCp ? ['apiserver', 'kubelet', 'etcd-client', 'etcd-peer'] : ['kubelet'];
}

/** The matrix as from → to → service → result. */
const flat = (rows: Row[]) =>
  Object.fromEntries(
    rows.map((r) => [r.from, Object.fromEntries(r.to.map((t) => [t.node, Object.fromEntries(t.cells.map((c) => [c.service, c.result]))]))]),
  );

function expectedMatrix(result: (from: string, to: string, svc: string) => string) {
  return Object.fromEntries(
    NAMES.map((f) => [
      f,
      Object.fromEntries(
        NAMES.filter((t) => t !== f).map((t) => [t, Object.fromEntries(expectedServices(f, t).map((s) => [s, result(f, t, s)]))]),
      ),
    ]),
  );
}

beforeAll(async () => {
  lab = await startLab({ id: 'nv', subnet: 203, count: NAMES.length });
  work = mkdtempSync(join(tmpdir(), 'anc-nv-work-'));
  const ip = (n: string) => byName(n).ip;
  writeFileSync(
    join(work, 'cluster.yaml'),
    [
      'apiVersion: anchorage.dev/v1alpha1',
      'kind: ClusterPKI',
      `controlPlaneEndpoint: ${ip('cp-1')}:6443`,
      'keyAlgorithm: ecdsa-p256',
      `ssh: {identityFile: ${lab.clientKey}, knownHosts: ${lab.knownHosts}}`,
      'controlPlane:',
      ...CP.map((n) => `  - {name: ${n}, ips: [${ip(n)}]}`),
      'workers:',
      ...NAMES.filter((n) => !CP.includes(n)).map((n) => `  - {name: ${n}, ips: [${ip(n)}]}`),
      '',
    ].join('\n'),
  );
  dir = join(work, 'pki');
  const init = await cli(['pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dir]);
  expect(init.code, init.stderr).toBe(0);
  const push = await cli(['nodes', 'push', '--dir', dir]);
  expect(push.code, push.stderr).toBe(0);
  for (const n of NAMES) for (const [svc] of endpoints(n)) await startServer(n, svc);
}, 600_000);

afterAll(async () => {
  for (const k of [...servers.keys()]) await stopServer(k);
  await lab?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('nodes verify', () => {
  it('real handshakes from every node with its own client certificates: the matrix is kubeadm trust', async () => {
    const { r, rows } = await verify();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(flat(rows)).toEqual(expectedMatrix(() => 'ok'));
    const table = await cli(['nodes', 'verify', '--dir', dir]);
    expect(table.stdout).toMatch(/^cp-1\s+ok\s+ok\s+ok\s+ok$/m);
    expect(table.stdout).toMatch(/^w-1\s+ok\s+ok\s+-\s+-$/m);
  });

  it('TLS 1.3-only and TLS 1.2-only endpoints: the same verdicts, a refused client certificate found in both', async () => {
    // cp-1's endpoints speak only TLS 1.3, cp-2's only TLS 1.2 (openssl s_server -tls1_3 / -tls1_2).
    for (const [n, v] of [
      ['cp-1', '-tls1_3'],
      ['cp-2', '-tls1_2'],
    ] as const)
      for (const [svc] of endpoints(n)) {
        await stopServer(`${n}/${svc}`);
        await startServer(n, svc, v);
      }
    const { r, rows } = await verify();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(flat(rows)).toEqual(expectedMatrix(() => 'ok'));
    const versions = new Set<string>();
    for (const row of rows)
      for (const t of row.to)
        for (const c of t.cells) {
          const want = t.node === 'cp-1' ? 'TLSv1.3' : t.node === 'cp-2' ? 'TLSv1.2' : undefined;
          if (want) expect(c.tls, `${row.from} -> ${t.node} ${c.service}`).toBe(want);
          versions.add(c.tls ?? '');
        }
    expect(versions.has('TLSv1.3') && versions.has('TLSv1.2')).toBe(true);
    // w-1's kubelet.conf now holds a client certificate from a CA the API servers do not trust.
    const w1 = byName('w-1');
    const conf = '/etc/kubernetes/kubelet.conf';
    const original = readFileSync(lab.path(w1, conf), 'utf8');
    opensslCa(work, 'rogue-client-ca', '/CN=Rogue client CA');
    opensslIssue(work, 'rogue-client-ca', 'w1-rogue', '/O=system:nodes/CN=system:node:w-1', 'extendedKeyUsage=clientAuth\n');
    const b64 = (f: string) => readFileSync(join(work, f)).toString('base64');
    writeFileSync(
      lab.path(w1, conf),
      original
        .replace(/client-certificate-data: \S+/, `client-certificate-data: ${b64('w1-rogue.crt')}`)
        .replace(/client-key-data: \S+/, `client-key-data: ${b64('w1-rogue.key')}`),
    );
    try {
      const bad = await verify();
      expect(bad.r.code).toBe(1);
      const refused = (f: string, t: string, s: string) => f === 'w-1' && s === 'apiserver' && CP.includes(t);
      expect(flat(bad.rows)).toEqual(expectedMatrix((f, t, s) => (refused(f, t, s) ? 'fail' : 'ok')));
      const cells = bad.rows.find((x) => x.from === 'w-1')?.to.flatMap((t) => t.cells.map((c) => ({ to: t.node, ...c }))) ?? [];
      expect(cells.map((c) => [c.to, c.tls])).toEqual([
        ['cp-1', 'TLSv1.3'],
        ['cp-2', 'TLSv1.2'],
      ]);
      for (const c of cells) expect(c.reason).toMatch(/^the server rejected this node's client certificate \(TLS alert: [a-z ]+\)$/);
    } finally {
      writeFileSync(lab.path(w1, conf), original);
      for (const n of CP)
        for (const [svc] of endpoints(n)) {
          await stopServer(`${n}/${svc}`);
          await startServer(n, svc);
        }
    }
  });

  it('a wrong-CA certificate planted on one node shows exactly that node failing, and openssl agrees', async () => {
    const w2 = byName('w-2');
    opensslCa(work, 'rogue', '/CN=Rogue CA');
    opensslIssue(work, 'rogue', 'w2-kubelet', '/CN=w-2', `subjectAltName=IP:${w2.ip},DNS:w-2\nextendedKeyUsage=serverAuth\n`);
    writeFileSync(lab.path(w2, '/var/lib/kubelet/pki/kubelet.crt'), readFileSync(join(work, 'w2-kubelet.crt')));
    writeFileSync(lab.path(w2, '/var/lib/kubelet/pki/kubelet.key'), readFileSync(join(work, 'w2-kubelet.key')));
    await stopServer('w-2/kubelet');
    await startServer('w-2', 'kubelet');
    const { r, rows } = await verify();
    expect(r.code).toBe(1);
    const bad = (_f: string, t: string, s: string) => t === 'w-2' && s === 'kubelet';
    expect(flat(rows)).toEqual(expectedMatrix((f, t, s) => (bad(f, t, s) ? 'fail' : 'ok')));
    for (const row of rows)
      for (const t of row.to)
        for (const c of t.cells) if (c.result === 'fail') expect(c.reason).toMatch(/^server certificate not trusted: /);
    // The oracle: openssl s_client on cp-1, with cp-1's own files, to w-2's kubelet and to w-3's.
    const sClient = (to: string) => {
      try {
        lab.exec(
          byName('cp-1'),
          [
            'openssl',
            's_client',
            '-connect',
            `${byName(to).ip}:10250`,
            '-cert',
            `${PKI}/apiserver-kubelet-client.crt`,
            '-key',
            `${PKI}/apiserver-kubelet-client.key`,
            '-CAfile',
            `${PKI}/ca.crt`,
            '-verify_return_error',
            '-tls1_2',
            '-brief',
          ],
          { input: '' },
        );
        return 'ok';
      } catch {
        return 'fail';
      }
    };
    expect([sClient('w-2'), sClient('w-3')]).toEqual(['fail', 'ok']);
  });

  it('where nothing listens, the trust engine predicts the same matrix from the files the nodes hold', async () => {
    for (const k of [...servers.keys()]) await stopServer(k);
    const { rows } = await verify();
    const bad = (_f: string, t: string, s: string) => t === 'w-2' && s === 'kubelet';
    expect(flat(rows)).toEqual(expectedMatrix((f, t, s) => (bad(f, t, s) ? 'predicted-fail' : 'predicted-ok')));
    const reasons = rows.flatMap((r) => r.to.flatMap((t) => t.cells.filter((c) => c.result === 'predicted-fail').map((c) => c.reason)));
    expect(reasons.length).toBe(2);
    for (const why of reasons) expect(why).toMatch(/^server certificate not trusted: /);
    // --predict makes no handshake at all: the same verdicts with servers up.
    await startServer('cp-1', 'apiserver');
    const p = await verify(['--predict']);
    expect(flat(p.rows)).toEqual(flat(rows));
    // The same prediction from pulled files, connecting to nothing (the pull is the only SSH run).
    const out = join(work, 'pulled');
    const pull = await cli(['nodes', 'pull', '--dir', dir, '--out', out, '--no-history']);
    // (exit 1: status reports w-2's planted certificate as drift; no node failed)
    expect([pull.code, pull.stderr]).toEqual([1, '']);
    expect(pull.stdout).toMatch(/^ {2}w-2: \/var\/lib\/kubelet\/pki\/kubelet\.crt: drift \(content\)$/m);
    const offline = await verify(['--from-pulled', out]);
    expect(offline.r.code).toBe(1);
    expect(flat(offline.rows)).toEqual(flat(rows));
    rmSync(join(out, 'nodes', 'w-3'), { recursive: true });
    const partial = await verify(['--from-pulled', out]);
    expect(partial.rows.find((x) => x.from === 'w-3')).toMatchObject({ ok: false, error: expect.stringMatching(/w-3: not pulled/) });
  });

  it('a node that cannot be reached is one line; the rest of the matrix is still made', async () => {
    const w3 = byName('w-3');
    await lab.stop(w3);
    const { r, rows } = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: w-3: unreachable: root@10\.251\.203\.\d+:? ?\S*/m);
    expect(rows.find((x) => x.from === 'w-3')?.ok).toBe(false);
    expect(rows.find((x) => x.from === 'w-1')?.ok).toBe(true);
  });
});
