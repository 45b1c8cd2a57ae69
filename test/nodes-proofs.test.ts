// Requirements of `anchorage nodes` (issue #14) proven against real OpenSSH servers (test/support/sshd.ts),
// with openssl as the oracle for what the nodes hold:
// - status: parsed certificates and per-node expiry, a planted expired and a short-lived certificate;
// - scan of what `nodes pull` wrote: certificates found and tied to their node and role;
// - the offline root CA key is never pushed (refused before connecting);
// - SSH settings: a node reached only through ssh-agent (no identity file) whose sshd listens on 2222,
//   and a node whose `ssh.address` differs from its first IP (where nothing listens);
// - `nodes verify` dials the ports of the config's `endpoints`, not the defaults;
// - bounded parallelism over nodes (fleet.ts), counted without timing.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { forEachNode } from '../src/nodes/fleet.ts';
import { HostKeyBook } from '../src/nodes/ssh.ts';
import type { NodeTarget } from '../src/nodes/targets.ts';
import { type CliResult, cli, dirFile, manifestOf, nodeFiles } from './support/nodes-cli.ts';
import { type Lab, type LabNode, startLab } from './support/sshd.ts';

vi.setConfig({ testTimeout: 300_000 });

// cp-1: sshd on port 2222, reached through ssh-agent only; w-1, w-2: plain; w-3: its first IP answers
// nothing, its ssh.address is where its sshd is.
const NAMES = ['cp-1', 'w-1', 'w-2', 'w-3'];
const PKI_DIRS = ['/etc/kubernetes', '/var/lib/kubelet'];
let lab: Lab;
let work: string;
let dir: string;
let agent: ChildProcess | undefined;
let agentSock: string;
const byName = (n: string): LabNode => lab.nodes[NAMES.indexOf(n)] as LabNode;
const outputs: string[] = [];
const env = (): NodeJS.ProcessEnv => ({ SSH_AUTH_SOCK: agentSock });

async function nodes(args: string[], e: NodeJS.ProcessEnv = env()): Promise<CliResult> {
  const r = await cli(['nodes', ...args.slice(0, 1), '--timeout', '60', ...args.slice(1)], e);
  outputs.push(r.stdout, r.stderr);
  return r;
}
type NodeRes = { node: string; ok: boolean; error?: string; [k: string]: unknown };
const json = (r: CliResult) => JSON.parse(r.stdout) as { nodes: NodeRes[] };
const unusedIp = (): string => `10.251.${lab.subnet}.249`;

function config(o: { endpoints?: string; w1?: string } = {}): string {
  const ip = (n: string) => byName(n).ip;
  const key = `identityFile: ${lab.clientKey}`;
  return [
    'apiVersion: anchorage.dev/v1alpha1',
    'kind: ClusterPKI',
    `controlPlaneEndpoint: ${ip('cp-1')}:6443`,
    'keyAlgorithm: ecdsa-p256',
    'rootCA: {enabled: true}',
    ...(o.endpoints ? [`endpoints: ${o.endpoints}`] : []),
    // No identity file at the top: cp-1 has only the agent.
    `ssh: {knownHosts: ${lab.knownHosts}}`,
    'controlPlane:',
    `  - {name: cp-1, ips: [${ip('cp-1')}], ssh: {agent: true, port: ${byName('cp-1').port}}}`,
    'workers:',
    `  - {name: w-1, ips: [${ip('w-1')}], ssh: {${key}}${o.w1 ?? ''}}`,
    `  - {name: w-2, ips: [${ip('w-2')}], ssh: {${key}}}`,
    `  - {name: w-3, ips: [${unusedIp()}], ssh: {${key}, address: ${ip('w-3')}}}`,
    '',
  ].join('\n');
}

/** What a node holds under the PKI folders is exactly its manifest files: bytes, modes, root-owned. */
function expectExactly(name: string): void {
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

/** openssl's view of the certificates in a PEM file: SHA-256 fingerprint (lowercase hex) and notAfter (ISO). */
function opensslCerts(file: string): { sha256: string; notAfter: string; subject: string }[] {
  const text = readFileSync(file, 'utf8');
  // A kubeconfig holds its certificates base64-encoded (certificate-authority-data, client-certificate-data), in file order.
  const pem = /-----BEGIN CERTIFICATE-----/.test(text)
    ? text
    : [...text.matchAll(/^\s*(?:certificate-authority-data|client-certificate-data):\s*(\S+)\s*$/gm)]
        .map((m) => Buffer.from(m[1] as string, 'base64').toString('utf8'))
        .join('\n');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  return blocks.map((b) => {
    const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-enddate', '-subject', '-nameopt', 'RFC2253'], {
      input: b,
      encoding: 'utf8',
    });
    const fp = /sha256 Fingerprint=([0-9A-F:]+)/i.exec(out)?.[1] as string;
    const end = /notAfter=(.+)/.exec(out)?.[1] as string;
    const subject = /subject=(.+)/.exec(out)?.[1]?.trim() as string;
    return { sha256: fp.replace(/:/g, '').toLowerCase(), notAfter: new Date(end).toISOString(), subject };
  });
}

/** A self-signed certificate made by openssl with the given validity (`openssl ca -selfsign`: any dates). */
function opensslSelfSigned(d: string, name: string, start: string, end: string): string {
  const cnf = join(d, `${name}.cnf`);
  writeFileSync(
    cnf,
    `[ca]\ndefault_ca=d\n[d]\ndatabase=${d}/${name}.idx\nnew_certs_dir=${d}\nserial=${d}/${name}.srl\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n`,
  );
  writeFileSync(join(d, `${name}.idx`), '');
  writeFileSync(join(d, `${name}.srl`), '01\n');
  const o = { cwd: d, stdio: 'pipe' as const };
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ],
    o,
  );
  execFileSync(
    'openssl',
    [
      'ca',
      '-batch',
      '-config',
      cnf,
      '-selfsign',
      '-keyfile',
      `${name}.key`,
      '-in',
      `${name}.csr`,
      '-startdate',
      start,
      '-enddate',
      end,
      '-out',
      `${name}.crt`,
      '-notext',
    ],
    o,
  );
  return join(d, `${name}.crt`);
}

/** openssl's UTCTime/GeneralizedTime for `openssl ca -startdate/-enddate` (YYYYMMDDHHMMSSZ). */
const asn1Time = (t: Date): string => `${t.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

beforeAll(async () => {
  // cp-1's sshd listens on 2222 only; every sshd logs at VERBOSE (each connection is a line).
  lab = await startLab({ id: 'npf', subnet: 206, count: NAMES.length, sshPort: (i) => (i === 0 ? 2222 : 22), logLevel: () => 'VERBOSE' });
  work = mkdtempSync(join(tmpdir(), 'anc-npf-work-'));
  // A real ssh-agent holding the lab's client key; cp-1's settings name no identity file.
  agentSock = join(work, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  for (let i = 0; i < 600 && !existsSync(agentSock); i++) await new Promise((r) => setTimeout(r, 50));
  execFileSync('ssh-add', ['-q', lab.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, stdio: 'pipe' });
  writeFileSync(join(work, 'cluster.yaml'), config());
  dir = join(work, 'pki');
  const r = await cli(['pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dir]);
  expect(r.code, r.stderr).toBe(0);
  expect(existsSync(join(dir, 'store', 'root-ca.key'))).toBe(true);
}, 600_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) agent.kill('SIGKILL');
  await lab?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('nodes: SSH settings', () => {
  it('reaches cp-1 through ssh-agent only on port 2222 and w-3 through ssh.address; the push lands exactly', async () => {
    const r = await nodes(['push', '--dir', dir, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).nodes.map((x) => [x.node, x.ok])).toEqual(NAMES.map((n) => [n, true]));
    for (const n of NAMES) expectExactly(n);
    // cp-1's sshd saw a publickey login for root (the agent's key), and it listens on 2222 only.
    expect(readFileSync(byName('cp-1').log, 'utf8')).toMatch(/Accepted publickey for root from 10\.251\.206\.1 port \d+ ssh2: ED25519/);
    const listening = lab.exec(byName('cp-1'), ['ss', '-Hltn']);
    expect(listening).toContain(`${byName('cp-1').ip}:2222`);
    expect(listening).not.toMatch(/:22\s/);
  });

  it('the agent is what authenticates cp-1: without SSH_AUTH_SOCK it is one line, with an empty agent auth fails', async () => {
    const noAgent = await nodes(['plan', '--dir', dir, '--node', 'cp-1'], { SSH_AUTH_SOCK: '' });
    expect(noAgent.code).toBe(2);
    expect(noAgent.stderr).toBe('error: ssh.agent is set but SSH_AUTH_SOCK is not: start an agent or name an identityFile\n');
    const emptySock = join(work, 'empty.sock');
    const empty = spawn('ssh-agent', ['-D', '-a', emptySock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 600 && !existsSync(emptySock); i++) await new Promise((r) => setTimeout(r, 50));
      const r = await nodes(['plan', '--dir', dir, '--node', 'cp-1', '--node', 'w-1'], { SSH_AUTH_SOCK: emptySock });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: cp-1: authentication failed for root@\[10\.251\.206\.10\]:2222 \(publickey\)$/m);
      expect(r.stderr).toMatch(/^1 of 2 node\(s\) failed$/m);
    } finally {
      empty.kill('SIGKILL');
    }
  });

  it('without the ssh.address override w-3 is dialled at its first IP, where nothing answers', async () => {
    const cfg = join(work, 'no-address.yaml');
    writeFileSync(cfg, config().replace(`, address: ${byName('w-3').ip}`, ''));
    const r = await nodes(['plan', '--dir', dir, '--config', cfg, '--node', 'w-3', '--timeout', '5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: w-3: unreachable: root@${unusedIp().replace(/\./g, '\\.')}: `, 'm'));
  });
});

describe('nodes status and pull', () => {
  it('status parses each certificate as openssl does, gives each node its earliest expiry, and flags planted expired and expiring ones', async () => {
    const now = new Date();
    const expired = opensslSelfSigned(work, 'planted-expired', '20200101000000Z', '20200201000000Z');
    const soon = opensslSelfSigned(
      work,
      'planted-soon',
      asn1Time(new Date(now.getTime() - 86_400_000)),
      asn1Time(new Date(now.getTime() + 3 * 86_400_000)),
    );
    writeFileSync(lab.path(byName('w-1'), '/etc/kubernetes/pki/old.crt'), readFileSync(expired));
    writeFileSync(lab.path(byName('w-2'), '/etc/kubernetes/pki/soon.crt'), readFileSync(soon));
    const r = await nodes(['status', '--dir', dir, '--no-history', '-o', 'json']);
    // exit 1: w-1 holds an expired certificate (an expiring one alone is a warning)
    expect(r.code, r.stderr).toBe(1);
    type St = NodeRes & {
      files: { path: string; state: string; certs: { sha256: string; notAfter: string; subject: string; daysLeft: number }[] }[];
      findings: { id: string; path: string }[];
      earliestExpiry?: { path: string; notAfter: string; daysLeft: number };
    };
    const res = json(r).nodes as St[];
    const planted: Record<string, [string, string]> = {
      'w-1': ['/etc/kubernetes/pki/old.crt', expired],
      'w-2': ['/etc/kubernetes/pki/soon.crt', soon],
    };
    for (const n of NAMES) {
      const st = res.find((x) => x.node === n) as St;
      expect(st.ok, st.error).toBe(true);
      // Every certificate of every file, in order, as openssl reads the same bytes on the node.
      let earliest: { path: string; notAfter: string } | undefined;
      for (const f of st.files) {
        const want = opensslCerts(lab.path(byName(n), f.path));
        expect(
          f.certs.map((c) => [c.sha256, c.notAfter]),
          `${n}:${f.path}`,
        ).toEqual(want.map((c) => [c.sha256, c.notAfter]));
        for (const c of want) if (!earliest || c.notAfter < earliest.notAfter) earliest = { path: f.path, notAfter: c.notAfter };
      }
      expect(st.files.flatMap((f) => f.certs).length).toBeGreaterThan(0);
      expect(st.earliestExpiry).toMatchObject(earliest as object);
      const p = planted[n];
      if (p) {
        expect(st.files.find((f) => f.path === p[0])?.state).toBe('unknown');
        expect(st.earliestExpiry?.path).toBe(p[0]);
      }
    }
    const of = (n: string) => (res.find((x) => x.node === n) as St).findings.map((f) => [f.id, f.path]);
    expect(of('w-1')).toEqual([['expired', '/etc/kubernetes/pki/old.crt']]);
    expect((res.find((x) => x.node === 'w-1') as St).earliestExpiry?.notAfter).toBe('2020-02-01T00:00:00.000Z');
    expect(of('w-2')).toEqual([['expiring', '/etc/kubernetes/pki/soon.crt']]);
    // 3 days minus the seconds since it was made: 2 whole days left
    expect((res.find((x) => x.node === 'w-2') as St).earliestExpiry?.daysLeft).toBe(2);
    for (const n of ['cp-1', 'w-3']) expect(of(n)).toEqual([]);
    // --warn-days 0: the short-lived one is no longer a finding
    const quiet = json(await nodes(['status', '--dir', dir, '--no-history', '--node', 'w-2', '--warn-days', '0', '-o', 'json']));
    expect((quiet.nodes[0] as St).findings).toEqual([]);
  });

  it('scan of the folder pull wrote finds each certificate (openssl fingerprints) tied to its node, path and role', async () => {
    const out = join(work, 'pulled');
    const r = await nodes(['pull', '--dir', dir, '--out', out, '--no-history']);
    expect(r.code).toBe(1); // the expired certificate planted on w-1
    const scan = await cli(['scan', out, '-o', 'json']);
    expect(scan.stderr).toBe('');
    type ScanLoc = { source: string; node?: string; nodePath?: string };
    type ScanCert = { sha256: string; role?: string; notAfter: string; locations: ScanLoc[] };
    const certs = (JSON.parse(scan.stdout) as { certificates: ScanCert[] }).certificates;
    // pull writes OUT/nodes/<node>/<path>, the layout of a `pki init` folder: each certificate's location is
    // that file, tied to the node and the path on it.
    const file = (node: string, path: string): string => join(out, 'nodes', node, ...path.split('/').filter(Boolean));
    const at = (source: string): ScanCert[] => certs.filter((c) => c.locations.some((l) => l.source === source));
    const cases: [string, string, string][] = [
      ['cp-1', '/etc/kubernetes/pki/apiserver.crt', 'apiserver'],
      ['cp-1', '/etc/kubernetes/pki/etcd/server.crt', 'etcd-server'],
      ['cp-1', '/etc/kubernetes/pki/front-proxy-ca.crt', 'front-proxy-ca'],
      ['w-2', '/var/lib/kubelet/pki/kubelet.crt', 'kubelet-serving'],
      ['w-3', '/etc/kubernetes/pki/ca.crt', 'ca'],
    ];
    for (const [node, path, role] of cases) {
      const want = opensslCerts(lab.path(byName(node), path));
      expect(want).toHaveLength(1);
      const found = at(file(node, path));
      expect(
        found.map((c) => c.sha256),
        `${node}:${path}`,
      ).toEqual([want[0]?.sha256]);
      expect(found[0]?.role, `${node}:${path}`).toBe(role);
      expect(found[0]?.notAfter).toBe(want[0]?.notAfter);
      expect(found[0]?.locations.find((l) => l.source === file(node, path))).toMatchObject({ node, nodePath: path });
    }
    // The planted expired certificate is found on w-1 and nowhere else.
    const old = opensslCerts(lab.path(byName('w-1'), '/etc/kubernetes/pki/old.crt'))[0];
    const hit = certs.find((c) => c.sha256 === old?.sha256);
    expect(hit?.locations.map((l) => [l.source, l.node, l.nodePath])).toEqual([
      [file('w-1', '/etc/kubernetes/pki/old.crt'), 'w-1', '/etc/kubernetes/pki/old.crt'],
    ]);
    // Every certificate any node holds is in the scan, at that node.
    for (const n of NAMES)
      for (const f of manifestOf(dir).filter((x) => x.node === n && x.kind === 'certificate'))
        for (const c of opensslCerts(lab.path(byName(n), f.path)))
          expect(
            certs.some((s) => s.sha256 === c.sha256 && s.locations.some((l) => l.source === file(n, f.path) && l.node === n)),
            `${n}:${f.path}`,
          ).toBe(true);
  });
});

describe('nodes: the offline root CA key', () => {
  it('a DIR whose manifest would send it to a control plane is refused before connecting, in one line', async () => {
    const bad = join(work, 'bad-root');
    cpSync(dir, bad, { recursive: true });
    const m = JSON.parse(readFileSync(join(bad, 'manifest.json'), 'utf8')) as { files: Record<string, unknown>[] };
    const key = readFileSync(join(bad, 'store', 'root-ca.key'));
    writeFileSync(join(bad, 'nodes', 'cp-1', 'etc', 'kubernetes', 'pki', 'root-ca.key'), key);
    const { createHash } = await import('node:crypto');
    m.files.push({
      node: 'cp-1',
      path: '/etc/kubernetes/pki/root-ca.key',
      role: 'root-ca',
      kind: 'private-key',
      mode: '0600',
      sha256: createHash('sha256').update(key).digest('hex'),
    });
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify(m));
    const logs = NAMES.map((n) => readFileSync(byName(n).log, 'utf8'));
    const before = nodeFiles(lab, byName('cp-1'), PKI_DIRS);
    for (const cmd of ['push', 'plan']) {
      const r = await nodes([cmd, '--dir', bad]);
      expect([r.code, r.stdout, r.stderr]).toEqual([
        2,
        '',
        "error: refusing to push: cp-1:/etc/kubernetes/pki/root-ca.key is the offline root CA's private key\n",
      ]);
    }
    // No node saw a connection (VERBOSE logs every one), and cp-1 holds what it held.
    expect(NAMES.map((n) => readFileSync(byName(n).log, 'utf8'))).toEqual(logs);
    const after = nodeFiles(lab, byName('cp-1'), PKI_DIRS);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect(after.has('/etc/kubernetes/pki/root-ca.key')).toBe(false);
  });
});

describe('nodes verify with ports from the config', () => {
  it('dials the endpoints ports of the config (top level and per node), not the defaults', async () => {
    const cfg = join(work, 'ports.yaml');
    // apiserver on 16443 for every node, w-1's kubelet on 11250 (its own endpoints).
    writeFileSync(cfg, config({ endpoints: '{apiserver: 16443}', w1: ', endpoints: {kubelet: 11250}' }));
    const servers: ChildProcess[] = [];
    const serve = async (n: string, port: number, cert: string, key: string): Promise<void> => {
      const node = byName(n);
      servers.push(
        lab.spawnIn(node, [
          'openssl',
          's_server',
          '-quiet',
          '-www',
          '-accept',
          `${node.ip}:${port}`,
          '-cert',
          cert,
          '-key',
          key,
          '-CAfile',
          '/etc/kubernetes/pki/ca.crt',
          '-partial_chain',
          '-Verify',
          '1',
          '-verify_return_error',
        ]),
      );
      const deadline = Date.now() + 60_000;
      for (;;) {
        const ok = await new Promise<boolean>((res) => {
          const s = connect({ host: node.ip, port });
          s.once('connect', () => {
            s.destroy();
            res(true);
          });
          s.once('error', () => {
            s.destroy();
            res(false);
          });
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`${n}:${port} never listened`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await serve('cp-1', 16443, '/etc/kubernetes/pki/apiserver.crt', '/etc/kubernetes/pki/apiserver.key');
      await serve('w-1', 11250, '/var/lib/kubelet/pki/kubelet.crt', '/var/lib/kubelet/pki/kubelet.key');
      type Cell = { service: string; port: number; result: string; reason?: string };
      type Row = { from: string; ok: boolean; to: { node: string; cells: Cell[] }[] };
      const cells = (r: CliResult): string[][] =>
        (JSON.parse(r.stdout) as { matrix: Row[] }).matrix.flatMap((row) =>
          row.to.flatMap((t) => t.cells.map((c) => [row.from, t.node, c.service, String(c.port), c.result, c.reason ?? ''])),
        );
      const sel = ['--node', 'cp-1', '--node', 'w-1', '-o', 'json'];
      // With the defaults nothing answers (the servers are on the config's ports only).
      const dflt = await nodes(['verify', '--dir', dir, ...sel]);
      const withPorts = await nodes(['verify', '--dir', dir, '--config', cfg, ...sel]);
      expect([dflt.stderr, withPorts.stderr]).toEqual(['', '']);
      const pick = (c: string[][]) => c.map((x) => x.slice(0, 4));
      expect(pick(cells(dflt))).toEqual([
        ['cp-1', 'w-1', 'kubelet', '10250'],
        ['w-1', 'cp-1', 'apiserver', '6443'],
      ]);
      // Nothing listens on the default ports: the trust engine's prediction.
      expect(cells(dflt).map((x) => x[4])).toEqual(['predicted-ok', 'predicted-ok']);
      // Real handshakes on the config's ports, with each node's own client certificate; the cluster CA sits
      // under the offline root, and (as in Go) the CA file a node holds is its trust anchor.
      expect(cells(withPorts)).toEqual([
        ['cp-1', 'w-1', 'kubelet', '11250', 'ok', ''],
        ['w-1', 'cp-1', 'apiserver', '16443', 'ok', ''],
      ]);
      expect([dflt.code, withPorts.code]).toEqual([0, 0]);
    } finally {
      for (const s of servers) s.kill('SIGKILL');
    }
  });
});

describe('bounded parallelism over nodes (fleet.ts)', () => {
  const targets = (): NodeTarget[] =>
    ['cp-1', 'w-1', 'w-2', 'w-3'].map((n) => ({
      name: n,
      roles: ['worker'],
      ips: [byName(n).ip],
      address: byName(n).ip,
      port: byName(n).port,
      user: 'root',
      identityFile: lab.clientKey,
      knownHosts: lab.knownHosts,
      ports: { apiserver: 6443, kubelet: 10250, etcdClient: 2379, etcdPeer: 2380 },
    }));

  for (const parallel of [1, 2, 3]) {
    it(`--parallel ${parallel}: at most ${parallel} nodes are worked on at once, and exactly ${parallel} when there is work for them`, async () => {
      const all = targets();
      let active = 0;
      let peak = 0;
      let started = 0;
      let fills = 0; // how many times `active` reached `parallel`
      const out = await forEachNode(all, { hostKeys: new HostKeyBook(false), parallel, timeoutMs: 60_000 }, async (s) => {
        active++;
        started++;
        peak = Math.max(peak, active);
        const seen = fills;
        if (active === parallel) fills++;
        // Hold this node's job (its SSH session open) until the pool is full or no node is left to start:
        // a pool that allowed more at once would show it in `peak`; one that allowed fewer would never fill.
        const deadline = Date.now() + 120_000;
        while (fills === seen && started < all.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        const who = (await s.exec('id -u')).stdout.trim();
        active--;
        return who;
      });
      expect(out.map((o) => [o.node, o.ok, o.error, o.result])).toEqual(all.map((t) => [t.name, true, undefined, '0']));
      expect(peak).toBe(parallel);
    });
  }
});
